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

import contextlib
import json
import sys
from pathlib import Path

import torch

from speechbrain_interp.checkpointing import replace_atomically
from speechbrain_interp.concept_sounds import listen_to_concepts
from speechbrain_interp.explanation import Explanation, safe_stem
from speechbrain_interp.interpreting import file_worker
from speechbrain_interp.report_check import check_report_in_chromium, find_chromium  # noqa: F401 (old path)
from speechbrain_interp.report_page import write_report

__all__ = [
    "add_metrics",
    "write_report",
    "explain_to_report",
    "find_chromium",
    "check_report_in_chromium",
]

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
                      metrics: bool = True, events: dict | None = None, figures: str = "fast",
                      shard=None, concept_listener=None) -> dict:
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
    concept_listener : Interpreter, optional
        A text-conditioned brick (``explain(wav, text=...)``): each top concept of a concept
        explanation gets its mask, sound and energy share
        (:func:`speechbrain_interp.concept_sounds.listen_to_concepts`), saved and shown in the report.
    shard : speechbrain_interp.sharding.Shard, optional
        Under ``torchrun``: this process explains its share of ``paths`` and writes its clips'
        files; rank 0 gathers every rank's entries and writes ``summary.json`` and the report.
        Output names are decided from all of ``paths``, the same on every rank, so ranks never
        write the same file. A rank that fails is named in ``failed_ranks``, and its clips in
        ``failed``.

    Returns
    -------
    dict
        ``{"report": Path, "summary": Path, "entries": [...], "failed": {path: message},
        "failed_ranks": {rank: message}}``; ``report`` and ``summary`` are None, and nothing is
        written, when no file was explained (and on ranks other than 0).

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

    def on_error(path, err):
        failed[str(path)] = str(err)

    # runs into the same folder take turns: each adds its clips to what the others wrote; the
    # ranks of one sharded run are one run, rank 0 holds the lock for them
    lock = _folder_lock(out) if shard is None or shard.is_main else contextlib.nullcontext()
    failed_ranks: dict[int, str] = {}
    with lock:
        previous = _read_summary(out)
        names = _names_in_folder(paths, previous)
        mine = paths if shard is None else shard.take(paths)
        try:
            entries = _explain_files(explainer, mine, out, names, batch_size, progress, on_error, target,
                                     metrics, figures, events, concept_listener)
            error = None
        except Exception as err:  # noqa: BLE001 (under torchrun the others still merge; named below)
            if shard is None:
                raise
            entries, error = [], f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
        if shard is not None:
            entries, failed, failed_ranks = _merge_ranks(shard, paths, entries, failed, error)
            if not shard.is_main:
                return {"report": None, "summary": None, "entries": entries, "failed": failed,
                        "failed_ranks": failed_ranks}
        position = {str(p): k for k, p in enumerate(paths)}
        entries.sort(key=lambda e: position.get(e["source"], len(position)))  # batches group by length
        if not entries:  # a run that explained nothing leaves an earlier run's results as they were
            return {"report": None, "summary": None, "entries": entries, "failed": failed,
                    "failed_ranks": failed_ranks}
        redone = {e["source"] for e in entries}
        listed = [e for e in previous if e.get("source") not in redone] + entries
        text = json.dumps(listed, indent=2)
        summary = replace_atomically(out / "summary.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
        info = dict(info or {})
        clf = getattr(getattr(explainer, "interpreter", None), "classifier", None)
        if clf is not None:  # (rank 0 of a sharded run may have failed to load it)
            model = getattr(clf, "model", None)
            info.setdefault("classifier", f"{type(model if model is not None else clf).__name__}, "
                                          f"{clf.num_classes or '?'} classes, {clf.sample_rate} Hz")
        info.setdefault("settings", f"batch size {batch_size}; explained class: "
                                    f"{'the prediction' if target is None else target}; images: {figures}")
        if shard is not None:
            info.setdefault("processes", f"{shard.world_size} (torchrun), files sharded across them")
        if failed_ranks:
            info["failed processes"] = "; ".join(f"rank {r}: {m}" for r, m in failed_ranks.items())
        if failed:
            info["skipped files"] = "; ".join(f"{k}: {v}" for k, v in failed.items())
        report = write_report(out, listed, title=title or "speechbrain_interp explanations", info=info)
    return {"report": report, "summary": summary, "entries": entries, "failed": failed,
            "failed_ranks": failed_ranks}


def _explain_files(explainer, paths, out, names, batch_size, progress, on_error, target, metrics, figures,
                   events, concept_listener=None) -> list[dict]:
    """Explain ``paths`` in batches and write each clip's files; the summary entries, in batch order."""
    entries: list[dict] = []
    # files are written by one worker thread while the next batch is explained (encoding
    # PNGs and WAVs releases the GIL, as the classifier's kernels do), where a core is free for it
    pending = []
    with file_worker() as writer:
        for batch_paths, explanation in explainer.interpret_files(
            paths, batch_size=batch_size, progress=progress, on_error=on_error, target=target
        ):
            if metrics:
                add_metrics(explanation, explainer.interpreter.classifier)
            if concept_listener is not None and explanation.concepts is not None:
                listen_to_concepts(explanation, concept_listener)
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
    return entries


def _merge_ranks(shard, paths, entries, failed, error):
    """Rank 0's view of a sharded run: every rank's entries (each clip once) and failures."""
    gathered = shard.gather({"entries": entries, "failed": failed, "error": error})
    if not shard.is_main:
        return entries, failed, ({shard.rank: error} if error else {})
    merged, seen, all_failed, failed_ranks = [], set(), {}, {}
    for rank, part in enumerate(gathered):
        all_failed.update(part["failed"])
        if part["error"]:
            failed_ranks[rank] = part["error"]
            for path in paths[rank :: shard.world_size]:
                all_failed.setdefault(str(path), f"not explained: process {rank} failed ({part['error']})")
        for entry in part["entries"]:
            if entry["source"] not in seen:  # shards are disjoint; this only guards the merge
                seen.add(entry["source"])
                merged.append(entry)
    return merged, all_failed, failed_ranks


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

