"""Concepts you can listen to: each top concept's mask, sound and energy share, saved and reported."""

from __future__ import annotations

import json

import pytest
import torch

from speechbrain_interp.concept_sounds import listen_to_concepts
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.report_page import write_report
from speechbrain_interp.spectral import SpectralFrontEnd

SR = 16000


class BandPrompts:
    """A text-conditioned stand-in whose answer is known: "low ..." is below 1 kHz, "high ..." above."""

    frontend = SpectralFrontEnd(n_fft=512, hop_length=160, sample_rate=SR)

    def explain(self, wav, text):
        spec = self.frontend(wav)
        freqs = torch.linspace(0, SR / 2, spec.magnitude.shape[-1])
        band = freqs < 1000 if text.startswith("low") else freqs >= 1000
        mask = band.float().expand_as(spec.magnitude).clone()
        interpretation = self.frontend.istft(spec.magnitude * mask, spec.phase, wav.shape[-1])
        return Explanation("text", SR, wav, spec.magnitude, mask, interpretation, wav - interpretation,
                           torch.tensor([0]), torch.tensor([1.0]), torch.tensor([1.0]))


def _two_tones():
    t = torch.arange(SR) / SR
    return (0.6 * torch.sin(2 * torch.pi * 300 * t) + 0.2 * torch.sin(2 * torch.pi * 3000 * t))[None]


def test_each_concept_gets_its_own_mask_sound_and_energy_share(tmp_path):
    wav = _two_tones()
    e = Explanation("concept bottleneck", SR, wav, torch.ones(1, 101, 257), torch.ones(1, 101, 257), wav, wav,
                    torch.tensor([0]), torch.tensor([0.9]), torch.tensor([0.9]), labels=["tones"],
                    concepts=[[("low hum", 0.5), ("high whistle", 0.2), ("speech", 0.01)]])
    sounds = listen_to_concepts(e, BandPrompts(), top_k=2).concept_sounds[0]
    assert [s.concept for s in sounds] == ["low hum", "high whistle"]
    # the 300 Hz tone holds 0.6^2 / (0.6^2 + 0.2^2) = 90 % of the energy
    assert abs(sounds[0].energy_share - 0.9) < 0.02 and abs(sounds[1].energy_share - 0.1) < 0.02
    low = torch.fft.rfft(sounds[0].interpretation).abs()
    assert low[300] > 50 * low[3000]  # the low concept's sound is the low tone

    entries = e.save(tmp_path, names=["tones"], figure="detailed")
    files = entries[0]["files"]
    assert {"concept0", "concept0_mask", "concept1", "concept1_mask", "figure"} <= set(files)
    assert all((tmp_path / f).is_file() for f in files.values())
    listed = json.loads(json.dumps(entries))[0]["concept_sounds"]
    assert [c["concept"] for c in listed] == ["low hum", "high whistle"]
    page = write_report(tmp_path, entries).read_text()
    assert page.count('class="concept-mask"') == 2 and 'data-kind="concept1"' in page
    assert "keeps 90% of the energy" in page and page.count('class="bar"') == 3  # speech: a bar only


def test_one_clip_of_a_batch_keeps_its_concept_sounds():
    wav = torch.cat([_two_tones(), _two_tones()])
    e = Explanation("c", SR, wav, torch.ones(2, 101, 257), torch.ones(2, 101, 257), wav, wav,
                    torch.tensor([0, 0]), torch.tensor([0.9, 0.9]), torch.tensor([0.9, 0.9]),
                    concepts=[[("low hum", 0.5)], [("high whistle", 0.4)]])
    listen_to_concepts(e, BandPrompts())
    assert e[1].concept_sounds[0][0].concept == "high whistle"


def test_the_report_lets_each_concept_of_the_bundled_concept_interpreter_play_its_sound(tmp_path):
    from speechbrain_interp.audio import save_audio
    from speechbrain_interp.interfaces import load
    from speechbrain_interp.report import explain_to_report
    from speechbrain_interp.sources import bundled_interpreter

    explainer = load(bundled_interpreter("concepts-esc50-compact"))
    save_audio(tmp_path / "tones.wav", _two_tones()[0], SR)
    result = explain_to_report(explainer, [tmp_path / "tones.wav"], tmp_path / "out", progress=False,
                               metrics=False, concept_listener=BandPrompts())
    (entry,) = result["entries"]
    sounds = entry["concept_sounds"]
    assert 1 <= len(sounds) <= 3
    assert [s["concept"] for s in sounds] == [c for c, _ in entry["concepts"][: len(sounds)]]
    assert all((tmp_path / "out" / entry["files"][f"concept{r}"]).is_file() for r in range(len(sounds)))
    page = result["report"].read_text()
    assert page.count('class="concept-mask"') == len(sounds)


@pytest.mark.slow
def test_a_trained_text_conditioned_lmac_puts_each_concept_where_its_sound_is():
    """Known answer: a "low hum" and a "high whistle" tone at separate times; each concept's mask
    (from a text-conditioned L-MAC trained on the two-band embedder) lies on its own tone."""
    from test_lmac_text import own_span_scores, two_event_scenes

    from speechbrain_interp.testing_text import two_tone_text_lmac

    brick = two_tone_text_lmac(steps=150, seed=2)
    wavs, spans = two_event_scenes(6, seed=7)
    rate = brick.frontend.sample_rate
    e = Explanation("concept bottleneck", rate, wavs, torch.ones(6, 1, 1), torch.ones(6, 1, 1), wavs, wavs,
                    torch.zeros(6, dtype=torch.long), torch.ones(6), torch.ones(6),
                    concepts=[[("high whistle", 0.4), ("low hum", 0.3)]] * 6)
    listen_to_concepts(e, brick, top_k=2)
    for k, (concept, label) in enumerate((("high whistle", 1), ("low hum", 0))):
        masks = torch.stack([clip[k].mask for clip in e.concept_sounds])
        assert all(clip[k].concept == concept for clip in e.concept_sounds)
        own, _ = own_span_scores(brick.classifier, masks, spans[:, label])
        other, _ = own_span_scores(brick.classifier, masks, spans[:, 1 - label])
        assert own >= 0.3 and own >= 4 * other, (concept, own, other)


def test_the_cli_gives_the_bundled_concepts_their_sounds_from_a_text_lmac_folder(tmp_path, capsys):
    from speechbrain_interp.audio import save_audio
    from speechbrain_interp.cli import main
    from speechbrain_interp.embedders.aligned import TextAlignedEncoder
    from speechbrain_interp.embedders.text import text_encoder
    from speechbrain_interp.embedders.zero_shot import ZeroShotAdapter
    from speechbrain_interp.interpreters.lmac_text import TextLMAC
    from speechbrain_interp.lmac_text_export import export_text_lmac
    from speechbrain_interp.sources import bundled_interpreter
    from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

    src = make_speechbrain_classifier(tmp_path / "clf", "compact", n_mels=32, labels=["dog", "rain"])
    adapter = load_speechbrain_classifier(src, "compact",
                                          layers=["embedding_model", "embedding_model.conv_block3"])
    encoder = TextAlignedEncoder(adapter, text_encoder("hashing", dim=16), layer="embedding_model")
    brick = TextLMAC(ZeroShotAdapter(encoder, ["dog", "rain"]), channels=8,
                     layers=["classifier.model.embedding_model.conv_block3"])
    folder = export_text_lmac(brick, tmp_path / "text_lmac", src, text_tower="hashing")
    save_audio(tmp_path / "tones.wav", _two_tones()[0], SR)
    out = tmp_path / "out"
    concepts = bundled_interpreter("concepts-esc50-compact")
    code = main(["explain", str(tmp_path / "tones.wav"), "--interpreter", str(concepts),
                 "--concept-sounds", str(folder), "--out", str(out), "--no-metrics", "-q"])
    assert code == 0, capsys.readouterr().err
    (entry,) = json.loads((out / "summary.json").read_text())
    assert entry["concept_sounds"] and all((out / entry["files"][f"concept{r}"]).is_file()
                                           for r in range(len(entry["concept_sounds"])))
