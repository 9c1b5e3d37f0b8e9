"""Exporting interpreters of non-SpeechBrain classifiers: classifier.yaml, the allow-list, early refusals."""

from pathlib import Path

import pytest
import torch
from torch import nn

from speechbrain_interp.adapter_export import check_exportable, load_exported_classifier
from speechbrain_interp.adapters import ClassifierAdapter, ExportedFile, TorchClassifier
from speechbrain_interp.audio import save_audio
from speechbrain_interp.export import export_interpreter, push_to_hub
from speechbrain_interp.interfaces import load
from speechbrain_interp.interpreters.baselines import Saliency
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.patches import PatchClassifier
from speechbrain_interp.safety import UnsafeHparamsError, load_weights_into, save_state_dict
from speechbrain_interp.spectral import SpectralFrontEnd
from speechbrain_interp.synth import demo_clip
from speechbrain_interp.testing import TinyPatchNet, tiny_patch_classifier
from speechbrain_interp.training import train_lmac


def _tiny_torch_classifier():
    frontend = SpectralFrontEnd(sample_rate=8000, n_fft=256, hop_length=64)
    net = TinyPatchNet(frontend.n_freqs, (57, 71))
    with torch.no_grad():  # weights that differ from a fresh build: they must travel
        net.head.weight.add_(0.25)
    return TorchClassifier(net, frontend, input="log1p_magnitude", layers=["features"],
                           labels=["background", "event"])


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    for i in range(3):
        save_audio(folder / f"clip{i}.wav", demo_clip(0.6, seed=i, sample_rate=8000), 8000)
    return folder


def test_train_lmac_exports_a_torch_classifier_that_loads_back(audio, tmp_path):
    adapter = _tiny_torch_classifier()
    result = train_lmac(adapter, audio, out=tmp_path / "repo", epochs=1, batch_size=2, seconds=0.5,
                        progress=False, channels=4)
    repo = result.folder
    assert {"classifier.yaml", "classifier.safetensors"} <= {p.name for p in repo.iterdir()}
    # the user's model class is outside the allow-list: refused until allowed
    with pytest.raises(UnsafeHparamsError, match="TinyPatchNet"):
        load(repo)
    loaded = load(repo, allow=["speechbrain_interp.testing"])
    wav = demo_clip(0.6, seed=9, sample_rate=8000)[None]
    assert torch.allclose(loaded.interpret_batch(wav).mask, result.explainer.interpret_batch(wav).mask,
                          atol=1e-6)
    classifier = load_exported_classifier(repo, allow=["speechbrain_interp.testing"])
    assert torch.equal(classifier.model.head.weight, adapter.model.head.weight)
    assert classifier.labels == ["background", "event"] and classifier.layers == ["features"]


def test_patch_classifier_exports_loads_back_and_pushes(tmp_path, monkeypatch):
    import huggingface_hub

    brick = LMAC(tiny_patch_classifier(patch_hop=8), channels=4)
    repo = export_interpreter(brick, tmp_path / "repo", examples=False)
    loaded = load(repo, trust_code=True)
    assert loaded.interpreter.classifier.patch_hop == 8
    wav = torch.randn(1, 6000) * 0.1
    assert torch.allclose(loaded.interpret_batch(wav).mask, brick.explain(wav).mask, atol=1e-6)
    uploaded = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, *a, **kw: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: uploaded.extend(
        p.name for p in Path(kw["folder_path"]).iterdir()))
    push_to_hub(repo, "me/patch-lmac", token="hf_test")
    assert {"classifier.yaml", "classifier.safetensors", "hyperparams.yaml"} <= set(uploaded)


def test_unexportable_classifiers_are_refused_before_training(audio, tmp_path, monkeypatch):
    class ScriptNet(nn.Module):  # defined inside a function: a loaded folder could not import it
        def forward(self, x):
            return x.mean(1)[:, :2]

    frontend = SpectralFrontEnd(sample_rate=8000, n_fft=256, hop_length=64)
    import speechbrain_interp.lmac_training as lmac_training

    monkeypatch.setattr(lmac_training._Crops, "__getitem__", lambda *a: pytest.fail("training started"))
    local = TorchClassifier(ScriptNet(), frontend, input="magnitude")
    with pytest.raises(TypeError, match="inside a function.*nothing was trained"):
        train_lmac(local, audio, out=tmp_path / "a", epochs=1, progress=False)
    lam = TorchClassifier(TinyPatchNet(frontend.n_freqs, (1, 3)), frontend,
                          input=lambda fe, mag, ph: torch.log1p(mag))
    with pytest.raises(TypeError, match="lambda.*nothing was trained"):
        train_lmac(lam, audio, out=tmp_path / "b", epochs=1, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert not list(tmp_path.glob("*.training.pt"))


class NoAttributes(nn.Module):
    def __init__(self, n_freq):  # n_freq is not kept: it cannot be read back
        super().__init__()
        self.linear = nn.Linear(n_freq, 2)

    def forward(self, x):
        return self.linear(x.mean(1))


class StoresItTransformed(nn.Module):
    def __init__(self, n_freq, gain=1.0):
        super().__init__()
        self.n_freq, self.gain, self.linear = n_freq, 2 * gain, nn.Linear(n_freq, 2)  # gain kept doubled

    def forward(self, x):
        return self.linear(x.mean(1)) * self.gain


def test_model_arguments_are_checked_by_rebuilding_the_model():
    frontend = SpectralFrontEnd(sample_rate=8000, n_fft=256, hop_length=64)
    wrong_gain = TorchClassifier(StoresItTransformed(129), frontend, input="magnitude")
    with pytest.raises(TypeError, match="other logits.*model_kwargs"):  # same weights, other outputs
        check_exportable(wrong_gain)
    check_exportable(TorchClassifier(StoresItTransformed(129), frontend, input="magnitude",
                                     model_kwargs={"n_freq": 129, "gain": 1.0}))
    with pytest.raises(TypeError, match="model_kwargs"):
        check_exportable(TorchClassifier(NoAttributes(129), frontend, input="magnitude"))
    assert check_exportable(TorchClassifier(NoAttributes(129), frontend, input="magnitude",
                                            model_kwargs={"n_freq": 129}))["model_kwargs"] == {"n_freq": 129}
    wrong = TorchClassifier(TinyPatchNet(frontend.n_freqs, (1, 3)), frontend, input="log1p_magnitude",
                            model_kwargs={"n_freq": 129, "band": [1, 3], "channels": 2})
    with pytest.raises(TypeError, match="weights differ"):
        check_exportable(wrong)
    given = TorchClassifier(TinyPatchNet(frontend.n_freqs, (1, 3)), frontend, input="log1p_magnitude",
                            model_kwargs={"n_freq": 129, "band": [1, 3]})
    assert check_exportable(given)["model"].kwargs == {"n_freq": 129, "band": [1, 3]}


class SavedLinear(ClassifierAdapter):
    """An adapter that exports files of its own (as a save_pretrained model would) and a loader."""

    export_target = f"{__name__}.SavedLinear.from_export"

    def compute_logits(self, magnitude, phase=None, lengths=None):
        return self.model(magnitude.mean(1))

    def export_spec(self):
        return {"source": ExportedFile("linear"), "n_fft": self.frontend.n_fft, **self._common_spec()}

    def export_weights(self):
        return None

    def export_files(self, folder):
        (folder / "linear").mkdir()
        save_state_dict(self.model.state_dict(), folder / "linear" / "weights.safetensors")

    @classmethod
    def from_export(cls, source, n_fft, **kwargs):
        model = nn.Linear(n_fft // 2 + 1, 2)
        load_weights_into(model, Path(source) / "weights.safetensors")
        return cls(SpectralFrontEnd(n_fft=n_fft), model, **kwargs)


def test_an_adapter_with_files_of_its_own_and_a_loading_classmethod(tmp_path):
    adapter = SavedLinear(SpectralFrontEnd(n_fft=64), nn.Linear(33, 2), labels=["a", "b"])
    repo = export_interpreter(Saliency(adapter), tmp_path / "repo", examples=False)
    assert "source: !ref <exported_folder>/linear" in (repo / "classifier.yaml").read_text()
    assert not (repo / "classifier.safetensors").exists()
    with pytest.raises(UnsafeHparamsError, match="SavedLinear.from_export"):
        load(repo)
    loaded = load(repo, allow=[__name__])
    assert torch.equal(loaded.interpreter.classifier.model.weight, adapter.model.weight)
    wav = torch.randn(1, 4000) * 0.1
    assert torch.allclose(loaded.interpret_batch(wav).mask, Saliency(adapter).explain(wav).mask, atol=1e-6)


def test_a_sequential_of_torch_layers_exports_and_loads_without_allow(tmp_path):
    frontend = SpectralFrontEnd(sample_rate=8000, n_fft=256, hop_length=64)
    net = nn.Sequential(nn.Unflatten(1, (1, 16)), nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(4, 2))
    brick = LMAC(PatchClassifier(net, frontend, 16, input="log1p_magnitude", layers=["1"]), channels=4)
    repo = export_interpreter(brick, tmp_path / "repo", examples=False)
    assert "    - !new:torch.nn.modules.conv.Conv2d" in (repo / "classifier.yaml").read_text()
    wav = torch.randn(1, 5000) * 0.1
    assert torch.allclose(load(repo).interpret_batch(wav).mask, brick.explain(wav).mask, atol=1e-6)
