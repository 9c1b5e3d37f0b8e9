"""A multi-class classifier whose evidence is known by construction: one frequency band per class.

:class:`BandClassDetector` is the many-class sibling of
:class:`~speechbrain_interp.lobes.band_window.BandWindowDetector`: class ``k`` means energy
in band ``k``, and its logit is a smooth function of that band's loudest frame and of
nothing else. A clip with two tones in two bands holds the evidence of two classes at two
places, so it is the known answer for explanations that are asked about one class: the
mask for class ``k`` must lie on band ``k`` where its tone is, whatever the other class does.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_interp.lobes.band_window import evidence_features

__all__ = ["BandClassDetector"]


class BandClassDetector(nn.Module):
    """One class per frequency band: is there energy in band ``k``?

    The input is a ``(batch, frames, freq)`` log-magnitude (e.g. ``log1p|X|``). The score of
    class ``k`` is the largest, over frames, band-``k`` mean of a locally smoothed input, and
    its logit ``gain * (score_k - threshold)``. A fixed, untrained network.

    Arguments
    ---------
    n_freq : int
        Frequency bins of the input.
    bands : sequence of (int, int)
        First and one-past-last frequency bin of each class's evidence.
    threshold : float
        Score at which a class's logit is 0.
    gain : float
        Slope of the logits.
    channels : int
        Channels of the hidden ``features`` map (channel 0 carries the evidence, the others
        fixed random filters that the decision ignores).
    pool_temperature : float
        0 (default): the score is the largest band mean over frames, whose gradient reaches
        one frame only. > 0: a smooth maximum, ``T log mean exp(s_t / T)``, whose gradient is
        spread over every frame near the largest, i.e. over the whole of a steady sound, as
        in a classifier that pools evidence over time (what gradient-based class evidence,
        :mod:`speechbrain_interp.class_evidence`, assumes).

    Example
    -------
    >>> net = BandClassDetector(n_freq=65, bands=[(5, 10), (40, 50)])
    >>> x = torch.zeros(3, 40, 65)
    >>> x[0, 5:10, 5:10] = 3.0
    >>> x[1, 20:30, 40:50] = 3.0
    >>> x[2, 5:10, 5:10] = x[2, 20:25, 40:50] = 3.0   # both sounds: both classes are heard
    >>> (net(x) > 0).int().tolist()
    [[1, 0], [0, 1], [1, 1]]
    """

    def __init__(self, n_freq: int, bands, threshold: float = 0.5, gain: float = 8.0, channels: int = 4,
                 pool_temperature: float = 0.0):
        super().__init__()
        self.n_freq = int(n_freq)
        self.bands = [(int(a), int(b)) for a, b in bands]
        for a, b in self.bands:
            if not 0 <= a < b <= self.n_freq:
                raise ValueError(f"band {(a, b)} outside 0..{n_freq}")
        self.threshold, self.gain = float(threshold), float(gain)
        self.pool_temperature = float(pool_temperature)
        self.features = evidence_features(channels)
        self.pooled = nn.AvgPool2d(2, ceil_mode=True)
        self.requires_grad_(False)

    def region(self, frames: int, label: int, span=None) -> torch.Tensor:
        """``(frames, freq)`` boolean map of class ``label``'s evidence within frames ``span``."""
        region = torch.zeros(frames, self.n_freq, dtype=torch.bool)
        t0, t1 = span if span is not None else (0, frames)
        a, b = self.bands[label]
        region[t0:t1, a:b] = True
        return region

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes)`` for a ``(batch, frames, freq)`` log-magnitude."""
        if x.shape[-1] != self.n_freq:
            raise ValueError(f"expected {self.n_freq} frequency bins, got {x.shape[-1]}")
        h = F.relu(self.features(x[:, None]))
        coarse = self.pooled(h)  # a second, coarser hidden map for decoders to read
        bands = torch.stack([h[:, 0, :, a:b].mean(-1) for a, b in self.bands], dim=-1)  # (B, T, classes)
        if self.pool_temperature > 0:
            t = self.pool_temperature
            scores = t * (torch.logsumexp(bands / t, dim=1) - math.log(bands.shape[1]))
        else:
            scores = bands.amax(1)
        return self.gain * (scores - self.threshold) + 0.0 * coarse.mean((1, 2, 3))[:, None]
