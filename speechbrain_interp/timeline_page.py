"""The page of long recordings: a timeline strip per recording; click a segment to see and hear it.

:func:`write_timeline_report` turns what :func:`speechbrain_interp.long_audio.explain_long`
returned (or wrote, as ``<stem>_timeline.json``) into ``timeline.html``. Each recording gets a
strip, one segment per window, coloured by the window's top class and as opaque as its
probability. Clicking a segment opens the window's image (spectrogram, mask, masked-in
spectrogram) and plays the stitched interpretation, residual or original from the window's start
to its end. ``#selftest`` makes the page open a segment by itself and record what happened in
``<div id="selftest">``, which :func:`speechbrain_interp.report_check.check_report_in_chromium` reads.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import colorsys
import datetime
import html
import json
import os
from pathlib import Path

from speechbrain_interp.checkpointing import replace_atomically

__all__ = ["write_timeline_report"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
.meta { color: #555; font-size: 0.9em; }
.recording { border-top: 1px solid #ccc; margin-top: 1.5em; padding-top: 0.5em; }
.strip { position: relative; height: 34px; background: #eee; cursor: pointer; margin: 0.4em 0; }
.seg { position: absolute; top: 0; height: 100%; box-sizing: border-box; border-right: 1px solid #fff; }
.seg.open { outline: 2px solid #000; z-index: 1; }
.axis { display: flex; justify-content: space-between; font-size: 0.8em; color: #666; }
.legend span { display: inline-block; margin-right: 1em; font-size: 0.9em; }
.legend i { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: -0.1em; }
.panel { display: none; margin-top: 0.6em; }
.panel.shown { display: block; }
.panel img { max-width: 100%; image-rendering: pixelated; height: 240px; }
audio { height: 32px; vertical-align: middle; }
"""

_SCRIPT = """
(function () {
  function fmt(s) { return s.toFixed(1) + ' s'; }
  document.querySelectorAll('.recording').forEach(function (rec) {
    var panel = rec.querySelector('.panel');
    var players = rec.querySelectorAll('audio');
    var stopAt = null;
    players.forEach(function (a) {
      a.addEventListener('timeupdate', function () {
        if (stopAt !== null && a.currentTime >= stopAt) { a.pause(); }
      });
    });
    function open(seg, play) {
      rec.querySelectorAll('.seg.open').forEach(function (s) { s.classList.remove('open'); });
      seg.classList.add('open');
      var start = parseFloat(seg.getAttribute('data-start'));
      var end = parseFloat(seg.getAttribute('data-end'));
      panel.classList.add('shown');
      panel.querySelector('.caption').textContent = fmt(start) + ' to ' + fmt(end) + ': ' +
        seg.getAttribute('data-top');
      var img = panel.querySelector('img');
      var image = seg.getAttribute('data-image');
      if (image) { img.src = image; img.style.display = ''; } else { img.style.display = 'none'; }
      stopAt = end;
      players.forEach(function (a) { a.pause(); a.currentTime = start; });
      rec.setAttribute('data-open', seg.getAttribute('data-index'));
      if (play) { var p = players[0].play(); if (p && p.catch) { p.catch(function () {}); } }
    }
    rec.open = open;
    rec.querySelectorAll('.seg').forEach(function (seg) {
      seg.addEventListener('click', function () { open(seg, true); });
    });
  });
  if (location.hash !== '#selftest') { return; }
  var out = document.getElementById('selftest');
  var rec = document.querySelector('.recording');
  var segs = rec ? rec.querySelectorAll('.seg') : [];
  if (!segs.length) { out.setAttribute('data-done', 'yes'); return; }
  var seg = segs[Math.min(1, segs.length - 1)];
  var player = rec.querySelector('audio');
  function check(n) {
    // once the audio's length is known, seeking lands where the segment starts
    if (player.readyState < 1 && n < 100) { setTimeout(function () { check(n + 1); }, 50); return; }
    seg.click();
    out.setAttribute('data-open', rec.getAttribute('data-open'));
    out.setAttribute('data-start', seg.getAttribute('data-start'));
    out.setAttribute('data-seek', player.currentTime.toFixed(2));
    out.setAttribute('data-shown', rec.querySelector('.panel.shown') ? 'yes' : 'no');
    out.setAttribute('data-image', rec.querySelector('.panel img').getAttribute('src') || '');
    out.setAttribute('data-played', player.paused ? 'no' : 'yes');
    player.pause();
    out.setAttribute('data-done', 'yes');
  }
  check(0);
})();
"""


def _colour(label: str, labels: list) -> str:
    """A distinct hue per class, in the order classes first appear."""
    hue = (labels.index(label) * 0.618034) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, 0.85)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _link(target: Path, directory: Path) -> str:
    """A relative URL from the page's folder to ``target``."""
    return html.escape(Path(os.path.relpath(target, directory)).as_posix(), quote=True)


def _recording(result: dict, directory: Path, labels: list) -> str:
    windows = result["windows"]
    duration = max(result["samples"] / result["sample_rate"], 1e-9)
    hop = result["hop_s"]
    segments = []
    for k, w in enumerate(windows):
        # each window is drawn over its own hop: the strip tiles the recording once
        start, end = w["start_s"], w["end_s"]
        shown_end = min(start + hop, duration) if k + 1 < len(windows) else duration
        label, p = (w["top"][0] if w["top"] else (w["label"], w["probability_in"]))
        top = ", ".join(f"{c} {q:.2f}" for c, q in w["top"]) or str(w["label"])
        image = _link(directory / w["image"], directory) if w.get("image") else ""
        segments.append(
            f'<div class="seg" data-index="{k}" data-start="{start}" data-end="{end}" '
            f'data-top="{html.escape(top, quote=True)}" data-image="{image}" '
            f'title="{start:.1f}-{end:.1f} s: {html.escape(top, quote=True)}" '
            f'style="left:{100 * start / duration:.4f}%;width:{100 * (shown_end - start) / duration:.4f}%;'
            f'background:{_colour(label, labels)};opacity:{0.25 + 0.75 * float(p):.2f}"></div>')
    files = result["files"]
    players = [("interpretation", directory / files["interpretation"]),
               ("residual", directory / files["residual"])]
    if result.get("source") and Path(result["source"]).is_file():
        players.append(("original", Path(result["source"]).resolve()))
    audio = " ".join(f'{kind} <audio controls preload="metadata" src="{_link(path, directory)}"></audio>'
                     for kind, path in players)
    heard = "; ".join(f"{html.escape(c)}: " + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans)
                      for c, spans in result["classes"].items()) or "no class above 0.5"
    name = html.escape(Path(result.get("source") or files["interpretation"]).name)
    return f"""<div class="recording" data-open="">
<h2>{name}</h2>
<div class="meta">{duration:.1f} s, {len(windows)} windows of {result["window_s"]:g} s every {hop:g} s.
Heard: {heard}</div>
<div class="strip">{"".join(segments)}</div>
<div class="axis"><span>0 s</span><span>{duration / 2:.1f} s</span><span>{duration:.1f} s</span></div>
<div class="panel"><div class="caption"></div><div>{audio}</div>
<img alt="spectrogram, mask and masked-in spectrogram of the window"></div>
</div>"""


def write_timeline_report(directory, results=None, title: str = "speechbrain_interp: long recordings",
                          info: dict | None = None, filename: str = "timeline.html") -> Path:
    """Write the timeline page of long recordings explained into ``directory``.

    Arguments
    ---------
    directory : str or Path
        Folder holding the WAVs, images and ``*_timeline.json`` files of ``explain_long``.
    results : list of dict, optional
        What :func:`~speechbrain_interp.long_audio.explain_long` returned, one per recording;
        default: every ``*_timeline.json`` in ``directory``.
    title : str
        Page title.
    info : dict, optional
        Run details shown at the top.
    filename : str
        Name of the page.

    Returns
    -------
    Path
        The HTML file.

    Example
    -------
    >>> import tempfile
    >>> import torch
    >>> from speechbrain_interp.audio import save_audio
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> from speechbrain_interp.long_audio import explain_long
    >>> from speechbrain_interp.testing import band_window_classifier
    >>> root = Path(tempfile.mkdtemp())
    >>> save_audio(root / "long.wav", 0.1 * torch.randn(8000 * 7), 8000)
    >>> result = explain_long(Saliency(band_window_classifier()), root / "long.wav", root / "out",
    ...                       window_s=2.0, images=True)
    >>> page = write_timeline_report(root / "out").read_text()
    >>> page.count('class="seg"'), page.count("<audio")
    (6, 3)
    """
    directory = Path(directory)
    if results is None:
        results = [json.loads(p.read_text(encoding="utf-8"))
                   for p in sorted(directory.glob("*_timeline.json"))]
    labels: list = []
    for result in results:
        for w in result["windows"]:
            label = w["top"][0][0] if w["top"] else w["label"]
            if label not in labels:
                labels.append(label)
    legend = "".join(f'<span><i style="background:{_colour(c, labels)}"></i>{html.escape(c)}</span>'
                     for c in labels)
    info_rows = "".join(f"<div><b>{html.escape(k)}</b>: {html.escape(str(v))}</div>"
                        for k, v in (info or {}).items())
    body = "\n".join(_recording(r, directory, labels) for r in results)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="meta">{len(results)} recording(s), {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}.</div>
<div class="meta">{info_rows}</div>
<p class="meta">Each strip is a recording; each segment a window, coloured by its top class and as opaque
as that class's probability. Click a segment to see its spectrogram and mask and to hear the window:
the <b>interpretation</b> (what drove the decision), the <b>residual</b> (the rest), the original.</p>
<div class="legend">{legend}</div>
<div id="selftest" data-done="no"></div>
{body}
<script>{_SCRIPT}</script>
</body></html>
"""
    return replace_atomically(directory / filename, lambda tmp: tmp.write_text(page, encoding="utf-8"))
