"""Text embeddings of a vocabulary's concepts, computed once per text tower and cached on disk.

:func:`concept_embeddings` keys the cache file by the embedder's ``cache_key`` (its text
tower and weights), the vocabulary's name and its version (the SHA-256 of the file), so a
changed model or vocabulary never reuses stale embeddings.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from speechbrain_interp.checkpointing import replace_atomically
from speechbrain_interp.vocabularies import load_vocabulary, vocabulary_version

__all__ = ["concept_embeddings"]


def _cache_root(cache_dir=None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("SPEECHBRAIN_INTERP_CACHE")
    return Path(env) / "concepts" if env else Path.home() / ".cache" / "speechbrain_interp" / "concepts"


def concept_embeddings(embedder, vocabulary="sound_events", cache_dir=None, batch_size: int = 256,
                       use_cache: bool = True):
    """Text embeddings of a vocabulary's concepts, cached on disk.

    The cache file is keyed by the embedder's ``cache_key`` (its text tower and weights),
    the vocabulary's name and its version (the SHA-256 of the file), so a changed model or
    vocabulary never reuses stale embeddings.

    Arguments
    ---------
    embedder : speechbrain_interp.embedders.base.AudioTextEmbedder
        Anything with ``embed_text(list[str]) -> (V, dim)`` and a ``cache_key`` string.
    vocabulary : str, Path or list of str
        A shipped vocabulary's name, a ``.txt`` path, or the concepts themselves.
    cache_dir : str or Path, optional
        Default ``$SPEECHBRAIN_INTERP_CACHE/concepts`` or ``~/.cache/speechbrain_interp/concepts``.
    batch_size : int
        Concepts embedded at once.
    use_cache : bool
        Read and write the cache.

    Returns
    -------
    (list of str, torch.Tensor)
        The concepts and their ``(V, dim)`` normalised embeddings.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.embedders.text import HashingTextEncoder
    >>> enc = HashingTextEncoder(dim=16)
    >>> concepts, emb = concept_embeddings(enc, ["dog bark", "rain"], cache_dir=tempfile.mkdtemp())
    >>> emb.shape
    torch.Size([2, 16])
    """
    from safetensors.torch import load_file, save_file

    if isinstance(vocabulary, (list, tuple)):
        concepts = [str(c) for c in vocabulary]
        name = "custom"
        version = hashlib.sha256("\n".join(concepts).encode()).hexdigest()[:16]
    else:
        concepts = load_vocabulary(vocabulary)
        name = Path(str(vocabulary)).stem
        version = vocabulary_version(vocabulary)
    key = getattr(embedder, "cache_key", None)
    path = None
    if use_cache and key:
        path = _cache_root(cache_dir) / _safe_name(key) / f"{name}-{version}.safetensors"
        if path.exists():
            emb = load_file(str(path))["embeddings"]
            if emb.shape[0] == len(concepts):
                return concepts, emb
    chunks = []
    with torch.no_grad():
        for start in range(0, len(concepts), batch_size):
            chunks.append(embedder.embed_text(concepts[start : start + batch_size]).float().cpu())
    emb = F.normalize(torch.cat(chunks), dim=-1)
    if path is not None:
        replace_atomically(path, lambda tmp: save_file({"embeddings": emb.contiguous()}, str(tmp),
                                                       metadata={"vocabulary": name, "version": version}))
    return concepts, emb


def _safe_name(text: str) -> str:
    clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60]
    return f"{clean}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
