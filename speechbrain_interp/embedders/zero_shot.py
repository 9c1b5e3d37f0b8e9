"""An audio-text embedder read as a classifier: zero-shot logits over label prompts.

:class:`ZeroShotAdapter` turns any :class:`~speechbrain_interp.embedders.base.AudioTextEmbedder`
into a :class:`~speechbrain_interp.adapters.ClassifierAdapter` whose logits are the scaled
cosines between a clip's audio embedding and the text embeddings of label prompts (each
label's prompt is the normalised mean of its :func:`label_captions`), so every brick that
explains a classifier (L-MAC and its text-conditioned variant, the two-event benchmark,
the faithfulness metrics) explains the embedder's zero-shot decision. The hidden layers it
captures are modules of the embedder, e.g. the layers of a text-aligned encoder's classifier.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from speechbrain_interp.adapters import ClassifierAdapter
from speechbrain_interp.embedders.text import label_captions
from speechbrain_interp.spectral import SpectralFrontEnd

__all__ = ["ZeroShotAdapter", "prompt_embeddings"]


def _norm(text: str) -> str:
    return " ".join(str(text).lower().replace("_", " ").split())


@torch.no_grad()
def prompt_embeddings(embedder, labels: Sequence[str]) -> torch.Tensor:
    """``(len(labels), d)``: each label's prompt, the normalised mean of its caption embeddings.

    Example
    -------
    >>> from speechbrain_interp.embedders.text import HashingTextEncoder
    >>> prompt_embeddings(HashingTextEncoder(dim=8), ["dog", "rain"]).norm(dim=-1).round(decimals=4).tolist()
    [1.0, 1.0]
    """
    return torch.stack([F.normalize(embedder.embed_text(label_captions(lab)).float().mean(0), dim=-1)
                        for lab in labels])


class ZeroShotAdapter(ClassifierAdapter):
    """Zero-shot classifier over label prompts, from an audio-text embedder.

    Arguments
    ---------
    embedder : AudioTextEmbedder
        The frozen embedder (e.g. a :class:`~speechbrain_interp.embedders.aligned.TextAlignedEncoder`
        or :class:`~speechbrain_interp.embedders.laion_clap.LaionCLAP`).
    labels : sequence of str
        Class names; their prompts are the classes of the logits.
    layers : sequence of str, optional
        Module names under the embedder whose outputs are captured. Default: the layers of
        the embedder's classifier adapter (``embedder.classifier``), if it has one.
    frontend : SpectralFrontEnd, optional
        The STFT masks live on; default the embedder's classifier's, else a 1024-point STFT
        (hop 320) at the embedder's sample rate (masked audio is then resynthesised).
    scale : float, optional
        Logit scale (inverse temperature); default ``exp(embedder.logit_scale)`` when the
        embedder has one (at most 100), else 1 / 0.07.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.embedders import HashingTextEncoder, TextAlignedEncoder
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32, emb_dim=16)
    >>> adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    >>> enc = TextAlignedEncoder(adapter, HashingTextEncoder(dim=24), layer="embedding_model")
    >>> zs = ZeroShotAdapter(enc, ["dog", "rain", "siren"])
    >>> zs.layers
    ['classifier.model.embedding_model']
    >>> zs.classify_wav(torch.randn(2, 16000) * 0.1).shape
    torch.Size([2, 3])
    """

    def __init__(self, embedder, labels: Sequence[str], layers: Sequence[str] | None = None,
                 frontend: SpectralFrontEnd | None = None, scale: float | None = None):
        inner = getattr(embedder, "classifier", None)
        inner = inner if isinstance(inner, ClassifierAdapter) else None
        if layers is None:
            layers = [f"classifier.model.{name}" for name in inner.layers] if inner is not None else []
        if frontend is None:
            frontend = inner.frontend if inner is not None else SpectralFrontEnd(
                sample_rate=embedder.sample_rate, n_fft=1024, hop_length=320)
        if not labels:
            raise ValueError("ZeroShotAdapter needs the labels whose prompts are its classes")
        super().__init__(frontend, embedder, layers=layers, labels=list(labels))
        self.__dict__["_inner"] = inner  # already under model: not a submodule twice
        if scale is None:
            log_scale = getattr(embedder, "logit_scale", None)
            scale = min(100.0, math.exp(float(log_scale))) if log_scale is not None else 1 / 0.07
        self.scale = float(scale)
        self.register_buffer("prompts", prompt_embeddings(embedder, self.labels))

    @property
    def embedder(self):
        """The wrapped audio-text embedder."""
        return self.model

    def hidden_view(self, name: str, output) -> torch.Tensor:
        prefix = "classifier.model."
        if self._inner is not None and name.startswith(prefix):  # the inner adapter knows its layers
            return self._inner.hidden_view(name[len(prefix):], output)
        return super().hidden_view(name, output)

    def embed(self, magnitude: torch.Tensor, phase=None) -> torch.Tensor:
        """``(batch, d)`` normalised audio embeddings of a (masked) magnitude on :attr:`frontend`."""
        fe = self.frontend
        num_samples = (magnitude.shape[1] - 1) * fe.hop_length
        if phase is None:
            phase = torch.zeros_like(magnitude)
        return F.normalize(self.model.embed_spectrum(magnitude, phase, fe, num_samples).float(), dim=-1)

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        """``(len(texts), d)`` normalised text embeddings, on the prompts' device."""
        with torch.no_grad():
            return F.normalize(self.model.embed_text(list(texts)).float(), dim=-1).to(self.prompts)

    def zero_shot(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Scaled cosines ``(batch, prompts)`` of audio embeddings with the label prompts."""
        return self.scale * embeddings @ self.prompts.T.to(embeddings)

    def compute_logits(self, magnitude, phase=None, lengths=None) -> torch.Tensor:
        return self.zero_shot(self.embed(magnitude, phase))

    def label_index(self, text: str) -> int | None:
        """The label ``text`` names (the label itself or one of its captions), else None."""
        wanted = _norm(text)
        for i, label in enumerate(self.labels):
            if wanted in {_norm(c) for c in label_captions(label)}:
                return i
        return None

    @contextlib.contextmanager
    def with_prompts(self, texts: Sequence[str]):
        """Temporarily add free-text prompts as extra classes; yields their class indices.

        A text that names a label (see :meth:`label_index`) is that label, not a new class.

        Example
        -------
        >>> from speechbrain_interp.testing_text import band_text_embedder
        >>> zs = ZeroShotAdapter(band_text_embedder(), ["low hum", "high whistle"])
        >>> with zs.with_prompts(["the sound of high whistle", "a ringing bell"]) as index:
        ...     index, zs.labels[-1]
        ([1, 2], 'a ringing bell')
        >>> zs.labels
        ['low hum', 'high whistle']
        """
        saved = (self.labels, self.prompts)
        labels, extra, index = list(self.labels), [], []
        for text in texts:
            known = self.label_index(text)
            if known is None and text in extra:
                known = labels.index(text)
            if known is None:
                labels.append(text)
                extra.append(text)
                known = len(labels) - 1
            index.append(known)
        try:
            if extra:
                self.labels = labels
                self.prompts = torch.cat([self.prompts, self.embed_text(extra)])
            yield index
        finally:
            self.labels, self.prompts = saved
