"""Many processes: ``torchrun -m speechbrain_interp explain`` shards files, rank 0 merges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from speechbrain_interp.audio import save_audio
from speechbrain_interp.explainer import explain_classifier
from speechbrain_interp.report import explain_to_report
from speechbrain_interp.sharding import Shard
from speechbrain_interp.synth import demo_clip
from speechbrain_interp.testing import make_speechbrain_classifier

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    classifier = make_speechbrain_classifier(root / "classifier", "xvector", labels=["dog", "siren", "rain"])
    clips = root / "clips"
    for k in range(5):  # two same-named files in different folders: names must not collide across ranks
        save_audio(clips / ("a" if k % 2 else "b") / f"clip{k // 2}.wav", demo_clip(0.6 + 0.1 * k, seed=k),
                   16000)
    return {"classifier": classifier, "clips": clips}


def test_two_ranks_explain_a_folder_and_rank_0_merges_every_clip_once(corpus, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "speechbrain_interp",
         "explain", str(corpus["clips"]), "--classifier", str(corpus["classifier"]), "--out", str(out),
         "--batch-size", "2", "--figures", "fast"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "in 2 processes" in proc.stdout and proc.stdout.count("explaining 5 file(s)") == 1  # rank 0 speaks
    summary = json.loads((out / "summary.json").read_text())
    sources = sorted(e["source"] for e in summary)
    assert sources == sorted(str(p) for p in corpus["clips"].rglob("*.wav"))  # every clip, once
    assert len({e["name"] for e in summary}) == 5
    for entry in summary:
        assert all((out / f).is_file() for f in entry["files"].values())
    page = (out / "report.html").read_text()
    assert page.count('class="clip-row') == 5 and "2 (torchrun)" in page
    assert not list(out.glob("*.tmp*"))


class _TwoRanks(Shard):
    """Rank 0 of two, where rank 1 failed: what ``all_gather_object`` would hand rank 0."""

    def gather(self, obj):
        return [obj, {"entries": [], "failed": {}, "error": "RuntimeError: out of memory"}]


def test_a_rank_that_fails_is_named_and_its_clips_are_listed_as_not_explained(corpus, tmp_path):
    paths = sorted(corpus["clips"].rglob("*.wav"))
    explainer = explain_classifier(str(corpus["classifier"]))
    result = explain_to_report(explainer, paths, tmp_path / "out", progress=False, metrics=False,
                               figures="none", shard=_TwoRanks(0, 2))
    assert result["failed_ranks"] == {1: "RuntimeError: out of memory"}
    assert sorted(e["source"] for e in result["entries"]) == [str(p) for p in paths[0::2]]
    assert sorted(result["failed"]) == [str(p) for p in paths[1::2]]
    assert all("process 1 failed" in m for m in result["failed"].values())
    page = result["report"].read_text()
    assert "failed processes" in page and "rank 1: RuntimeError: out of memory" in page
    listed = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(listed) == len(paths[0::2])


def test_two_ranks_explain_long_recordings_and_rank_0_writes_the_timeline_page(corpus, tmp_path):
    recordings = tmp_path / "recordings"
    for k in range(3):
        save_audio(recordings / f"rec{k}.wav", demo_clip(3.0 + k, seed=10 + k), 16000)
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "speechbrain_interp",
         "explain", str(recordings), "--long", "--window", "1.0", "--classifier", str(corpus["classifier"]),
         "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (out / "timeline.html").read_text()
    assert page.count('class="recording"') == 3 and all(f"rec{k}.wav" in page for k in range(3))
    for k in range(3):
        timeline = json.loads((out / f"rec{k}_timeline.json").read_text())
        assert timeline["samples"] == (3 + k) * 16000
        assert all((out / w["image"]).is_file() for w in timeline["windows"])
