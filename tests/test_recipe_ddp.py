"""The interpreter recipes train under SpeechBrain's DDP: two gloo processes on CPU, as one run does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from speechbrain_interp.testing import make_fake_esc50, make_speechbrain_classifier

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "ESC50" / "interpret"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe_ddp")
    labels = ["dog", "siren", "rain", "engine"]
    data = make_fake_esc50(root / "esc50", classes=labels, seconds=1.0)
    classifier = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32, labels=labels)
    return data, classifier


def _run(script, hparams, *args, torchrun=False):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    launcher = [sys.executable] + (["-m", "torch.distributed.run", "--nproc_per_node=2"] if torchrun else [])
    extra = ["--distributed_backend=gloo", "--device=cpu"] if torchrun else []
    proc = subprocess.run([*launcher, str(script), str(hparams), *args, *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _files(root: Path) -> list:
    # which dictionary entry (``_k42``) is a clip's first, second or third component goes by
    # relevance, whose near ties one process and two may break differently; which files are
    # written must not differ
    return sorted(re.sub(r"_k\d+\.wav$", "_k.wav", str(p.relative_to(root)))
                  for p in root.rglob("*") if p.is_file() and "CKPT" not in str(p))


def _epochs(folder: Path) -> list:
    lines = (folder / "train_log.txt").read_text().splitlines()
    return [line.split(",")[0] for line in lines if line.startswith("epoch:")]


@pytest.mark.parametrize("script,hparams,output", [
    ("train_lmac.py", "lmac.yaml", "decoder.ckpt"),
    ("train_l2i.py", "l2i.yaml", None),
])
def test_two_processes_write_the_files_one_process_writes(setup, tmp_path, script, hparams, output):
    data, classifier = setup
    common = ["--debug", "--number_of_epochs=2", f"--data_folder={data}", f"--classifier_source={classifier}"]
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _run(RECIPE / script, RECIPE / "hparams" / hparams, *common, f"--output_folder={single}")
    _run(RECIPE / script, RECIPE / "hparams" / hparams, *common, f"--output_folder={ddp}", torchrun=True)
    assert _files(ddp) == _files(single)  # rank 0 alone writes: no file twice, none missing
    assert _epochs(ddp) == _epochs(single) == ["epoch: 1", "epoch: 2"]
    if output:
        assert (ddp / output).is_file()
