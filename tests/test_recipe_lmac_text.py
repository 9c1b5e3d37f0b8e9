"""The text-conditioned L-MAC recipe in debug mode, resumed, exported and asked from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "ESC50" / "interpret"


def _run(*args, timeout=300):
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One debug epoch (random-weight classifier, hashing text tower, synthesised ESC-50), then a
    second run that resumes from its checkpoint for epoch 2."""
    out = tmp_path_factory.mktemp("lmac_text_run")
    common = [RECIPE / "train_lmac_text.py", RECIPE / "hparams" / "lmac_text.yaml", "--debug",
              f"--output_folder={out}", f"--data_folder={out / 'no_data'}",
              f"--classifier_source={out / 'no_classifier'}"]
    first = _run(*common, "--number_of_epochs=1")
    second = _run(*common, "--number_of_epochs=2")
    return out, first, second


@pytest.mark.slow
def test_debug_training_resumes_evaluates_and_exports(run):
    out, _, second = run
    log = (out / "train_log.txt").read_text()
    assert [line.split(",")[0] for line in log.splitlines()] == ["epoch: 1", "epoch: 2"]
    assert "Loading a checkpoint" in second
    assert "valid own share" in log
    results = json.loads((out / "results.json").read_text())
    assert results["kept"] == results["total"] == 4
    assert {"LMAC-ZS (label prompts)", "LMAC-ZS (caption prompts)", "fixed profile",
            "energy mask"} == set(results["rows"])
    rows = results["rows"]
    # the fixed profile is one mask for both questions: what it gives one event it gives the other
    assert rows["fixed profile"]["own share"] == pytest.approx(rows["fixed profile"]["other share"], abs=1e-6)
    paper = results["paper_metrics"]
    assert set(paper) == {"LMAC-ZS (label prompts)", "fixed profile", "energy mask"}
    assert {"AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP"} <= set(paper["fixed profile"])
    assert all(0.0 <= paper[name]["Fid-In"] <= 1.0 for name in paper)
    assert "mask mean (absent prompt)" in results
    assert (out / "export" / "text_lmac.json").exists() and (out / "decoder.ckpt").exists()


@pytest.mark.slow
def test_the_cli_asks_the_exported_interpreter_about_any_text(run, tmp_path):
    import torch

    from speechbrain_interp.audio import save_audio

    out, _, _ = run
    clip = tmp_path / "clip.wav"
    save_audio(clip, 0.3 * torch.sin(2 * torch.pi * 440 * torch.arange(16000) / 16000), 16000)
    told = _run("-m", "speechbrain_interp", "explain", clip, "--text", "dog barking",
                "--interpreter", out / "export", "--out", tmp_path / "explained", "--figures", "none")
    assert "'dog barking' p=" in told
    summary = json.loads((tmp_path / "explained" / "summary.json").read_text())
    assert summary[0]["asked"] == "dog barking" and 0.0 <= summary[0]["mask_mean"] <= 1.0
    assert (tmp_path / "explained" / "clip" / "clip_interpretation.wav").exists()
    refused = subprocess.run([sys.executable, "-m", "speechbrain_interp", "explain", str(clip), "--text",
                              "dog", "--out", str(tmp_path / "x")], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2 and "text_lmac.json" in refused.stderr


@pytest.mark.slow
def test_the_recipe_evaluates_an_exported_interpreter_without_training(run, tmp_path):
    """An export's projection and decoder, gated by the evidence at a chosen gain: no epoch runs;
    or trained further, with the decoder it starts from as epoch 0."""
    from speechbrain_interp.text_interface import load_text_lmac

    out, _, _ = run
    again = tmp_path / "again"
    log = _run(RECIPE / "train_lmac_text.py", RECIPE / "hparams" / "lmac_text.yaml", "--debug",
               f"--output_folder={again}", f"--data_folder={out / 'no_data'}",
               f"--classifier_source={out / 'no_classifier'}", "--number_of_epochs=0",
               f"--projection_file={out / 'export' / 'projection.safetensors'}",
               f"--pretrained_decoder={out / 'export' / 'decoder.safetensors'}",
               "--evidence_layer=embedding_model.conv_block5", "--evidence_gain=3")
    assert not (again / "train_log.txt").exists(), log[-2000:]
    assert json.loads((again / "results.json").read_text())["kept"] == 4
    brick = load_text_lmac(again / "export")
    assert float(brick.decoder.evidence_gain) == 3.0 and brick.evidence_score == "log_probability"
    first = load_text_lmac(out / "export")  # the same projection as the export it read
    assert first.classifier.embedder.projection.weight.equal(brick.classifier.embedder.projection.weight)
    # trained further from it: the decoder it starts from is validated as epoch 0 and competes
    further = tmp_path / "further"
    _run(RECIPE / "train_lmac_text.py", RECIPE / "hparams" / "lmac_text.yaml", "--debug",
         f"--output_folder={further}", f"--data_folder={out / 'no_data'}",
         f"--classifier_source={out / 'no_classifier'}", "--number_of_epochs=1",
         f"--projection_file={out / 'export' / 'projection.safetensors'}",
         f"--pretrained_decoder={out / 'export' / 'decoder.safetensors'}")
    log = (further / "train_log.txt").read_text()
    assert [line.split(",")[0] for line in log.splitlines()] == ["epoch: 0", "epoch: 1"]


@pytest.mark.slow
def test_the_laion_clap_variant_runs_end_to_end_on_random_weights(tmp_path):
    """hparams/lmac_text_clap.yaml --debug: a random-weight LAION-CLAP of the real architecture
    (written once to the package cache), synthesised ESC-50, one epoch, the two-event evaluation."""
    import importlib.util

    if importlib.util.find_spec("laion_clap") is None:
        pytest.skip("laion-clap is not installed")
    out = tmp_path / "clap"
    _run(RECIPE / "train_lmac_text.py", RECIPE / "hparams" / "lmac_text_clap.yaml", "--debug",
         f"--output_folder={out}", f"--data_folder={tmp_path / 'no_data'}", timeout=600)
    results = json.loads((out / "results.json").read_text())
    assert results["kept"] == results["total"] == 4
    assert {"LMAC-ZS (label prompts)", "LMAC-ZS (caption prompts)"} <= set(results["rows"])
    assert (out / "decoder.ckpt").exists() and not (out / "export").exists()
    assert [line.split(",")[0] for line in (out / "train_log.txt").read_text().splitlines()] == ["epoch: 1"]
