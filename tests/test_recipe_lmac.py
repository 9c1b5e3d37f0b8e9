"""The L-MAC recipe and the evaluation script in debug mode, run as users run them."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechbrain_interp.explanation import Explanation
from speechbrain_interp.interpreters.base import Interpreter

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "ESC50" / "interpret"
TRAIN = RECIPE / "train_lmac.py"


def _run(script, *args, cwd=REPO, timeout=300):
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One debug epoch, then a second run that resumes from its checkpoint for epoch 2."""
    out = tmp_path_factory.mktemp("lmac_run")
    common = [RECIPE / "hparams" / "lmac.yaml", "--debug", "--debug_persistently",
              f"--output_folder={out}", f"--data_folder={out / 'no_data'}"]
    first = _run(TRAIN, *common, "--number_of_epochs=1")
    second = _run(TRAIN, *common, "--number_of_epochs=2")
    return out, first, second


def test_debug_training_logs_and_resumes(trained):
    out, first, second = trained
    log = (out / "train_log.txt").read_text()
    epochs = [line.split(",")[0] for line in log.splitlines() if line.startswith("epoch:")]
    assert epochs == ["epoch: 1", "epoch: 2"]  # the second run resumed, it did not start over
    assert "Loading a checkpoint" in second
    for key in ("valid loss", "valid mix_loss", "valid AI", "valid mix_Fid-In", "test mix_AD"):
        assert key in log, key
    ckpts = list((out / "save").glob("CKPT+*"))
    assert ckpts and all((c / "decoder.ckpt").exists() for c in ckpts)
    assert "loc_lift" in (ckpts[0] / "CKPT.yaml").read_text()  # the selection key is stored
    assert (out / "decoder.ckpt").exists()


def test_debug_training_on_class_evidence_selects_on_two_events(tmp_path):
    """Two-event training scenes and the held-out two-event selection of a class-conditional decoder."""
    out = tmp_path / "evidence"
    _run(TRAIN, RECIPE / "hparams" / "lmac.yaml", "--debug", f"--output_folder={out}",
         f"--data_folder={tmp_path / 'no_data'}", "--evidence_layer=embedding_model.conv_block5",
         "--two_event_prob=0.5", "--ckpt_key=two_own", "--number_of_epochs=1")
    log = (out / "train_log.txt").read_text()
    assert "valid two_own" in log and "valid two_other" in log
    state = torch.load(out / "decoder.ckpt", weights_only=True)
    assert "evidence_gain" in state and "film.weight" not in state


@pytest.fixture(scope="module")
def recipe_modules():
    """train_lmac and eval imported in this process (subprocess runs above cover the CLI)."""
    sys.path.insert(0, str(RECIPE))
    return importlib.import_module("train_lmac"), importlib.import_module("eval")


def test_debug_fine_tuning_from_the_trained_decoder(trained, recipe_modules, tmp_path):
    out, _, _ = trained
    train_lmac, _ = recipe_modules
    brain = train_lmac.main([
        str(RECIPE / "hparams" / "lmac.yaml"), "--debug", f"--output_folder={tmp_path / 'ft'}",
        f"--data_folder={tmp_path / 'no_data'}", "--guidance_weight=4.0", "--guidance_threshold=0.0",
        f"--pretrained_decoder={out / 'decoder.ckpt'}"])
    assert brain.modules.interpreter.guidance_weight == 4.0
    log = (tmp_path / "ft" / "train_log.txt").read_text()
    assert "train guidance" in log and "valid mix_guided" in log


def test_debug_eval_writes_the_table(recipe_modules, tmp_path):
    _, eval_module = recipe_modules
    out = tmp_path / "eval"
    eval_module.main([str(RECIPE / "hparams" / "eval.yaml"), "--debug", f"--output_folder={out}",
                      f"--data_folder={tmp_path / 'no_data'}", "--settings=[mixture, speech, two_events]"])
    results = json.loads((out / "results.json").read_text())
    table = (out / "results.md").read_text()
    rows = results["settings"]["mixture"]["rows"]
    assert list(rows) == ["L-MAC", "L-MAC FT", "L-MAC conditional", "Saliency", "Integrated Gradients",
                          "SmoothGrad", "Grad-CAM", "fixed profile", "energy mask", "all-ones"]
    for name, row in rows.items():
        assert {"AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP"} <= set(row)
        assert ("s/clip" in row) == (name not in eval_module.REFERENCE_ROWS)
    assert "| L-MAC |" in table and "### mixture" in table
    pairs = results["settings"]["two_events"]
    assert pairs["total"] == 4 and 0 <= pairs["kept"] <= 4 and "### two_events" in table
    for row in pairs["rows"].values():
        assert set(row) == {"own share", "other share", "own lift", "own >= 0.7"}
    speech = results["settings"]["speech"]
    if shutil.which("espeak-ng"):
        assert speech["rows"] and speech["clips"] == 4
    else:
        assert "espeak-ng" in speech["skipped"]


@pytest.fixture(scope="module")
def eval_module(recipe_modules):
    return recipe_modules[1]


def test_eval_rows_select_and_order_the_interpreters(eval_module):
    bricks = {"L-MAC": 1, "Saliency": 2, "Grad-CAM": 3}
    assert list(eval_module.select_rows(bricks, ["Grad-CAM", "L-MAC"])) == ["Grad-CAM", "L-MAC"]
    assert eval_module.select_rows(bricks, None) == bricks
    with pytest.raises(SystemExit, match="SmoothGrad"):
        eval_module.select_rows(bricks, ["SmoothGrad"])


def test_eval_is_generic_and_averages_extra_scores(eval_module, tiny_adapter, wav_batch):
    class Scored(Interpreter):
        """A toy brick that reports a per-clip score, as L2I reports its fidelity."""

        method = "scored"

        def compute_mask(self, spectrum, target, logits, hidden):
            return torch.full_like(spectrum.magnitude, 0.5)

        def explain(self, wav, target=None) -> Explanation:
            e = super().explain(wav, target)
            e.scores["toy_fidelity"] = torch.arange(len(e), dtype=torch.float32)
            return e

    rows = eval_module.evaluate_setting({"toy": Scored(tiny_adapter)}, wav_batch, batch_size=1)
    assert rows["toy"]["toy_fidelity"] == pytest.approx(0.0)  # batches of 1: index 0 each time
    rows = eval_module.evaluate_setting({"toy": Scored(tiny_adapter)}, wav_batch, batch_size=2)
    assert rows["toy"]["toy_fidelity"] == pytest.approx(0.5)
    assert rows["toy"]["SPS"] == pytest.approx(0.0, abs=1e-6)  # a uniform mask is not sparse
    md = eval_module.markdown_tables({"settings": {"in_domain": {"clips": 2, "rows": rows}}})
    assert "toy_fidelity" in md.splitlines()[2]


def test_eval_settings_are_batched_and_deterministic(eval_module):
    wavs = torch.randn(6, 1600)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    hp = {"seed": 3, "mixture_weights": [0.8, 0.2], "noise_weight": 0.5, "speech_weights": [0.8, 0.2]}
    partners = eval_module.partner_indices(6, labels, seed=3)
    assert (labels[partners] != labels).all()
    mixed = eval_module.contaminate("mixture", wavs, hp, labels)
    assert torch.equal(mixed, eval_module.contaminate("mixture", wavs, hp, labels))
    noisy = eval_module.contaminate("white_noise", wavs, hp)
    assert noisy.shape == wavs.shape and not torch.allclose(noisy, wavs)
    speech = eval_module.speech_for_clips(torch.randn(2, 1000), n=6, length=1600, seed=0)
    assert speech.shape == (6, 1600)
    assert eval_module.contaminate("speech", wavs, hp, speech=torch.randn(2, 5000)).shape == wavs.shape
    with pytest.raises(ValueError, match="unknown setting"):
        eval_module.contaminate("reverb", wavs, hp)


@pytest.mark.data
def test_debug_training_on_a_few_esc50_clips(esc50_root, recipe_modules, tmp_path):
    train_lmac, _ = recipe_modules
    train_lmac.main([str(RECIPE / "hparams" / "lmac.yaml"), "--debug", f"--output_folder={tmp_path / 'out'}",
                     f"--data_folder={esc50_root}", "--classifier_source=none"])
    manifest = json.loads((tmp_path / "out" / "manifests" / "train.json").read_text())
    assert 0 < len(manifest) <= 4
    assert "valid mix_AD" in (tmp_path / "out" / "train_log.txt").read_text()


def test_gpu_cnn14_hparams_build_the_brick(tmp_path):
    """lmac_cnn14.yaml builds its classifier and L-MAC brick (training it is for a GPU)."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_interp.testing import make_speechbrain_classifier

    folder = make_speechbrain_classifier(tmp_path / "cnn14", "cnn14", n_mels=32)
    overrides = {"classifier_source": str(folder), "output_folder": str(tmp_path / "out")}
    with open(RECIPE / "hparams" / "lmac_cnn14.yaml", encoding="utf-8") as fh:
        hparams = load_hyperpyyaml(fh, overrides)
    lmac = hparams["interpreter"]
    assert lmac.layers == hparams["classifier_layers"] and lmac.options["channels"] == 64
    e = lmac.explain(torch.randn(1, 16000))
    assert e.mask.shape == e.magnitude.shape


def test_validation_metrics_match_evaluate_mask(recipe_modules, tiny_adapter, wav_batch):
    """The recipe reuses the loss's classifier passes; the numbers equal evaluate_mask's."""
    from speechbrain_interp.interpreters import LMAC
    from speechbrain_interp.metrics import evaluate_mask

    train_lmac, _ = recipe_modules
    lmac = LMAC(tiny_adapter, probe_seconds=0.5)
    with torch.no_grad():
        _, stats = lmac.loss(wav_batch)
        expected = evaluate_mask(tiny_adapter, stats["magnitude"], stats["mask"])
    got = train_lmac.mask_metrics(tiny_adapter, stats)
    assert set(got) == set(expected)
    for key in expected:
        assert torch.allclose(got[key], expected[key], atol=1e-4), key


@pytest.mark.data
def test_subset_options_on_esc50(esc50_root, recipe_modules, tmp_path):
    """max_clips_per_split cuts every split, max_eval_clips only valid and test (stratified)."""
    from speechbrain_interp.testing import make_speechbrain_classifier

    train_lmac, _ = recipe_modules
    folder = make_speechbrain_classifier(tmp_path / "clf", "compact", n_mels=32)
    out = tmp_path / "out"
    train_lmac.main([str(RECIPE / "hparams" / "lmac.yaml"), f"--output_folder={out}",
                     f"--data_folder={esc50_root}", f"--classifier_source={folder}",
                     "--number_of_epochs=1", "--max_clips_per_split=4", "--max_eval_clips=2"])
    train = json.loads((out / "manifests" / "train.json").read_text())
    valid = json.loads((out / "manifests" / "eval_2" / "valid.json").read_text())
    assert len(train) == 4
    assert len(valid) == 2 and len({item["class_idx"] for item in valid.values()}) == 2
    log = (out / "train_log.txt").read_text()
    assert "valid mix_AI" in log and "test mix_AI" in log


def test_debug_scratch_folders_are_removed_at_exit_unless_kept(tmp_path):
    code = ("import sys; sys.path.insert(0, {tools!r}); import recipe_tools; "
            "print(recipe_tools.debug_scratch('lmac_debug_'))")
    tools = str(REPO / "recipes" / "ESC50")
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code.format(tools=tools)], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out.startswith(str(tmp_path)) and not Path(out).exists()
    kept = subprocess.run([sys.executable, "-c", code.format(tools=tools), "--debug_persistently"], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    assert Path(kept).is_dir()


def test_a_recipe_killed_at_a_random_moment_resumes(tmp_path):
    """SIGKILL at a random point of a debug run (in training, in a checkpoint write, ...), then rerun."""
    import random
    import signal
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, str(TRAIN), str(RECIPE / "hparams" / "lmac.yaml"), "--debug",
           f"--output_folder={out}", f"--data_folder={tmp_path / 'no_data'}", "--number_of_epochs=2"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(len(str(tmp_path))).uniform(4.0, 14.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _run(TRAIN, *cmd[2:])
    assert (out / "decoder.ckpt").exists()
    log = (out / "train_log.txt").read_text().splitlines()
    epochs = [ln.split(",")[0] for ln in log if ln.startswith("epoch:")]
    assert epochs[-1] == "epoch: 2"


def test_a_checkpoint_cut_by_a_kill_is_skipped_and_removed(tmp_path):
    from speechbrain_interp.checkpointing import AtomicCheckpointer, incomplete_checkpoints

    model = torch.nn.Linear(3, 3)
    ckpt = AtomicCheckpointer(tmp_path, recoverables={"model": model, "other": torch.nn.Linear(2, 2)})
    ckpt.save_checkpoint(meta={"epoch": 1})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)

    def killed(obj, path):  # the process dies after the first file of the next checkpoint
        raise KeyboardInterrupt

    ckpt.add_recoverable("other", torch.nn.Linear(2, 2), custom_save_hook=killed)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(meta={"epoch": 2})
    assert len(incomplete_checkpoints(tmp_path)) == 1  # SpeechBrain's own would look complete here
    fresh = torch.nn.Linear(3, 3)
    again = AtomicCheckpointer(tmp_path, recoverables={"model": fresh, "other": torch.nn.Linear(2, 2)})
    assert again.recover_if_possible().meta["epoch"] == 1
    assert torch.equal(fresh.weight, before["weight"]) and not incomplete_checkpoints(tmp_path)


def test_recipe_command_line_mistakes_are_one_line(tmp_path):
    def run(*args):
        proc = subprocess.run([sys.executable, str(TRAIN), *map(str, args)], cwd=REPO, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        return proc.stderr.strip().splitlines()[-1]

    yaml_file = RECIPE / "hparams" / "lmac.yaml"
    assert run(yaml_file, "--not_a_param=3").startswith("error: --not_a_param is not a key of lmac.yaml")
    assert "does not exist; pass --data_folder" in run(yaml_file, f"--data_folder={tmp_path / 'none'}")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1, 2\nnext: 3\n")
    assert "broken YAML" in run(broken)


def test_a_resumed_run_matches_an_uninterrupted_one(trained, tmp_path):
    """Same epoch-2 losses whether epoch 2 ran in the same process or after a restart."""
    resumed_out, _, _ = trained
    straight = tmp_path / "straight"
    _run(TRAIN, RECIPE / "hparams" / "lmac.yaml", "--debug", "--debug_persistently",
         f"--output_folder={straight}", f"--data_folder={straight / 'no_data'}", "--number_of_epochs=2")

    def epoch_two(out):
        lines = (out / "train_log.txt").read_text().splitlines()
        line = next(ln for ln in lines if ln.startswith("epoch: 2"))
        return line.split(" - ", 1)[1]  # train and valid stats, without the learning rate prefix

    assert epoch_two(straight) == epoch_two(resumed_out)
