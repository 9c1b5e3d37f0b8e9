"""Synthesised audio: test signals and the offline demo clip.

Everything here is generated from a seed, so unit tests, doctests and the
offline demo need no data set and no network.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import math

import torch

__all__ = ["tone", "siren", "bark", "noise", "demo_clip"]


def _time(seconds: float, sample_rate: int) -> torch.Tensor:
    return torch.arange(int(round(seconds * sample_rate)), dtype=torch.float64) / sample_rate


def tone(freq: float, seconds: float = 1.0, sample_rate: int = 16000, amplitude: float = 0.5):
    """A sine tone.

    Example
    -------
    >>> tone(440.0, 0.5).shape
    torch.Size([8000])
    """
    t = _time(seconds, sample_rate)
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()


def siren(seconds: float = 5.0, sample_rate: int = 16000, low: float = 600.0, high: float = 1400.0,
          period: float = 1.0, amplitude: float = 0.3):
    """A two-tone-sweep siren: the pitch glides between ``low`` and ``high`` Hz every ``period`` s.

    Example
    -------
    >>> siren(1.0).abs().max() <= 0.3
    tensor(True)
    """
    t = _time(seconds, sample_rate)
    freq = low + (high - low) * 0.5 * (1 - torch.cos(2 * math.pi * t / period))
    phase = 2 * math.pi * torch.cumsum(freq, 0) / sample_rate
    wav = torch.sin(phase) + 0.3 * torch.sin(2 * phase)
    return (amplitude * wav / wav.abs().max()).float()


def bark(seconds: float = 0.25, sample_rate: int = 16000, pitch: float = 450.0,
         amplitude: float = 0.6, seed: int = 0):
    """A dog-like bark: a harmonic, falling-pitch burst with a noisy attack and fast decay.

    Example
    -------
    >>> bark().shape
    torch.Size([4000])
    """
    g = torch.Generator().manual_seed(seed)
    t = _time(seconds, sample_rate)
    f0 = pitch * (1.15 - 0.35 * t / seconds)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / sample_rate
    harmonics = sum(torch.sin(k * phase) / k for k in range(1, 9))
    env = (1 - torch.exp(-t / 0.008)) * torch.exp(-t / (0.3 * seconds))
    attack = torch.randn(len(t), generator=g, dtype=torch.float64) * torch.exp(-t / 0.02)
    wav = env * harmonics + 0.4 * attack
    return (amplitude * wav / wav.abs().max()).float()


def noise(seconds: float = 1.0, sample_rate: int = 16000, amplitude: float = 0.05, seed: int = 0):
    """White Gaussian noise with standard deviation ``amplitude``.

    Example
    -------
    >>> noise(0.1).shape
    torch.Size([1600])
    """
    g = torch.Generator().manual_seed(seed)
    return amplitude * torch.randn(int(round(seconds * sample_rate)), generator=g)


def demo_clip(seconds: float = 5.0, sample_rate: int = 16000, seed: int = 0) -> torch.Tensor:
    """The offline demo: a siren with three dog-like barks over background noise.

    Example
    -------
    >>> clip = demo_clip()
    >>> clip.shape, bool(clip.abs().max() <= 1.0)
    (torch.Size([80000]), True)
    """
    wav = siren(seconds, sample_rate, amplitude=0.25) + noise(seconds, sample_rate, 0.02, seed)
    for k, start in enumerate((0.8, 2.3, 3.6)):
        b = bark(0.3, sample_rate, pitch=420 + 40 * k, seed=seed + k)
        i = int(start * sample_rate)
        wav[i : i + len(b)] += b[: max(0, len(wav) - i)]
    return (wav / max(1.0, float(wav.abs().max()) / 0.95)).float()
