"""A classifier whose evidence is known by construction: energy in one band, in one time window.

Explanations are hard to test because the truth about a trained network's evidence is
unknown. :class:`BandWindowDetector` is a fixed (untrained) two-class network whose
"event" logit is a smooth function of the energy in one frequency band, inside one time
window, and of nothing else. Any faithful explanation of its "event" decision must put
its mask on that band-by-window region; a mask that is the same for every input, or that
follows energy outside the region, is wrong. The regression tests of the localization
benchmark train an L-MAC decoder for it and check exactly that.

It is a small convolutional network so that bricks reading hidden layers (L-MAC, Grad-CAM)
have something to read: ``features`` is a full-resolution ``(batch, channels, time,
freq)`` map, ``pooled`` a coarser one.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BandWindowDetector", "evidence_features"]


def evidence_features(channels: int) -> nn.Conv2d:
    """A fixed 3x3 convolution whose channel 0 is the input's local mean (the evidence) and
    whose other channels are seeded random filters that the decisions ignore.

    Example
    -------
    >>> conv = evidence_features(4)
    >>> float(conv(torch.ones(1, 1, 5, 5))[0, 0, 2, 2])
    1.0
    """
    conv = nn.Conv2d(1, channels, 3, padding=1)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        weight = 0.3 * torch.randn(conv.weight.shape, generator=gen)
        weight[0] = 1.0 / 9.0
        conv.weight.copy_(weight)
        conv.bias.zero_()
    return conv


class BandWindowDetector(nn.Module):
    """Two classes, ``("background", "event")``: is there energy in ``band`` during ``window``?

    The input is a ``(batch, frames, freq)`` log-magnitude (e.g. ``log1p|X|``). The event
    score is the largest, over the frames of the window, band mean of a locally smoothed
    input; the logits are ``(-s, s)`` with ``s = gain * (score - threshold)``. Taking the
    largest frame (not the mean over time) makes the evidence the event itself: quiet frames
    of the band elsewhere in the clip do not count, and removing the event removes the
    decision.

    Arguments
    ---------
    n_freq : int
        Frequency bins of the input.
    band : tuple of int
        First and one-past-last frequency bin of the evidence.
    window : tuple of int, optional
        First and one-past-last frame of the evidence (default: every frame).
    threshold : float
        Score at which both classes are equally likely.
    gain : float
        Slope of the logits.
    channels : int
        Channels of the hidden ``features`` map (channel 0 carries the evidence, the others
        fixed random filters that the decision ignores).

    Example
    -------
    >>> net = BandWindowDetector(n_freq=65, band=(20, 30), window=(10, 20))
    >>> x = torch.zeros(2, 40, 65)
    >>> x[1, 10:20, 20:30] = 3.0
    >>> net(x).argmax(-1).tolist()
    [0, 1]
    >>> x[0, 25:35, 20:30] = 3.0   # the right band at the wrong time: not evidence
    >>> net(x).argmax(-1).tolist()
    [0, 1]
    """

    def __init__(self, n_freq: int, band, window=None, threshold: float = 0.5, gain: float = 8.0,
                 channels: int = 4):
        super().__init__()
        self.n_freq = int(n_freq)
        self.band = (int(band[0]), int(band[1]))
        self.window = None if window is None else (int(window[0]), int(window[1]))
        if not 0 <= self.band[0] < self.band[1] <= self.n_freq:
            raise ValueError(f"band {band} outside 0..{n_freq}")
        self.threshold, self.gain = float(threshold), float(gain)
        self.features = evidence_features(channels)
        self.pooled = nn.AvgPool2d(2, ceil_mode=True)
        self.requires_grad_(False)

    def region(self, frames: int) -> torch.Tensor:
        """``(frames, freq)`` boolean map of the evidence region for a clip of ``frames`` frames."""
        region = torch.zeros(frames, self.n_freq, dtype=torch.bool)
        t0, t1 = self.window if self.window is not None else (0, frames)
        region[t0:t1, self.band[0]:self.band[1]] = True
        return region

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, 2)`` for a ``(batch, frames, freq)`` log-magnitude."""
        if x.shape[-1] != self.n_freq:
            raise ValueError(f"expected {self.n_freq} frequency bins, got {x.shape[-1]}")
        h = F.relu(self.features(x[:, None]))
        coarse = self.pooled(h)  # a second, coarser hidden map for decoders to read
        b0, b1 = self.band
        band = h[:, 0, :, b0:b1].mean(-1)  # (batch, frames)
        if self.window is not None:
            band = band[:, self.window[0]:self.window[1]]
        score = band.amax(-1)
        s = self.gain * (score - self.threshold) + 0.0 * coarse.mean((1, 2, 3))
        return torch.stack([-s, s], dim=-1)
