"""Concepts you can listen to: each top concept's mask, sound and energy share, saved and reported."""

from __future__ import annotations

import json

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
