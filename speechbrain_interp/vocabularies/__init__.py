"""Audio concept vocabularies shipped with the package, one concept per line.

Three vocabularies, each built by ``scripts/build_vocabularies.py`` from material readable
offline (see ``README.md`` in this folder for the rules and the licences):

* ``sound_events``: AudioSet ontology class names and synonyms, label sets (ESC-50,
  UrbanSound8K) and WordNet nouns for sounds and noises;
* ``sound_descriptions``: short phrases (sources, actions, materials, acoustic qualities)
  mined from the AudioSet ontology descriptions, and WordNet adjectives of sound;
* ``sound_sources``: WordNet sound sources (instruments, vehicles, appliances, animals
  named in AudioSet, natural phenomena) and sound-making actions as gerunds.

A vocabulary's *version* is the SHA-256 of its file, so cached concept embeddings are
invalidated whenever a vocabulary changes.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

__all__ = ["VOCABULARY_DIR", "list_vocabularies", "load_vocabulary", "vocabulary_version", "concept_key"]

VOCABULARY_DIR = Path(__file__).resolve().parent

_ARTICLES = {"a", "an", "the"}
# Irregular plurals that a suffix rule would get wrong.
_PLURALS = {"geese": "goose", "mice": "mouse", "teeth": "tooth", "feet": "foot", "children": "child",
            "women": "woman", "men": "man", "oxen": "ox", "people": "person"}
_KEEP_S = ("ss", "us", "is", "ous", "ics")


def _singular(word: str) -> str:
    if word in _PLURALS:
        return _PLURALS[word]
    if len(word) <= 3 or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def concept_key(concept: str) -> str:
    """Normalised form under which two concepts count as near-duplicates.

    Case, punctuation, hyphens, underscores, articles and plural endings are ignored,
    so ``"Dog barks"``, ``"dog-bark"`` and ``"the dog bark"`` share one key.

    Example
    -------
    >>> concept_key("Dog barks") == concept_key("the dog-bark")
    True
    >>> concept_key("Chopping (food)")
    'chopping food'
    """
    text = re.sub(r"[_\-/]+", " ", concept.lower())
    text = re.sub(r"[^a-z0-9' ]+", " ", text).replace("'", "")
    words = [_singular(w) for w in text.split() if w not in _ARTICLES]
    return " ".join(words)


def list_vocabularies() -> list[str]:
    """Names of the shipped vocabularies.

    Example
    -------
    >>> list_vocabularies()
    ['sound_descriptions', 'sound_events', 'sound_sources']
    """
    return sorted(p.stem for p in VOCABULARY_DIR.glob("*.txt"))


def _resolve(name_or_path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".txt" and path.exists():
        return path
    shipped = VOCABULARY_DIR / f"{name_or_path}.txt"
    if shipped.exists():
        return shipped
    raise FileNotFoundError(
        f"unknown vocabulary '{name_or_path}': pass one of {list_vocabularies()} or the path of a "
        ".txt file with one concept per line"
    )


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:  # keyed by mtime: edits are seen
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    concepts = tuple(line.strip() for line in lines if line.strip())
    if not concepts:
        raise ValueError(f"vocabulary {path} is empty")
    return concepts


def load_vocabulary(name_or_path) -> list[str]:
    """The concepts of a shipped vocabulary (by name) or of a text file (by path).

    Example
    -------
    >>> concepts = load_vocabulary("sound_events")
    >>> "dog" in concepts, len(concepts) <= 2000
    (True, True)
    """
    path = _resolve(name_or_path)
    stat = path.stat()
    return list(_read(str(path), stat.st_mtime_ns, stat.st_size))


def vocabulary_version(name_or_path) -> str:
    """First 16 hex digits of the SHA-256 of the vocabulary file: changes whenever it does.

    Example
    -------
    >>> len(vocabulary_version("sound_sources"))
    16
    """
    return hashlib.sha256(_resolve(name_or_path).read_bytes()).hexdigest()[:16]
