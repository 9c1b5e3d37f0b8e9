"""Concept-bottleneck brick: explain a clip by the concepts its audio embedding is made of.

For each clip, the audio-text embedder embeds the spectrogram the classifier sees, the
:class:`~speechbrain_interp.concepts.ConceptBottleneck` decomposes the embedding into a
sparse non-negative combination of vocabulary concepts, and the explanation carries the
top concepts with their weights (``Explanation.concepts``, drawn as a bar chart in the PNG),
the recomposition cosine and the number of active concepts (``scores``).

The mask shows *where* those concepts are heard: the gradient-times-input saliency, on the
magnitude spectrogram, of the projection of the clip's (centred) embedding onto its own
concept recomposition ``C^T w`` (weights held fixed), in [0, 1]. With
``mask="none"`` the mask is all ones and only the concepts explain.
The saliency is scaled by its 99th percentile per clip and clipped to 1.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from speechbrain_interp.concepts import ConceptBottleneck
from speechbrain_interp.embedders.aligned import TextAlignedEncoder
from speechbrain_interp.interpreters.base import Interpreter

__all__ = ["ConceptInterpreter"]


class ConceptInterpreter(Interpreter):
    """Per-clip concept explanations for any classifier adapter.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier whose input is explained (its front-end gives the spectrogram).
    bottleneck : ConceptBottleneck
        Vocabulary, centring and ``lambda``; its ``embedder`` embeds audio unless ``embedder`` is given.
    embedder : AudioTextEmbedder, optional
        Defaults to ``bottleneck.embedder``.
    config : dict, optional
        Brick settings (the ``hparams/concepts.yaml`` fragment): ``top_k`` and ``mask``.
    top_k : int, optional
        Concepts kept per clip (default 10).
    mask : str, optional
        ``"saliency"`` (default) or ``"none"``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.embedders import HashingTextEncoder, TextAlignedEncoder
    >>> from speechbrain_interp.concepts import load
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32, emb_dim=16)
    >>> adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    >>> embedder = TextAlignedEncoder(adapter, HashingTextEncoder(dim=32)).eval()
    >>> bottleneck = load(embedder, ["dog bark", "siren", "rain", "engine"], l1_penalty=0.01,
    ...                   cache_dir=tempfile.mkdtemp())
    >>> _ = bottleneck.fit_audio_mean(embedder.embed_audio(torch.randn(4, 16000)).detach())
    >>> e = ConceptInterpreter(adapter, bottleneck, top_k=3).explain(torch.randn(2, 16000))
    >>> len(e.concepts), sorted(e.scores)
    (2, ['concept_l0', 'recompose_cosine'])
    >>> float(e.mask.min()) >= 0 and float(e.mask.max()) <= 1
    True
    """

    method = "concept bottleneck"
    DEFAULTS = {"top_k": 10, "mask": "saliency"}
    family, interface = "concepts", "ConceptBottleneckInterface"
    # the old path (a re-export): concept folders read as before and load with older versions too
    export_target = "speechbrain_interp.inference.build_concept_interpreter"

    def __init__(self, classifier, bottleneck: ConceptBottleneck, embedder=None, config=None,
                 top_k: int | None = None, mask: str | None = None):
        super().__init__(classifier)
        opts = self.resolve_options(config, top_k=top_k, mask=mask)
        if opts["mask"] not in ("saliency", "none"):
            raise ValueError(f"mask must be 'saliency' or 'none', got '{opts['mask']}'")
        self.top_k = int(opts["top_k"])
        self.mask_kind = opts["mask"]
        self.bottleneck = bottleneck
        embedder = embedder if embedder is not None else bottleneck.embedder
        if embedder is None:
            raise ValueError("no embedder: pass embedder= or build the bottleneck with load(embedder)")
        self.embedder = embedder

    def _embed(self, magnitude, spectrum):
        return self.embedder.embed_spectrum(magnitude, spectrum.phase, self.frontend, spectrum.num_samples)

    def concept_weights(self, spectrum):
        """Concept weights ``(B, V)``, the embeddings and their centred norms for a spectrum."""
        with torch.no_grad():
            emb = self._embed(spectrum.magnitude, spectrum)
            weights, scale = self.bottleneck.decompose(emb, return_scale=True)
        return weights, emb, scale

    def compute_mask(self, spectrum, target, logits, hidden):
        """Saliency of the clip's own concept recomposition, in [0, 1] (ones for ``mask="none"``)."""
        if self.mask_kind == "none":  # no embedding pass needed
            return torch.ones_like(spectrum.magnitude)
        return self._saliency(spectrum, self.concept_weights(spectrum)[0])

    def _saliency(self, spectrum, weights):
        if self.mask_kind == "none":
            return torch.ones_like(spectrum.magnitude)
        b = self.bottleneck
        direction = F.normalize(weights.to(b.dictionary) @ b.dictionary, dim=-1).detach()
        magnitude = spectrum.magnitude.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            emb = self._embed(magnitude, spectrum)
            centred, _ = b._centred(emb)
            score = (centred * direction.to(centred)).sum()
            (grad,) = torch.autograd.grad(score, magnitude)
        saliency = (grad * magnitude.detach()).clamp_min(0)
        # scaled by its 99th percentile, not its maximum: gradient-times-input is peaky, and a
        # few bins would otherwise leave the rest of the mask (and the interpretation) near zero
        flat = saliency.flatten(1)
        peak = torch.quantile(flat.float(), 0.99, dim=1).clamp_min(1e-12)
        peak = torch.where(peak > 1e-12, peak, flat.amax(1).clamp_min(1e-12))
        return (saliency / peak.to(saliency)[:, None, None]).clamp(0, 1)

    def compute_explanation(self, spectrum, target, logits, hidden):
        """The concept saliency mask, plus the top concepts with weights and the scores."""
        weights, emb, scale = self.concept_weights(spectrum)
        mask = self._saliency(spectrum, weights)
        cosine = F.cosine_similarity(self.bottleneck.recompose(weights, scale),
                                     F.normalize(emb.float(), dim=-1).to(weights), dim=-1)
        scores = {"recompose_cosine": cosine.cpu(), "concept_l0": (weights > 0).sum(1).float().cpu()}
        return mask, {"concepts": self.bottleneck.top_concepts(weights, self.top_k), "scores": scores}

    def export_config(self) -> dict:
        """Sizes and vocabulary that ``build_concept_interpreter`` (``export_target``) needs."""
        embedder, bottleneck = self.embedder, self.bottleneck
        if not isinstance(embedder, TextAlignedEncoder) or embedder.classifier is not self.classifier:
            raise TypeError(
                "export writes concept interpreters whose embedder is a TextAlignedEncoder on the explained "
                f"classifier (the embedder ships as a projection of its layer); got {type(embedder).__name__}"
            )
        if not bottleneck.has_audio_mean:
            raise ValueError("the concept bottleneck has no audio mean yet: call fit_audio_mean(...) first")
        projection = embedder.projection
        hidden = projection[0].out_features if isinstance(projection, torch.nn.Sequential) else None
        text = embedder.text_encoder
        return {
            "concepts": list(bottleneck.concepts), "embed_dim": int(embedder.embed_dim),
            "in_dim": int(embedder.in_dim), "layer": embedder.layer, "hidden_dim": hidden,
            "l1_penalty": float(bottleneck.l1_penalty), "top_k": int(self.top_k), "mask": self.mask_kind,
            "text_encoder": getattr(text, "name", type(text).__name__), "text_cache_key": embedder.cache_key,
        }
