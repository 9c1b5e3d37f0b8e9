"""The ESC-50 classifier recipe end to end in debug mode: export, resume, DDP, real data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechbrain_interp.testing import make_fake_esc50

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "recipes" / "ESC50" / "classifier" / "train.py"
HPARAMS = REPO / "recipes" / "ESC50" / "classifier" / "hparams" / "compact.yaml"


@pytest.fixture(scope="module")
def fake_esc50(tmp_path_factory):
    return make_fake_esc50(tmp_path_factory.mktemp("esc50"), clips_per_fold=2)


def run_recipe(*args, torchrun=False, timeout=600, hparams=HPARAMS):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"] if torchrun
                else [sys.executable])
    proc = subprocess.run(launcher + [str(TRAIN), str(hparams), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def epochs_logged(folder):
    lines = (Path(folder) / "train_log.txt").read_text().splitlines()
    return [int(line.split(",")[0].split()[1]) for line in lines if line.startswith("epoch:")]


def test_debug_run_exports_a_speechbrain_classifier(fake_esc50, tmp_path):
    out = tmp_path / "run"
    run_recipe(f"--data_folder={fake_esc50}", "--n_classes=4", "--debug", f"--output_folder={out}",
               "--number_of_epochs=2")
    inference = out / "inference"
    assert (inference / "READY").exists()
    results = json.loads((inference / "results.json").read_text())
    assert 0.0 <= results["test_accuracy"] <= 1.0 and results["debug"] is True
    assert "weight average" in " ".join(results["candidates_valid_accuracy"])  # averaging ran
    log = (out / "train_log.txt").read_text()
    assert "model selection on valid accuracy" in log and "test accuracy" in log

    # SpeechBrain's own interface and our adapter load the export and agree
    from speechbrain.inference.classifiers import EncoderClassifier

    from speechbrain_interp.adapters import SpeechBrainClassifier

    sb_model = EncoderClassifier.from_hparams(source=str(inference), savedir=str(tmp_path / "sb"))
    adapter = SpeechBrainClassifier.from_hparams(source=str(inference), savedir=str(tmp_path / "ad"),
                                                 interface="EncoderClassifier",
                                                 layers=["embedding_model.conv_block5"])
    assert adapter.labels == ["dog", "siren", "rain", "engine"]
    wav = torch.randn(2, 16000) * 0.1
    ours = adapter(adapter.frontend(wav).magnitude)
    theirs = sb_model.mods.classifier(sb_model.encode_batch(wav)).squeeze(1)
    assert torch.allclose(ours, theirs, atol=1e-4)
    _, _, index, labels = sb_model.classify_batch(wav)
    assert labels[0] in adapter.labels


def test_resumes_after_an_interruption(fake_esc50, tmp_path):
    out = tmp_path / "run"
    common = [f"--data_folder={fake_esc50}", "--n_classes=4", "--debug", "--debug_persistently",
              f"--output_folder={out}", "--debug_epochs=10", "--weight_average_fraction=0.5"]
    # first run is "interrupted" after 2 of 4 epochs: the counter limit stops it early
    run_recipe(*common, "--number_of_epochs=2")
    assert epochs_logged(out) == [1, 2]
    # pretend the first run trained for 1000 s: the resumed run must report that time too
    (clock_file,) = (out / "save").glob("CKPT*/training_clock.ckpt")
    clock = json.loads(clock_file.read_text())
    assert clock["wall_seconds"] > 0 and clock["cpu_seconds"] > 0
    clock_file.write_text(json.dumps({"wall_seconds": 1000.0, "cpu_seconds": 1500.0}))
    proc = run_recipe(*common, "--number_of_epochs=4")
    assert epochs_logged(out) == [1, 2, 3, 4]  # epochs 1-2 were not trained again
    assert "Loading a checkpoint" in proc.stdout + proc.stderr
    results = json.loads((out / "inference" / "results.json").read_text())
    assert 1000 < results["train_seconds"] < 1000 + 300 and results["train_cpu_seconds"] > 1500
    # the final average (epoch 2, due in the 2-epoch first run, then 3-4), whichever checkpoint was
    # best: recovering the best checkpoint must not rewind the average to that epoch
    assert "weight average of 3 epochs" in results["candidates_valid_accuracy"]


def test_ddp_two_processes_write_the_same_result_files(fake_esc50, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    common = [f"--data_folder={fake_esc50}", "--n_classes=4", "--debug", "--debug_persistently",
              "--number_of_epochs=2"]
    run_recipe(*common, f"--output_folder={single}")
    run_recipe(*common, f"--output_folder={ddp}", "--distributed_backend=gloo", "--device=cpu",
               torchrun=True)

    def files(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                      if p.is_file() and "CKPT" not in str(p) and "features_" not in p.name)

    assert files(single) == files(ddp)
    assert json.loads((ddp / "inference" / "results.json").read_text())["world_size"] == 2
    assert epochs_logged(ddp) == [1, 2]


def test_debug_run_on_real_esc50(esc50_root, tmp_path):
    out = tmp_path / "run"
    run_recipe(f"--data_folder={esc50_root}", "--debug", f"--output_folder={out}")
    manifest = json.loads((out / "save" / "manifests_debug" / "train.json").read_text())
    assert len(manifest) == 16
    assert all(item["fold"] in (1, 2, 3) for item in manifest.values())
    assert (out / "inference" / "READY").exists()


def test_prepare_accepts_both_layouts(tmp_path):
    sys.path.insert(0, str(REPO / "recipes" / "ESC50"))
    from esc50_prepare import esc50_classes, prepare_esc50

    wav_layout = make_fake_esc50(tmp_path / "wav", clips_per_fold=1, extension=".wav")
    flac_layout = make_fake_esc50(tmp_path / "flac", clips_per_fold=1, extension=".flac")
    for root in (wav_layout, flac_layout):
        paths = prepare_esc50(root, root / "manifests")
        train = json.loads(paths["train"].read_text())
        assert len(train) == 4 * 3  # 4 classes x folds 1-3
        assert all(item["wav"].startswith("{data_root}/audio/") for item in train.values())
    assert esc50_classes(flac_layout) == ["dog", "siren", "rain", "engine"]
    with pytest.raises(ValueError, match="overlap"):
        prepare_esc50(wav_layout, tmp_path / "m", train_folds=(1, 2), valid_folds=(2,))
    with pytest.raises(FileNotFoundError, match="not an ESC-50 folder"):
        prepare_esc50(tmp_path / "nowhere", tmp_path / "m")
    next((flac_layout / "audio").iterdir()).unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        prepare_esc50(flac_layout, tmp_path / "m2")


def test_cnn14_variant_debug_run(fake_esc50, tmp_path):
    """The paper-size CNN14 hparams run end to end (tiny batch) and export a loadable folder."""
    out = tmp_path / "cnn14"
    run_recipe(f"--data_folder={fake_esc50}", "--n_classes=4", "--debug", f"--output_folder={out}",
               "--batch_size=2", "--number_of_epochs=2",
               hparams=REPO / "recipes" / "ESC50" / "classifier" / "hparams" / "cnn14.yaml")
    from speechbrain.inference.classifiers import EncoderClassifier

    model = EncoderClassifier.from_hparams(source=str(out / "inference"), savedir=str(tmp_path / "s"))
    assert model.classify_batch(torch.randn(1, 16000) * 0.1)[0].shape == (1, 4)
