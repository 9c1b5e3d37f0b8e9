"""Faithfulness metrics against values computed by hand on a tiny classifier with known outputs."""

import math

import pytest
import torch
from torch import nn

from speechbrain_interp import metrics
from speechbrain_interp.adapters import TorchClassifier
from speechbrain_interp.spectral import SpectralFrontEnd


class RegionClassifier(nn.Module):
    """Two classes on a 1 x 2 x 2 magnitude: logit_k = sum of the bins in row k (known outputs)."""

    def forward(self, x):
        return x.sum(dim=1)  # (batch, frames=2, freq=2) -> (batch, 2): column sums


def softmax2(a, b):
    ea, eb = math.exp(a), math.exp(b)
    return ea / (ea + eb), eb / (ea + eb)


@pytest.fixture
def adapter():
    fe = SpectralFrontEnd(n_fft=2, win_length=2, hop_length=1, mask_domain="magnitude")
    return TorchClassifier(RegionClassifier(), fe, input="magnitude")


def test_all_mask_metrics_by_hand(adapter):
    # X: column 0 holds evidence for class 0 (3 + 1), column 1 for class 1 (1 + 0)
    X = torch.tensor([[[3.0, 1.0], [1.0, 0.0]]])
    M = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])  # keep the class-0 column
    # full input: logits (4, 1); masked-in: (4, 0); masked-out (1-M)*X: (0, 1)
    p_full = softmax2(4, 1)[0]
    p_in = softmax2(4, 0)[0]
    p_out = softmax2(0, 1)[0]
    assert p_in > p_full
    scores = metrics.evaluate_mask(adapter, X, M)
    assert scores["AI"].item() == pytest.approx(100.0 * (p_in > p_full))
    assert scores["AD"].item() == pytest.approx(100 * max(0.0, p_full - p_in) / p_full, rel=1e-5)
    assert scores["AG"].item() == pytest.approx(100 * max(0.0, p_in - p_full) / (1 - p_full), rel=1e-4)
    assert scores["FF"].item() == pytest.approx(p_full - p_out, rel=1e-5)
    assert scores["Fid-In"].item() == 1.0
    # Gini of sorted [0, 0, 1, 1] (+1e-7): ((-3)*0 + (-1)*0 + 1*1 + 3*1) / (4 * 2) = 0.5
    assert scores["SPS"].item() == pytest.approx(0.5, abs=1e-5)
    assert scores["COMP"].item() == pytest.approx(math.log(2), abs=1e-5)  # two equal bins


def test_metrics_for_an_explicit_target(adapter):
    X = torch.tensor([[[3.0, 1.0], [1.0, 0.0]]])
    M = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])  # keep only class-1 evidence
    scores = metrics.evaluate_mask(adapter, X, M, target=torch.tensor([1]))
    p_full = softmax2(4, 1)[1]
    p_in = softmax2(0, 1)[1]
    p_out = softmax2(4, 0)[1]
    assert scores["AI"].item() == 100.0  # confidence in class 1 rises from 0.047 to 0.73
    assert scores["AG"].item() == pytest.approx(100 * (p_in - p_full) / (1 - p_full), rel=1e-5)
    assert scores["AD"].item() == 0.0
    assert scores["FF"].item() == pytest.approx(p_full - p_out, rel=1e-4)
    # Fid-In compares argmax predictions: full predicts 0, masked-in predicts 1
    assert scores["Fid-In"].item() == 0.0


def test_probability_level_formulas():
    p_full = torch.tensor([0.8, 0.5, 0.2])
    p_in = torch.tensor([0.4, 0.5, 0.6])
    assert metrics.average_increase(p_full, p_in).tolist() == [0.0, 0.0, 100.0]
    assert metrics.average_drop(p_full, p_in).tolist() == pytest.approx([50.0, 0.0, 0.0])
    assert metrics.average_gain(p_full, p_in).tolist() == pytest.approx([0.0, 0.0, 50.0])
    assert metrics.faithfulness(p_full, p_in).tolist() == pytest.approx([0.4, 0.0, -0.4])


def test_softmax_twice_underestimates_the_drop():
    """The documented difference from SpeechBrain's recipe, which re-applies softmax in AD."""
    probs_full = torch.tensor([[0.9, 0.05, 0.05]])
    probs_in = torch.tensor([[0.45, 0.5, 0.05]])
    ours = metrics.average_drop(probs_full[:, 0], probs_in[:, 0]).item()
    twice_full = torch.softmax(probs_full, -1)[:, 0]
    twice_in = torch.softmax(probs_in, -1)[:, 0]
    speechbrain_style = metrics.average_drop(twice_full, twice_in).item()
    assert ours == pytest.approx(50.0)
    assert speechbrain_style < 0.7 * ours  # 31.8 instead of 50


def test_sparseness_and_complexity_by_hand():
    masks = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.0, 0.0]])
    # Gini of [0, 0, 1, 1]: ((-3)*0 + (-1)*0 + 1*1 + 3*1) / (4 * 2) = 0.5
    assert metrics.sparseness(masks).tolist() == pytest.approx([0.5, 0.0, 0.0], abs=1e-5)
    # entropies: two equal bins -> ln 2; uniform over 4 -> ln 4; all-zero counts as uniform
    assert metrics.complexity(masks).tolist() == pytest.approx([math.log(2), math.log(4), math.log(4)])
    assert torch.isfinite(metrics.complexity(torch.zeros(2, 10))).all()


def test_deletion_and_insertion_auc_by_hand(adapter):
    X = torch.tensor([[[3.0, 1.0], [1.0, 0.0]]])
    saliency = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])  # rank: (0,0), (0,1), (1,0), (1,1)
    # deletion with steps=4 removes 0..4 bins in rank order; class 0 logits/col sums:
    kept = [X.clone()]
    order = [(0, 0), (0, 1), (1, 0), (1, 1)]
    for t, f in order:
        nxt = kept[-1].clone()
        nxt[0, t, f] = 0.0
        kept.append(nxt)
    curve = [softmax2(*k[0].sum(0).tolist())[0] for k in kept]
    expected = sum((a + b) / 2 for a, b in zip(curve[:-1], curve[1:])) / 4
    got = metrics.deletion_auc(adapter, X, saliency, steps=4)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    inserted = [torch.zeros_like(X)]
    for t, f in order:
        nxt = inserted[-1].clone()
        nxt[0, t, f] = X[0, t, f]
        inserted.append(nxt)
    curve = [softmax2(*k[0].sum(0).tolist())[0] for k in inserted]
    expected = sum((a + b) / 2 for a, b in zip(curve[:-1], curve[1:])) / 4
    assert metrics.insertion_auc(adapter, X, saliency, steps=4).item() == pytest.approx(expected, rel=1e-5)


def test_batched_metrics_match_one_by_one(adapter):
    torch.manual_seed(0)
    X = torch.rand(5, 2, 2) * 3
    M = torch.rand(5, 2, 2)
    batched = metrics.evaluate_mask(adapter, X, M)
    for i in range(5):
        single = metrics.evaluate_mask(adapter, X[i : i + 1], M[i : i + 1])
        for name in metrics.METRIC_NAMES:
            assert batched[name][i].item() == pytest.approx(single[name].item(), rel=1e-5, abs=1e-6)
    summary = metrics.summarize(batched)
    assert set(summary) == set(metrics.METRIC_NAMES)
    assert all(isinstance(v, float) for v in summary.values())


def test_log1p_domain_metrics_use_the_front_end(adapter):
    fe = SpectralFrontEnd(n_fft=2, win_length=2, hop_length=1, mask_domain="log1p_magnitude")
    log_adapter = TorchClassifier(RegionClassifier(), fe, input="magnitude")
    X = torch.tensor([[[3.0, 1.0], [1.0, 0.0]]])
    M = torch.full_like(X, 0.5)
    masked = torch.expm1(0.5 * torch.log1p(X))  # sqrt(1 + x) - 1
    p_in = softmax2(*masked[0].sum(0).tolist())[0]
    p_full = softmax2(4, 1)[0]
    scores = metrics.evaluate_mask(log_adapter, X, M)
    assert scores["AD"].item() == pytest.approx(100 * max(0.0, p_full - p_in) / p_full, rel=1e-5)
