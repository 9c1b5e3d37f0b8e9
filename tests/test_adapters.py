"""Classifier adapters over real SpeechBrain lobes loaded with from_hparams(source=<local folder>)."""

import pytest
import torch
from speechbrain.inference.classifiers import AudioClassifier, EncoderClassifier
from torch import nn

from speechbrain_interp.adapters import SpeechBrainClassifier, TorchClassifier
from speechbrain_interp.spectral import SpectralFrontEnd
from speechbrain_interp.testing import (
    ARCHITECTURES,
    load_speechbrain_classifier,
    make_speechbrain_classifier,
)

LABELS = ["dog_bark", "siren", "rain"]


@pytest.fixture(scope="module", params=["cnn14", "ecapa", "xvector", "compact"])
def sb_folder(request, tmp_path_factory):
    arch = request.param
    folder = tmp_path_factory.mktemp(arch)
    make_speechbrain_classifier(folder / "model", arch, labels=LABELS, n_mels=32 if arch != "compact" else 64)
    return arch, folder


def test_loads_like_a_hub_model_and_matches_speechbrain(sb_folder):
    arch, folder = sb_folder
    adapter = load_speechbrain_classifier(folder / "model", arch, savedir=folder / "a")
    assert adapter.labels == LABELS and adapter.num_classes == 3 and not adapter.multilabel
    wav = torch.randn(2, 16000) * 0.1
    spec = adapter.frontend(wav)
    logits = adapter(spec.magnitude)
    assert logits.shape == (2, 3)

    # SpeechBrain's own interface on the same folder gives the same outputs
    iface = AudioClassifier if ARCHITECTURES[arch][0] == "AudioClassifier" else EncoderClassifier
    pretrained = iface.from_hparams(source=str((folder / "model").resolve()), savedir=str(folder / "b"))
    if arch == "cnn14":
        reference = pretrained.classify_batch(wav)[0]
    else:
        reference = pretrained.mods.classifier(pretrained.encode_batch(wav)).squeeze(1)
    assert torch.allclose(logits, reference, atol=1e-4)


def test_gradients_reach_the_spectrogram_and_classifier_stays_frozen(sb_folder):
    arch, folder = sb_folder
    adapter = load_speechbrain_classifier(folder / "model", arch, savedir=folder / "c")
    adapter.train()  # an interpreter's Brain calls train(); the classifier must stay in eval
    assert not adapter.model.training
    assert not any(p.requires_grad for p in adapter.model.parameters())
    spec = adapter.frontend(torch.randn(2, 16000) * 0.1)
    mag = spec.magnitude.clone().requires_grad_(True)
    logits, hidden = adapter.forward_with_hidden(mag)
    assert set(hidden) == set(ARCHITECTURES[arch][1])
    assert all(h.shape[0] == 2 for h in hidden.values())
    logits[:, 0].sum().backward()
    assert mag.grad is not None and mag.grad.abs().sum() > 0 and torch.isfinite(mag.grad).all()
    # eval-mode outputs do not depend on the batch (no batch statistics leak in)
    single = adapter(spec.magnitude[:1])
    assert torch.allclose(single, adapter(spec.magnitude)[:1], atol=1e-4)


def test_hidden_is_only_captured_on_request(tiny_adapter):
    spec = tiny_adapter.frontend(torch.randn(1, 4000))
    tiny_adapter(spec.magnitude)
    assert tiny_adapter._hidden == {}
    _, hidden = tiny_adapter.forward_with_hidden(spec.magnitude)
    assert hidden["conv1"].shape[:2] == (1, 8) and hidden["conv2"].shape[:2] == (1, 16)


def test_unknown_layer_lists_what_exists(tiny_frontend):
    net = nn.Sequential(nn.Flatten(1), nn.Linear(10, 2))
    with pytest.raises(ValueError, match="layer 'conv9' not found.*available"):
        TorchClassifier(net, tiny_frontend, input="log_mel", layers=["conv9"])


def test_torch_classifier_inputs(tiny_frontend):
    wav = torch.randn(2, 8000)
    spec = tiny_frontend(wav)
    frames, bins = spec.magnitude.shape[1:]
    seen = {}

    class Probe(nn.Module):
        def forward(self, x):
            seen["shape"] = tuple(x.shape)
            return x.flatten(1)[:, :3]

    for kind, shape in [("magnitude", (2, frames, bins)), ("log1p_magnitude", (2, frames, bins)),
                        ("log_mel", (2, frames, 32))]:
        adapter = TorchClassifier(Probe(), tiny_frontend, input=kind)
        assert adapter(spec.magnitude).shape == (2, 3)
        assert seen["shape"] == shape
    wav_adapter = TorchClassifier(Probe(), tiny_frontend, input="wav")
    wav_adapter(spec.magnitude, phase=spec.phase)
    assert seen["shape"] == (2, (frames - 1) * tiny_frontend.hop_length)
    with pytest.raises(ValueError, match="phase"):
        wav_adapter(spec.magnitude)
    custom = TorchClassifier(Probe(), tiny_frontend, input=lambda fe, mag, ph: mag[..., :5])
    custom(spec.magnitude)
    assert seen["shape"] == (2, frames, 5)
    with pytest.raises(ValueError, match="input must be"):
        TorchClassifier(Probe(), tiny_frontend, input="mfcc")
    with pytest.raises(ValueError, match="n_mels"):
        TorchClassifier(Probe(), SpectralFrontEnd(n_fft=256), input="log_mel")


def test_probability_outputs_become_logits_and_multilabel_uses_sigmoid(tiny_frontend):
    probs = torch.tensor([[0.9, 0.2, 0.5]])

    class Fixed(nn.Module):
        def forward(self, x):
            return probs.expand(x.shape[0], -1)

    adapter = TorchClassifier(Fixed(), tiny_frontend, input="magnitude", output="probabilities",
                              multilabel=True)
    spec = tiny_frontend(torch.randn(1, 4000))
    logits = adapter(spec.magnitude)
    assert torch.allclose(adapter.probabilities(logits), probs, atol=1e-6)
    assert adapter.predict(spec.magnitude).tolist() == [[1.0, 0.0, 0.0]]
    single = TorchClassifier(Fixed(), tiny_frontend, input="magnitude")
    assert torch.allclose(single.probabilities(single(spec.magnitude)).sum(-1), torch.ones(1))


def test_classify_wav_validates_input(tiny_adapter):
    from speechbrain_interp.audio import AudioTooShortError, NonFiniteAudioError

    assert tiny_adapter.classify_wav(torch.randn(4000)).shape == (1, 4)
    with pytest.raises(AudioTooShortError):
        tiny_adapter.classify_wav(torch.randn(100))
    with pytest.raises(NonFiniteAudioError):
        tiny_adapter.classify_wav(torch.full((4000,), float("nan")))


def test_rejects_unsupported_speechbrain_layouts():
    class Fake:
        mods = nn.ModuleDict({"encoder": nn.Linear(2, 2)})

    with pytest.raises(TypeError, match="neither 'compute_stft'"):
        SpeechBrainClassifier(Fake())

    class OddFeatures:
        mods = nn.ModuleDict({"compute_features": nn.Identity(), "embedding_model": nn.Identity(),
                              "classifier": nn.Identity()})

    with pytest.raises(TypeError, match="supports speechbrain.lobes.features.Fbank"):
        SpeechBrainClassifier(OddFeatures())


def test_from_hparams_on_a_missing_folder_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent' does not exist"):
        SpeechBrainClassifier.from_hparams(source=str(tmp_path / "absent"), savedir=str(tmp_path / "s"),
                                           interface="EncoderClassifier")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no hyperparams.yaml"):
        SpeechBrainClassifier.from_hparams(source=str(tmp_path / "empty"), savedir=str(tmp_path / "s"))
