"""Safe loading: malicious hyperparams YAML is refused before anything runs; weights never unpickle."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys

import pytest
import torch

from speechbrain_interp import hub
from speechbrain_interp.inference import LMACInterface, PretrainedInterface
from speechbrain_interp.safety import (
    SafePretrainer,
    UnsafeHparamsError,
    check_hparams,
    load_hparams,
    load_state_dict,
    load_weights_into,
    save_state_dict,
)
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier


def _attacks(canary):
    """YAML documents that each try to create ``canary`` when loaded by hyperpyyaml."""
    cmd = f"touch {canary}"
    return {
        "apply os.system": f'x: !apply:os.system ["{cmd}"]\n',
        "new subprocess.Popen": f"x: !new:subprocess.Popen\n    args: [touch, {canary}]\n",
        "applyref (runs while references resolve)": f'x: !applyref:os.system ["{cmd}"]\n',
        "re-exported builtin": f'x: !apply:speechbrain.nnet.linear.torch.load ["{canary}"]\n',
        "speechbrain's own shell helper": f'x: !apply:speechbrain.utils.superpowers.run_shell ["{cmd}"]\n',
        "python tag of the unsafe loader": f'x: !!python/object/apply:os.system ["{cmd}"]\n',
        "tag directive hiding !apply": f'%TAG !e! !ap\n---\nx: !e!ply:os.system ["{cmd}"]\n',
        "verbatim tag": f'x: !<!apply:os.system> ["{cmd}"]\n',
        # hyperpyyaml parses "(a, b)" strings with PyYAML's unsafe Loader, even quoted ones
        # (the payload opens the canary for writing: no shell needed to prove it ran)
        "tuple-looking string": f"x: '(!!python/object/apply:builtins.open [\"{canary}\", w], 1)'\n",
        "module tag": "x: !module:os\n",
        "include outside the folder": "x: !include:../elsewhere.yaml\n",
    }


@pytest.mark.parametrize("name", list(_attacks("CANARY")))
def test_malicious_yaml_is_refused_before_anything_runs(tmp_path, name):
    canary = tmp_path / "pwned"
    path = tmp_path / "repo" / "hyperparams.yaml"
    path.parent.mkdir()
    path.write_text(_attacks(canary)[name])
    refused = "Nothing was run|allow-list|not allowed|outside|names nothing"
    with pytest.raises(UnsafeHparamsError, match=refused):
        load_hparams(path)
    assert not canary.exists()


def test_the_tuple_attack_is_real_without_the_check(tmp_path):
    """The check matters: hyperpyyaml itself executes the tuple-string payload.

    It does so on the first YAML a process loads (hyperpyyaml then registers its tuple
    resolver on ruamel's shared Loader, and later round trips quote the string), which is
    exactly a command line loading a downloaded repository; so the proof runs in a fresh
    interpreter.
    """
    canary = tmp_path / "pwned"
    path = tmp_path / "hyperparams.yaml"
    path.write_text(_attacks(canary)["tuple-looking string"])
    code = ("import sys; from speechbrain_interp.safety import load_hparams; "
            "load_hparams(sys.argv[1], trust_code=True)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120, cwd=tmp_path)
    assert canary.exists()


def test_malicious_repository_is_refused_by_every_loader(tmp_path):
    """A Hub-style folder whose YAML runs a command: every loader refuses it."""
    canary = tmp_path / "pwned"
    repo = make_speechbrain_classifier(tmp_path / "repo", "xvector", n_mels=24)
    text = (repo / "hyperparams.yaml").read_text()
    brick = "interpreter: !name:speechbrain_interp.interpreters.Interpreter\n"
    (repo / "hyperparams.yaml").write_text(f'__hello: !apply:os.system ["touch {canary}"]\n' + text + brick)
    (repo / "config.json").write_text('{"speechbrain_interface": "LMACInterface"}')
    for load in (lambda: LMACInterface.from_hparams(repo), lambda: hub.load(repo),
                 lambda: hub.load_classifier(repo),
                 lambda: PretrainedInterface.from_hparams(repo, savedir=tmp_path / "savedir")):
        with pytest.raises(UnsafeHparamsError, match="os.system"):
            load()
    assert not canary.exists()


def test_allowed_yaml_loads_and_trust_code_opens_the_rest(tmp_path):
    for arch in ("compact", "cnn14", "ecapa", "xvector"):
        folder = make_speechbrain_classifier(tmp_path / arch, arch, n_mels=32)
        check_hparams(folder / "hyperparams.yaml")
    path = tmp_path / "counter.yaml"
    path.write_text("n: 2\ncounter: !new:collections.Counter\n    a: !ref <n>\ntup: (1, 2)\n")
    with pytest.raises(UnsafeHparamsError, match="collections.Counter"):
        load_hparams(path)
    assert load_hparams(path, allow=["collections.Counter"])["counter"]["a"] == 2
    loaded = load_hparams(path, trust_code=True)
    assert loaded["counter"]["a"] == 2 and loaded["tup"] == (1, 2)


def test_include_inside_the_folder_is_checked_too(tmp_path):
    (tmp_path / "part.yaml").write_text('y: !apply:os.system ["true"]\n')
    main = tmp_path / "hyperparams.yaml"
    main.write_text("x: !include:part.yaml\n")
    with pytest.raises(UnsafeHparamsError, match="part.yaml.*os.system"):
        load_hparams(main)
    (tmp_path / "part.yaml").write_text("y: !new:torch.nn.Linear [2, 3]\n")
    assert isinstance(load_hparams(main)["x"]["y"], torch.nn.Linear)


class _Payload:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (open, (str(self.canary), "w"))


def test_weights_never_unpickle(tmp_path):
    canary = tmp_path / "pwned"
    bad = tmp_path / "embedding_model.ckpt"
    with open(bad, "wb") as fh:
        pickle.dump({"weight": _Payload(canary)}, fh)
    with pytest.raises(ValueError, match="not unpickled"):
        load_state_dict(bad)
    assert not canary.exists()
    plain = tmp_path / "plain.ckpt"  # a tensors-only checkpoint loads with weights_only=True
    torch.save({"weight": torch.ones(2)}, plain)
    assert torch.equal(load_state_dict(plain)["weight"], torch.ones(2))


def test_a_speechbrain_folder_with_a_pickled_checkpoint_is_refused(tmp_path):
    canary = tmp_path / "pwned"
    repo = make_speechbrain_classifier(tmp_path / "repo", "xvector", n_mels=24)
    with open(repo / "classifier.ckpt", "wb") as fh:
        pickle.dump({"w": _Payload(canary)}, fh)
    with pytest.raises(ValueError, match="not unpickled"):
        hub.load_classifier(repo)
    assert not canary.exists()


def test_safe_pretrainer_collects_links_and_loads(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    model = torch.nn.Linear(3, 2)
    save_state_dict(model.state_dict(), source / "model.safetensors")
    save_state_dict({"w": torch.ones(2)}, source / "interpreter.safetensors")
    target = torch.nn.Linear(3, 2)
    pretrainer = SafePretrainer(loadables={"model": target}, deferred=["interpreter"],
                                collect_in=tmp_path / "savedir")
    paths = pretrainer.collect_files(default_source=str(source))
    assert sorted(paths) == ["interpreter", "model"]
    assert (tmp_path / "savedir" / "model.safetensors").is_symlink()
    pretrainer.load_collected()
    assert torch.equal(target.weight, model.weight)
    assert pretrainer.deferred_path("interpreter").endswith("interpreter.safetensors")
    shutil.rmtree(source)  # links dangle: loading again fails loudly, never silently
    with pytest.raises(Exception):  # noqa: B017 (any I/O error)
        pretrainer.load_collected()


def test_strict_loading_reports_mismatches(tmp_path):
    path = tmp_path / "m.safetensors"
    save_state_dict(torch.nn.Linear(4, 2).state_dict(), path)
    with pytest.raises(ValueError, match=r"missing \['0.bias', '0.weight'\]"):
        load_weights_into(torch.nn.Sequential(torch.nn.Linear(4, 2)), path)
    wrapped = torch.nn.Sequential(torch.nn.Linear(4, 2))
    load_weights_into(wrapped, path, strict=False)  # non-strict: warns and keeps initial values


def test_safe_classifier_loading_matches_speechbrain(tmp_path):
    """The safe loader builds the same classifier as SpeechBrain's own from_hparams."""
    folder = make_speechbrain_classifier(tmp_path / "c", "xvector", n_mels=24)
    ours = load_speechbrain_classifier(folder)
    safe = hub.load_classifier(folder)
    wav = torch.randn(2, 8000)
    spec = ours.frontend(wav)
    from speechbrain_interp.adapters import SpeechBrainClassifier

    theirs = SpeechBrainClassifier(safe, layers=ours.layers)
    assert torch.allclose(ours(spec.magnitude), theirs(spec.magnitude), atol=1e-6)


def test_bad_weight_files_and_broken_yaml_are_one_line_errors_naming_the_file(tmp_path):
    from speechbrain_interp.safety import load_hparams, load_weights_into, save_state_dict

    pickled = tmp_path / "interpreter.safetensors"
    torch.save({"w": torch.ones(2)}, pickled)  # a pickle under a safetensors name
    with pytest.raises(ValueError, match=r"interpreter\.safetensors' is not a readable safetensors file"):
        load_weights_into(torch.nn.Linear(2, 1), pickled)
    noise = tmp_path / "noise.safetensors"
    noise.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"noise\.safetensors' is not a readable safetensors file"):
        load_weights_into(torch.nn.Linear(2, 1), noise)
    other = tmp_path / "other.safetensors"
    save_state_dict(torch.nn.Linear(3, 1).state_dict(), other)
    with pytest.raises(ValueError, match=r"other\.safetensors.*'weight' has shape \(1, 3\) in the file"):
        load_weights_into(torch.nn.Linear(2, 1), other)
    broken = tmp_path / "hyperparams.yaml"
    broken.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ValueError, match=r"hyperparams\.yaml': broken YAML, line 2: expected ',' or ']'"):
        load_hparams(broken)
