"""Class evidence and the L-MAC decoder that reads it, against classifiers of known evidence."""

from __future__ import annotations

import pytest
import torch

from speechbrain_interp.class_evidence import EVIDENCE_KEY, class_evidence
from speechbrain_interp.interpreters import LMAC
from speechbrain_interp.lobes.mask_decoder import MaskDecoder
from speechbrain_interp.mixtures import two_event_scenes
from speechbrain_interp.testing import band_class_classifier
from speechbrain_interp.testing_text import two_tone_scenes

SR = 8000


def smooth_classifier():
    """Band classes pooled over time with a smooth maximum: the gradient reaches the whole tone."""
    return band_class_classifier(pool_temperature=1.0, threshold=0.0)


def time_shares(masks, spans, hop):
    """``(n,)`` share of each ``(n, frames, freq)`` mask's mass inside its ``(n, 2)`` sample span."""
    profile = masks.sum(-1)
    frames = torch.arange(profile.shape[1])[None]
    inside = (frames >= spans[:, :1] // hop) & (frames < spans[:, 1:] // hop)
    return (profile * inside).sum(1) / profile.sum(1).clamp_min(1e-12)


@pytest.mark.parametrize("weighting", ["element", "mean"])
def test_the_evidence_of_a_class_lies_on_its_tone(weighting):
    adapter = smooth_classifier()
    wavs, spans = two_tone_scenes(6, 7, SR)
    mag = adapter.frontend(wavs).magnitude
    for label in (0, 1):
        ev = class_evidence(adapter, "features", "BCTF", mag, torch.full((6,), label), weighting=weighting)
        assert ev.shape == (6, 1, mag.shape[1], mag.shape[2])
        assert torch.allclose(ev.flatten(1).amax(1), torch.ones(6))
        share = time_shares(ev[:, 0], spans[:, label], adapter.frontend.hop_length)
        if weighting == "element":  # each class's evidence is mostly its own tone
            assert bool((share > 0.65).all()), (label, share)
    # Grad-CAM's channel means are shared by both classes on this early layer: no place to tell them apart
    mean = [class_evidence(adapter, "features", "BCTF", mag, torch.full((6,), c), weighting="mean")
            for c in (0, 1)]
    assert torch.allclose(mean[0], mean[1], atol=1e-5)


class SharedEvidence(torch.nn.Module):
    """Band classes whose logits each also count the other band (``share``): the logit of a class
    has evidence on both tones, its log-probability on its own tone only."""

    def __init__(self, detector, share: float = 0.6):
        super().__init__()
        self.det = detector
        self.register_buffer("mix", torch.tensor([[1.0, share], [share, 1.0]]))

    def forward(self, x):
        return self.det(x) @ self.mix.T


def test_the_log_probability_discounts_a_competing_class():
    from speechbrain_interp.adapters import TorchClassifier

    base = smooth_classifier()
    adapter = TorchClassifier(SharedEvidence(base.model), base.frontend, input="log1p_magnitude",
                              layers=["det.features"], labels=["low", "high"])
    wavs, spans = two_tone_scenes(6, 7, SR)
    mag = adapter.frontend(wavs).magnitude
    hop = adapter.frontend.hop_length
    for label in (0, 1):
        target = torch.full((6,), label)
        shares = {}
        for score in ("logit", "log_probability"):
            ev = class_evidence(adapter, "det.features", "BCTF", mag, target, weighting="element",
                                score=score)
            shares[score] = (time_shares(ev[:, 0], spans[:, label], hop),
                             time_shares(ev[:, 0], spans[:, 1 - label], hop))
        own_logit, other_logit = shares["logit"]
        own, other = shares["log_probability"]
        assert bool((other_logit > 0.2).all()), other_logit  # the logit also points at the other tone
        assert bool((other < 0.05).all()) and bool((own > own_logit + 0.15).all()), (own, other)
    # a score of one's own: here the logit's, the same map
    by_hand = class_evidence(adapter, "det.features", "BCTF", mag, torch.zeros(6).long(), weighting="element",
                             score=lambda logits, target: logits[:, 0].sum())
    assert torch.allclose(by_hand, class_evidence(adapter, "det.features", "BCTF", mag, torch.zeros(6).long(),
                                                  weighting="element"))
    with pytest.raises(ValueError, match="score"):
        class_evidence(adapter, "det.features", "BCTF", mag, torch.zeros(6).long(), score="probability")
    # sigmoid outputs: a class's log-probability rescales its logit's gradient only
    multi = band_class_classifier(pool_temperature=1.0, threshold=0.0, multilabel=True)
    maps = [class_evidence(multi, "features", "BCTF", mag, torch.zeros(6).long(), weighting="element",
                           score=s) for s in ("logit", "log_probability")]
    assert torch.allclose(*maps)


def test_a_multi_label_set_and_bad_requests():
    adapter = smooth_classifier()
    wavs, spans = two_tone_scenes(2, 3, SR)
    mag = adapter.frontend(wavs).magnitude
    both = class_evidence(adapter, "features", "BCTF", mag, torch.ones(2, 2))
    for label in (0, 1):  # a set's evidence holds both tones
        assert bool((time_shares(both[:, 0], spans[:, label], adapter.frontend.hop_length) > 0.2).all())
    with pytest.raises(ValueError, match="no time axis"):
        class_evidence(adapter, "features", "BC", mag, torch.zeros(2).long())
    with pytest.raises(ValueError, match="weighting"):
        class_evidence(adapter, "features", "BCTF", mag, torch.zeros(2).long(), weighting="max")


def test_a_decoder_of_evidence_needs_it_and_starts_from_its_twin(tmp_path):
    dec = MaskDecoder({"deep": ("BCTF", 8, 4)}, n_freq=65, evidence=True)
    hidden, spec = {"deep": torch.randn(2, 8, 13, 4)}, torch.rand(2, 50, 65)
    with pytest.raises(KeyError, match=EVIDENCE_KEY):
        dec(hidden, spec)
    with pytest.raises(ValueError, match="batch, 1, time, freq"):
        dec({**hidden, EVIDENCE_KEY: torch.rand(2, 3, 13, 4)}, spec)
    # evidence in a few frames only: the gate lowers the logits by log(floor) away from them
    evidence = torch.zeros(2, 1, 13, 4)
    evidence[:, :, 4:9] = 1.0
    twin = MaskDecoder({"deep": ("BCTF", 8, 4)}, n_freq=65)
    twin.load_state_dict({k: v for k, v in dec.state_dict().items() if not k.startswith("evidence")})
    with torch.no_grad():
        gap = dec({**hidden, EVIDENCE_KEY: evidence}, spec) - twin(hidden, spec)
    floor = dec.evidence_floor
    assert gap.amax() == pytest.approx(float(torch.log(torch.tensor(1 + floor))), abs=1e-5)
    assert gap.amin() == pytest.approx(float(torch.log(torch.tensor(floor))), abs=1e-4)


def test_lmac_on_evidence_loads_warm_starts_and_refuses_what_it_cannot_read(tmp_path):
    adapter = smooth_classifier()
    plain = LMAC(adapter, channels=8, head_channels=4)
    path = plain.save_weights(tmp_path / "plain.ckpt")
    lmac = LMAC(adapter, channels=8, head_channels=4, evidence_layer="features").load_weights(path)
    assert lmac.class_conditional and lmac.options["class_conditional"]
    assert float(lmac.decoder.evidence_gain.detach()) == 1.0
    wavs, _ = two_tone_scenes(2, 0, SR)
    low, high = lmac.explain(wavs, target=0), lmac.explain(wavs, target=1)
    assert not torch.allclose(low.mask, high.mask)  # the question changes the answer from the start
    assert low.target.tolist() == [0, 0]
    trained = lmac.save_weights(tmp_path / "evidence.ckpt")
    with pytest.raises(ValueError, match="evidence_layer"):
        LMAC(adapter, channels=8, head_channels=4).load_weights(trained)
    again = LMAC(adapter, channels=8, head_channels=4, evidence_layer="features").load_weights(trained)
    assert torch.equal(again.explain(wavs, target=1).mask, high.mask)
    with pytest.raises(ValueError, match="class-conditional"):
        spec = adapter.frontend(wavs)
        _, hidden = adapter.forward_with_hidden(spec.magnitude)
        lmac.decode(spec.magnitude, hidden, None)


def test_two_event_scenes_ask_about_one_of_their_events():
    wav = torch.zeros(4, 4000)
    for i in range(4):  # clip i: a burst whose level names it
        wav[i, 1000:1400] = (i + 1) * torch.randn(400, generator=torch.Generator().manual_seed(i))
    target = torch.tensor([10, 11, 12, 13])
    scenes, asked, chosen = two_event_scenes(wav, target, 1.0, seconds=(0.05, 0.05), sample_rate=4000,
                                             generator=torch.Generator().manual_seed(0))
    assert bool(chosen.all()) and scenes.shape == wav.shape
    assert all(int(a) in (int(t), int(target.roll(1, 0)[i])) for i, (a, t) in enumerate(zip(asked, target)))
    assert bool((scenes.abs().amax(-1) - 0.9).abs().lt(1e-4).all())  # peak-normalised scenes
    same, kept, none = two_event_scenes(wav, target, 0.0)
    assert torch.equal(same, wav) and torch.equal(kept, target) and not bool(none.any())


@pytest.mark.slow
def test_evidence_conditioned_masks_answer_two_questions_with_a_known_answer():
    """Two tones apart in time, one per class: asked about a class, the mask goes to its tone.

    100 steps from seeds 0, 1 and 2 all give own shares of 0.82-0.84 against 0.01-0.02 on the
    other tone (with a gate floor of 0.05 instead of 0.001, seed 1 collapsed one class's mask).
    """
    torch.manual_seed(0)
    adapter = smooth_classifier()
    lmac = LMAC(adapter, profile_bias=False, freq_cells=32, channels=8, head_channels=4, lambda_l1=1.5,
                evidence_layer="features")
    opt = torch.optim.Adam(lmac.trainable_parameters(), lr=1e-2)
    for step in range(100):
        wavs, _ = two_tone_scenes(8, 1000 + step, SR)
        target = torch.randint(0, 2, (8,), generator=torch.Generator().manual_seed(step))
        loss, _ = lmac.loss(wavs, target=target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    lmac.eval()
    wavs, spans = two_tone_scenes(24, 7, SR)
    hop = adapter.frontend.hop_length
    for label in (0, 1):
        masks = lmac.explain(wavs, target=label).mask
        own = float(time_shares(masks, spans[:, label], hop).mean())
        other = float(time_shares(masks, spans[:, 1 - label], hop).mean())
        assert own >= 0.7 and own >= 10 * other, (label, own, other)


def test_the_conditional_export_script_writes_a_folder_that_answers_each_class(tmp_path):
    """recipes/ESC50/interpret/export_conditional.py on the bundled decoder and classifier."""
    import importlib
    import sys
    from pathlib import Path

    from speechbrain_interp.interfaces import load
    from speechbrain_interp.synth import demo_clip

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "ESC50" / "interpret"))
    export = importlib.import_module("export_conditional")
    out = export.main(["--out", str(tmp_path / "conditional"), "--evidence_gain", "4"])
    card = (out / "README.md").read_text()
    assert "Class-conditional" in card and "evidence" in card
    with pytest.raises(SystemExit):  # an existing folder is not replaced without --overwrite
        export.main(["--out", str(out)])
    interface = load(out, savedir=tmp_path / "savedir")
    brick = interface.interpreter
    assert brick.evidence_layer == "embedding_model.conv_block5" and float(brick.decoder.evidence_gain) == 4.0
    assert brick.evidence_score == "log_probability"
    bundled = load("lmac-esc50-compact-conditional", savedir=tmp_path / "bundled").interpreter
    assert bundled.evidence_score == "log_probability"
    wav = demo_clip(5.0, seed=0)[None]
    dog, rain = (interface.interpret_batch(wav, target=c).mask for c in ("dog", "rain"))
    assert not torch.allclose(dog, rain)


@pytest.mark.parametrize("flags", [["--interpreter", "lmac-esc50-compact-conditional", "--target", "dog"],
                                   ["--interpreter", "lmac-zs-esc50-compact", "--text", "a siren wailing"]],
                         ids=["class", "text"])
def test_the_bundled_conditional_interpreters_answer_from_the_command_line(flags, tmp_path):
    """Both bundled conditional interpreters, named by their bundled names (offline)."""
    import json

    from speechbrain_interp.cli import main
    from speechbrain_interp.sources import bundled_interpreter

    clip = bundled_interpreter() / "examples" / "siren_and_barks.wav"
    out = tmp_path / "out"
    assert main(["explain", str(clip), *flags, "--out", str(out), "--no-images", "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    entry = summary[0] if isinstance(summary, list) else summary
    assert "siren_and_barks" in json.dumps(entry)
    assert any(p.name.endswith("_interpretation.wav") for p in out.rglob("*.wav"))
