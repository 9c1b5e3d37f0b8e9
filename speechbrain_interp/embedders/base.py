"""The audio-text embedder protocol: ``embed_audio`` and ``embed_text`` into one joint space.

Every embedder follows :class:`AudioTextEmbedder`:

* ``embed_audio(wav) -> (B, d)``: normalised, differentiable with respect to ``wav``;
* ``embed_text(list[str]) -> (V, d)``: normalised;
* ``sample_rate``, ``embed_dim`` and ``cache_key`` (what cached concept embeddings are
  keyed by; :func:`fingerprint_tensors` makes it depend on the weights).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["AudioTextEmbedder", "fingerprint_tensors"]


class AudioTextEmbedder(nn.Module):
    """Base class of audio-text embedders: ``embed_audio`` and ``embed_text`` into one space.

    Subclasses set ``sample_rate`` and ``embed_dim`` and implement :meth:`embed_audio`,
    :meth:`embed_text` and :attr:`cache_key`. :meth:`embed_spectrum` (used by the concept
    interpreter to embed a masked spectrogram) resynthesises audio by default.

    Example
    -------
    >>> import torch.nn.functional as F
    >>> class Toy(AudioTextEmbedder):
    ...     sample_rate, embed_dim, cache_key = 16000, 2, "toy"
    ...     def embed_audio(self, wav):
    ...         return F.normalize(torch.stack([wav.std(-1), wav.abs().amax(-1)], -1), dim=-1)
    ...     def embed_text(self, texts):
    ...         return F.normalize(torch.ones(len(texts), 2), dim=-1)
    >>> Toy().embed_audio(torch.randn(3, 1600)).shape
    torch.Size([3, 2])
    """

    sample_rate: int = 16000
    embed_dim: int = 0

    @property
    def cache_key(self) -> str:
        """Identifies the text tower and its weights (concept embeddings are cached under it)."""
        raise NotImplementedError

    def embed_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, d)`` normalised audio embeddings of ``(B, time)`` waveforms at ``sample_rate``."""
        raise NotImplementedError

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        """``(V, d)`` normalised text embeddings."""
        raise NotImplementedError

    def embed_spectrum(self, magnitude, phase, frontend, num_samples: int) -> torch.Tensor:
        """Embedding of a (masked) STFT magnitude with its phase, through resynthesis."""
        wav = frontend.istft(magnitude, phase, num_samples)
        if frontend.sample_rate != self.sample_rate:
            import torchaudio.functional as AF

            wav = AF.resample(wav, frontend.sample_rate, self.sample_rate)
        return self.embed_audio(wav)


def fingerprint_tensors(tensors) -> str:
    """Cheap, content-dependent digest of weights: shapes, sums and a strided sample of values.

    Example
    -------
    >>> len(fingerprint_tensors(torch.nn.Linear(3, 2).named_parameters()))
    16
    """
    h = hashlib.sha256()
    for name, t in tensors:
        t = t.detach().float().cpu().reshape(-1)
        sample = t[:: max(1, t.numel() // 256)][:256]
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(f"{float(t.sum()):.6e}".encode())
        h.update(sample.numpy().tobytes())
    return h.hexdigest()[:16]
