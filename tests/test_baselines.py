"""Captum gradient baselines: masks in the mask domain, one normalisation, Grad-CAM mapping."""

from __future__ import annotations

import pytest
import torch

from speechbrain_interp.interpreters.baselines import (
    GradCAM,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
    attributions_to_mask,
    layer_map_to_spectrogram,
)
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier


@pytest.fixture(scope="module")
def compact(tmp_path_factory):
    folder = make_speechbrain_classifier(tmp_path_factory.mktemp("compact"), "compact", n_mels=32)
    return load_speechbrain_classifier(folder, "compact")


@pytest.fixture(scope="module")
def xvector(tmp_path_factory):
    folder = make_speechbrain_classifier(tmp_path_factory.mktemp("xvector"), "xvector", n_mels=24)
    return load_speechbrain_classifier(folder, "xvector")


def _baselines(adapter):
    return [Saliency(adapter), IntegratedGradients(adapter, n_steps=8), SmoothGrad(adapter, nt_samples=3),
            GradCAM(adapter, "embedding_model.conv_block4")]


def test_every_baseline_gives_a_normalised_mask(compact, wav_batch):
    for interp in _baselines(compact):
        e = interp.explain(wav_batch)
        assert e.mask.shape == e.magnitude.shape, interp.method
        assert e.mask.min() >= 0 and e.mask.max() <= 1
        # per-clip max normalisation: each clip's strongest evidence is 1
        assert torch.allclose(e.mask.flatten(1).amax(1), torch.ones(2)), interp.method
        assert "gradient baseline" in e.method


def test_silent_audio_gives_empty_finite_masks(compact):
    for interp in _baselines(compact):
        e = interp.explain(torch.zeros(2, 8000))
        assert torch.isfinite(e.mask).all() and torch.isfinite(e.probability_in).all(), interp.method


def test_saliency_is_the_input_gradient_in_the_mask_domain(tiny_adapter, wav_batch):
    interp = Saliency(tiny_adapter)
    fe = tiny_adapter.frontend
    spec = fe(wav_batch)
    z = fe.to_mask_domain(spec.magnitude).detach().requires_grad_()
    logits = tiny_adapter(fe.from_mask_domain(z))
    target = logits.argmax(-1)
    logits.gather(1, target[:, None]).sum().backward()
    expected = z.grad.abs() / z.grad.abs().flatten(1).amax(1).view(-1, 1, 1)
    assert torch.allclose(interp.explain(wav_batch).mask, expected, atol=1e-5)


def test_integrated_gradients_completeness(tiny_adapter, wav_batch):
    """IG attributions sum to f(Z) - f(0), which pins the baseline and the domain."""
    interp = IntegratedGradients(tiny_adapter, n_steps=64)
    fe = tiny_adapter.frontend
    spec = fe(wav_batch)
    z = fe.to_mask_domain(spec.magnitude)
    target = tiny_adapter(spec.magnitude).argmax(-1)
    attributions = interp.attribute(z, target, spec.phase)
    with torch.no_grad():
        full = tiny_adapter(spec.magnitude).gather(1, target[:, None]).squeeze(1)
        empty = tiny_adapter(torch.zeros_like(spec.magnitude)).gather(1, target[:, None]).squeeze(1)
    assert torch.allclose(attributions.flatten(1).sum(1), full - empty, rtol=0.05, atol=0.05)


def test_smoothgrad_tends_to_saliency_without_noise(tiny_adapter, wav_batch):
    sal = Saliency(tiny_adapter).explain(wav_batch).mask
    smooth = SmoothGrad(tiny_adapter, nt_samples=3, noise_level=1e-7).explain(wav_batch).mask
    assert torch.allclose(sal, smooth, atol=1e-3)


def test_gradcam_matches_a_hand_computed_grad_cam(compact, wav_batch):
    layer = "embedding_model.conv_block4"
    interp = GradCAM(compact, layer)
    assert interp.layout == "BCTF"
    fe = compact.frontend
    spec = fe(wav_batch)
    store = {}
    handle = compact.model.get_submodule(layer).register_forward_hook(
        lambda m, i, o: store.__setitem__("act", o))
    try:
        z = fe.to_mask_domain(spec.magnitude).detach().requires_grad_()
        logits = compact(fe.from_mask_domain(z))
        target = logits.argmax(-1)
        act = store["act"]
        grad = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), act)[0]
    finally:
        handle.remove()
    weights = grad.mean((2, 3), keepdim=True)
    cam = torch.relu((weights * act).sum(1))  # (B, T', F')
    expected = layer_map_to_spectrogram(cam.detach(), z.shape[1], z.shape[2], fe.sample_rate)
    got = interp.attribute(z.detach(), target, spec.phase)
    assert torch.allclose(got, expected, atol=1e-5)


def test_gradcam_layer_layouts(xvector):
    with pytest.raises(ValueError, match="channels-first"):
        GradCAM(xvector, "embedding_model.blocks.11")
    interp = GradCAM(xvector, "embedding_model.blocks.9.conv")  # the TDNN's inner Conv1d
    assert interp.layout == "BCT"
    e = interp.explain(torch.randn(1, 8000))
    assert e.mask.shape == e.magnitude.shape
    # a 1-D map carries no frequency information: every bin of a frame gets the same value
    assert torch.allclose(e.mask, e.mask[..., :1].expand_as(e.mask))
    with pytest.raises(ValueError, match="freq_scale"):
        GradCAM(xvector, "embedding_model.blocks.9.conv", freq_scale="bark")


def test_layer_map_to_spectrogram_follows_the_mel_scale():
    cells = torch.arange(8.0).view(1, 1, 8)  # cell k holds k
    mel = layer_map_to_spectrogram(cells, frames=2, n_freq=257, sample_rate=16000, freq_scale="mel")
    lin = layer_map_to_spectrogram(cells, frames=2, n_freq=257, sample_rate=16000, freq_scale="linear")
    assert mel.shape == (1, 2, 257)
    assert (mel[0, 0].diff() >= -1e-6).all()  # monotone in frequency
    # halfway up the linear axis (4 kHz of 8 kHz) the mel axis is already three quarters up
    assert mel[0, 0, 128] > lin[0, 0, 128]
    assert lin[0, 0, 128].item() == pytest.approx(3.5, abs=0.05)


def test_attributions_to_mask_options():
    a = torch.tensor([[[-4.0, 1.0, 2.0, 8.0]]])
    assert torch.allclose(attributions_to_mask(a, absolute=True), torch.tensor([[[0.5, 0.125, 0.25, 1.0]]]))
    q = attributions_to_mask(a, quantile=0.5)  # positive part [0, 1, 2, 8], median 1.5
    assert torch.allclose(q, torch.tensor([[[0.0, 2 / 3, 1.0, 1.0]]]))
    assert torch.isfinite(attributions_to_mask(torch.full((1, 2, 2), float("nan")))).all()
