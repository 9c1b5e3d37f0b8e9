"""train_lmac's time budget and validation set of the user's choice, in Python and on the CLI."""

import pytest
import torch

import speechbrain_interp.lmac_training as lmac_training
from speechbrain_interp.audio import save_audio
from speechbrain_interp.cli import build_parser, main
from speechbrain_interp.synth import demo_clip
from speechbrain_interp.testing import band_window_classifier
from speechbrain_interp.training import train_lmac

OPTS = {"batch_size": 1, "seconds": 0.5, "progress": False, "channels": 4}


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    for i in range(4):
        save_audio(root / "train" / f"clip{i}.wav", demo_clip(0.6, seed=i, sample_rate=8000), 8000)
    save_audio(root / "valid" / "v.wav", demo_clip(0.6, seed=7, sample_rate=8000), 8000)
    return root


def test_time_budget_stops_at_a_batch_boundary_and_keeps_the_best_decoder(audio, monkeypatch):
    clock = iter(range(0, 1000, 10))  # every look at the clock is 10 s later
    monkeypatch.setattr(lmac_training.time, "monotonic", lambda: next(clock))
    result = train_lmac(band_window_classifier(), audio / "train", epochs=5, max_seconds=15, **OPTS)
    assert result.stopped_early
    assert [r["epoch"] for r in result.history] == [1] and result.history[0]["partial"]
    assert result.history[0]["selected"]
    assert result.explainer.interpret_batch(torch.zeros(1, 4000)).mask.shape[0] == 1
    clock = iter(range(0, 1000, 10))
    one = train_lmac(band_window_classifier(), audio / "train", epochs=1, max_seconds=15, **OPTS)
    assert one.stopped_early and one.history[0]["partial"]  # the only epoch, cut short
    full = train_lmac(band_window_classifier(), audio / "train", epochs=1, max_seconds=1e6, **OPTS)
    assert not full.stopped_early and "partial" not in full.history[0]
    with pytest.raises(ValueError, match="max_seconds"):
        train_lmac(band_window_classifier(), audio / "train", epochs=1, max_seconds=0, **OPTS)


def test_validation_files_of_the_users_choice(audio, monkeypatch):
    seen = []
    real = lmac_training._Crops.__init__

    def spy(self, paths, *args, **kwargs):
        seen.append([p.name for p in paths])
        real(self, paths, *args, **kwargs)

    monkeypatch.setattr(lmac_training._Crops, "__init__", spy)
    # four files alone hold none out; with valid=, every one trains and v.wav validates
    result = train_lmac(band_window_classifier(), audio / "train", epochs=1, valid=[audio / "valid"], **OPTS)
    assert sorted(seen[0]) == [f"clip{i}.wav" for i in range(4)] and seen[1] == ["v.wav"]
    assert result.history[0]["valid_loss"] is not None
    with pytest.raises(ValueError, match="also in the validation set"):
        train_lmac(band_window_classifier(), audio / "train", epochs=1, valid=audio / "train", **OPTS)


def test_cli_passes_the_budget_and_the_validation_set(audio, tmp_path, monkeypatch):
    args = build_parser().parse_args(["train", "a.wav", "--classifier", "c", "--out", "o", "--max-minutes",
                                      "1.5", "--valid", "v1.wav", "vdir"])
    assert args.max_minutes == 1.5 and args.valid == ["v1.wav", "vdir"]
    calls = {}

    def fake(*args, **kwargs):
        calls.update(kwargs)
        return lmac_training.TrainingResult(None, [{"epoch": 1}], None, stopped_early=True)

    monkeypatch.setattr(lmac_training, "train_lmac", fake)
    monkeypatch.setattr("speechbrain_interp.training.train_lmac", fake)
    code = main(["train", str(audio / "train"), "--classifier", "c", "--out", str(tmp_path / "o"),
                 "--max-minutes", "0.5", "--valid", str(audio / "valid")])
    assert code == 0 and calls["max_seconds"] == 30 and calls["valid"] == [str(audio / "valid")]
