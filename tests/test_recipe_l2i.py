"""The NMF and L2I recipes, run as users run them: debug mode, then a resumed tiny run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechbrain_interp.interpreters import L2I, NMFDictionary
from speechbrain_interp.testing import (
    load_speechbrain_classifier,
    make_fake_esc50,
    make_speechbrain_classifier,
)

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "ESC50" / "interpret"
LAYERS = ["embedding_model.conv_block5", "embedding_model.conv_block3", "embedding_model.conv_block2"]


def _run(script, hparams, *args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), str(hparams), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe_l2i")
    labels = ["dog", "siren", "rain", "engine"]
    data = make_fake_esc50(root / "esc50", classes=labels, seconds=1.0)
    classifier = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32, labels=labels)
    return root, data, classifier


@pytest.fixture(scope="module")
def dictionary_file(setup):
    root, data, classifier = setup
    out = root / "nmf"
    _run(RECIPE / "train_nmf.py", RECIPE / "hparams" / "nmf.yaml", "--debug", f"--data_folder={data}",
         f"--classifier_source={classifier}", f"--output_folder={out}")
    results = json.loads((out / "results.json").read_text())
    assert results["debug"] and 0 < results["test_relative_error"] < 10
    assert "valid error" in (out / "train_log.txt").read_text()
    return out / "nmf_dictionary.safetensors"


def test_debug_nmf_writes_a_dictionary_in_the_classifier_front_end(setup, dictionary_file):
    _, _, classifier = setup
    nmf = NMFDictionary.load(dictionary_file)
    assert (nmf.n_components, nmf.n_freqs, nmf.domain) == (16, 513, "log1p_magnitude")
    assert nmf.metadata["hop_length"] == "320"
    assert torch.allclose(nmf.W.norm(dim=0), torch.ones(16), atol=1e-4)  # normalised on export


def test_debug_l2i_trains_exports_and_explains(setup, dictionary_file):
    root, data, classifier = setup
    out = root / "l2i_debug"
    _run(RECIPE / "train_l2i.py", RECIPE / "hparams" / "l2i.yaml", "--debug", f"--data_folder={data}",
         f"--classifier_source={classifier}", f"--nmf_dictionary={dictionary_file}",
         f"--output_folder={out}")
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["test_fid_in"] <= 1 and 0 <= results["test_fidelity_top1"] <= 1
    log = (out / "train_log.txt").read_text()
    assert "valid score" in log and "valid fid_in" in log and "test fidelity_top1" in log
    summary = json.loads((out / "examples" / "summary.json").read_text())
    assert len(summary) == 2 and "component0" in summary[0]["files"]
    # the exported weights load back onto the same classifier, dictionary included
    adapter = load_speechbrain_classifier(classifier, "compact", layers=LAYERS)
    l2i = L2I(adapter, channels=16, n_blocks=1, weights=out / "l2i.safetensors")
    assert torch.equal(l2i.dictionary.W, NMFDictionary.load(dictionary_file).W)
    e = l2i.explain(0.1 * torch.randn(1, 16000))
    assert len(e.components[0]) == 3 and e.components[0][0].wav.shape == (16000,)


def test_l2i_rows_of_the_evaluation_table(setup, dictionary_file):
    """eval.py (the shared table script) with the L2I rows, on weights trained in debug mode."""
    root, data, classifier = setup
    weights = root / "l2i_debug" / "l2i.safetensors"
    if not weights.exists():
        _run(RECIPE / "train_l2i.py", RECIPE / "hparams" / "l2i.yaml", "--debug", f"--data_folder={data}",
             f"--classifier_source={classifier}", f"--nmf_dictionary={dictionary_file}",
             f"--output_folder={root / 'l2i_debug'}")
    out = root / "eval"
    _run(RECIPE / "eval.py", RECIPE / "hparams" / "l2i_eval.yaml", "--debug", f"--data_folder={data}",
         f"--classifier_source={classifier}", f"--l2i_weights={weights}",
         f"--l2i_paper_weights={weights}", f"--output_folder={out}",
         "--settings=[in_domain, mixture, localization]")
    results = json.loads((out / "results.json").read_text())
    rows = results["settings"]["in_domain"]["rows"]
    assert set(rows) == {"L2I (paper loss)", "L2I + masked-in fidelity",
                         "fixed profile", "energy mask", "all-ones"}
    for name, row in rows.items():
        assert {"Fid-In", "AI", "SPS"} <= set(row)
        if name.startswith("L2I"):  # the reference rows carry no brick scores
            assert {"fidelity_top1", "n_selected"} <= set(row)
            assert 0 <= row["fidelity_top1"] <= 1
    assert "fidelity_top1" in (out / "results.md").read_text()
    loc = results["settings"]["localization"]
    assert set(loc["rows"]) >= {"L2I (paper loss)", "fixed profile", "energy mask"} or loc["kept"] == 0


def test_l2i_resumes_from_its_checkpoint(setup, dictionary_file):
    root, data, classifier = setup
    out = root / "l2i_resume"
    common = [f"--data_folder={data}", f"--classifier_source={classifier}",
              f"--nmf_dictionary={dictionary_file}", f"--output_folder={out}", "--channels=16",
              "--n_blocks=1", "--batch_size=4", "--n_examples=0"]
    _run(RECIPE / "train_l2i.py", RECIPE / "hparams" / "l2i.yaml", *common, "--number_of_epochs=1")
    first = (out / "train_log.txt").read_text()
    assert first.count("epoch: 1") == 1
    _run(RECIPE / "train_l2i.py", RECIPE / "hparams" / "l2i.yaml", *common, "--number_of_epochs=2")
    log = (out / "train_log.txt").read_text()
    assert log.count("epoch: 1,") == 1 and log.count("epoch: 2,") == 1  # epoch 1 was not redone
    ckpts = list((out / "save").glob("CKPT+*"))
    assert ckpts and all((c / "psi.ckpt").exists() and (c / "theta.ckpt").exists() for c in ckpts)
