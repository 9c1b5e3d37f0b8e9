"""The listenable HTML report, checked in a real headless Chromium when one is installed."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import torch

from speechbrain_interp.cli import main
from speechbrain_interp.inference import explain_classifier
from speechbrain_interp.report import (
    add_metrics,
    check_report_in_chromium,
    explain_to_report,
    find_chromium,
    write_report,
)
from speechbrain_interp.synth import demo_clip
from speechbrain_interp.testing import make_speechbrain_classifier

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="headless Chromium not installed (Debian: apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report for two clips explained by a gradient baseline on a random compact classifier."""
    from speechbrain_interp.audio import save_audio

    root = tmp_path_factory.mktemp("report")
    classifier = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32,
                                             labels=["dog <bark>", "siren", "rain"])
    explainer = explain_classifier(classifier)
    paths = []
    for i, name in enumerate(("siren & dog", "rain")):
        paths.append(root / "inputs" / f"{name}.wav")
        save_audio(paths[-1], demo_clip(1.0, seed=i), 16000)
    result = explain_to_report(explainer, paths, root / "out", progress=False,
                               info={"interpreter": "saliency on a random classifier"})
    return result


def test_report_rows_players_figures_and_metrics(report):
    page = report["report"].read_text()
    entries = json.loads(report["summary"].read_text())
    assert len(entries) == 2 and page.count('class="clip-row"') == 2
    sources = [html.unescape(s) for s in re.findall(r'<audio[^>]*src="([^"]+)"', page)]
    assert len(sources) == 6
    kinds = re.findall(r'<audio[^>]*data-kind="(\w+)"', page)
    assert kinds == ["original", "interpretation", "residual"] * 2
    folder = report["report"].parent
    assert all((folder / s).is_file() for s in sources)
    figures = [html.unescape(s) for s in re.findall(r'<img src="([^"]+)"', page)]
    assert len(figures) == 2 and all((folder / f).stat().st_size > 10_000 for f in figures)
    for metric in ("AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP", "p on interpretation"):
        assert f">{metric}</td>" in page
    assert "siren &amp; dog" in page and "dog <bark>" not in page  # names and labels are escaped
    assert page.count("No trained interpreter") == 1  # a note shared by every clip is shown once
    assert "saliency on a random classifier" in page


def test_overview_legend_and_low_confidence_flag(report):
    page = report["report"].read_text()
    entries = json.loads(report["summary"].read_text())
    overview = page[page.index('<table id="overview">'):page.index("</table>", page.index('id="overview"'))]
    assert overview.count("<tr>") == 3  # header and one row per clip
    for e in entries:  # each row links to its clip's details
        link = r'href="#(clip-[^"]+)"[^>]*>' + re.escape(html.escape(e["name"]))
        anchor = re.search(link, overview).group(1)
        assert f'<tr class="clip-row" id="{anchor}">' in page
        top3 = ", ".join(f"{html.escape(c)} {p:.2f}" for c, p in e["top_classes"][:3])
        assert top3 in overview
    # a random three-class classifier is never confident: every prediction is flagged
    assert overview.count("low confidence") == len(entries)
    legend = page[page.index('<dl class="legend">'):]
    for name in ("p on interpretation", "mask mean", "Fid-In", "AD", "AI"):
        assert f"<dt>{name}</dt>" in legend
    assert page.count('class="timeline"') == 2 and page.count('class="playhead"') == 2


def test_write_report_from_summary_json(report):
    again = write_report(report["report"].parent, filename="again.html", title="Again")
    assert again.read_text().count('class="clip-row"') == 2 and "<title>Again</title>" in again.read_text()


def test_add_metrics_keeps_existing_scores(report):
    from speechbrain_interp.testing import load_speechbrain_classifier

    folder = report["report"].parent.parent / "classifier"
    adapter = load_speechbrain_classifier(folder, "compact")
    e = explain_classifier(adapter).interpret_batch(demo_clip(1.0)[None])
    e.scores["AI"] = torch.tensor([42.0])
    add_metrics(e, adapter)
    assert float(e.scores["AI"]) == 42.0 and 0.0 <= float(e.scores["SPS"]) <= 1.0


@needs_chromium
def test_report_in_headless_chromium(report, tmp_path, capsys):
    """`speechbrain-interp check-report`: the page loads, its 6 audio files exist and play, a screenshot."""
    assert main(["check-report", str(report["report"]), "--screenshot", str(tmp_path / "shot.png")]) == 0
    out = capsys.readouterr().out
    assert "report loaded: True; audio playable: 6 of 6; missing files: 0" in out
    from PIL import Image

    shot = Image.open(tmp_path / "shot.png").convert("L")
    assert shot.size[0] >= 1000 and len(set(shot.resize((64, 64)).getdata())) > 20  # not a blank page


@needs_chromium
def test_chromium_sorts_seeks_and_switches(report):
    """The page, driven in headless Chromium: the overview sorts by probability, the playhead
    follows a seek to the middle of the clip, switching to the interpretation keeps the time, and
    the interpretation then plays."""
    result = check_report_in_chromium(report["report"])
    test = result["selftest"]
    assert test.get("done") == "yes", result["stderr"]
    assert test["sort-ok"] == "yes"
    values = [float(v) for v in test["sorted"].split(",")]
    assert values == sorted(values, reverse=True) and len(values) == 2
    assert abs(float(test["playhead"]) - 0.5) < 0.02
    assert test["switch"] == "interpretation" and abs(float(test["switch-time"]) - 0.5) < 0.02
    assert test["played"] == "yes"  # and it plays from there


@needs_chromium
def test_chromium_notices_a_missing_audio_file(report, tmp_path):
    import shutil

    copy = Path(shutil.copytree(report["report"].parent, tmp_path / "copy"))
    (copy / "rain_residual.wav").unlink()
    result = check_report_in_chromium(copy / "report.html")
    assert result["loaded"] and result["audio_done"] and result["audio_total"] == 6
    assert result["missing_files"] == ["rain_residual.wav"] and len(result["audio_sources"]) == 6
    assert result["audio_failed"] == 1 and result["audio_ok"] == 5
    assert result["screenshot"] == copy / "report.png"
