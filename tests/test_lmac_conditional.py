"""Class-conditional L-MAC: the mask answers the class asked for, against a known answer."""

from __future__ import annotations

import pytest
import torch

from speechbrain_interp import localization as L
from speechbrain_interp.interpreters import LMAC
from speechbrain_interp.testing import band_class_classifier
from speechbrain_interp.testing_text import two_tone_scenes

SR = 8000


def two_event_scenes(n, seed):
    """1 s scenes with a 0.2 s "low" tone and a 0.2 s "high" tone at two separate random
    times, and low noise. Returns ``(wavs, spans)``, spans ``(n, 2 classes, 2)`` in samples."""
    return two_tone_scenes(n, seed, SR)


def own_span_scores(adapter, masks, spans):
    """``(share of the masks' mass in their ``(n, 2)`` sample spans, lift)``, averaged over clips."""
    scores = [L.event_scores(mask, adapter.frontend.hop_length, SR, [tuple((span / SR).tolist())])
              for mask, span in zip(masks, spans)]
    return (sum(s["time share"] for s in scores) / len(scores), sum(s["lift"] for s in scores) / len(scores))


def train(lmac, steps, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(lmac.trainable_parameters(), lr=1e-2)
    for step in range(steps):
        wavs, _ = two_event_scenes(8, seed=1000 + step)
        # ask each scene about one of its two sounds, at random
        target = torch.randint(0, 2, (8,), generator=torch.Generator().manual_seed(step))
        loss, _ = lmac.loss(wavs, target=target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return lmac.eval()


def small_lmac(adapter, **kwargs):
    return LMAC(adapter, profile_bias=False, freq_cells=32, channels=8, head_channels=4, **kwargs)


def test_a_conditional_decoder_starts_as_its_unconditional_twin(tmp_path):
    adapter = band_class_classifier()
    plain = small_lmac(adapter)
    path = plain.save_weights(tmp_path / "decoder.ckpt")
    conditional = small_lmac(adapter, class_conditional=True).load_weights(path)
    assert conditional.class_conditional and not plain.class_conditional
    wavs, _ = two_event_scenes(3, seed=0)
    expected = plain.explain(wavs).mask
    for target in (0, 1):
        assert torch.allclose(conditional.explain(wavs, target=target).mask, expected, atol=1e-6)
    # the conditional weights bring their conditioning into an unconditional brick
    conditional.decoder.film.weight.data.normal_()
    path = conditional.save_weights(tmp_path / "conditional.ckpt")
    again = small_lmac(adapter).load_weights(path)
    assert again.class_conditional and again.options["class_conditional"]
    assert torch.equal(again.explain(wavs, target=1).mask, conditional.explain(wavs, target=1).mask)


def test_an_unconditional_decoder_ignores_the_target():
    adapter = band_class_classifier()
    lmac = small_lmac(adapter)
    wavs, _ = two_event_scenes(2, seed=0)
    a, b = lmac.explain(wavs, target=0), lmac.explain(wavs, target=1)
    assert torch.equal(a.mask, b.mask)
    assert a.target.tolist() == [0, 0] and b.target.tolist() == [1, 1]


def test_a_conditional_decoder_needs_the_class():
    adapter = band_class_classifier()
    lmac = small_lmac(adapter, class_conditional=True)
    wavs, _ = two_event_scenes(2, seed=0)
    spec = adapter.frontend(wavs)
    _, hidden = adapter.forward_with_hidden(spec.magnitude, phase=spec.phase)
    with pytest.raises(ValueError, match="class-conditional"):
        lmac.decoder({n: hidden[n] for n in lmac.layers}, spec.magnitude)
    # a multi-label set is explained by its classes together
    both = lmac.decode(spec.magnitude, hidden, torch.ones(2, 2))
    assert both.shape == spec.magnitude.shape


@pytest.fixture(scope="module")
def conditional():
    """A class-conditional L-MAC briefly trained on two-tone scenes, asked about either tone.

    Seeded before the decoder is built: how far 150 steps get depends on the initialisation
    (over seeds 0-2 the weaker class's lift was 1.7, 2.6 and 3.3).
    """
    torch.manual_seed(1)
    lmac = small_lmac(band_class_classifier(), class_conditional=True, lambda_l1=5.0)
    return train(lmac, steps=150, seed=1)


@pytest.mark.slow
def test_the_two_event_benchmark_with_a_known_answer(conditional):
    from speechbrain_interp.two_events import TWO_EVENT_METRICS, evaluate_two_events, make_two_event_set

    gen = torch.Generator().manual_seed(3)
    t = torch.arange(SR) / SR
    low = torch.sin(2 * torch.pi * (600 + 200 * torch.rand(12, 1, generator=gen)) * t)
    high = torch.sin(2 * torch.pi * (2100 + 200 * torch.rand(12, 1, generator=gen)) * t)
    bench = make_two_event_set(low, high, 0.01 * torch.randn(12, SR, generator=gen), SR,
                               targets=[[0, 1]] * 12, seconds=0.2, gap=0.2, snr_db=30.0, seed=1)
    bricks = {"conditional": conditional, "unconditional": small_lmac(conditional.classifier)}
    table = evaluate_two_events(bricks, bench, batch_size=6, top_k=2)
    assert (table["kept"], table["total"]) == (12, 12)
    rows = table["rows"]
    assert set(rows) == {"conditional", "unconditional", "energy mask"}
    assert all(set(r) == set(TWO_EVENT_METRICS) for r in rows.values())
    cond = rows["conditional"]
    assert cond["own lift"] >= 2.0 and cond["own share"] >= 4 * cond["other share"], cond
    for name in ("unconditional", "energy mask"):  # the same mask for both questions
        assert rows[name]["own share"] == pytest.approx(rows[name]["other share"]), name
    # the conditional brick's mean mask, the same for every question, answers neither
    with_profile = evaluate_two_events(bricks, bench, batch_size=6, top_k=2, profile_of="conditional")
    fixed = with_profile["rows"]["fixed profile"]
    assert with_profile["profile"].shape == (1, *conditional.explain(bench.mixture[:1]).mask.shape[1:])
    assert fixed["own share"] == pytest.approx(fixed["other share"])
    assert cond["own share"] > 2 * fixed["own share"]
    assert {k: v for k, v in with_profile["rows"].items() if k != "fixed profile"} == rows


@pytest.mark.slow
def test_two_events_two_questions_two_answers(conditional):
    """Asked about one of two sounds, the mask goes where that sound is.

    Each class's mask has a lift of at least 2 on its own event's span and puts at least
    four times as much of its mass there as on the other event's span. No mask that ignores
    the question can pass for both classes (the two spans are disjoint), and an untrained
    conditional decoder does not.
    """
    adapter = band_class_classifier()
    wavs, spans = two_event_scenes(24, seed=7)
    assert bool((adapter.classify_wav(wavs) > 0).all())  # both sounds are heard in every scene
    untrained = small_lmac(adapter, class_conditional=True, lambda_l1=5.0).eval()
    for lmac, should_pass in ((conditional, True), (untrained, False)):
        passed = []
        for label in (0, 1):
            masks = lmac.explain(wavs, target=label).mask
            share, lift = own_span_scores(adapter, masks, spans[:, label])
            other, _ = own_span_scores(adapter, masks, spans[:, 1 - label])
            passed.append(lift >= 2.0 and share >= 4 * other)
            if should_pass:
                assert passed[-1], (label, share, lift, other)
        assert all(passed) == should_pass


def test_a_conditional_interpreter_exports_loads_and_honours_the_target(tmp_path):
    from speechbrain_interp.export import export_interpreter
    from speechbrain_interp.interfaces import LMACInterface
    from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

    folder = make_speechbrain_classifier(tmp_path / "classifier", "compact", n_mels=32,
                                         labels=["dog", "siren", "rain"])
    lmac = LMAC(load_speechbrain_classifier(folder, "compact"), channels=8, class_conditional=True)
    torch.nn.init.normal_(lmac.decoder.film.weight)  # as if trained: each class its own modulation
    repo = export_interpreter(lmac, tmp_path / "repo", classifier_source=folder)
    loaded = LMACInterface.from_hparams(repo, savedir=tmp_path / "savedir")
    assert loaded.interpreter.class_conditional
    wav = torch.randn(1, 16000) * 0.1
    for target in ("dog", "rain"):
        expected = lmac.explain(wav, target=target)
        got = loaded.interpret_batch(wav, target=target)
        assert torch.allclose(got.mask, expected.mask, atol=1e-5)
    masks = [loaded.interpret_batch(wav, target=t).mask for t in ("dog", "rain")]
    assert not torch.allclose(masks[0], masks[1])


def test_clean_targets_of_a_multilabel_classifier_are_the_heard_labels_only():
    """What train_lmac asks a conditional decoder about: the predicted set from the logits (a set
    made from probabilities read as logits would hold every class)."""
    adapter = band_class_classifier(multilabel=True)
    wavs, _ = two_event_scenes(2, seed=0)
    t = torch.arange(SR) / SR
    low_only = torch.sin(2 * torch.pi * 700 * t)[None]
    lmac = small_lmac(adapter, class_conditional=True)
    assert lmac.clean_target(low_only).tolist() == [[1.0, 0.0]]
    assert lmac.clean_target(wavs).tolist() == [[1.0, 1.0], [1.0, 1.0]]
