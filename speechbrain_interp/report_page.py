"""The HTML report page: an overview table, a legend, and per clip the players and the image.

:func:`write_report` turns the entries :meth:`Explanation.save` returns into one static page
(relative paths, no server, no network; it works zipped). At the top, a sortable overview
(clip, prediction with a flag when it is not confident, top-3 classes, the explained class, key
metrics; each row links to its clip), the run's header and a visible legend of the metrics.
Per clip, the three players, and for fast images (colour-mapped panels whose columns are the
clip's frames) a playhead that follows the audio: clicking the image plays from that time, and
the original, interpretation and residual switch on the same timeline. Opening the page with
``#selftest`` makes it sort, seek and switch by itself and record what happened in
``<div id="selftest">``, which is how :mod:`speechbrain_interp.report_check` drives it in
headless Chromium.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import datetime
import html
import json
from pathlib import Path

from speechbrain_interp.metrics import METRIC_NAMES

__all__ = ["write_report", "LOW_CONFIDENCE"]

#: Predictions less probable than this are flagged in the overview (the classifier is unsure,
#: or the sound is not one of its classes).
LOW_CONFIDENCE = 0.5

_AUDIO_KINDS = (
    ("original", "original"),
    ("interpretation", "interpretation (what drove the decision)"),
    ("residual", "residual (the rest)"),
)
_METRIC_HELP = {
    "mask share on the events": "share of the mask's mass in the frames where the explained event is",
    "events' share of the clip": "share of the clip's frames the events cover (what an even mask gets)",
    "energy kept on the events": "share of the original's energy on the events that the interpretation keeps",
    "energy kept elsewhere": "share of the original's energy off the events that the interpretation keeps",
    "lift over chance": "mask share on the events / events' share of the clip; 1 = the mask ignores where "
                        "the event is",
    "AI": "average increase: 100 if the class is more likely on the interpretation alone",
    "AD": "average drop (%): confidence lost on the interpretation alone; lower is better",
    "AG": "average gain (%): confidence gained on the interpretation alone",
    "FF": "faithfulness: confidence lost when the interpretation is removed",
    "Fid-In": "input fidelity: 1 if the interpretation alone gets the same prediction",
    "SPS": "sparseness (Gini index of the mask)",
    "COMP": "complexity (entropy of the mask)",
}

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1500px; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
.meta, .note { color: #555; font-size: .92em; }
.note { background: #fff6d6; border-left: 4px solid #e0b000; padding: .4em .8em; }
#audio-status { font-size: .9em; padding: .3em .6em; border-radius: 4px; display: inline-block; }
#audio-status.ok { background: #e3f6e3; } #audio-status.bad { background: #fbe0e0; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
td, th { border-top: 1px solid #ddd; padding: .6em; vertical-align: top; text-align: left; }
.clip { font-weight: 600; word-break: break-all; }
.pred { font-size: 1.1em; } .players div { margin-bottom: .4em; } .players span { font-size: .85em; }
audio { width: 300px; display: block; } audio.audio-error { outline: 2px solid #c00; }
img { max-width: 720px; width: 100%; }
.metrics td { border: none; padding: .1em .5em .1em 0; font-size: .88em; }
#overview th { cursor: pointer; user-select: none; white-space: nowrap; }
#overview th.sorted-asc::after { content: " \\25B2"; } #overview th.sorted-desc::after { content: " \\25BC"; }
#overview td, #overview th { padding: .3em .6em; font-size: .9em; }
.low { background: #fbe0e0; color: #900; border-radius: 3px; padding: 0 .3em; font-size: .85em; }
.legend { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; font-size: .88em;
          background: #f6f6f6; padding: .6em 1em; border-radius: 4px; }
.legend dt { font-weight: 600; } .legend dd { margin: 0; color: #444; }
.timeline { position: relative; display: inline-block; cursor: pointer; max-width: 720px; width: 100%; }
.timeline img { display: block; image-rendering: pixelated; height: 260px; }
.playhead { position: absolute; top: 0; bottom: 0; width: 2px; background: #fff; left: 0;
            box-shadow: 0 0 2px #000; pointer-events: none; }
.switch button { font-size: .85em; margin-right: .3em; } .switch button.active { font-weight: 700; }
.bar { display: inline-block; height: .8em; background: #4a78c2; vertical-align: middle; }
li.concept { margin-bottom: .4em; }
li.concept audio { width: 220px; display: inline-block; vertical-align: middle; }
.concept-mask { width: 160px; height: 40px; image-rendering: pixelated; vertical-align: middle;
                margin-left: .4em; }
"""

_SCRIPT = """
(function () {
  var audios = Array.prototype.slice.call(document.querySelectorAll('audio'));
  var status = document.getElementById('audio-status');
  var ok = 0, bad = 0;
  function update() {
    var done = ok + bad;
    status.textContent = 'audio: ' + ok + ' of ' + audios.length + ' files playable' +
      (bad ? ', ' + bad + ' failed to load' : '') + (done < audios.length ? ' (checking...)' : '');
    status.className = done < audios.length ? '' : (bad ? 'bad' : 'ok');
    status.setAttribute('data-ok', ok); status.setAttribute('data-failed', bad);
    status.setAttribute('data-total', audios.length);
    status.setAttribute('data-done', done === audios.length ? 'yes' : 'no');
  }
  audios.forEach(function (a) {
    var counted = false;
    function mark(good) {
      if (counted) { return; } counted = true;
      if (good) { ok += 1; a.setAttribute('data-duration', a.duration.toFixed(3)); }
      else { bad += 1; a.className += ' audio-error'; }
      update();
    }
    a.addEventListener('loadedmetadata', function () { mark(isFinite(a.duration) && a.duration > 0); });
    a.addEventListener('error', function () { mark(false); }, true);
    if (a.readyState >= 1) { mark(isFinite(a.duration) && a.duration > 0); }
    a.load();
  });
  update();
})();

(function () {
  // sortable overview: click a header; numbers sort numerically, the rest as text
  var table = document.getElementById('overview');
  if (table) {
    var heads = Array.prototype.slice.call(table.querySelectorAll('th'));
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var desc = th.className !== 'sorted-desc';
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute('data-value'), y = b.cells[col].getAttribute('data-value');
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
          return desc ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
        heads.forEach(function (h) { h.className = ''; });
        th.className = desc ? 'sorted-desc' : 'sorted-asc';
      });
    });
  }
  // timelines: one playhead per clip follows whichever of its players is active
  Array.prototype.slice.call(document.querySelectorAll('.timeline')).forEach(function (tl) {
    var row = tl.closest('tr');
    var players = Array.prototype.slice.call(row.querySelectorAll('audio'));
    var head = tl.querySelector('.playhead');
    var buttons = Array.prototype.slice.call(row.querySelectorAll('.switch button'));
    var active = players[0];
    function draw() {
      var d = active && isFinite(active.duration) && active.duration > 0 ? active.duration : 0;
      var f = d ? Math.min(1, active.currentTime / d) : 0;
      head.style.left = (100 * f).toFixed(2) + '%';
      tl.setAttribute('data-position', f.toFixed(3));
    }
    function activate(kind, play) {
      var next = players.filter(function (a) { return a.getAttribute('data-kind') === kind; })[0];
      if (!next) { return; }
      var t = active ? active.currentTime : 0;
      players.forEach(function (a) { if (a !== next) { a.pause(); } });
      next.currentTime = t; active = next;
      buttons.forEach(function (b) { b.className = b.getAttribute('data-kind') === kind ? 'active' : ''; });
      tl.setAttribute('data-active', kind);
      if (play) { next.play().catch(function () {}); }
      draw();
    }
    players.forEach(function (a) {
      a.addEventListener('timeupdate', function () { if (a === active) { draw(); } });
      a.addEventListener('play', function () {
        if (a !== active) { activate(a.getAttribute('data-kind'), false); }
      });
    });
    buttons.forEach(function (b) {
      b.addEventListener('click', function () { activate(b.getAttribute('data-kind'), !active.paused); });
    });
    tl.addEventListener('click', function (ev) {
      var box = tl.getBoundingClientRect();
      var f = Math.max(0, Math.min(1, (ev.clientX - box.left) / box.width));
      if (isFinite(active.duration)) { active.currentTime = f * active.duration; }
      active.play().catch(function () {});
      draw();
    });
    tl.activate = activate; tl.draw = draw; tl.player = function () { return active; };
    activate('original', false);
  });
  // #selftest: sort, seek and switch by script, and record the outcome for headless checks
  if (location.hash !== '#selftest') { return; }
  var out = document.getElementById('selftest');
  function finish() {
    var th = table ? table.querySelector('th[data-key="probability"]') : null;
    if (th) {
      th.click();
      var col = Array.prototype.indexOf.call(th.parentNode.children, th);
      var values = Array.prototype.slice.call(table.tBodies[0].rows).map(function (r) {
        return parseFloat(r.cells[col].getAttribute('data-value'));
      });
      var sorted = values.every(function (v, i) { return i === 0 || values[i - 1] >= v; });
      out.setAttribute('data-sorted', values.join(','));
      out.setAttribute('data-sort-ok', sorted ? 'yes' : 'no');
    }
    var tl = document.querySelector('.timeline');
    if (tl) {
      var a = tl.player();
      a.currentTime = a.duration / 2;
      tl.draw();
      out.setAttribute('data-playhead', tl.getAttribute('data-position'));
      tl.activate('interpretation', false);
      out.setAttribute('data-switch', tl.getAttribute('data-active'));
      out.setAttribute('data-switch-time', (tl.player().currentTime / a.duration).toFixed(3));
      // play: the active player leaves the paused state at once (the HTML spec), whatever the clock
      var player = tl.player();
      var started = player.play();
      if (started && started.catch) { started.catch(function () {}); }
      out.setAttribute('data-played', player.paused ? 'no' : 'yes');
      player.pause();
    }
    out.setAttribute('data-done', 'yes');
  }
  var status = document.getElementById('audio-status');
  (function wait(n) {
    if (status.getAttribute('data-done') === 'yes' || n > 100) { finish(); return; }
    setTimeout(function () { wait(n + 1); }, 50);
  })(0);
})();
"""



def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return html.escape(str(value))


def _heading(entry: dict) -> str:
    """The explained class, and the classifier's prediction when another class was asked for."""
    label = str(entry.get("label", "?"))
    prediction = entry.get("prediction")
    if prediction is None or prediction == label:
        return label
    return f"{label} (explained as asked; the classifier predicts {prediction})"


def _row(entry: dict, base: str) -> str:
    files = entry.get("files", {})
    players = []
    kinds = list(_AUDIO_KINDS) + [(k, f"component {k[len('component'):]}") for k in files
                                  if k.startswith("component")]
    per_label = entry.get("per_label") or []
    kinds += [(f"label{r}", f"{m['label']} (p {_fmt(m['probability'])}, on its interpretation "
                            f"{_fmt(m['probability_in'])})")
              for r, m in enumerate(per_label) if f"label{r}" in files]
    for key, label in kinds:
        if key in files:
            src = html.escape(base + files[key], quote=True)
            players.append(
                f'<div><span>{html.escape(label)}</span>'
                f'<audio controls preload="metadata" data-kind="{key}" src="{src}"></audio></div>'
            )
    figure = ""
    if "figure" in files:
        src = html.escape(base + files["figure"], quote=True)
        alt = f'figure for {html.escape(entry["name"])}'
        if entry.get("figure_kind") == "fast":  # columns are frames: a playhead can follow the audio
            buttons = "".join(f'<button type="button" data-kind="{k}">{k}</button>' for k, _ in _AUDIO_KINDS
                              if k in files)
            figure = (f'<div class="switch">play: {buttons}</div>'
                      f'<div class="timeline" title="click to play from there"><img src="{src}" alt="{alt}">'
                      '<div class="playhead"></div></div>'
                      '<div class="meta">input (dB), mask, masked-in (dB); low frequencies at the '
                      'bottom</div>')
        else:
            figure = f'<a href="{src}"><img src="{src}" alt="{alt}"></a>'
    metrics = [("p(class)", entry.get("probability")), ("p on interpretation", entry.get("probability_in"))]
    if entry.get("prediction") not in (None, entry.get("label")):
        metrics.insert(0, (f"prediction: {entry['prediction']}", entry.get("prediction_probability")))
    if "probability_out" in entry:
        metrics.append(("p on residual", entry["probability_out"]))
    metrics.append(("mask mean", entry.get("mask_mean")))
    scores = entry.get("scores", {})
    order = [m for m in METRIC_NAMES if m in scores] + sorted(k for k in scores if k not in METRIC_NAMES)
    metrics += [(k, scores[k]) for k in order]  # the paper's column order, then the brick's own
    metric_rows = "".join(
        f'<tr><td title="{html.escape(_METRIC_HELP.get(k, k), quote=True)}">{html.escape(k)}</td>'
        f"<td>{_fmt(v)}</td></tr>" for k, v in metrics if v is not None
    )
    concepts = _concepts(entry, files, base)
    note = f'<div class="note">{html.escape(entry["note"])}</div>' if entry.get("note") else ""
    return (
        f'<tr class="clip-row" id="{_anchor(entry)}">'
        f'<td><div class="clip">{html.escape(entry["name"])}</div>'
        f'<div class="pred">{html.escape(_heading(entry))}</div>'
        f'<div class="meta">{html.escape(entry.get("method", ""))}</div>'
        f'<table class="metrics">{metric_rows}</table>{concepts}{note}</td>'
        f'<td class="players">{"".join(players)}</td>'
        f"<td>{figure}</td></tr>"
    )


def _concepts(entry: dict, files: dict, base: str) -> str:
    """The top concepts as bars; concepts with a sound get their mask and a player next to the bar."""
    if not entry.get("concepts"):
        return ""
    sounds = {s["concept"]: (r, s) for r, s in enumerate(entry.get("concept_sounds") or [])}
    top = max([float(w) for _, w in entry["concepts"][:8]] + [1e-12])
    items = []
    for c, w in entry["concepts"][:8]:
        bar = (f'<span class="bar" style="width:{100 * max(float(w), 0.0) / top:.0f}px"></span> '
               f"{html.escape(str(c))}: {_fmt(float(w))}")
        extra = ""
        if str(c) in sounds:
            r, sound = sounds[str(c)]
            if f"concept{r}" in files:
                src = html.escape(base + files[f"concept{r}"], quote=True)
                extra += f'<audio controls preload="metadata" data-kind="concept{r}" src="{src}"></audio>'
            if f"concept{r}_mask" in files:
                img = html.escape(base + files[f"concept{r}_mask"], quote=True)
                name = html.escape(str(c), quote=True)
                extra += (f'<img class="concept-mask" src="{img}" alt="where: {name}" '
                          f'title="mask of &#39;{name}&#39; (low frequencies at the bottom)">')
            extra += f' <span class="meta">keeps {sound["energy_share"]:.0%} of the energy</span>'
        items.append(f'<li class="concept">{bar}<div>{extra}</div></li>' if extra else f"<li>{bar}</li>")
    return f'<div><b>top concepts</b><ol>{"".join(items)}</ol></div>'


def _anchor(entry: dict) -> str:
    """The HTML id of a clip's row (the overview links to it)."""
    return "clip-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in str(entry.get("name", "")))


def _cell(value, shown=None) -> str:
    """An overview cell that sorts by ``value`` and shows ``shown`` (escaped; default the value)."""
    shown = _fmt(value) if shown is None else shown
    return f'<td data-value="{html.escape(str(value), quote=True)}">{shown}</td>'


def _overview(entries: list) -> str:
    """The sortable table of every clip: prediction (flagged when unsure), top 3, key metrics."""
    cols = [("clip", "clip"), ("prediction", "prediction"), ("top 3", "top3"), ("explained", "label"),
            ("p(explained)", "probability"), ("p on interpretation", "probability_in"),
            ("mask mean", "mask_mean"), ("Fid-In", "Fid-In"), ("AD", "AD")]
    head = "".join(f'<th data-key="{key}" title="click to sort">{html.escape(name)}</th>'
                   for name, key in cols)
    rows = []
    for e in entries:
        prediction = e.get("prediction", e.get("label", "?"))
        p_pred = e.get("prediction_probability", e.get("probability", float("nan")))
        flag = ""
        if p_pred < LOW_CONFIDENCE:
            flag = (f' <span class="low" title="the classifier is not confident: p &lt; {LOW_CONFIDENCE}; '
                    'the sound may not be one of its classes">low confidence</span>')
        top3 = ", ".join(f"{html.escape(str(c))} {p:.2f}" for c, p in (e.get("top_classes") or [])[:3])
        scores = e.get("scores", {})
        link = f'<a href="#{_anchor(e)}">{html.escape(e["name"])}</a>'
        rows.append("<tr>" + _cell(e["name"], link) + _cell(p_pred, f"{html.escape(str(prediction))}{flag}")
                    + _cell(top3 or "-", top3 or "-") + _cell(e.get("label", "?"))
                    + _cell(e.get("probability", "")) + _cell(e.get("probability_in", ""))
                    + _cell(e.get("mask_mean", "")) + _cell(scores.get("Fid-In", ""))
                    + _cell(scores.get("AD", "")) + "</tr>")
    return (f'<table id="overview"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _legend(entries: list) -> str:
    """Every metric the page shows, with its meaning, visible without hovering."""
    shown = {k for e in entries for k in e.get("scores", {})}
    items = [("p(explained)", "the classifier's probability for the explained class on the clip"),
             ("p on interpretation", "the same on the interpretation alone (the masked-in sound)"),
             ("mask mean", "how much of the spectrogram the mask keeps, 0 to 1")]
    items += [(k, v) for k, v in _METRIC_HELP.items() if k in shown or k in ("Fid-In", "AD")]
    return '<dl class="legend">' + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
                                            for k, v in items) + "</dl>"


def write_report(directory, entries=None, title: str = "speechbrain_interp explanations",
                 info: dict | None = None, filename: str = "report.html") -> Path:
    """Write ``report.html`` for explanations saved in ``directory``.

    Arguments
    ---------
    directory : str or Path
        Folder holding the files the entries name (relative paths).
    entries : list of dict, optional
        Per clip, what :meth:`Explanation.save` returns; default: ``directory/summary.json``.
    title : str
        Page title.
    info : dict, optional
        Run details shown at the top, e.g. ``{"interpreter": "...", "command": "..."}``.
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
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector"))
    >>> out = tempfile.mkdtemp()
    >>> entries = Saliency(adapter).explain(torch.randn(1, 8000) * 0.1).save(out, names=["noise"])
    >>> page = write_report(out, entries).read_text()
    >>> page.count("<audio"), "noise_interpretation.wav" in page
    (3, True)
    """
    directory = Path(directory)
    if entries is None:
        entries = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    info = dict(info or {})
    notes = list(dict.fromkeys(e["note"] for e in entries if e.get("note")))
    methods = ", ".join(dict.fromkeys(e.get("method", "") for e in entries)) or "?"
    info_rows = "".join(f"<div><b>{html.escape(k)}</b>: {html.escape(str(v))}</div>" for k, v in info.items())
    # notes shared by every clip are shown once at the top, the others in their row
    shared = [n for n in notes if all(e.get("note") == n for e in entries)]
    rows = "".join(_row({**e, "note": None if e.get("note") in shared else e.get("note")}, "")
                   for e in entries)
    notes = shared
    note_html = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="meta">{len(entries)} clip(s) explained with {html.escape(methods)} on
{datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}.</div>
<div class="meta">{info_rows}</div>
{note_html}
<p class="meta">Listen to each clip three ways: the original, the <b>interpretation</b> (the part of the
sound that drove the decision, masked in with the original phase) and the <b>residual</b> (everything
else). Click a column of the overview to sort it, a clip to go to its details, and an image to
play from that time.</p>
<div id="audio-status" data-done="no">audio: checking...</div>
<div id="selftest" data-done="no"></div>
<h2>Overview</h2>
{_overview(entries)}
<h2>What the numbers mean</h2>
{_legend(entries)}
<h2>Clips</h2>
<table class="clips"><thead><tr><th>clip, prediction, metrics</th><th>listen</th><th>figure</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>{_SCRIPT}</script>
</body></html>
"""
    path = directory / filename
    path.write_text(page, encoding="utf-8")
    return path


