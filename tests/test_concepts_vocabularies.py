"""Shipped concept vocabularies: the build script reproduces them; the format rules hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from speechbrain_interp.vocabularies import (
    concept_key,
    list_vocabularies,
    load_vocabulary,
    vocabulary_version,
)

REPO = Path(__file__).resolve().parents[1]
ONTOLOGY = REPO.parent / "shared" / "data" / "audioset_ontology"
WORDNET = Path("/usr/share/wordnet")


@pytest.mark.parametrize("name", ["sound_events", "sound_descriptions", "sound_sources"])
def test_vocabulary_rules(name):
    assert name in list_vocabularies()
    raw = (REPO / "speechbrain_interp" / "vocabularies" / f"{name}.txt").read_text(encoding="utf-8")
    lines = raw.splitlines()
    assert 0 < len(lines) <= 2000
    assert all(line.strip() == line and line for line in lines), "no empty lines or stray spaces"
    assert all(line == line.lower() and len(line) <= 40 and len(line.split()) <= 5 for line in lines)
    keys = [concept_key(line) for line in lines]
    assert len(set(keys)) == len(keys), "near-duplicate concepts"
    assert load_vocabulary(name) == lines
    assert len(vocabulary_version(name)) == 16


def test_build_script_reproduces_shipped_files():
    if not (ONTOLOGY / "ontology.json").exists() or not (WORDNET / "data.noun").exists():
        pytest.skip("the AudioSet ontology (../shared/data/audioset_ontology) or WordNet "
                    "(Debian wordnet-base) is absent")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "build_vocabularies.py"), "--check",
                           "--ontology", str(ONTOLOGY / "ontology.json"), "--wordnet", str(WORDNET)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("matches") == 3


def test_edited_vocabulary_file_is_reread(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("dog bark\nrain\n")
    first = (load_vocabulary(path), vocabulary_version(path))
    path.write_text("dog bark\nrain\nsiren\n")
    assert load_vocabulary(path) == ["dog bark", "rain", "siren"]
    assert vocabulary_version(path) != first[1]
