"""Networks of the L2I brick: Psi (hidden representations -> NMF activations) and Theta.

* :class:`ActivationDecoder` (Psi) reads any number of hidden representations of a
  classifier, whatever their layout: 4-D CNN maps ``(batch, channels, time, freq)``,
  ``(batch, channels, time)`` (ECAPA-TDNN blocks), ``(batch, time, channels)`` (Xvector
  blocks) or pooled vectors. Each is flattened to ``(batch, features, time)`` along
  its time axis, projected, interpolated to the spectrogram's frame rate and summed;
  dilated residual convolutions then output non-negative activations ``H`` of shape
  ``(batch, K, frames)``, for any clip length.
* :class:`ComponentClassifier` (Theta) pools ``H`` over time and predicts the
  classifier's output with one linear layer, so that each class logit splits exactly
  into one contribution per component (plus a bias): the relevance L2I reports.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["to_sequence", "ResidualBlock", "ActivationDecoder", "ComponentClassifier"]


def to_sequence(x: torch.Tensor, time_dim: int | None) -> torch.Tensor:
    """Flatten a hidden representation to ``(batch, features, time)``.

    Arguments
    ---------
    x : torch.Tensor
        A hidden representation, batch first.
    time_dim : int or None
        Its time axis (``None`` for a pooled representation, which becomes one frame).

    Example
    -------
    >>> to_sequence(torch.zeros(2, 8, 10, 4), time_dim=2).shape
    torch.Size([2, 32, 10])
    >>> to_sequence(torch.zeros(2, 10, 16), time_dim=1).shape
    torch.Size([2, 16, 10])
    >>> to_sequence(torch.zeros(2, 1, 16), time_dim=None).shape
    torch.Size([2, 16, 1])
    """
    if time_dim is None:
        return x.reshape(x.shape[0], -1, 1)
    frames = x.shape[time_dim]
    return x.movedim(time_dim, -1).reshape(x.shape[0], -1, frames)


class ResidualBlock(nn.Module):
    """Pre-activation residual block of two dilated 1-D convolutions.

    Example
    -------
    >>> ResidualBlock(16, kernel_size=5, dilation=2)(torch.randn(3, 16, 40)).shape
    torch.Size([3, 16, 40])
    """

    def __init__(self, channels: int, kernel_size: int = 5, dilation: int = 1, dropout: float = 0.0):
        super().__init__()
        pad = dilation * (kernel_size // 2)
        self.body = nn.Sequential(
            nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=dilation),
            nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ActivationDecoder(nn.Module):
    """Psi: hidden representations -> non-negative NMF activations ``(batch, K, frames)``.

    Arguments
    ---------
    in_features : sequence of int
        Features of each hidden representation once flattened by :func:`to_sequence`
        (e.g. ``channels * freq`` for a 4-D CNN map).
    n_components : int
        ``K``, the NMF dictionary size.
    time_dims : sequence of int or None, optional
        Time axis of each representation (default: last axis).
    channels : int
        Width of the network.
    n_blocks : int
        Residual blocks; block ``i`` has dilation ``2 ** i``.
    kernel_size : int
        Temporal kernel (odd).
    dropout : float
        Dropout inside the blocks while training.

    Example
    -------
    >>> psi = ActivationDecoder([8 * 4, 16], n_components=10, time_dims=[2, 1], channels=32)
    >>> hidden = [torch.randn(2, 8, 12, 4), torch.randn(2, 6, 16)]
    >>> H = psi(hidden, frames=97)
    >>> H.shape, bool((H >= 0).all())
    (torch.Size([2, 10, 97]), True)
    """

    def __init__(self, in_features, n_components: int, time_dims=None, channels: int = 256,
                 n_blocks: int = 3, kernel_size: int = 5, dropout: float = 0.1):
        super().__init__()
        in_features = [int(c) for c in in_features]
        if not in_features:
            raise ValueError("Psi needs at least one hidden representation")
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd so activations stay aligned with frames")
        self.time_dims = list(time_dims) if time_dims is not None else [-1] * len(in_features)
        if len(self.time_dims) != len(in_features):
            raise ValueError("give one time axis per hidden representation")
        self.proj = nn.ModuleList(nn.Conv1d(c, channels, 1) for c in in_features)
        self.blocks = nn.Sequential(
            *[ResidualBlock(channels, kernel_size, 2**i, dropout) for i in range(n_blocks)]
        )
        self.out = nn.Sequential(nn.BatchNorm1d(channels), nn.ReLU(), nn.Conv1d(channels, n_components, 1))
        self.n_components = n_components

    def forward(self, hidden, frames: int) -> torch.Tensor:
        """Activations at ``frames`` frames from a list of hidden representations."""
        if len(hidden) != len(self.proj):
            raise ValueError(f"expected {len(self.proj)} hidden representations, got {len(hidden)}")
        x = 0.0
        for h, proj, time_dim in zip(hidden, self.proj, self.time_dims):
            h = proj(to_sequence(h.float(), time_dim))
            # project at the layer's own rate (cheap), then interpolate to the frame rate
            x = x + F.interpolate(h, size=int(frames), mode="linear", align_corners=False)
        return F.relu(self.out(self.blocks(x)))


class ComponentClassifier(nn.Module):
    """Theta: a linear classifier on activations pooled over time.

    Arguments
    ---------
    n_components : int
        ``K``.
    n_classes : int
        Outputs of the classifier being explained.
    pooling : str
        ``"mean"``, ``"max"`` or ``"mean_max"`` (both, concatenated) over time.

    Example
    -------
    >>> theta = ComponentClassifier(n_components=6, n_classes=3)
    >>> H = torch.rand(2, 6, 40)
    >>> logits = theta(H)
    >>> parts = theta.contributions(H)
    >>> logits.shape, parts.shape
    (torch.Size([2, 3]), torch.Size([2, 3, 6]))
    >>> bool(torch.allclose(parts.sum(-1) + theta.linear.bias, logits, atol=1e-5))
    True
    """

    _POOLS = {"mean": 1, "max": 1, "mean_max": 2}

    def __init__(self, n_components: int, n_classes: int, pooling: str = "mean_max"):
        super().__init__()
        if pooling not in self._POOLS:
            raise ValueError(f"pooling must be one of {sorted(self._POOLS)}, got '{pooling}'")
        self.pooling = pooling
        self.n_components, self.n_classes = n_components, n_classes
        self.linear = nn.Linear(n_components * self._POOLS[pooling], n_classes)

    def pool(self, H: torch.Tensor) -> torch.Tensor:
        """Pooled activations ``(batch, pools, K)``."""
        pools = []
        if self.pooling in ("mean", "mean_max"):
            pools.append(H.mean(-1))
        if self.pooling in ("max", "mean_max"):
            pools.append(H.amax(-1))
        return torch.stack(pools, dim=1)

    def forward(self, H: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes)`` from activations ``(batch, K, frames)``."""
        return self.linear(self.pool(H).flatten(1))

    def contributions(self, H: torch.Tensor, detach_weights: bool = False) -> torch.Tensor:
        """Share of each component in each class logit, ``(batch, classes, K)``.

        ``contributions(H).sum(-1) + bias == forward(H)``.
        """
        weight = self.linear.weight.detach() if detach_weights else self.linear.weight
        weight = weight.view(self.n_classes, -1, self.n_components)  # (C, pools, K)
        return torch.einsum("cpk,bpk->bck", weight, self.pool(H))
