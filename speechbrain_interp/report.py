"""A listenable HTML report: one row per clip with audio players, the figure, the prediction and the metrics.

:func:`explain_to_report` is the whole pipeline behind ``speechbrain-interp explain``
and ``speechbrain-interp demo``: explain files in batches, add the faithfulness
metrics, write WAVs, PNGs and ``summary.json`` with
:meth:`Explanation.save <speechbrain_interp.explanation.Explanation.save>`, then
:func:`write_report` turns the summary into ``report.html``. The page links to the
files with relative paths, so the output folder can be zipped, moved or served as is.
A small script in the page checks that every audio file loads and reports it at the
top (``id="audio-status"``), which is also what :func:`check_report_in_chromium`
reads from a real headless Chromium.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import datetime
import html
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from speechbrain_interp.checkpointing import replace_atomically
from speechbrain_interp.explanation import Explanation, safe_stem
from speechbrain_interp.metrics import METRIC_NAMES
from speechbrain_interp.report_check import check_report_in_chromium, find_chromium  # noqa: F401 (old path)

__all__ = [
    "add_metrics",
    "write_report",
    "explain_to_report",
    "find_chromium",
    "check_report_in_chromium",
]

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
"""


@torch.no_grad()
def add_metrics(explanation: Explanation, adapter) -> Explanation:
    """Add AI, AD, AD (SB), AG, FF, Fid-In, SPS and COMP per clip to ``explanation.scores`` (kept if present).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector"))
    >>> e = add_metrics(Saliency(adapter).explain(torch.randn(1, 8000)), adapter)
    >>> sorted(e.scores)
    ['AD', 'AD (SB)', 'AG', 'AI', 'COMP', 'FF', 'Fid-In', 'SPS']
    """
    from speechbrain_interp.metrics import evaluate_explanation

    scores = evaluate_explanation(explanation, adapter)  # reuses the logits the explanation holds
    for name, value in scores.items():
        explanation.scores.setdefault(name, value.detach().cpu())
    return explanation


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
        figure = f'<a href="{src}"><img src="{src}" alt="figure for {html.escape(entry["name"])}"></a>'
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
    concepts = ""
    if entry.get("concepts"):
        items = "".join(f"<li>{html.escape(str(c))}: {_fmt(float(w))}</li>" for c, w in entry["concepts"][:8])
        concepts = f"<div><b>top concepts</b><ol>{items}</ol></div>"
    note = f'<div class="note">{html.escape(entry["note"])}</div>' if entry.get("note") else ""
    return (
        '<tr class="clip-row">'
        f'<td><div class="clip">{html.escape(entry["name"])}</div>'
        f'<div class="pred">{html.escape(_heading(entry))}</div>'
        f'<div class="meta">{html.escape(entry.get("method", ""))}</div>'
        f'<table class="metrics">{metric_rows}</table>{concepts}{note}</td>'
        f'<td class="players">{"".join(players)}</td>'
        f"<td>{figure}</td></tr>"
    )


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
else). Hover a metric name for its meaning.</p>
<div id="audio-status" data-done="no">audio: checking...</div>
<table><thead><tr><th>clip, prediction, metrics</th><th>listen</th><th>figure</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>{_SCRIPT}</script>
</body></html>
"""
    path = directory / filename
    path.write_text(page, encoding="utf-8")
    return path


def _unique_names(paths) -> list[str]:
    """Readable, unique stems: the file stem, prefixed by its parent folders only where stems collide.

    Example
    -------
    >>> _unique_names(["x/a/dog.wav", "x/b/dog.wav", "x/siren.flac"])
    ['a_dog', 'b_dog', 'siren']
    """
    from collections import Counter

    stems = [Path(p).with_suffix("") for p in paths]
    depth = [1] * len(stems)

    def name(i):
        return "_".join(stems[i].parts[-depth[i]:])

    for _ in range(16):
        current = [name(i) for i in range(len(stems))]
        counts = Counter(current)
        clash = [i for i, n in enumerate(current) if counts[n] > 1 and depth[i] < len(stems[i].parts)]
        if not clash:
            break
        for i in clash:
            depth[i] += 1
    seen: dict[str, int] = {}
    unique = []
    for n in (name(i) for i in range(len(stems))):
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return unique


def _add_event_scores(entry: dict, explanation, i: int, explainer, spans) -> None:
    from speechbrain_interp.localization import event_energy, event_scores

    hop = explainer.interpreter.classifier.frontend.hop_length
    scores = event_scores(explanation.mask[i], hop, explanation.sample_rate, spans)
    energy = event_energy(explanation.wav[i], explanation.interpretation[i], explanation.sample_rate, spans)
    entry["events"] = [list(span) for span in spans]
    entry.setdefault("scores", {}).update(
        {"mask share on the events": scores["time share"], "events' share of the clip": scores["event share"],
         "lift over chance": scores["lift"], "energy kept on the events": energy["kept on the events"],
         "energy kept elsewhere": energy["kept elsewhere"]})


def explain_to_report(explainer, paths, out, batch_size: int = 8, progress: bool = True,
                      target=None, title: str | None = None, info: dict | None = None,
                      metrics: bool = True, events: dict | None = None, figures: str = "fast") -> dict:
    """Explain audio files and write WAVs, PNGs, ``summary.json`` and ``report.html`` into ``out``.

    Arguments
    ---------
    explainer : PretrainedInterface or ClassifierInterface
        Anything with ``interpret_files`` (see :mod:`speechbrain_interp.interpreting`).
    paths : list
        Audio files.
    out : str or Path
        Output folder (created).
    batch_size : int
        Files per batch.
    progress : bool
        Show a tqdm progress bar.
    target : int or str, optional
        Class to explain instead of the prediction.
    title : str, optional
        Report title.
    info : dict, optional
        Run details for the report header.
    metrics : bool
        Compute the faithfulness metrics of every clip.
    figures : str
        The image per clip: ``"fast"`` (default; colour-mapped panels, no matplotlib figure),
        ``"detailed"`` (the full figure) or ``"none"``.
    events : dict, optional
        ``{path: [(start_s, end_s), ...]}``: where the explained event is in a clip, when it is
        known. Such clips also score the mask's share of mass inside the events and its lift
        over chance (:func:`speechbrain_interp.localization.event_scores`).

    Returns
    -------
    dict
        ``{"report": Path, "summary": Path, "entries": [...], "failed": {path: message}}``;
        ``report`` and ``summary`` are None, and nothing is written, when no file was explained.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> from speechbrain_interp.explainer import explain_classifier
    >>> from speechbrain_interp.audio import save_audio
    >>> from speechbrain_interp.synth import demo_clip
    >>> root = Path(tempfile.mkdtemp())
    >>> save_audio(root / "clips" / "demo.wav", demo_clip(1.0), 16000)
    >>> explainer = explain_classifier(make_speechbrain_classifier(root / "classifier", "xvector"))
    >>> result = explain_to_report(explainer, [root / "clips" / "demo.wav"], root / "out", progress=False)
    >>> result["report"].name, sorted(result["entries"][0]["scores"])[:3]
    ('report.html', ['AD', 'AD (SB)', 'AG'])
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in paths]
    events = {Path(k): v for k, v in (events or {}).items()}
    failed: dict[str, str] = {}
    entries: list[dict] = []

    def on_error(path, err):
        failed[str(path)] = str(err)

    # runs into the same folder take turns: each adds its clips to what the others wrote
    with _folder_lock(out):
        previous = _read_summary(out)
        names = _names_in_folder(paths, previous)
        # files are written by one worker thread while the next batch is explained (encoding
        # PNGs and WAVs releases the GIL, as the classifier's kernels do)
        pending = []
        with ThreadPoolExecutor(max_workers=1) as writer:
            for batch_paths, explanation in explainer.interpret_files(
                paths, batch_size=batch_size, progress=progress, on_error=on_error, target=target
            ):
                if metrics:
                    add_metrics(explanation, explainer.interpreter.classifier)
                stems = [names[p] for p in batch_paths]
                job = writer.submit(explanation.save, out, names=stems, summary=False, figure=figures)
                pending.append((batch_paths, explanation, job))
            for batch_paths, explanation, job in pending:
                saved = job.result()
                for i, (entry, path) in enumerate(zip(saved, batch_paths)):
                    entry["source"] = str(path)
                    if events and path in events:
                        _add_event_scores(entry, explanation, i, explainer, events[path])
                entries += saved
        position = {str(p): k for k, p in enumerate(paths)}
        entries.sort(key=lambda e: position.get(e["source"], len(position)))  # batches group by length
        if not entries:  # a run that explained nothing leaves an earlier run's results as they were
            return {"report": None, "summary": None, "entries": entries, "failed": failed}
        redone = {e["source"] for e in entries}
        listed = [e for e in previous if e.get("source") not in redone] + entries
        text = json.dumps(listed, indent=2)
        summary = replace_atomically(out / "summary.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
        info = dict(info or {})
        if failed:
            info["skipped files"] = "; ".join(f"{k}: {v}" for k, v in failed.items())
        report = write_report(out, listed, title=title or "speechbrain_interp explanations", info=info)
    return {"report": report, "summary": summary, "entries": entries, "failed": failed}


class _folder_lock:
    """An exclusive lock on ``folder/.speechbrain_interp.lock`` (POSIX ``flock``; none elsewhere)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".speechbrain_interp.lock"

    def __enter__(self):
        self.handle = open(self.path, "a")
        try:
            import fcntl
        except ImportError:  # Windows: no lock, runs into one folder must not overlap
            return self
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another run writing to {self.path.parent}/ ...", file=sys.stderr)
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.handle.close()  # closing releases the lock


def _read_summary(folder: Path) -> list[dict]:
    """Entries an earlier run listed in ``folder/summary.json`` (none if absent or unreadable)."""
    try:
        data = json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict) and "name" in e] if isinstance(data, list) else []


def _names_in_folder(paths: list[Path], previous: list[dict]) -> dict:
    """Output stems for ``paths``: unique among them and against clips of other sources already there.

    Example
    -------
    >>> earlier = [{"name": "dog", "source": "a/dog.wav"}]
    >>> _names_in_folder([Path("a/dog.wav"), Path("b/dog.wav")], earlier)  # a keeps its name
    {PosixPath('a/dog.wav'): 'dog', PosixPath('b/dog.wav'): 'b_dog'}
    >>> _names_in_folder([Path("b/dog.wav")], earlier)
    {PosixPath('b/dog.wav'): 'b_dog'}
    >>> _names_in_folder([Path("a/dog.wav")], earlier)  # the same file again: its own name
    {PosixPath('a/dog.wav'): 'dog'}
    """
    owner = {e["name"]: e.get("source") for e in previous}
    own = {str(p): e["name"] for e in previous for p in paths if e.get("source") == str(p)}
    names, used = {}, set()
    for path, name in zip(paths, _unique_names(paths)):
        if str(path) in own:
            name = own[str(path)]
        elif owner.get(name, str(path)) != str(path):
            name = f"{safe_stem(path.parent.name)}_{path.stem}" if path.parent.name else path.stem
        base, k = name, 2
        while name in used or owner.get(name, str(path)) != str(path):
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[path] = name
    return names

