"""The ESC-50 concepts recipe in debug mode (random-weight classifier, synthesised clips)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "ESC50" / "concepts"


def test_text_aligned_recipe_debug(tmp_path):
    """Shipped vocabulary, two target L0s, both embedder stages (training, evaluation, explanations)."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "text_aligned.yaml"), "--debug",
         "--text_tower=hashing", f"--output_folder={out}", f"--classifier_source={tmp_path / 'none'}",
         f"--data_folder={tmp_path / 'none'}"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["debug"] and results["embedder"] == "TextAlignedEncoder"
    assert set(results["dense"]) == {"zero_shot", "probe", "projector_zero_shot", "projector_probe"}
    rows = results["concepts"]
    assert [r["target_l0"] for r in rows] == [2, 5]
    for r in rows:
        assert 0 < r["l0"] <= 2 * r["target_l0"] + 1
        assert 0 < r["cosine"] <= 1 and 0 <= r["zero_shot"] <= 1 and 0 <= r["probe"] <= 1
    assert "| concepts | sound_events" in (out / "results.md").read_text()
    assert (out / "projection.safetensors").exists() and (out / "embeddings.safetensors").exists()
    assert results["explanations"][0]["concepts"], "per-clip top concepts"
    assert list((out / "explanations").glob("*.png"))
    assert "zero_shot_acc" in (out / "train_log.txt").read_text()
    # the exported folder loads as a pretrained concept interpreter
    from speechbrain_interp.inference import ConceptBottleneckInterface
    from speechbrain_interp.synth import demo_clip

    interpreter = ConceptBottleneckInterface.from_hparams(out / "export", savedir=tmp_path / "savedir")
    e = interpreter.interpret_batch(demo_clip(1.0)[None])
    assert e.method == "concept bottleneck" and e.concepts[0]


def test_laion_clap_recipe_debug(tmp_path):
    """The same recipe with a LAION-CLAP checkpoint (random weights, laion-clap's own architecture)."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("laion_clap") is None:
        pytest.skip("laion-clap is not installed")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["dog bark", "siren", "rain", "engine", "bird song", "speech", "wind",
                                "footsteps", "door knock", "clock tick"]) + "\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "laion_clap.yaml"), "--debug",
         f"--output_folder={out}", f"--classifier_source={tmp_path / 'none'}",
         f"--data_folder={tmp_path / 'none'}", "--debug_clips=4", f"--vocabularies=[{vocab}]",
         "--n_explained=1", "--target_l0s=[2]"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["embedder"] == "LaionCLAP" and results["dim"] == 512
    assert results["concepts"][0]["vocabulary"] == str(vocab)
    assert results["explanations"][0]["concepts"]
