"""Ground-truth localization benchmark: construction, metrics, reference rows, and a known answer."""

import pytest
import torch

from speechbrain_interp import localization as L
from speechbrain_interp.interpreters.baselines import GradCAM, Saliency
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.testing import band_window_classifier

SR = 8000


def tone_scenes(n, seed, p_event=1.0):
    """1 s scenes: a 0.2 s in-band tone (the evidence) at a random time, an out-of-band tone
    (a distractor as loud as the event) at another random time, and low noise."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(SR) / SR
    has = torch.rand(n, generator=gen) < p_event
    f_in = 1850 + 300 * torch.rand(n, 1, generator=gen)
    f_out = 400 + 900 * torch.rand(n, 1, generator=gen)
    start = 0.8 * torch.rand(n, 1, generator=gen)
    other = 0.7 * torch.rand(n, 1, generator=gen)
    fg = torch.sin(2 * torch.pi * f_in * t) * ((t >= start) & (t < start + 0.2)) * has[:, None]
    bg = 0.01 * torch.randn(n, SR, generator=gen)
    bg = bg + torch.sin(2 * torch.pi * f_out * t) * ((t >= other) & (t < other + 0.3))
    span = torch.cat([start * SR, (start + 0.2) * SR], 1).long()
    return L.LocalizationSet(fg + bg, fg, bg, span, torch.ones(n).long(), torch.zeros(n),
                             ["tone"] * n, [str(i) for i in range(n)])


def evidence(adapter, bench):
    """The known evidence of the band detector: the event's frames, in its band."""
    in_span, _ = L.ground_truth(adapter.frontend, bench)
    band = torch.zeros(adapter.frontend.n_freqs, dtype=torch.bool)
    band[slice(*adapter.model.band)] = True
    return in_span[:, :, None] & band[None, None, :]


def known_answer(adapter, bench, masks):
    """``(T-F AUC against the evidence, lift)``, averaged over clips."""
    in_span, _ = L.ground_truth(adapter.frontend, bench)
    auc = L.tf_auc(masks, evidence(adapter, bench)).mean()
    lift = L.localization_scores(masks, in_span, evidence(adapter, bench))["lift"].mean()
    return float(auc), float(lift)


def test_make_localization_set_span_snr_and_sum():
    fg = torch.randn(3, 16000)
    bg = torch.randn(3, 24000)
    bench = L.make_localization_set(fg, bg, 8000, snr_db=(10.0, 0.0), seconds=(0.5, 1.0), seed=3)
    assert len(bench) == 6 and bench.mixture.shape == (6, 24000)
    assert torch.allclose(bench.foreground + bench.background, bench.mixture, atol=1e-6)
    assert bench.snr_db.tolist() == [10.0] * 3 + [0.0] * 3
    for i in range(6):
        a, b = bench.span[i].tolist()
        assert 4000 <= b - a <= 8000 and 0 <= a < b <= 24000
        outside = torch.cat([bench.foreground[i, :a], bench.foreground[i, b:]])
        assert outside.abs().max() == 0  # the foreground lives in its span only
        ratio = bench.foreground[i, a:b].pow(2).sum() / bench.background[i, a:b].pow(2).sum()
        assert abs(10 * float(ratio.log10()) - float(bench.snr_db[i])) < 1e-3
    # the same offset at every SNR of one foreground
    assert torch.equal(bench.span[:3], bench.span[3:])


def test_metrics_known_values():
    in_span = torch.tensor([[False, True, True, False]])
    ideal = torch.zeros(1, 4, 2, dtype=torch.bool)
    ideal[0, 1:3, 0] = True
    perfect = localization_scores = L.localization_scores(ideal.float(), in_span, ideal)
    assert float(perfect["lift"][0]) == pytest.approx(2.0)
    assert float(perfect["T-F AUC"][0]) == pytest.approx(1.0)
    flat = L.localization_scores(torch.full((1, 4, 2), 0.3), in_span, ideal)
    assert float(flat["lift"][0]) == pytest.approx(1.0)
    assert float(flat["T-F AUC"][0]) == pytest.approx(0.5)
    assert float(flat["time std"][0]) == pytest.approx(0.0)
    inverted = L.localization_scores(1.0 - ideal.float(), in_span, ideal)
    assert float(inverted["T-F AUC"][0]) == pytest.approx(0.0)
    assert localization_scores["mask mean"].item() == pytest.approx(0.25)


def test_tf_auc_matches_sklearn():
    sklearn = pytest.importorskip("sklearn.metrics")
    gen = torch.Generator().manual_seed(0)
    mask = torch.rand(3, 20, 7, generator=gen).round(decimals=1)  # ties included
    ideal = torch.rand(3, 20, 7, generator=gen) > 0.6
    ours = L.tf_auc(mask, ideal)
    for i in range(3):
        ref = sklearn.roc_auc_score(ideal[i].flatten().numpy(), mask[i].flatten().numpy())
        assert float(ours[i]) == pytest.approx(ref, abs=1e-12)


def test_reference_rows_and_keep_correct():
    adapter = band_window_classifier()
    bench = tone_scenes(6, seed=1)
    bench.target[0] = 0  # a mixture the classifier does not label as the foreground's class
    table = L.evaluate_localization({"Saliency": Saliency(adapter)}, bench, batch_size=4)
    assert (table["kept"], table["total"]) == (5, 6)
    rows = table["rows"]
    assert set(rows) == {"Saliency", "fixed profile", "energy mask", "all-ones"}
    assert rows["all-ones"]["lift"] == pytest.approx(1.0)
    assert rows["all-ones"]["T-F AUC"] == pytest.approx(0.5)
    assert rows["fixed profile"]["time std"] < rows["Saliency"]["time std"] + 1e-9
    for row in rows.values():
        assert set(row) == set(L.LOCALIZATION_METRICS)


@pytest.mark.slow
def test_lmac_finds_known_evidence_and_constant_masks_do_not():
    """A briefly trained L-MAC must put its mask on the band detector's evidence; a
    near-constant mask (the fixed profile) and the energy mask must fail the same check."""
    torch.manual_seed(0)
    adapter = band_window_classifier()
    lmac = LMAC(adapter, out_loss="not_target", lambda_out=2.0, lambda_l1=1.5, area_loss="softplus",
                profile_bias=False, freq_cells=32, channels=8, head_channels=4)
    opt = torch.optim.Adam(lmac.decoder.parameters(), lr=3e-3)
    for step in range(150):
        scenes = tone_scenes(8, seed=100 + step, p_event=0.7)
        loss, _ = lmac.loss(scenes.mixture)
        opt.zero_grad()
        loss.backward()
        opt.step()
    lmac.eval()
    test = tone_scenes(24, seed=7)
    assert bool((adapter.classify_wav(test.mixture).argmax(-1) == 1).all())
    masks = lmac.explain(test.mixture).mask
    auc, lift = known_answer(adapter, test, masks)
    assert auc >= 0.85 and lift >= 2.0, (auc, lift)
    refs = L.reference_masks(adapter.frontend, adapter.frontend(test.mixture).magnitude, masks)
    for name in ("fixed profile", "energy mask"):
        ref_auc, ref_lift = known_answer(adapter, test, refs[name])
        assert not (ref_auc >= 0.85 and ref_lift >= 2.0), (name, ref_auc, ref_lift)
    # Grad-CAM reads a layer that keeps full resolution here, so it can localize too; it is
    # a comparison, not a requirement
    gc_auc, _ = known_answer(adapter, test, GradCAM(adapter, layer="features").explain(test.mixture).mask)
    assert 0.0 <= gc_auc <= 1.0
