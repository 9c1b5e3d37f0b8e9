"""Concept bottleneck: audio embeddings as sparse, non-negative mixtures of text concepts.

An audio embedding ``z`` from any audio-text embedder (:mod:`speechbrain_interp.embedders`) is
approximated by a non-negative, sparse combination of the text embeddings ``C`` of the
concepts of a vocabulary (SpLiCE, Bhalla et al. 2024, carried to audio by Zhang, Thomaz and
Lu 2025). Both modalities are centred first (their mean is removed and they are
renormalised), which removes the modality gap; then, per clip,

.. math:: \\min_{w \\ge 0} \\tfrac12 \\lVert z - C^\\top w \\rVert^2 + \\lambda \\lVert w \\rVert_1 .

The weights ``w`` are the interpretable representation. The surface follows SpLiCE:
:func:`load` builds a :class:`ConceptBottleneck` (``decompose``, ``recompose``,
``get_vocabulary``), :func:`get_vocabulary` reads a shipped vocabulary.

Where the rest lives now (still importable from here):

* the solver, :func:`~speechbrain_interp.solvers.lasso.nonneg_lasso`, with
  ``lasso_objective`` and ``lambda_for_l0``: :mod:`speechbrain_interp.solvers.lasso`;
* the on-disk cache of concept embeddings, ``concept_embeddings``:
  :mod:`speechbrain_interp.concept_cache`;
* the recipe's evaluation tools ``zero_shot_logits``, ``LinearProbe``, ``ConceptProjector``:
  :mod:`speechbrain_interp.concept_metrics`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_interp.concept_cache import concept_embeddings
from speechbrain_interp.concept_metrics import ConceptProjector, LinearProbe, zero_shot_logits
from speechbrain_interp.solvers.lasso import lambda_for_l0, lasso_objective, nonneg_lasso
from speechbrain_interp.vocabularies import list_vocabularies, load_vocabulary

__all__ = [
    "center",
    "ConceptBottleneck",
    "load",
    "get_vocabulary",
    # old homes, kept importable from here
    "nonneg_lasso",
    "lasso_objective",
    "lambda_for_l0",
    "concept_embeddings",
    "LinearProbe",
    "ConceptProjector",
    "zero_shot_logits",
]


def center(x, mean) -> torch.Tensor:
    """Normalise, remove a modality mean and renormalise: ``normalize(normalize(x) - mean)``.

    Example
    -------
    >>> x = torch.tensor([[3.0, 4.0], [4.0, 3.0]])
    >>> [[round(v, 4) for v in row] for row in center(x, F.normalize(x, dim=-1).mean(0)).tolist()]
    [[-0.7071, 0.7071], [0.7071, -0.7071]]
    """
    return F.normalize(F.normalize(x, dim=-1) - mean.to(x), dim=-1)


def get_vocabulary(name: str = "sound_events") -> list[str]:
    """The concepts of a shipped vocabulary (``sound_events``, ``sound_descriptions``, ``sound_sources``).

    Example
    -------
    >>> len(get_vocabulary("sound_sources"))
    2000
    """
    if name not in list_vocabularies() and not str(name).endswith(".txt"):
        raise ValueError(f"unknown vocabulary '{name}'; shipped: {list_vocabularies()}")
    return load_vocabulary(name)


class ConceptBottleneck(nn.Module):
    """Sparse non-negative concept decomposition of an embedder's audio embeddings.

    Arguments
    ---------
    concepts : list of str
        The vocabulary.
    concept_embeddings : torch.Tensor
        ``(V, dim)`` text embeddings of ``concepts`` in the embedder's joint space.
    l1_penalty : float
        ``lambda`` of the decomposition (see :meth:`set_l0` to pick it for a target L0).
    audio_mean : torch.Tensor, optional
        ``(dim,)`` mean of normalised audio embeddings; :meth:`fit_audio_mean` estimates it.
    embedder : nn.Module, optional
        The audio-text embedder, for :meth:`encode` (waveforms to weights).

    Example
    -------
    >>> from speechbrain_interp.embedders.text import HashingTextEncoder
    >>> enc = HashingTextEncoder(dim=32)
    >>> words = ["dog bark", "siren", "rain", "engine", "bird song", "speech"]
    >>> bottleneck = ConceptBottleneck(words, enc.embed_text(words), l1_penalty=0.05)
    >>> audio = enc.embed_text(["dog bark", "rain", "siren"])  # stand-ins for audio embeddings
    >>> _ = bottleneck.fit_audio_mean(audio)
    >>> w = bottleneck.decompose(audio)
    >>> bottleneck.top_concepts(w, k=1)[0][0][0]
    'dog bark'
    >>> bool(bottleneck.recompose_cosine(audio, w).min() > 0.5)
    True
    """

    def __init__(self, concepts: Sequence[str], concept_embeddings: torch.Tensor, l1_penalty: float = 0.1,
                 audio_mean: torch.Tensor | None = None, embedder: nn.Module | None = None):
        super().__init__()
        if len(concepts) != concept_embeddings.shape[0]:
            raise ValueError(f"{len(concepts)} concepts but {concept_embeddings.shape[0]} embeddings")
        self.concepts = list(concepts)
        raw = F.normalize(concept_embeddings.detach().float(), dim=-1)
        self.register_buffer("text_mean", raw.mean(0))
        self.register_buffer("dictionary", center(raw, raw.mean(0)))
        self.register_buffer("raw_concepts", raw)
        self.register_buffer("gram", self.dictionary @ self.dictionary.T)
        self.register_buffer("audio_mean", torch.zeros(raw.shape[1]))
        self.register_buffer("audio_scale", torch.ones(()))
        self.has_audio_mean = False
        if audio_mean is not None:
            self.audio_mean.copy_(audio_mean.reshape(-1).float())
            self.has_audio_mean = True
        self.l1_penalty = float(l1_penalty)
        self.embedder = embedder
        self._index = {c: i for i, c in enumerate(self.concepts)}

    # --- SpLiCE surface -------------------------------------------------------------------
    def get_vocabulary(self) -> list[str]:
        """The concepts, index-aligned with the weights."""
        return list(self.concepts)

    @torch.no_grad()
    def fit_audio_mean(self, embeddings: torch.Tensor) -> ConceptBottleneck:
        """Estimate the audio modality mean (and typical centred norm) from ``(N, dim)`` embeddings."""
        z = F.normalize(embeddings.detach().float(), dim=-1).to(self.audio_mean)
        self.audio_mean.copy_(z.mean(0))
        self.audio_scale.copy_((z - self.audio_mean).norm(dim=-1).mean())
        self.has_audio_mean = True
        return self

    def _centred(self, embeddings):
        if not self.has_audio_mean:
            raise RuntimeError(
                "the audio mean is unknown: call fit_audio_mean(embeddings) on a set of audio "
                "embeddings (e.g. the training set) or pass audio_mean= to the constructor"
            )
        z = F.normalize(embeddings.float(), dim=-1).to(self.audio_mean)
        return F.normalize(z - self.audio_mean, dim=-1), (z - self.audio_mean).norm(dim=-1)

    def decompose(self, embeddings: torch.Tensor, l1_penalty=None, return_scale: bool = False,
                  **solver_kwargs):
        """Concept weights ``(N, V)`` of ``(N, dim)`` audio embeddings.

        ``l1_penalty`` overrides the bottleneck's ``lambda`` (scalar or per clip). With
        ``return_scale``, also returns each clip's centred norm, which :meth:`recompose` uses.
        """
        zc, scale = self._centred(embeddings.detach())
        lam = self.l1_penalty if l1_penalty is None else l1_penalty
        w = nonneg_lasso(zc, self.dictionary, lam, gram=self.gram, **solver_kwargs)
        return (w, scale) if return_scale else w

    def recompose(self, weights: torch.Tensor, scale=None) -> torch.Tensor:
        """Normalised embeddings rebuilt from concept weights: ``normalize(mean + s * C^T w)``.

        ``scale`` is the centred norm of each original embedding (from ``decompose(...,
        return_scale=True)``); by default the typical norm measured by :meth:`fit_audio_mean`.
        """
        s = self.audio_scale if scale is None else torch.as_tensor(scale).to(weights)
        s = s.reshape(-1, 1) if s.dim() else s
        return F.normalize(self.audio_mean + s * (weights.to(self.dictionary) @ self.dictionary), dim=-1)

    def recompose_cosine(self, embeddings: torch.Tensor, weights: torch.Tensor | None = None,
                         **solver_kwargs) -> torch.Tensor:
        """Cosine similarity ``(N,)`` between embeddings and their recomposition from concepts."""
        if weights is None:
            weights, scale = self.decompose(embeddings, return_scale=True, **solver_kwargs)
        else:
            scale = self._centred(embeddings)[1]
        rebuilt = self.recompose(weights, scale)
        return F.cosine_similarity(rebuilt, F.normalize(embeddings.float(), dim=-1).to(rebuilt), dim=-1)

    # --- choosing lambda ------------------------------------------------------------------
    def set_l0(self, embeddings: torch.Tensor, target_l0: float, **kwargs) -> float:
        """Set ``l1_penalty`` so that the mean L0 on ``embeddings`` is ``target_l0``; return it."""
        zc, _ = self._centred(embeddings.detach())
        self.l1_penalty = lambda_for_l0(zc, self.dictionary, target_l0, gram=self.gram, **kwargs)
        return self.l1_penalty

    # --- reading and editing weights ------------------------------------------------------
    def top_concepts(self, weights: torch.Tensor, k: int = 10) -> list[list[tuple[str, float]]]:
        """Per clip, the ``k`` largest ``(concept, weight)`` pairs with a positive weight."""
        out = []
        values, indices = weights.detach().float().cpu().topk(min(k, weights.shape[-1]), dim=-1)
        for vals, idx in zip(values.tolist(), indices.tolist()):
            out.append([(self.concepts[i], v) for v, i in zip(vals, idx) if v > 0])
        return out

    def concept_index(self, concept) -> int:
        """Index of a concept given by name or index."""
        if isinstance(concept, int):
            return concept
        if concept not in self._index:
            raise KeyError(f"'{concept}' is not in the vocabulary of {len(self.concepts)} concepts")
        return self._index[concept]

    def intervene(self, weights: torch.Tensor, remove=(), boost=None, set_to=None) -> torch.Tensor:
        """Edited copy of concept weights: remove concepts, scale some, or set their weight.

        Arguments
        ---------
        weights : torch.Tensor
            ``(N, V)`` weights from :meth:`decompose`.
        remove : sequence of str or int
            Concepts whose weight becomes 0.
        boost : dict, optional
            ``{concept: factor}`` multiplies a weight (factor 2 doubles it).
        set_to : dict, optional
            ``{concept: weight}`` sets a weight, e.g. to add a concept the clip did not have.

        Returns
        -------
        torch.Tensor
            New weights; :meth:`recompose` turns them into an edited embedding.
        """
        out = weights.clone()
        for c in remove:
            out[:, self.concept_index(c)] = 0.0
        for c, factor in (boost or {}).items():
            out[:, self.concept_index(c)] *= float(factor)
        for c, value in (set_to or {}).items():
            out[:, self.concept_index(c)] = float(value)
        return out.clamp_min(0)

    # --- from audio -----------------------------------------------------------------------
    def encode(self, wav: torch.Tensor, **kwargs) -> torch.Tensor:
        """Concept weights of waveforms, through the embedder's ``embed_audio``."""
        if self.embedder is None:
            raise RuntimeError("this bottleneck has no embedder; build it with load(embedder, ...)")
        with torch.no_grad():
            return self.decompose(self.embedder.embed_audio(wav), **kwargs)

    def zero_shot(self, weights: torch.Tensor, class_embeddings: torch.Tensor, scale=None) -> torch.Tensor:
        """Zero-shot class scores ``(N, classes)`` of the recomposed embeddings (cosine)."""
        return zero_shot_logits(self.recompose(weights, scale), class_embeddings)


def load(embedder, vocabulary="sound_events", l1_penalty: float = 0.1, audio_mean=None,
         cache_dir=None) -> ConceptBottleneck:
    """A :class:`ConceptBottleneck` for an embedder and a vocabulary (SpLiCE's ``load``).

    Arguments
    ---------
    embedder : speechbrain_interp.embedders.base.AudioTextEmbedder
        Gives the concept text embeddings (cached) and, for ``encode``, audio embeddings.
    vocabulary : str, Path or list of str
        Shipped vocabulary name, ``.txt`` path or a list of concepts.
    l1_penalty : float
        ``lambda``; see :meth:`ConceptBottleneck.set_l0`.
    audio_mean : torch.Tensor, optional
        Audio modality mean; otherwise call :meth:`ConceptBottleneck.fit_audio_mean`.
    cache_dir : str or Path, optional
        Concept embedding cache.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.embedders.text import HashingTextEncoder
    >>> bottleneck = load(HashingTextEncoder(dim=64), "sound_events", cache_dir=tempfile.mkdtemp())
    >>> len(bottleneck.get_vocabulary()) == len(get_vocabulary("sound_events"))
    True
    """
    concepts, emb = concept_embeddings(embedder, vocabulary, cache_dir=cache_dir)
    return ConceptBottleneck(concepts, emb, l1_penalty=l1_penalty, audio_mean=audio_mean, embedder=embedder)
