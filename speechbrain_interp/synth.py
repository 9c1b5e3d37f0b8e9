"""Synthesised audio: test signals and the offline demo clip.

Everything here is generated from a seed, so unit tests, doctests and the
offline demo need no data set and no network.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import math

import torch

__all__ = ["tone", "siren", "bark", "chirps", "noise", "demo_clip", "demo_scene", "DEMO_EVENTS"]

#: Where the cricket-like chirps of :func:`demo_scene` are, in seconds.
DEMO_EVENTS = ((0.8, 1.8), (3.0, 4.0))


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


def chirps(seconds: float = 1.0, sample_rate: int = 16000, freq: float = 5000.0, pulses: int = 4,
           pulse: float = 0.02, every: float = 0.4, amplitude: float = 0.3):
    """Cricket-like chirps: ``pulses`` short tone pulses at ``freq`` Hz, repeated every ``every`` s.

    Example
    -------
    >>> c = chirps(0.4)
    >>> c.shape, round(float((c != 0).float().mean()), 2)  # 4 pulses of 20 ms in 0.4 s
    (torch.Size([6400]), 0.2)
    """
    t = _time(seconds, sample_rate)
    phase_in_chirp = t % every
    on = (phase_in_chirp < 2 * pulse * pulses) & ((phase_in_chirp % (2 * pulse)) < pulse)
    return (amplitude * on * torch.sin(2 * math.pi * freq * t)).float()


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


def demo_scene(seconds: float = 5.0, sample_rate: int = 16000, seed: int = 0):
    """The offline demo scene: cricket-like chirps at :data:`DEMO_EVENTS` over background noise.

    The events' positions are known, so the demo can say how much of the explanation lies on
    them (:func:`speechbrain_interp.localization.event_scores`).

    Returns
    -------
    wav : torch.Tensor
        ``(samples,)`` waveform in [-1, 1].
    events : list of tuple
        ``(start_s, end_s)`` of each chirp burst.

    Example
    -------
    >>> wav, events = demo_scene()
    >>> wav.shape, events
    (torch.Size([80000]), [(0.8, 1.8), (3.0, 4.0)])
    """
    wav = noise(seconds, sample_rate, 0.02, seed)
    events = [(a, b) for a, b in DEMO_EVENTS if b <= seconds]
    for start, end in events:
        burst = chirps(end - start, sample_rate)
        i = int(round(start * sample_rate))
        wav[i : i + len(burst)] += burst
    return (wav / max(1.0, float(wav.abs().max()) / 0.95)).float(), events
