"""Sanity checks (Adebayo et al. 2018): model randomization and input specificity."""

import pytest
import torch

from speechbrain_interp import sanity
from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.interpreters.baselines import Saliency
from speechbrain_interp.testing import band_window_classifier


class EnergyOnly(Interpreter):
    """A 'brick' that ignores the model: its mask is the input's own normalised magnitude."""

    method = "energy only"

    def compute_mask(self, spectrum, target, logits, hidden):
        mag = spectrum.magnitude
        return mag / mag.flatten(1).amax(1).view(-1, 1, 1)


class FixedProfile(Interpreter):
    method = "fixed"

    def compute_mask(self, spectrum, target, logits, hidden):
        profile = torch.linspace(1.0, 0.0, spectrum.magnitude.shape[-1])
        return profile.expand_as(spectrum.magnitude).clone()


def clips(n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(8000) / 8000
    freqs = 300 + 3000 * torch.rand(n, 1, generator=gen)
    return torch.sin(2 * torch.pi * freqs * t) + 0.05 * torch.randn(n, 8000, generator=gen)


def test_randomized_layers_restores_everything():
    adapter = band_window_classifier()
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    with sanity.randomized_layers(adapter.model, ["features"], seed=1):
        assert not torch.equal(adapter.model.features.weight, before["features.weight"])
    for k, v in adapter.model.state_dict().items():
        assert torch.equal(v, before[k])


def test_top_layers_cascade_from_output():
    net = torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1), torch.nn.BatchNorm1d(2), torch.nn.Linear(2, 2))
    assert sanity.top_layers(net, 1) == ["2"]
    assert sanity.top_layers(net, 3) == ["0", "1", "2"]


def test_model_blind_brick_fails_randomization_and_gradient_passes():
    adapter = band_window_classifier()
    wavs = clips()
    blind = sanity.randomization_check(EnergyOnly(adapter), wavs, layers=["features"])
    assert torch.allclose(blind, torch.ones_like(blind))  # the mask never changed
    grad = sanity.randomization_check(Saliency(adapter), wavs, layers=["features"])
    assert float(grad.mean()) < 0.9


def test_input_specificity_separates_fixed_from_input_driven():
    adapter = band_window_classifier()
    rows = sanity.sanity_checks({"energy": EnergyOnly(adapter), "fixed": FixedProfile(adapter)},
                                clips(5), counts=(1,), batch_size=2)
    assert rows["fixed"]["cross-clip r"] == pytest.approx(1.0)
    assert rows["fixed"]["profile r"] == pytest.approx(1.0)
    assert rows["energy"]["cross-clip r"] < 0.9
    assert rows["fixed profile"]["rand r (top 1)"] == 1.0
    assert set(rows["energy"]) == {"rand r (top 1)", "cross-clip r", "profile r"}
