"""Long recordings: windows, cross-faded stitching with exact length, a timeline, bounded memory."""

from __future__ import annotations

import json

import soundfile as sf
import torch

from speechbrain_interp.audio import save_audio
from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.long_audio import explain_long
from speechbrain_interp.testing import band_window_classifier

SR = 8000


class KeepAll(Interpreter):
    """A brick whose mask keeps everything: its stitched interpretation must be the input."""

    method = "keep-all"

    def compute_mask(self, spectrum, target, logits, hidden):
        return torch.ones_like(spectrum.magnitude)


def test_stitching_reproduces_the_input_with_its_exact_length(tmp_path):
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(SR * 11 + 321) / SR
    wav = 0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.05 * torch.randn(t.shape, generator=gen)
    save_audio(tmp_path / "long.wav", wav, SR)
    result = explain_long(KeepAll(band_window_classifier()), tmp_path / "long.wav", tmp_path / "out",
                          window_s=2.0, overlap=0.5, batch_size=3)
    rebuilt, rate = sf.read(tmp_path / "out" / result["files"]["interpretation"], dtype="float32")
    residual, _ = sf.read(tmp_path / "out" / result["files"]["residual"], dtype="float32")
    assert rate == SR and rebuilt.shape == (wav.shape[0],) == residual.shape
    original, _ = sf.read(tmp_path / "long.wav", dtype="float32")  # the input as stored (16-bit)
    assert abs(rebuilt - original).max() < 2e-3  # 16-bit output; no seam at the window joins
    assert abs(residual).max() < 2e-3
    windows = result["windows"]
    assert [w["start_s"] for w in windows] == [float(k) for k in range(len(windows))]
    assert windows[-1]["end_s"] == round(wav.shape[0] / SR, 3)
    assert json.loads((tmp_path / "out" / result["files"]["timeline"]).read_text())["samples"] == wav.shape[0]


def test_the_timeline_says_where_each_class_was_heard(tmp_path):
    """The band detector hears its 2 kHz tone: only the windows around it say "event"."""
    t = torch.arange(SR * 12) / SR
    tone = torch.sin(2 * torch.pi * 2000 * t) * ((t >= 6.2) & (t < 6.8))
    save_audio(tmp_path / "tone.wav", tone + 0.01 * torch.randn(t.shape), SR)
    from speechbrain_interp.interpreters.baselines import Saliency

    result = explain_long(Saliency(band_window_classifier()), tmp_path / "tone.wav", tmp_path / "out",
                          window_s=2.0)
    spans = result["classes"]["event"]
    assert len(spans) == 1 and spans[0][0] <= 6.2 and spans[0][1] >= 6.8 and spans[0][1] - spans[0][0] <= 4.0
    assert all(w["top"][0][0] == "background" for w in result["windows"] if w["end_s"] <= 6.2)


def test_the_command_line_explains_a_long_recording(tmp_path, capsys):
    from speechbrain_interp.cli import main
    from speechbrain_interp.synth import demo_scene

    scene, _ = demo_scene(seed=0)
    save_audio(tmp_path / "long.wav", torch.cat([scene, scene, scene]), 16000)  # 15 s
    out = tmp_path / "out"
    assert main(["explain", str(tmp_path / "long.wav"), "--long", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "long.wav: 5 windows" in printed
    timeline = json.loads((out / "long_timeline.json").read_text())
    assert timeline["samples"] == 3 * scene.shape[0] and len(timeline["windows"]) == 5
    assert sf.info(str(out / "long_interpretation.wav")).frames == 3 * scene.shape[0]
    # the timeline page: one clickable segment per window, each with its image
    assert "timeline.html" in printed
    page = (out / "timeline.html").read_text()
    assert page.count('class="seg"') == 5
    assert all((out / w["image"]).is_file() for w in timeline["windows"])
    from speechbrain_interp.report_check import check_report_in_chromium, find_chromium

    if find_chromium() is None:
        return
    check = check_report_in_chromium(out / "timeline.html", screenshot=tmp_path / "timeline.png")
    assert check["loaded"] and check["audio_failed"] <= 0 and not check["missing_files"]
    test = check["selftest"]
    # clicking the second segment opened it: its image, and the player at the window's start
    assert test["open"] == "1" and test["shown"] == "yes" and test["image"].endswith("w00001.png")
    assert abs(float(test["seek"]) - float(test["start"])) < 0.05 and float(test["start"]) == 2.5


def test_a_failed_run_leaves_earlier_results_as_they_were(tmp_path):
    from speechbrain_interp.interpreters.baselines import Saliency

    save_audio(tmp_path / "long.wav", 0.1 * torch.randn(SR * 5), SR)
    out = tmp_path / "out"
    explain_long(Saliency(band_window_classifier()), tmp_path / "long.wav", out, window_s=2.0, images=True)
    before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert "long_windows/w00000.png" in before

    class Broken(Saliency):
        def compute_mask(self, spectrum, target, logits, hidden):
            raise RuntimeError("broken brick")

    import pytest

    with pytest.raises(RuntimeError, match="broken brick"):
        explain_long(Broken(band_window_classifier()), tmp_path / "long.wav", out, window_s=2.0, images=True)
    after = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # and no temporary file is left


def test_without_overlap_the_stitched_output_is_each_windows_own_explanation(tmp_path):
    from speechbrain_interp.interpreters.baselines import Saliency

    gen = torch.Generator().manual_seed(1)
    window = 2 * SR
    wav = 0.2 * torch.randn(3 * window + 1234, generator=gen)
    save_audio(tmp_path / "long.wav", wav, SR)
    original = torch.as_tensor(sf.read(tmp_path / "long.wav", dtype="float32")[0])  # as stored (16-bit)
    brick = Saliency(band_window_classifier())
    result = explain_long(brick, tmp_path / "long.wav", tmp_path / "out", window_s=2.0, overlap=0.0,
                          batch_size=2)
    stitched = {k: torch.as_tensor(sf.read(tmp_path / "out" / result["files"][k], dtype="float32")[0])
                for k in ("interpretation", "residual")}
    assert [w["start_s"] for w in result["windows"]] == [0.0, 2.0, 4.0, 6.0]
    for k in range(4):
        chunk = torch.zeros(window)
        part = original[k * window:(k + 1) * window]
        chunk[: part.shape[0]] = part  # the last window is zero-padded, as explain_long pads it
        own = brick.explain(chunk[None])
        n = part.shape[0]
        for name, mine in (("interpretation", own.interpretation), ("residual", own.residual)):
            expected = mine[0, :n].clamp(-1, 1)
            assert (stitched[name][k * window:k * window + n] - expected).abs().max() < 1e-3, (name, k)
        assert result["windows"][k]["label"] == own.predicted_labels[0]
