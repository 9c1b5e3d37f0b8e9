"""Interpreters of transformers classifiers: export and load back, the CLI, classifier folders, --allow, Hub.

Tiny random-weight AST, wav2vec2 and HuBERT models (``testing.tiny_transformers_classifier``):
a briefly trained L-MAC exports to a folder holding a ``save_pretrained`` copy of the model
(``hf_model/``), which loads back with the default allow-list and gives the same masks.
"""

from __future__ import annotations

import json
import shutil
from fnmatch import fnmatch
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from speechbrain_interp.adapter_export import load_exported_classifier, write_classifier  # noqa: E402
from speechbrain_interp.adapters import TorchClassifier  # noqa: E402
from speechbrain_interp.audio import save_audio  # noqa: E402
from speechbrain_interp.cli import main  # noqa: E402
from speechbrain_interp.export import export_interpreter, push_to_hub  # noqa: E402
from speechbrain_interp.interfaces import load  # noqa: E402
from speechbrain_interp.interpreters.baselines import Saliency  # noqa: E402
from speechbrain_interp.loading import load_classifier_adapter  # noqa: E402
from speechbrain_interp.safety import UnsafeHparamsError  # noqa: E402
from speechbrain_interp.spectral import SpectralFrontEnd  # noqa: E402
from speechbrain_interp.testing import (  # noqa: E402
    TinyPatchNet,
    make_speechbrain_classifier,
    tiny_transformers_classifier,
)
from speechbrain_interp.training import train_lmac  # noqa: E402
from speechbrain_interp.transformers_classifier import TransformersClassifier  # noqa: E402


def _clip(seconds: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * 16000)) / 16000
    return 0.3 * torch.sin(2 * torch.pi * (300 + 400 * seed) * t) + 0.05 * torch.randn(len(t), generator=gen)


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    for i in range(3):
        save_audio(folder / f"clip{i}.wav", _clip(1.0, i)[None], 16000)
    return folder


@pytest.mark.parametrize("family", ["ast", "wav2vec2", "hubert"])
def test_a_trained_lmac_exports_loads_back_and_the_cli_explains_with_it(family, audio, tmp_path, capsys,
                                                                       monkeypatch):
    import huggingface_hub

    tiny_transformers_classifier(family, tmp_path / "model")
    adapter = TransformersClassifier.from_pretrained(tmp_path / "model")
    result = train_lmac(adapter, audio, out=tmp_path / "repo", epochs=1, batch_size=2, seconds=1.0,
                        progress=False, channels=4)
    repo = result.folder
    text = (repo / "classifier.yaml").read_text()
    assert "!apply:speechbrain_interp.transformers_classifier.TransformersClassifier.from_export" in text
    assert "source: !ref <exported_folder>/hf_model" in text and "trust_remote_code" not in text
    assert {"model.safetensors", "config.json", "preprocessor_config.json"} <= {
        p.name for p in (repo / "hf_model").iterdir()}
    assert not (repo / "classifier.safetensors").exists()  # the weights travel in hf_model/
    uploaded = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, *a, **kw: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: uploaded.extend(
        str(p.relative_to(kw["folder_path"])) for p in Path(kw["folder_path"]).rglob("*")))
    push_to_hub(repo, f"me/lmac-{family}", token="hf_test")
    pushed = {"classifier.yaml", "hf_model/model.safetensors", "hf_model/preprocessor_config.json"}
    assert pushed <= set(uploaded)

    loaded = load(repo)  # the default allow-list: from_export runs no code
    wav = _clip(1.0, 7)[None]
    assert torch.allclose(loaded.interpret_batch(wav).mask, result.explainer.interpret_batch(wav).mask,
                          atol=1e-6)
    classifier = load_classifier_adapter(repo)  # the folder's classifier, e.g. for --classifier
    assert isinstance(classifier, TransformersClassifier) and classifier.family == adapter.family
    assert classifier.layers == adapter.layers and classifier.labels == adapter.labels

    clip = tmp_path / "tone.wav"
    save_audio(clip, wav, 16000)
    out = tmp_path / "out"
    code = main(["explain", str(clip), "--interpreter", str(repo), "--out", str(out), "--no-images"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())[0]["label"] in ("dog_bark", "siren", "rain")
    code = main(["explain", str(clip), "--interpreter", str(repo), "--classifier", str(repo),
                 "--out", str(tmp_path / "out2"), "--no-images"])
    assert code == 0, capsys.readouterr().err


def test_an_exported_transformers_classifier_runs_no_remote_code(tmp_path):
    adapter = TransformersClassifier(*tiny_transformers_classifier("hubert"), labels=["x", "y", "z"])
    write_classifier(adapter, tmp_path)
    loaded = load_exported_classifier(tmp_path)
    assert loaded.labels == ["x", "y", "z"] and loaded.layers == adapter.layers
    spec = adapter.frontend(_clip(0.5)[None])
    assert torch.allclose(loaded(spec.magnitude, phase=spec.phase), adapter(spec.magnitude, phase=spec.phase),
                          atol=1e-6)
    text = (tmp_path / "classifier.yaml").read_text()
    (tmp_path / "classifier.yaml").write_text(text.replace("from_export", "from_pretrained"))
    with pytest.raises(UnsafeHparamsError, match="from_pretrained"):  # could trust remote code: not allowed
        load_exported_classifier(tmp_path)
    (tmp_path / "classifier.yaml").write_text(text + "    trust_remote_code: true\n")
    with pytest.raises(TypeError, match="trust_remote_code"):  # from_export has no such argument
        load_exported_classifier(tmp_path)
    # a copy whose config asks for its own code: refused, and the code is never imported
    (tmp_path / "classifier.yaml").write_text(text)
    config = json.loads((tmp_path / "hf_model" / "config.json").read_text())
    config.update(model_type="evil-custom", auto_map={"AutoConfig": "evil.EvilConfig",
                                                      "AutoModelForAudioClassification": "evil.EvilModel"})
    (tmp_path / "hf_model" / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "code_ran"
    (tmp_path / "hf_model" / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(OSError, match="could not load the transformers classifier"):
        load_exported_classifier(tmp_path)
    assert not marker.exists()
    remote = TransformersClassifier(*tiny_transformers_classifier("hubert"), trust_remote_code=True)
    assert remote.export_target.endswith("from_pretrained") and remote.export_spec()["trust_remote_code"]


def test_folders_naming_a_users_class_need_allow(tmp_path, capsys):
    frontend = SpectralFrontEnd(sample_rate=16000, n_fft=256, hop_length=64)
    adapter = TorchClassifier(TinyPatchNet(frontend.n_freqs, (5, 20)), frontend, input="log1p_magnitude",
                              layers=["features"], labels=["a", "b"])
    repo = export_interpreter(Saliency(adapter), tmp_path / "repo", examples=False)
    with pytest.raises(UnsafeHparamsError, match="TinyPatchNet"):
        load_classifier_adapter(repo)
    assert load_classifier_adapter(repo, allow=["speechbrain_interp.testing"]).labels == ["a", "b"]
    clip = tmp_path / "tone.wav"
    save_audio(clip, _clip(0.5)[None], 16000)
    args = ["explain", str(clip), "--interpreter", str(repo), "--out", str(tmp_path / "out"), "--no-images"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "TinyPatchNet" in err
    assert "--allow speechbrain_interp.testing.TinyPatchNet" in err
    assert main([*args, "--allow", "speechbrain_interp.testing.TinyPatchNet"]) == 0, capsys.readouterr().err
    assert main([*args, "--classifier", str(repo), "--allow", "speechbrain_interp.testing"]) == 0


def _fake_hub(remote: Path, calls: list):
    """snapshot_download for one repository held in ``remote``: copies the files the patterns allow."""
    def snapshot_download(repo_id, revision=None, cache_dir=None, allow_patterns=None, **kwargs):
        calls.append(allow_patterns)
        snapshot = Path(cache_dir) / repo_id.replace("/", "--")
        snapshot.mkdir(parents=True, exist_ok=True)
        for path in remote.iterdir():
            if allow_patterns is None or any(fnmatch(path.name, p) for p in allow_patterns):
                shutil.copy(path, snapshot / path.name)
        return str(snapshot)

    return snapshot_download


def test_a_hub_id_downloads_only_what_a_transformers_model_needs(tmp_path, monkeypatch):
    import huggingface_hub

    remote = tmp_path / "remote"
    tiny_transformers_classifier("hubert", remote)
    for duplicate in ("pytorch_model.bin", "tf_model.h5", "model.onnx"):
        (remote / duplicate).write_bytes(b"never downloaded")
    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _fake_hub(remote, calls))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    adapter = load_classifier_adapter("sbi-test/tiny-hubert", offline=False)
    assert adapter.family == "hubert"
    snapshot = tmp_path / "cache" / "sbi-test--tiny-hubert"
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "config.json", "model.safetensors", "preprocessor_config.json"]
    assert None not in calls  # never the whole repository

    speechbrain_remote = make_speechbrain_classifier(tmp_path / "sb", "xvector", n_mels=24)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _fake_hub(speechbrain_remote, calls))
    assert load_classifier_adapter("sbi-test/tiny-xvector", offline=False).labels == ["dog_bark", "siren",
                                                                                       "rain"]
    assert calls[-1] is None  # a SpeechBrain repository: downloaded whole, as before
