"""The ``speechbrain-interp`` command line: every command, in process and as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch

from speechbrain_interp import hub
from speechbrain_interp.audio import save_audio
from speechbrain_interp.cli import build_parser, main
from speechbrain_interp.inference import LMACInterface
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.synth import demo_clip
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    classifier = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32,
                                             labels=["dog", "siren", "rain"])
    torch.manual_seed(0)
    brick = LMAC(load_speechbrain_classifier(classifier, "compact"), channels=8).eval()
    repo = hub.export_interpreter(brick, root / "repo", classifier_source=classifier, verify=False)
    clips = root / "clips"
    save_audio(clips / "a" / "dog.wav", demo_clip(1.0, seed=1), 16000)
    save_audio(clips / "b" / "dog.wav", demo_clip(1.0, seed=2), 16000)  # same stem, other folder
    save_audio(clips / "siren.flac", demo_clip(1.2, seed=3), 16000)
    return {"root": root, "classifier": classifier, "repo": repo, "clips": clips, "brick": brick}


def test_help_is_there_for_every_command(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("demo", "explain", "train", "export", "push", "check-report"):
        assert command in text
        assert main([command, "--help"]) == 0
        assert "usage: speechbrain-interp " + command in capsys.readouterr().out
    assert main([]) == 2  # no command: the help again, and a usage status
    assert main(["explain"]) == 2  # argparse usage error, no traceback


def test_python_dash_m_and_the_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "speechbrain_interp", "--help"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0 and "speechbrain-interp demo" in result.stdout
    script = shutil.which("speechbrain-interp") or str(Path(sys.executable).parent / "speechbrain-interp")
    if not Path(script).exists():
        pytest.skip("the package is not installed with its console script")
    result = subprocess.run([script, "explain", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--interpreter SOURCE" in result.stdout


def test_explain_a_classifier_without_interpreter_uses_a_gradient_baseline(setup, tmp_path, capsys):
    (setup["clips"] / "notes.txt").write_text("not audio, ignored")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....")
    out = tmp_path / "out"
    code = main(["explain", str(setup["clips"]), str(broken), "--classifier", str(setup["classifier"]),
                 "--out", str(out), "--batch-size", "2"])
    captured = capsys.readouterr()
    assert code == 3  # some inputs were skipped: scripts can see the partial failure
    assert "saliency gradient baseline" in captured.out and "skipped" in captured.err
    assert "explained 3 of 4 file(s); 1 skipped" in captured.err
    assert "explaining" in captured.err and "4/4" in captured.err  # tqdm counts every file
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(e["name"] for e in summary) == ["a_dog", "b_dog", "siren"]
    for entry in summary:
        assert "gradient baseline" in entry["note"] and set(entry["scores"]) >= {"AI", "AD", "FF", "Fid-In"}
        assert all((out / f).is_file() for f in entry["files"].values())
    page = (out / "report.html").read_text()
    assert page.count("<audio") == 9 and "No trained interpreter" in page and "broken.wav" in page


def test_explain_with_an_interpreter_folder(setup, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["explain", str(setup["clips"] / "siren.flac"), "--interpreter", str(setup["repo"]),
                 "--out", str(out), "--target", "rain", "--no-metrics", "-q"])
    assert code == 0 and capsys.readouterr().out == ""
    (entry,) = json.loads((out / "summary.json").read_text())
    assert entry["label"] == "rain" and entry["method"] == "L-MAC" and entry["scores"] == {}
    # both flags: the trained interpreter explains that classifier (the same weights here)
    code = main(["explain", str(setup["clips"] / "siren.flac"), "--interpreter", str(setup["repo"]),
                 "--classifier", str(setup["classifier"]), "--out", str(tmp_path / "both")])
    assert code == 0
    (both,) = json.loads((tmp_path / "both" / "summary.json").read_text())
    assert both["method"] == "L-MAC" and "note" not in both


def test_demo_writes_a_report(setup, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--interpreter", str(setup["repo"])]) == 0
    text = capsys.readouterr().out
    assert "cricket-like chirps at 0.8-1.8 s and 3-4 s" in text and "report.html" in text
    assert "of the energy on the events" in text and "of the mask's mass lies on the events" in text
    assert (out / "inputs" / "crickets_in_noise.wav").is_file()
    (entry,) = json.loads((out / "summary.json").read_text())
    assert entry["name"] == "crickets_in_noise" and (out / entry["files"]["figure"]).is_file()
    assert entry["events"] == [[0.8, 1.8], [3.0, 4.0]]
    scores = entry["scores"]
    assert scores["events' share of the clip"] == pytest.approx(0.4, abs=0.02)
    assert scores["lift over chance"] == pytest.approx(
        scores["mask share on the events"] / scores["events' share of the clip"], rel=0.01)
    assert 0 <= scores["energy kept elsewhere"] and 0 <= scores["energy kept on the events"]
    assert "lift over chance" in (out / "report.html").read_text()


def test_errors_are_one_clear_line(setup, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    assert main(["explain", str(setup["clips"]), "--interpreter", "sbi-test/not-cached", "--offline"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot load 'sbi-test/not-cached'") and "Traceback" not in err
    evil = shutil.copytree(setup["repo"], tmp_path / "evil")
    text = (evil / "hyperparams.yaml").read_text()
    (evil / "hyperparams.yaml").write_text(f'__x: !apply:os.system ["touch {tmp_path}/pwned"]\n' + text)
    assert main(["explain", str(setup["clips"]), "--interpreter", str(evil),
                 "--out", str(tmp_path / "o")]) == 1
    assert "allow-list" in capsys.readouterr().err and not (tmp_path / "pwned").exists()
    assert main(["explain", str(tmp_path / "nothing_here.wav"), "--interpreter", str(setup["repo"]),
                 "--out", str(tmp_path / "o2")]) == 1
    assert "nothing_here.wav" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "empty_dir_that_is_missing"), "--out", str(tmp_path / "o3")]) == 1


_RECIPE = """output_folder: results/lmac_cli
save_folder: !ref <output_folder>/save
classifier_source: {classifier}
ckpt_key: loss
ckpt_mode: min
classifier: !apply:speechbrain_interp.adapters.SpeechBrainClassifier.from_hparams
    source: !ref <classifier_source>
    interface: EncoderClassifier
    layers: [embedding_model.conv_block5, embedding_model.conv_block4]
interpreter: !new:speechbrain_interp.interpreters.LMAC
    classifier: !ref <classifier>
    channels: 8
checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer
    checkpoints_dir: !ref <save_folder>
    recoverables:
        decoder: !ref <interpreter.decoder>
"""


def test_export_then_push(setup, tmp_path, capsys, monkeypatch):
    from hyperpyyaml import load_hyperpyyaml

    text = _RECIPE.format(classifier=setup["classifier"])
    monkeypatch.chdir(tmp_path)
    hparams = load_hyperpyyaml(text)
    hparams["checkpointer"].save_checkpoint(meta={"loss": 1.0})
    (tmp_path / "results" / "lmac_cli" / "hyperparams.yaml").write_text(text)
    out = tmp_path / "hub_folder"
    assert main(["export", "results/lmac_cli", "--out", str(out), "--repo-id", "me/lmac-test",
                 "--training-data", "ESC-50", "--license", "cc-by-nc-3.0"]) == 0
    assert "interpreter.safetensors" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert "license: cc-by-nc-3.0" in card and 'source="me/lmac-test"' in card
    loaded = LMACInterface.from_hparams(out)
    wav = demo_clip(1.0)[None]
    expected = hparams["interpreter"].explain(wav).mask
    assert torch.allclose(loaded.interpret_batch(wav).mask, expected, atol=1e-6)
    assert main(["export", "results/lmac_cli", "--out", str(out)]) == 1  # exists: no silent overwrite
    assert "overwrite" in capsys.readouterr().err

    pushed = {}
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda self, repo_id, **kw: pushed.setdefault("created", (repo_id, kw)))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, **kw: pushed.setdefault("uploaded", kw) and SimpleNamespace(
                            commit_url="https://huggingface.co/me/lmac-test/commit/1"))
    assert main(["push", str(out), "me/lmac-test", "--private", "--message", "first upload"]) == 0
    assert pushed["created"][0] == "me/lmac-test" and pushed["created"][1]["private"] is True
    assert pushed["uploaded"]["commit_message"] == "first upload"
    assert "huggingface.co/me/lmac-test" in capsys.readouterr().out


def test_train_then_explain_with_the_result(setup, tmp_path, capsys):
    audio = tmp_path / "audio"
    for i in range(3):
        save_audio(audio / f"clip{i}.wav", demo_clip(1.0, seed=20 + i), 16000)
    out = tmp_path / "trained"
    assert main(["train", str(audio), "--classifier", str(setup["classifier"]), "--out", str(out),
                 "--epochs", "1", "--batch-size", "3", "--seconds", "1.0", "-q"]) == 0
    assert (out / "interpreter.safetensors").is_file()
    assert main(["explain", str(audio / "clip0.wav"), "--interpreter", str(out), "--classifier",
                 str(setup["classifier"]), "--out", str(tmp_path / "explained"), "-q"]) == 0


def test_each_label_on_the_command_line(setup, tmp_path, capsys):
    clip = str(setup["clips"] / "siren.flac")
    out = tmp_path / "each"
    assert main(["explain", clip, "--interpreter", str(setup["repo"]), "--out", str(out), "--each-label",
                 "--no-metrics", "--no-images", "-q"]) == 0
    (entry,) = json.loads((out / "summary.json").read_text())
    assert [m["label"] for m in entry["per_label"]] == [entry["label"]]  # single-label: the top class
    assert (out / entry["files"]["label0"]).is_file()
    assert main(["explain", clip, "--each-label", "--target", "rain", "--out", str(tmp_path / "x")]) == 2
    assert "not both" in capsys.readouterr().err


def test_figure_kinds_fast_detailed_and_none(setup, tmp_path):
    from matplotlib.image import imread

    clip = str(setup["clips"] / "siren.flac")
    common = ["--interpreter", str(setup["repo"]), "--no-metrics", "-q"]
    shapes = {}
    for kind, flags in (("fast", []), ("detailed", ["--figures", "detailed"]), ("none", ["--no-images"])):
        out = tmp_path / kind
        assert main(["explain", clip, "--out", str(out), *common, *flags]) == 0
        (entry,) = json.loads((out / "summary.json").read_text())
        assert {"original", "interpretation", "residual"} <= set(entry["files"])
        if kind == "none":
            assert "figure" not in entry["files"] and not list(out.glob("*.png"))
            assert (out / "report.html").is_file()
        else:
            shapes[kind] = imread(out / entry["files"]["figure"]).shape
    frames = shapes["fast"][1]
    assert shapes["fast"][0] == 3 * 128 + 4 and frames > 10  # three panels, one pixel per frame
    assert shapes["detailed"] != shapes["fast"]


@pytest.mark.parametrize("flags", [["--class-conditional"],
                                   ["--evidence-layer", "embedding_model.conv_block5"]],
                         ids=["film", "evidence"])
def test_train_class_conditional_then_explain_each_class(setup, tmp_path, flags):
    from speechbrain_interp.interfaces import LMACInterface

    audio = tmp_path / "audio"
    for i in range(3):
        save_audio(audio / f"clip{i}.wav", demo_clip(1.0, seed=30 + i), 16000)
    out = tmp_path / "trained"
    assert main(["train", str(audio), "--classifier", str(setup["classifier"]), "--out", str(out),
                 "--epochs", "1", "--batch-size", "3", "--seconds", "1.0", *flags, "-q"]) == 0
    loaded = LMACInterface.from_hparams(out, savedir=tmp_path / "savedir")
    assert loaded.interpreter.class_conditional
    if "--evidence-layer" in flags:  # the exported folder remembers where the evidence is read
        assert loaded.interpreter.evidence_layer == "embedding_model.conv_block5"
    wav = demo_clip(1.0, seed=30)[None]
    predicted = int(loaded.interpret_batch(wav).target[0])
    other = (predicted + 1) % loaded.interpreter.classifier.num_classes
    first, second = (loaded.interpret_batch(wav, target=t).mask for t in (predicted, other))
    assert not torch.equal(first, second)  # the mask depends on the class asked for
    for target in (str(predicted), str(other)):
        assert main(["explain", str(audio / "clip0.wav"), "--interpreter", str(out), "--classifier",
                     str(setup["classifier"]), "--out", str(tmp_path / f"explained{target}"),
                     "--target", target, "--no-metrics", "-q"]) == 0


def test_the_readme_demo_runs_offline_with_the_bundled_interpreter(tmp_path):
    """The README's first command, in a fresh process, with no network and an empty Hub cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty_hf_home")}
    env.pop("HF_HUB_CACHE", None)
    result = subprocess.run([sys.executable, "-m", "speechbrain_interp", "demo"], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "bundled interpreter lmac-esc50-compact" in result.stdout
    assert "explaining" in result.stderr and "1/1" in result.stderr  # the tqdm progress bar
    out = tmp_path / "speechbrain_interp_demo"
    (entry,) = json.loads((out / "summary.json").read_text())
    labels = json.loads((hub.bundled_interpreter() / "config.json").read_text())["labels"]
    assert entry["method"] == "L-MAC" and entry["label"] in labels and len(labels) == 50
    assert 0.0 <= entry["probability_in"] <= 1.0 and set(entry["scores"]) >= {"AI", "AD", "FF"}
    assert (out / entry["files"]["interpretation"]).stat().st_size > 100_000  # 5 s of 16-bit audio
    assert "<audio" in (out / "report.html").read_text()


def test_parser_defaults_are_documented():
    parser = build_parser()
    args = parser.parse_args(["explain", "x.wav"])
    assert args.out == "explanations" and args.batch_size == 8 and args.interpreter is None


def test_a_failed_run_into_an_existing_out_keeps_the_earlier_results(setup, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["explain", str(setup["clips"] / "siren.flac"), "--classifier", str(setup["classifier"]),
                 "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....")
    assert main(["explain", str(broken), "--classifier", str(setup["classifier"]), "--out", str(out)]) == 1
    assert "earlier results" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_usage_mistakes_are_one_line_and_train_checks_out_first(setup, tmp_path, capsys, monkeypatch):
    clip = str(setup["clips"] / "siren.flac")
    assert main(["explain", clip, "--baseline", "gradcam", "--out", str(tmp_path / "x")]) == 2
    assert "--baseline explains the classifier given with --classifier" in capsys.readouterr().err
    assert main(["check-report", str(tmp_path / "nosuch.html")]) == 2
    assert capsys.readouterr().err.startswith("error: no report at")
    monkeypatch.setattr("speechbrain_interp.cli.torch_cuda_available", lambda: False)
    assert main(["explain", clip, "--device", "cuda:0", "--out", str(tmp_path / "y")]) == 2
    assert "asks for a GPU" in capsys.readouterr().err
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("earlier work")
    assert main(["train", clip, "--classifier", str(setup["classifier"]), "--out", str(existing)]) == 2
    err = capsys.readouterr().err
    assert "pass --overwrite" in err and "nothing was trained" in err
    assert (existing / "keep.txt").read_text() == "earlier work"
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_unexpected_errors_and_missing_packages_are_one_line(setup, tmp_path, capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("size mismatch for decoder.head.weight\nsecond line of detail")

    from speechbrain_interp import cli

    monkeypatch.setitem(cli._COMMANDS, "explain", boom)
    assert main(["explain", "x.wav"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: size mismatch for decoder.head.weight" in err

    def missing(args):
        raise ModuleNotFoundError("No module named 'captum'", name="captum")

    monkeypatch.setitem(cli._COMMANDS, "explain", missing)
    assert main(["explain", "x.wav"]) == 1
    assert "pip install captum" in capsys.readouterr().err


def test_a_requested_target_still_reports_the_classifiers_own_prediction(setup, tmp_path, capsys):
    out = tmp_path / "out"
    clip = str(setup["clips"] / "siren.flac")
    args = ["explain", clip, "--interpreter", str(setup["repo"]), "--out", str(out)]
    assert main(args + ["--no-metrics"]) == 0
    (plain,) = json.loads((out / "summary.json").read_text())
    predicted = plain["prediction"]
    assert plain["label"] == predicted and len(plain["top_classes"]) == 3  # three classes in this model
    assert plain["top_classes"][0] == [predicted, pytest.approx(plain["prediction_probability"])]
    other = next(c for c in ("dog", "siren", "rain") if c != predicted)
    capsys.readouterr()
    assert main(args + ["--target", other, "--no-metrics"]) == 0
    text = capsys.readouterr().out
    (asked,) = json.loads((out / "summary.json").read_text())
    assert asked["label"] == other and asked["prediction"] == predicted
    assert f"the classifier predicts {predicted}" in text
    assert f"the classifier predicts {predicted}" in (out / "report.html").read_text()


def test_results_come_out_in_input_order(setup, tmp_path):
    clips = setup["clips"]
    order = [clips / "a" / "dog.wav", clips / "siren.flac", clips / "b" / "dog.wav"]  # 1.0, 1.2, 1.0 s
    out = tmp_path / "out"
    assert main(["explain", *map(str, order), "--interpreter", str(setup["repo"]), "--out", str(out),
                 "--no-metrics", "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [e["source"] for e in summary] == [str(p) for p in order]


def test_runs_into_one_out_add_up_and_same_named_files_do_not_collide(setup, tmp_path):
    out = tmp_path / "out"
    common = ["--interpreter", str(setup["repo"]), "--out", str(out), "--no-metrics", "-q"]
    assert main(["explain", str(setup["clips"] / "a" / "dog.wav"), *common]) == 0
    first = (out / "dog_interpretation.wav").read_bytes()
    assert main(["explain", str(setup["clips"] / "b" / "dog.wav"), *common]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {e["name"]: e["source"] for e in summary} == {
        "dog": str(setup["clips"] / "a" / "dog.wav"), "b_dog": str(setup["clips"] / "b" / "dog.wav")}
    assert (out / "dog_interpretation.wav").read_bytes() == first  # a's outputs are not overwritten
    assert (out / "report.html").read_text().count('class="clip-row"') == 2


def test_concurrent_runs_into_one_out_list_every_clip(setup, tmp_path):
    import threading

    from speechbrain_interp.interfaces import LMACInterface
    from speechbrain_interp.report import explain_to_report

    out = tmp_path / "out"
    groups = []
    for g in range(3):
        files = []
        for k in range(2):
            path = tmp_path / f"run{g}" / f"clip{g}{k}.wav"
            save_audio(path, demo_clip(0.8, seed=30 + 2 * g + k), 16000)
            files.append(path)
        groups.append(files)
    explainers = [LMACInterface.from_hparams(setup["repo"], savedir=tmp_path / f"sd{g}") for g in range(3)]
    opts = {"progress": False, "metrics": False}
    threads = [threading.Thread(target=explain_to_report, args=(e, files, out), kwargs=opts)
               for e, files in zip(explainers, groups)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(e["name"] for e in summary) == sorted(f"clip{g}{k}" for g in range(3) for k in range(2))


def test_gradcam_works_on_an_xvector_with_default_or_given_layers(tmp_path):
    folder = str(make_speechbrain_classifier(tmp_path / "xvector", "xvector"))
    clip = tmp_path / "a.wav"
    save_audio(clip, demo_clip(1.0), 16000)
    base = ["explain", str(clip), "--classifier", folder, "--baseline", "gradcam", "--no-metrics", "-q"]
    assert main(base + ["--out", str(tmp_path / "default")]) == 0
    assert main(base + ["--layers", "embedding_model.blocks.6.conv", "--out", str(tmp_path / "given")]) == 0
    (entry,) = json.loads((tmp_path / "given" / "summary.json").read_text())
    assert entry["method"].startswith("Grad-CAM")


def test_a_broken_interpreter_yaml_names_the_file_in_one_line(setup, tmp_path, capsys):
    repo = shutil.copytree(setup["repo"], tmp_path / "repo")
    (repo / "hyperparams.yaml").write_text((repo / "hyperparams.yaml").read_text() + "\nbroken: [1, 2\n")
    for extra in ([], ["--trust-code"]):
        assert main(["explain", str(setup["clips"] / "siren.flac"), "--interpreter", str(repo),
                     "--out", str(tmp_path / "o"), "-q", *extra]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "<unicode" not in err
        assert "hyperparams.yaml': broken YAML, line" in err


def test_train_killed_at_a_random_moment_resumes(setup, tmp_path):
    import random
    import signal
    import time

    audio = tmp_path / "audio"
    for i in range(5):
        save_audio(audio / f"clip{i}.wav", demo_clip(0.8, seed=40 + i), 16000)
    out = tmp_path / "trained"
    cmd = [sys.executable, "-m", "speechbrain_interp", "train", str(audio), "--classifier",
           str(setup["classifier"]), "--out", str(out), "--epochs", "4", "--batch-size", "2",
           "--seconds", "0.5", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(len(str(tmp_path))).uniform(5.0, 12.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if out.exists():  # it finished before the kill: nothing to resume, and nothing lost
        return
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "interpreter.safetensors").is_file()
    assert not out.with_name(out.name + ".training.pt").exists()  # the checkpoint is gone once written
