"""Patch classifiers: one explanation per clip, on the clip's time axis, where the evidence is."""

import pytest
import torch
from torch import nn

from speechbrain_interp.adapters import TorchClassifier
from speechbrain_interp.interpreters.baselines import GradCAM, Saliency
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.patches import PatchClassifier, patch_starts
from speechbrain_interp.spectral import SpectralFrontEnd
from speechbrain_interp.testing import TinyPatchNet, tiny_patch_classifier

SR, HOP = 8000, 64


def _tone_between(start_s, end_s, seconds=3.0, seed=0):
    t = torch.arange(int(seconds * SR)) / SR
    noise = 0.01 * torch.randn(len(t), generator=torch.Generator().manual_seed(seed))
    return noise + torch.sin(2 * torch.pi * 2000 * t) * ((t >= start_s) & (t < end_s))


def test_hidden_layers_are_put_back_on_the_clip_time_axis():
    adapter = tiny_patch_classifier()  # 16-frame patches
    spec = adapter.frontend(torch.randn(2, 3000) * 0.1)  # 47 frames: patches at 0, 16, 31
    logits, hidden = adapter.forward_with_hidden(spec.magnitude)
    assert logits.shape == (2, 2)
    assert hidden["features"].shape == (2, 4, 47, 129) and hidden["energy"].shape == (2, 1, 3)
    per_patch = adapter.model.features(torch.log1p(spec.magnitude[:, 0:16])[:, None])
    assert torch.allclose(hidden["features"][..., :16, :], per_patch, atol=1e-6)
    # the mean of the patch logits, as the model would average them itself
    patches = torch.stack([spec.magnitude[:, s:s + 16] for s in (0, 16, 31)], 1)
    expected = adapter.model(torch.log1p(patches.flatten(0, 1))).view(2, 3, 2).mean(1)
    assert torch.allclose(logits, expected, atol=1e-6)


@pytest.mark.parametrize("hop", [None, 8])
def test_one_mask_per_clip_of_the_clip_shape(hop):
    adapter = tiny_patch_classifier(patch_hop=hop)
    wav = torch.randn(2, 5000) * 0.1
    for brick in (LMAC(adapter, channels=4), Saliency(adapter), GradCAM(adapter, "features")):
        e = brick.explain(wav)
        assert e.mask.shape == e.magnitude.shape == (2, 5000 // HOP + 1, 129)
    short = LMAC(adapter, channels=4).explain(torch.randn(1, 600) * 0.1)  # shorter than one patch
    assert short.mask.shape == short.magnitude.shape


def test_evidence_in_a_known_time_region_gets_the_attribution_mass():
    adapter = tiny_patch_classifier()
    wav = _tone_between(1.0, 1.5)[None]
    assert adapter.classify_wav(wav).argmax(-1).item() == 1
    frames = torch.arange(adapter.frontend.num_frames(wav.shape[-1])) * HOP / SR
    region = (frames >= 0.95) & (frames < 1.55)  # a fifth of the clip
    for brick in (Saliency(adapter), GradCAM(adapter, "features")):
        mask = brick.explain(wav, target=torch.tensor([1])).mask[0]
        assert mask[region].sum() / mask.sum() > 0.6, type(brick).__name__


def test_probability_averaging():
    adapter = tiny_patch_classifier(average="probabilities")
    plain = tiny_patch_classifier()
    spec = adapter.frontend(_tone_between(0.0, 0.2, seconds=1.0)[None])
    starts = patch_starts(spec.magnitude.shape[1], 16, 16)
    patches = torch.stack([spec.magnitude[:, s:s + 16] for s in starts], 1)
    probs = torch.softmax(plain.model(torch.log1p(patches.flatten(0, 1))), -1).mean(0)
    assert torch.allclose(adapter.probabilities(adapter(spec.magnitude))[0], probs, atol=1e-5)


class _FoldsPatches(nn.Module):
    """A model that cuts its own 16-frame patches into the batch, as many AudioSet models do."""

    def __init__(self, n_freq):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        batch, frames = x.shape[:2]
        patches = x[:, : frames // 16 * 16].reshape(batch * (frames // 16), 16, x.shape[-1])
        h = self.conv(patches[:, None])
        return self.head(h.mean((2, 3))).view(batch, -1, 2).mean(1)


def test_layers_that_fold_patches_into_the_batch_are_refused_with_what_to_do():
    frontend = SpectralFrontEnd(sample_rate=SR, n_fft=256, hop_length=HOP)
    adapter = TorchClassifier(_FoldsPatches(frontend.n_freqs), frontend, input="log1p_magnitude",
                              layers=["conv"])
    for build in (lambda: LMAC(adapter, channels=4), lambda: GradCAM(adapter, "conv")):
        with pytest.raises(ValueError, match="folds patches.*PatchClassifier"):
            build()


def test_a_layer_without_a_time_axis_names_the_problem():
    adapter = TorchClassifier(TinyPatchNet(129, (57, 71)), SpectralFrontEnd(sample_rate=SR, n_fft=256,
                              hop_length=HOP), input="log1p_magnitude")
    with pytest.raises(ValueError, match="has none.*pools over time"):
        GradCAM(adapter, "energy")


def test_layers_captured_before_a_probed_one_keep_their_own_outputs():
    frontend = SpectralFrontEnd(sample_rate=SR, n_fft=256, hop_length=HOP)

    def build(**kwargs):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Unflatten(1, (1, 16)), nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(4, 2))
        return PatchClassifier(net, frontend, 16, input="log1p_magnitude", layers=["1", "2"], **kwargs)

    probed, declared = build(), build(time_axes={"1": 2, "2": 2})
    spec = frontend(torch.randn(1, 3000) * 0.1)
    _, hidden = probed.forward_with_hidden(spec.magnitude)  # "2" is probed after "1" was captured
    _, expected = declared.forward_with_hidden(spec.magnitude)
    assert probed.time_axes == {"1": 2, "2": 2}
    assert all(torch.equal(hidden[k], expected[k]) for k in expected)


class _Smear(nn.Module):
    def forward(self, x):  # every step sees the whole patch: no time axis to map back
        return x.mean(2, keepdim=True).expand_as(x).contiguous()


def test_a_layer_whose_time_axis_cannot_be_found_is_refused_until_declared():
    frontend = SpectralFrontEnd(sample_rate=SR, n_fft=256, hop_length=HOP)
    net = nn.Sequential(nn.Unflatten(1, (1, 16)), nn.Conv2d(1, 4, 3, padding=1), _Smear(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(4, 2))
    spec = frontend(torch.randn(1, 3000) * 0.1)
    adapter = PatchClassifier(net, frontend, 16, input="log1p_magnitude", layers=["2"])
    with pytest.raises(ValueError, match="cannot find the time axis of layer '2'.*time_axes"):
        adapter.forward_with_hidden(spec.magnitude)
    declared = PatchClassifier(net, frontend, 16, input="log1p_magnitude", layers=["2"], time_axes={"2": 2})
    assert declared.forward_with_hidden(spec.magnitude)[1]["2"].shape == (1, 4, 47, 129)
