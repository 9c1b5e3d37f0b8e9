"""Feature-domain augmentations that SpeechBrain's ``augment`` package does not cover.

``speechbrain.augment.freq_domain.RandomShift`` rolls the whole batch by one
amount and wraps frequencies around; for small audio data sets a different,
non-wrapping shift per clip works better, and mixup needs soft targets.
SpecAugment itself comes from ``speechbrain.augment.freq_domain.SpectrogramDrop``.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PerClipShift", "mixup"]


class PerClipShift(nn.Module):
    """Shift each clip of a ``(batch, time, feats)`` batch independently.

    Time is rolled circularly (a random start point, the clip wraps around); the
    feature axis is shifted by up to ``max_freq_shift`` bins without wrapping, edge
    bins being repeated, a cheap stand-in for small pitch shifts on a mel axis; and a
    random offset of up to ``max_gain_db`` is added, a level change for features in dB.

    Arguments
    ---------
    max_freq_shift : int
        Largest shift in feature bins, in either direction.
    roll_time : bool
        Also roll each clip in time by a random amount.
    max_gain_db : float
        Largest level change, in either direction (log-mel features in dB).

    Example
    -------
    >>> shift = PerClipShift(max_freq_shift=2)
    >>> shift(torch.randn(4, 50, 16)).shape
    torch.Size([4, 50, 16])
    """

    def __init__(self, max_freq_shift: int = 4, roll_time: bool = True, max_gain_db: float = 0.0):
        super().__init__()
        self.max_freq_shift = int(max_freq_shift)
        self.roll_time = roll_time
        self.max_gain_db = float(max_gain_db)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        batch, frames, bins = feats.shape
        dev = feats.device
        if self.max_freq_shift > 0:
            s = torch.randint(-self.max_freq_shift, self.max_freq_shift + 1, (batch, 1), device=dev)
            idx = (torch.arange(bins, device=dev)[None, :] - s).clamp(0, bins - 1)
            feats = feats.gather(2, idx[:, None, :].expand(batch, frames, bins))
        if self.roll_time:
            start = torch.randint(0, frames, (batch, 1), device=dev)
            idx = (torch.arange(frames, device=dev)[None, :] + start) % frames
            feats = feats.gather(1, idx[:, :, None].expand(batch, frames, bins))
        if self.max_gain_db > 0:
            feats = feats + (torch.rand(batch, 1, 1, device=dev) * 2 - 1) * self.max_gain_db
        return feats


def mixup(inputs: torch.Tensor, targets: torch.Tensor, alpha: float):
    """Mix each example with a random partner of the batch (Zhang et al. 2018).

    Arguments
    ---------
    inputs : torch.Tensor
        ``(batch, ...)`` features.
    targets : torch.Tensor
        ``(batch, classes)`` one-hot or soft targets.
    alpha : float
        Beta(alpha, alpha) parameter of the per-example mixing weight; 0 disables mixup.

    Returns
    -------
    tuple of torch.Tensor
        Mixed inputs and mixed targets.

    Example
    -------
    >>> x, y = mixup(torch.randn(4, 10, 8), torch.eye(4), alpha=0.4)
    >>> torch.allclose(y.sum(1), torch.ones(4))
    True
    """
    if alpha <= 0:
        return inputs, targets
    batch = inputs.shape[0]
    lam = torch.distributions.Beta(alpha, alpha).sample((batch,)).to(inputs.device)
    partner = torch.randperm(batch, device=inputs.device)
    lam_x = lam.view(batch, *([1] * (inputs.dim() - 1)))
    mixed_x = lam_x * inputs + (1 - lam_x) * inputs[partner]
    mixed_y = lam[:, None] * targets + (1 - lam[:, None]) * targets[partner]
    return mixed_x, mixed_y
