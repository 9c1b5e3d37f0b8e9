"""Models with their own torchaudio front-end: the mask spliced in at the spectrogram's output."""

from __future__ import annotations

import pytest
import torch
import torchaudio
from torch import nn

from speechbrain_interp.adapters import TorchClassifier
from speechbrain_interp.export import export_interpreter
from speechbrain_interp.interfaces import load
from speechbrain_interp.interpreters.baselines import GradCAM, Saliency
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.spectral import SpectralFrontEnd
from speechbrain_interp.spliced import SplicedClassifier

SR = 16000


def high_band_model():
    """``(quiet, high)`` from the mean dB of the top 8 of 32 mel bands: the evidence is known."""
    net = nn.Sequential(
        torchaudio.transforms.MelSpectrogram(SR, n_fft=512, hop_length=160, n_mels=32),
        torchaudio.transforms.AmplitudeToDB(top_db=80.0),
        nn.Conv1d(32, 32, 1, groups=32, bias=False),  # a hidden layer to read: one channel per band
        nn.AdaptiveAvgPool1d(1), nn.Flatten(1), nn.Linear(32, 2))
    with torch.no_grad():
        net[2].weight.fill_(1.0)
        net[5].weight.zero_()
        net[5].weight[1, 24:] = 0.1
        net[5].bias[:] = torch.tensor([0.0, -2.0])
    return net.eval()


def _high_tone():
    t = torch.arange(SR) / SR
    return (0.5 * torch.sin(2 * torch.pi * 6000 * t) + 0.01 * torch.randn(SR))[None]


def test_the_adapter_gives_the_models_own_logits_and_gradients_reach_the_magnitude():
    net = high_band_model()
    wav = torch.cat([_high_tone(), 0.3 * torch.randn(1, SR)])
    adapter = SplicedClassifier(net, sample_rate=SR, layers=["2"], labels=["quiet", "high"])
    assert adapter.frontend_module == "0.spectrogram" and adapter.frontend.n_fft == 512
    spec = adapter.frontend(wav)
    with torch.no_grad():
        expected = net(wav)
    assert torch.allclose(adapter(spec.magnitude, phase=spec.phase), expected, atol=1e-4)
    assert torch.allclose(adapter(spec.magnitude), expected, atol=1e-4)  # no phase: silence, same output
    magnitude = spec.magnitude.clone().requires_grad_(True)
    adapter(magnitude)[:, 1].sum().backward()
    assert magnitude.grad is not None and magnitude.grad.abs().sum() > 0
    # the mask goes through: keeping nothing changes the decision
    assert not torch.allclose(adapter(spec.magnitude * 0.0), expected, atol=1e-3)


def test_every_brick_explains_it_and_the_evidence_is_in_the_high_band():
    adapter = SplicedClassifier(high_band_model(), sample_rate=SR, layers=["2"], labels=["quiet", "high"])
    wav = _high_tone()
    freqs = torch.linspace(0, SR / 2, adapter.frontend.n_freqs)
    high = freqs > 4000
    for brick in (Saliency(adapter), GradCAM(adapter, layer="2"), LMAC(adapter, channels=4)):
        e = brick.explain(wav)
        assert e.mask.shape == adapter.frontend(wav).magnitude.shape
        assert e.interpretation.shape == wav.shape
        assert e.predicted_labels == ["high"]
    # saliency resolves frequency (Grad-CAM on this (bands, frames) layer resolves time only)
    e = Saliency(adapter).explain(wav)
    assert float(e.mask[0][:, high].sum() / e.mask[0].sum()) > 0.6


def test_a_model_without_a_torchaudio_spectrogram_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="frontend_module=.*TorchClassifier"):
        SplicedClassifier(nn.Linear(10, 2), sample_rate=SR)
    stft = torchaudio.transforms.Spectrogram(n_fft=256, normalized=True)
    with pytest.raises(ValueError, match="normalized=False"):
        SplicedClassifier(nn.Sequential(stft), sample_rate=SR)


def test_the_spliced_front_end_equals_a_hand_written_one():
    """What the splice replaces: the same numbers as re-expressing the mel front-end by hand."""
    net = high_band_model()
    spliced = SplicedClassifier(net, sample_rate=SR)
    frontend = SpectralFrontEnd(sample_rate=SR, n_fft=512, hop_length=160, pad_mode="reflect", n_mels=32)
    mel, to_db = net[0].mel_scale, net[1]
    by_hand = TorchClassifier(net[2:], frontend, input=lambda fe, mag, ph: to_db(mel(mag.pow(2).mT)))
    spec = frontend(_high_tone())
    assert torch.allclose(spliced(spec.magnitude), by_hand(spec.magnitude), atol=1e-4)


class MelNet(nn.Module):
    """A user's own model class with its mel front-end inside (importable: this test module)."""

    def __init__(self, n_mels: int = 32, n_classes: int = 2):
        super().__init__()
        self.n_mels, self.n_classes = n_mels, n_classes
        self.features = torchaudio.transforms.MelSpectrogram(SR, n_fft=512, hop_length=160, n_mels=n_mels)
        self.conv = nn.Conv1d(n_mels, 8, 3, padding=1)
        self.head = nn.Linear(8, n_classes)

    def forward(self, wav):
        return self.head(self.conv(torch.log(self.features(wav) + 1e-6)).mean(-1))


def test_an_interpreter_of_it_exports_and_loads_back(tmp_path):
    brick = LMAC(SplicedClassifier(MelNet(), sample_rate=SR, layers=["conv"], labels=["quiet", "high"]),
                 channels=4)
    repo = export_interpreter(brick, tmp_path / "repo", examples=False)
    loaded = load(repo, allow=[MelNet.__module__])
    wav = _high_tone()
    assert torch.allclose(loaded.interpret_batch(wav).mask, brick.explain(wav).mask, atol=1e-5)
