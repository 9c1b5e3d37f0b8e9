"""Any SpeechBrain classifier made text-aligned: :class:`TextAlignedEncoder`.

A projection from the classifier's embedding (read through its
:class:`~speechbrain_interp.adapters.ClassifierAdapter`) into a frozen sentence encoder's
space (:mod:`speechbrain_interp.embedders.text`), trained contrastively with the text side
locked on captions made from labels (:func:`~speechbrain_interp.embedders.text.label_captions`).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_interp.audio import validate_waveform
from speechbrain_interp.embedders.base import AudioTextEmbedder
from speechbrain_interp.embedders.text import label_captions

__all__ = ["TextAlignedEncoder"]


def _pool(hidden: torch.Tensor) -> torch.Tensor:
    """``(B, D)`` from a hidden representation: ``(B, 1, D)``, ``(B, T, D)`` or ``(B, C, H, W)``."""
    if hidden.dim() == 2:
        return hidden
    if hidden.dim() == 3:
        return hidden.mean(1)
    return hidden.flatten(2).mean(-1)


class TextAlignedEncoder(AudioTextEmbedder):
    """A SpeechBrain classifier's embedding projected into a frozen text encoder's space.

    The classifier stays frozen (it is reached through its adapter); only the projection
    and a temperature are trained, contrastively, CLAP-style with the text side locked:
    each clip's embedding should be closer to a caption of its own label than to captions
    of the other labels in the batch (:meth:`contrastive_loss`).

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier, wrapped (e.g. :class:`~speechbrain_interp.adapters.SpeechBrainClassifier`)
        with ``layer`` among its ``layers``.
    text_encoder : nn.Module
        Frozen text tower with ``embed_text``, ``embed_dim`` and ``cache_key``.
    layer : str
        Hidden layer whose (pooled) output is embedded, e.g. ``"embedding_model"``.
    in_dim : int, optional
        Size of the pooled layer output (found with a dummy forward when not given).
    hidden_dim : int, optional
        A hidden layer in the projection (an MLP); ``None`` for a linear projection.
    dropout : float
        Dropout before the projection while training.

    Example
    -------
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> import tempfile
    >>> from speechbrain_interp.embedders.text import HashingTextEncoder
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32, emb_dim=16)
    >>> adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    >>> enc = TextAlignedEncoder(adapter, HashingTextEncoder(dim=24), layer="embedding_model")
    >>> wav = torch.randn(2, 16000, requires_grad=True)
    >>> z = enc.embed_audio(wav)
    >>> z.shape, enc.embed_text(["dog bark"]).shape
    (torch.Size([2, 24]), torch.Size([1, 24]))
    >>> z.sum().backward(); wav.grad is not None
    True
    """

    def __init__(self, classifier, text_encoder: nn.Module, layer: str = "embedding_model",
                 in_dim: int | None = None, hidden_dim: int | None = None, dropout: float = 0.1):
        super().__init__()
        if layer not in classifier.layers:
            raise ValueError(f"layer '{layer}' is not captured by the classifier adapter (it captures "
                             f"{classifier.layers}); build the adapter with layers=['{layer}', ...]")
        self.classifier = classifier
        self.text_encoder = text_encoder
        for p in text_encoder.parameters():
            p.requires_grad_(False)
        self.layer = layer
        self.sample_rate = classifier.sample_rate
        self.embed_dim = int(text_encoder.embed_dim)
        if in_dim is None:
            with torch.no_grad():
                probe = torch.zeros(1, max(classifier.frontend.min_samples, classifier.sample_rate))
                in_dim = self.classifier_embedding(probe).shape[-1]
        self.in_dim = int(in_dim)
        if hidden_dim:
            self.projection = nn.Sequential(nn.Linear(self.in_dim, hidden_dim), nn.GELU(),
                                            nn.Linear(hidden_dim, self.embed_dim))
        else:
            self.projection = nn.Linear(self.in_dim, self.embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), as CLIP and CLAP

    @property
    def cache_key(self) -> str:
        return self.text_encoder.cache_key  # the text side is frozen and shared

    def train(self, mode: bool = True):
        super().train(mode)
        self.classifier.train(False)  # the classifier stays frozen (BatchNorm statistics too)
        return self

    def classifier_embedding_from_magnitude(self, magnitude, phase=None) -> torch.Tensor:
        """Pooled ``(B, in_dim)`` output of ``layer`` for a magnitude spectrogram."""
        _, hidden = self.classifier.forward_with_hidden(magnitude, phase=phase)
        return _pool(hidden[self.layer]).float()

    def classifier_embedding(self, wav: torch.Tensor) -> torch.Tensor:
        """Pooled ``(B, in_dim)`` output of ``layer`` for waveforms (cache these to train fast)."""
        wav = validate_waveform(wav, min_samples=self.classifier.frontend.min_samples)
        spec = self.classifier.frontend(wav)
        return self.classifier_embedding_from_magnitude(spec.magnitude, spec.phase)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised joint-space embedding of pooled classifier features."""
        return F.normalize(self.projection(self.dropout(features.float())), dim=-1)

    def embed_audio(self, wav: torch.Tensor) -> torch.Tensor:
        return self.project(self.classifier_embedding(wav))

    def embed_magnitude(self, magnitude, phase=None) -> torch.Tensor:
        """Embedding of a magnitude spectrogram at the classifier's front-end."""
        return self.project(self.classifier_embedding_from_magnitude(magnitude, phase))

    def embed_spectrum(self, magnitude, phase, frontend, num_samples: int) -> torch.Tensor:
        if frontend is self.classifier.frontend:  # no resynthesis needed
            return self.embed_magnitude(magnitude, phase)
        return super().embed_spectrum(magnitude, phase, frontend, num_samples)

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        device = self.logit_scale.device
        return F.normalize(self.text_encoder.embed_text(list(texts)).float(), dim=-1).to(device)

    def contrastive_loss(self, audio_embeddings: torch.Tensor, labels: torch.Tensor,
                         class_text: torch.Tensor) -> torch.Tensor:
        """CLAP loss with the text side locked, over the classes present in the batch.

        Arguments
        ---------
        audio_embeddings : torch.Tensor
            ``(B, d)`` normalised embeddings (:meth:`project` output).
        labels : torch.Tensor
            ``(B,)`` class indices.
        class_text : torch.Tensor
            ``(classes, d)`` caption embeddings, one (e.g. a random template) per class.

        Returns
        -------
        torch.Tensor
            Mean of the audio-to-text cross-entropy over the classes in the batch and the
            text-to-audio cross-entropy where a class's positives are all its clips.
        """
        present, inverse = labels.unique(return_inverse=True)
        text = F.normalize(class_text[present].to(audio_embeddings), dim=-1)
        scale = self.logit_scale.clamp(max=4.6052).exp()  # temperature >= 0.01, as CLAP
        logits = scale * audio_embeddings @ text.T  # (B, present classes)
        a2t = F.cross_entropy(logits, inverse)
        positives = (inverse[None, :] == torch.arange(len(present), device=labels.device)[:, None]).float()
        t2a = -(positives * logits.T.log_softmax(-1)).sum(-1) / positives.sum(-1)
        return (a2t + t2a.mean()) / 2

    def caption_embeddings(self, labels: Sequence[str], rng: random.Random | None = None) -> torch.Tensor:
        """``(len(labels), d)``: one caption per label with a random template (all if ``rng`` is None).

        Without ``rng``, each label's embedding is the normalised mean over its captions.
        """
        if rng is None:
            emb = [F.normalize(self.embed_text(label_captions(lab)).mean(0), dim=-1) for lab in labels]
            return torch.stack(emb)
        return self.embed_text([rng.choice(label_captions(lab)) for lab in labels])
