#!/usr/bin/env python
"""Build the three concept vocabularies shipped in ``speechbrain_interp/vocabularies/``.

Sources, all readable offline:

* the AudioSet ontology v1 (``ontology.json``; 632 classes with names, synonyms and
  descriptions; Google, CC BY-SA 4.0), from ``../shared/data/audioset_ontology`` or
  ``--ontology``;
* Princeton WordNet 3.0 as Debian's ``wordnet-base`` package installs it
  (``/usr/share/wordnet``; WordNet 3.0 licence), or ``--wordnet``;
* two label sets written out below: ESC-50 (Piczak 2015) and UrbanSound8K
  (Salamon et al. 2014) class names.

Vocabularies (one concept per line, lower case, at most 2000 each, no two lines with the
same :func:`speechbrain_interp.vocabularies.concept_key`):

``sound_events``
    every AudioSet class name and synonym (ontology order), the label sets, then WordNet
    nouns below *sound* (audible event, auditory effect, auditory sensation) and *noise*,
    by WordNet tag count.
``sound_descriptions``
    phrases mined from the AudioSet descriptions: one to three words inside a clause,
    ending in a WordNet noun or a gerund, no stop words, present in at least two
    descriptions (or one, for multi-word phrases that name a WordNet noun), ranked by the
    number of descriptions that use them; then WordNet adjectives whose gloss speaks of
    sound, loudness, pitch or tone (acoustic qualities).
``sound_sources``
    sound-making actions as gerunds (WordNet verbs of perception, communication and the
    body whose gloss is about making a sound), then sound sources: animals, artifacts and
    natural phenomena that WordNet knows and the AudioSet ontology mentions, then WordNet
    families of sources (musical instruments, home appliances, power tools, clocks, bells,
    alarms, guns, kitchen utensils, doors, machines, tools, birds, vehicles) by tag count,
    up to 2000 concepts.

Run from the repository root::

    python scripts/build_vocabularies.py                 # (re)write the shipped files
    python scripts/build_vocabularies.py --check         # exit 1 if they differ

The output is a pure function of the inputs: no randomness, every ordering is explicit.
Licence of the outputs: ``sound_events`` and ``sound_descriptions`` derive from the
AudioSet ontology and are CC BY-SA 4.0; ``sound_sources`` and the WordNet parts carry
the WordNet 3.0 licence notice (see ``speechbrain_interp/vocabularies/README.md``).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from speechbrain_interp.vocabularies import VOCABULARY_DIR, concept_key  # noqa: E402

DEFAULT_ONTOLOGY = REPO.parent / "shared" / "data" / "audioset_ontology" / "ontology.json"
DEFAULT_WORDNET = Path("/usr/share/wordnet")
MAX_CONCEPTS = 2000
MAX_WORDS = 5
MAX_CHARS = 40

ESC50_LABELS = (
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea waves", "crackling fire", "crickets", "chirping birds", "water drops", "wind",
    "pouring water", "toilet flush", "thunderstorm", "crying baby", "sneezing", "clapping",
    "breathing", "coughing", "footsteps", "laughing", "brushing teeth", "snoring",
    "drinking sipping", "door wood knock", "mouse click", "keyboard typing", "door wood creaks",
    "can opening", "washing machine", "vacuum cleaner", "clock alarm", "clock tick",
    "glass breaking", "helicopter", "chainsaw", "siren", "car horn", "engine", "train",
    "church bells", "airplane", "fireworks", "hand saw",
)
URBANSOUND8K_LABELS = (
    "air conditioner", "car horn", "children playing", "dog bark", "drilling", "engine idling",
    "gun shot", "jackhammer", "siren", "street music",
)

STOP = set(
    "a an the and or but nor of to in on at by for with from into onto over under as than then "
    "that this these those it its is are was were be been being has have had do does did not no "
    "such which who whom whose what when where while also very more most less least some any all "
    "each either both other another can could may might will would should must often usually "
    "typically generally commonly especially sometimes e g eg etc i e ie via one two three "
    "something someone thing things way ways kind kinds type types form forms part parts use used "
    "using made make makes making produced produce produces producing heard hear hearing "
    "characteristic characteristically associated related refers refer referring particular "
    "specific various several many much like similar different same own due because about "
    "through across against around between during within without upon up down out off "
    "consisting including resulting having containing involving according following relating "
    "resembling known called given their his her them they we our you your my its itself "
    "single uses use".split()
)
# Noun lexicographer files of abstractions that make poor one-word sound concepts
# (Tops, cognition, feeling, location, motive, possession, quantity, relation, shape, state, time).
ABSTRACT_LEXFILES = {3, 9, 12, 15, 16, 21, 23, 24, 25, 26, 28}
# Words too generic to be a concept alone; they may still appear inside a phrase.
GENERIC = {"sound", "noise", "audio", "recording", "sounds", "noises", "example", "instance", "class",
           "category", "source", "sources", "effect", "effects", "event", "events", "action",
           "activity", "person", "people", "human", "object", "objects", "result", "series",
           "number", "group", "set", "range", "variety", "state", "quality", "manner"}
SOUND_GLOSS = re.compile(
    r"\b(sound|sounds|sounding|noise|noises|noisy|noisily|loud|loudly|loudness|pitch|pitched|"
    r"tone|tones|audible|resonan\w*|timbre|shrill|ring|rings|ringing|cry|cries|call|calls|"
    r"buzz\w*|hum|humming|whistl\w*|squeak\w*|clatter\w*|rumbl\w*|hiss\w*|echo\w*)\b"
)
NOT_SOUND_GLOSS = re.compile(r"\b(mind|muscle|muscular|reasoning|finances?|investment|argument|"
                             r"health|colou?r|paint|logic|corrosive|sarcas\w*|mock\w*|unsound|"
                             r"telephone|name|names|summon\w*|visit\w*|attention)\b")
# A verb's gloss must say that it makes a sound, not merely mention one.
MAKES_SOUND = re.compile(r"\b(make|makes|emit|emits|produce|produces|utter|utters|give off|"
                         r"gives off)\b.*\b(sound|sounds|noise|noises|cry|cries|tone|tones)\b")


# --------------------------------------------------------------------------------------------
# WordNet reader (the Princeton database files: data.POS, index.POS, POS.exc)
# --------------------------------------------------------------------------------------------
class WordNet:
    """Minimal reader of the WordNet 3.0 database files; nothing beyond what the build needs."""

    POS = {"n": "noun", "v": "verb", "a": "adj"}

    def __init__(self, folder):
        self.folder = Path(folder)
        if not (self.folder / "data.noun").exists():
            raise FileNotFoundError(
                f"WordNet database not found in {self.folder}; install Debian's 'wordnet-base' "
                "(apt-get install wordnet-base) or pass --wordnet"
            )
        self.synsets = {p: self._data(name) for p, name in self.POS.items()}
        self.index = {p: self._index(name) for p, name in self.POS.items()}

    def _data(self, name):
        synsets = {}
        with open(self.folder / f"data.{name}", encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue  # licence header
                head, _, gloss = line.partition(" | ")
                f = head.split()
                n_words = int(f[3], 16)
                words = [f[4 + 2 * i] for i in range(n_words)]
                i = 4 + 2 * n_words
                n_ptrs = int(f[i])
                ptrs = [(f[i + 1 + 4 * k], f[i + 2 + 4 * k], f[i + 3 + 4 * k]) for k in range(n_ptrs)]
                synsets[f[0]] = {"lex": int(f[1]), "words": words, "ptrs": ptrs,
                                 "gloss": gloss.strip()}
        return synsets

    def _index(self, name):
        index = {}
        with open(self.folder / f"index.{name}", encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                f = line.split()
                n_senses, n_ptrs = int(f[2]), int(f[3])
                tagged = int(f[5 + n_ptrs])
                index[f[0]] = {"offsets": f[-n_senses:], "tagged": tagged}
        return index

    def synset(self, lemma: str, pos: str, sense: int) -> str:
        """Offset of ``lemma``'s ``sense``-th sense (1-based), as WordNet numbers them."""
        return self.index[pos][lemma]["offsets"][sense - 1]

    def closure(self, root: str, pos: str, depth: int = 99) -> list[str]:
        """``root`` and its hyponyms (and instances) down to ``depth``, sorted by offset."""
        seen, frontier = {root: 0}, [root]
        while frontier:
            nxt = []
            for off in frontier:
                if seen[off] >= depth:
                    continue
                for sym, target, _ in self.synsets[pos][off]["ptrs"]:
                    if sym in ("~", "~i") and target not in seen:
                        seen[target] = seen[off] + 1
                        nxt.append(target)
            frontier = nxt
        return sorted(seen)

    def tagged(self, lemma: str, pos: str) -> int:
        """Sense-tagged corpus count of a lemma (how common it is); 0 when unknown."""
        return self.index[pos].get(lemma.lower(), {"tagged": 0})["tagged"]

    def is_pos(self, word: str, pos: str) -> bool:
        return word in self.index[pos]

    def mainly(self, word: str, pos: str) -> bool:
        """``word`` is a ``pos`` and no other part of speech is more common in the tagged corpus."""
        if not self.is_pos(word, pos):
            return False
        own = self.tagged(word, pos)
        return all(self.tagged(word, other) <= own for other in self.POS if other != pos)

    def first_lexfile(self, word: str, pos: str) -> int | None:
        """Lexicographer file of the word's most frequent sense (singular form tried too)."""
        for form in (word, word[:-1] if word.endswith("s") else word):
            if form in self.index[pos]:
                return self.synsets[pos][self.index[pos][form]["offsets"][0]]["lex"]
        return None

    def sense_rank(self, lemma: str, pos: str, offset: str) -> int:
        """1-based rank of a synset among the lemma's senses (WordNet orders them by frequency)."""
        offsets = self.index[pos].get(lemma.lower().replace(" ", "_"), {"offsets": []})["offsets"]
        return offsets.index(offset) + 1 if offset in offsets else 99

    def lemmas(self, offsets, pos, proper: bool = True):
        """(lemma text, tag count) of every word of the synsets, without sense markers.

        ``proper=False`` drops capitalised lemmas (proper names, Latin genus and species names).
        """
        out = []
        for off in offsets:
            for w in self.synsets[pos][off]["words"]:
                if not proper and w[:1].isupper():
                    continue
                lemma = re.sub(r"\(.*\)$", "", w)  # adjective markers such as (a), (p)
                out.append((lemma.replace("_", " ").lower(), self.tagged(lemma.lower(), pos)))
        return out


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def clean(text: str) -> str:
    text = text.replace("_", " ").lower().strip()
    return re.sub(r"\s+", " ", text)


def acceptable(text: str) -> bool:
    return (
        bool(text)
        and len(text) <= MAX_CHARS
        and len(text.split()) <= MAX_WORDS
        and re.fullmatch(r"[a-z0-9][a-z0-9 ,'()&.\-]*", text) is not None
        and concept_key(text) != ""
    )


def dedupe(candidates, limit=MAX_CONCEPTS):
    """First occurrence of each concept key, in order, at most ``limit``."""
    out, seen = [], set()
    for text in candidates:
        text = clean(text)
        key = concept_key(text)
        if not acceptable(text) or key in seen:
            continue
        seen.add(key)
        out.append(text)
        if len(out) == limit:
            break
    return out


def by_frequency(items):
    """Sort (text, count) pairs by count (descending) then text; keep the texts."""
    return [t for t, _ in sorted(items, key=lambda tc: (-tc[1], tc[0]))]


def gerund(verb: str) -> str:
    """English -ing form of a (multi-word) verb: ``'hum' -> 'humming'``, ``'buzz off' -> 'buzzing off'``."""
    head, _, rest = verb.partition(" ")
    if head.endswith("ie"):
        g = head[:-2] + "ying"
    elif head.endswith("e") and not head.endswith(("ee", "ye", "oe")) and len(head) > 2:
        g = head[:-1] + "ing"
    elif (len(re.findall(r"[aeiou]+", head)) == 1 and re.search(r"[^aeiou][aeiou][^aeiouwxy]$", head)):
        g = head + head[-1] + "ing"  # one syllable ending consonant-vowel-consonant: hum -> humming
    else:
        g = head + "ing"
    return f"{g} {rest}".strip()


def ontology_names(ontology):
    names = []
    for entry in ontology:
        for part in entry["name"].split(","):
            names.append(part.strip())
    return names


def ontology_words(ontology) -> set[str]:
    text = " ".join(f"{e['name']} {e['description']}" for e in ontology).lower()
    words = set(re.findall(r"[a-z]+(?:[-'][a-z]+)*", text))
    return words | {w[:-1] for w in words if w.endswith("s")} | {w[:-2] for w in words if w.endswith("es")}


# --------------------------------------------------------------------------------------------
# the three vocabularies
# --------------------------------------------------------------------------------------------
def build_sound_events(ontology, wn: WordNet) -> list[str]:
    roots = [wn.synset("sound", "n", 4), wn.synset("sound", "n", 1), wn.synset("sound", "n", 2),
             wn.synset("noise", "n", 1)]
    offsets = sorted({o for r in roots for o in wn.closure(r, "n")})
    wordnet = by_frequency(wn.lemmas(offsets, "n"))
    labels = list(ESC50_LABELS) + list(URBANSOUND8K_LABELS)
    return dedupe(ontology_names(ontology) + labels + wordnet)


def _clauses(description: str):
    text = re.sub(r"\([^)]*\)", " ", description.lower())
    for clause in re.split(r"[.,;:!?\"\u201c\u201d]|\band\b|\bor\b", text):
        words = re.findall(r"[a-z]+(?:-[a-z]+)*", clause)
        if words:
            yield words


def _is_noun(word, wn):
    return wn.mainly(word, "n") or (word.endswith("s") and wn.mainly(word[:-1], "n"))


def _is_gerund(word, wn):
    if not word.endswith("ing") or len(word) < 5:
        return False
    stem = word[:-3]
    return any(wn.is_pos(s, "v") for s in (stem, stem + "e", stem[:-1]))


def build_sound_descriptions(ontology, wn: WordNet) -> list[str]:
    doc_freq = Counter()
    for entry in ontology:
        found = set()
        for words in _clauses(entry["description"]):
            for n in (1, 2, 3):
                for i in range(len(words) - n + 1):
                    gram = words[i : i + n]
                    if any(w in STOP or len(w) < 3 for w in gram):
                        continue
                    last = gram[-1]
                    if not (_is_noun(last, wn) or _is_gerund(last, wn)):
                        continue
                    if n == 1 and (gram[0] in GENERIC or not _is_noun(gram[0], wn)
                                   or wn.first_lexfile(gram[0], "n") in ABSTRACT_LEXFILES):
                        continue
                    if all(w in GENERIC for w in gram):
                        continue
                    found.add(" ".join(gram))
        doc_freq.update(found)
    phrases = [
        (p, c) for p, c in doc_freq.items()
        if c >= 2 or (" " in p and wn.is_pos(p.replace(" ", "_"), "n"))
    ]
    adjectives = []
    for off, syn in sorted(wn.synsets["a"].items()):
        first = syn["gloss"].split(";")[0]
        if SOUND_GLOSS.search(first) and not NOT_SOUND_GLOSS.search(first):
            adjectives += wn.lemmas([off], "a")
    return dedupe(by_frequency(phrases) + by_frequency(adjectives))


def build_sound_sources(ontology, wn: WordNet) -> list[str]:
    verbs = []
    for off, syn in sorted(wn.synsets["v"].items()):
        first = syn["gloss"].split(";")[0]
        if NOT_SOUND_GLOSS.search(first):
            continue
        # verb.perception glosses about sound; verb.body / verb.communication ones that make one
        if (syn["lex"] == 39 and SOUND_GLOSS.search(first)) or (
            syn["lex"] in (29, 32) and MAKES_SOUND.search(first)
        ):
            # keep a lemma only where this is one of its main senses ('go' also means 'sound')
            verbs += [(gerund(lemma), count) for lemma, count in wn.lemmas([off], "v")
                      if wn.sense_rank(lemma, "v", off) <= 3]
    mentioned = ontology_words(ontology) | {w for label in ESC50_LABELS + URBANSOUND8K_LABELS
                                            for w in label.split()}
    named = []  # animals (5), artifacts (6), objects (17), phenomena (19) that AudioSet mentions
    for off, syn in sorted(wn.synsets["n"].items()):
        if syn["lex"] in (5, 6, 17, 19):
            named += [(lemma, count) for lemma, count in wn.lemmas([off], "n")
                      if lemma in mentioned and lemma not in GENERIC and lemma not in STOP
                      and wn.sense_rank(lemma, "n", off) == 1 and wn.mainly(lemma, "n")]
    families = []
    for lemma, sense, depth in (("musical_instrument", 1, 99), ("home_appliance", 1, 99),
                                ("power_tool", 1, 99), ("clock", 1, 99), ("bell", 1, 99),
                                ("alarm", 2, 99), ("gun", 1, 99), ("kitchen_utensil", 1, 99),
                                ("door", 1, 99), ("machine", 1, 2), ("tool", 1, 2), ("bird", 1, 2),
                                ("vehicle", 1, 99)):
        families += wn.lemmas(wn.closure(wn.synset(lemma, "n", sense), "n", depth), "n", proper=False)
    return dedupe(by_frequency(verbs) + by_frequency(named) + by_frequency(families))


BUILDERS = {
    "sound_events": build_sound_events,
    "sound_descriptions": build_sound_descriptions,
    "sound_sources": build_sound_sources,
}


def build_all(ontology_path=DEFAULT_ONTOLOGY, wordnet_path=DEFAULT_WORDNET) -> dict[str, list[str]]:
    """``{name: concepts}`` for the three vocabularies."""
    ontology_path = Path(ontology_path)
    if not ontology_path.exists():
        raise FileNotFoundError(f"AudioSet ontology not found at {ontology_path}; pass --ontology")
    ontology = json.loads(ontology_path.read_text(encoding="utf-8"))
    wn = WordNet(wordnet_path)
    return {name: build(ontology, wn) for name, build in BUILDERS.items()}


def render(concepts) -> str:
    return "\n".join(concepts) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ontology", default=str(DEFAULT_ONTOLOGY))
    parser.add_argument("--wordnet", default=str(DEFAULT_WORDNET))
    parser.add_argument("--out", default=str(VOCABULARY_DIR))
    parser.add_argument("--check", action="store_true", help="compare with the files in --out")
    args = parser.parse_args(argv)
    vocabularies = build_all(args.ontology, args.wordnet)
    out = Path(args.out)
    status = 0
    for name, concepts in vocabularies.items():
        path = out / f"{name}.txt"
        if args.check:
            same = path.exists() and path.read_text(encoding="utf-8") == render(concepts)
            print(f"{name}: {len(concepts)} concepts, {'matches' if same else 'DIFFERS from'} {path}")
            status |= 0 if same else 1
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(render(concepts), encoding="utf-8")
            print(f"{name}: {len(concepts)} concepts -> {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
