"""The ``explain`` command's work: load what the flags ask for, explain clips or long recordings.

One process, or many under ``torchrun`` (:mod:`speechbrain_interp.sharding`): each rank explains
its share of the files and rank 0 tells the user and writes the report. :mod:`speechbrain_interp.cli`
parses the command line and calls :func:`run_explain` or :func:`run_long`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["load_explainer", "run_explain", "run_long", "say", "first_line"]


def load_explainer(args):
    """The interpreter the flags ask for, and a sentence saying what it is."""
    from speechbrain_interp.explainer import explain_classifier
    from speechbrain_interp.interfaces import load
    from speechbrain_interp.loading import load_classifier
    from speechbrain_interp.sources import bundled_interpreter

    common = {"savedir": args.savedir, "trust_code": args.trust_code, "offline": args.offline or None,
              "allow": getattr(args, "allow", None) or ()}
    run_opts = {"device": args.device}
    interpreter = getattr(args, "interpreter", None)
    classifier = getattr(args, "classifier", None)
    if classifier:
        pretrained = load_classifier(classifier, run_opts=run_opts, **common)
        baseline = getattr(args, "baseline", None) or "saliency"
        explainer = explain_classifier(pretrained, interpreter=interpreter, baseline=baseline,
                                       layers=getattr(args, "layers", None), **common)
        what = (f"interpreter {interpreter} on classifier {classifier}" if interpreter
                else f"{baseline} gradient baseline on classifier {classifier}")
        return explainer.to(args.device), what
    if interpreter:
        return load(interpreter, run_opts=run_opts, **common), f"interpreter {interpreter}"
    source = bundled_interpreter()
    return load(source, run_opts=run_opts), f"bundled interpreter {source.name}"


def first_line(err: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def say(args, *text):
    """Print, unless ``--quiet``."""
    if not args.quiet:
        print(*text)


def run_explain(args, paths, out: Path, title: str, events: dict | None = None) -> int:
    """Explain clips into ``out`` and write the report (sharded under ``torchrun``); the exit status."""
    from speechbrain_interp.sharding import distributed

    with distributed(getattr(args, "device", "cpu")) as shard:
        if shard is None:
            return _explain_and_tell(args, paths, out, title, events)
        args.device = shard.device(args.device)
        if not shard.is_main:  # rank 0 speaks for the run; the others hand it their results
            args.quiet = True
        code = _explain_and_tell(args, paths, out, title, events, shard=shard)
        # a rank's failure is rank 0's to report: a non-zero exit would make torchrun stop the others
        return code if shard.is_main else 0


class _Unloaded:
    """Stands in for an explainer a rank could not load: explaining raises the loading error."""

    def __init__(self, error: Exception):
        self.error = error

    def interpret_files(self, *args, **kwargs):
        raise self.error


def _explain_and_tell(args, paths, out: Path, title: str, events: dict | None = None, shard=None) -> int:
    from speechbrain_interp.report import explain_to_report

    try:
        explainer, what = load_explainer(args)
    except Exception as err:
        if shard is None:
            raise
        explainer, what = _Unloaded(err), "?"  # this rank still joins the merge, as a failed rank
    say(args, f"explaining {len(paths)} file(s) with {what}"
                 + (f" in {shard.world_size} processes" if shard else ""))
    target = getattr(args, "target", None)
    if target is not None and target.isdigit():
        target = int(target)
    if getattr(args, "each_label", False):
        from speechbrain_interp.interpreting import EACH_LABEL

        target = EACH_LABEL
    listener = None
    if getattr(args, "concept_sounds", None):
        from speechbrain_interp.lmac_text_export import load_text_lmac

        listener = load_text_lmac(args.concept_sounds, savedir=args.savedir).to(args.device)
    result = explain_to_report(
        explainer, paths, out, batch_size=getattr(args, "batch_size", 8), progress=not args.quiet,
        target=target, title=title, info={"interpreter": what},
        metrics=not getattr(args, "no_metrics", False), events=events,
        figures="none" if getattr(args, "no_images", False) else getattr(args, "figures", "detailed"),
        shard=shard, concept_listener=listener,
    )
    if shard is not None and not shard.is_main:
        return 0
    for rank, message in result["failed_ranks"].items():
        print(f"error: process {rank} failed: {message}", file=sys.stderr)
    for entry in result["entries"]:
        say(args, f"  {entry['name']}: {entry['label']} (p={entry['probability']:.2f}, "
                     f"on the interpretation {entry['probability_in']:.2f})")
        if "prediction" in entry and entry["prediction"] != entry["label"]:
            top = ", ".join(f"{name} {p:.2f}" for name, p in entry["top_classes"][:3])
            say(args, f"    the mask explains {entry['label']}, as asked; the classifier predicts "
                         f"{entry['prediction']} (top classes: {top})")
        if "events" in entry:
            sc = entry["scores"]
            cover, on, off = (sc["events' share of the clip"], sc["energy kept on the events"],
                              sc["energy kept elsewhere"])
            say(args, f"  the interpretation keeps {on:.0%} of the energy on the events and {off:.0%} of "
                         "the rest; "
                         f"{sc['mask share on the events']:.0%} of the mask's mass lies on the events, which "
                         f"cover {cover:.0%} of the clip")
    for path, message in result["failed"].items():
        print(f"skipped {path}: {message}", file=sys.stderr)
    notes = {e.get("note") for e in result["entries"] if e.get("note")}
    for note in notes:
        say(args, f"note: {note}")
    if not result["entries"]:
        print("error: no file could be explained; nothing was written, earlier results in "
              f"{out}/ are kept", file=sys.stderr)
        return 1
    say(args, f"wrote {len(result['entries'])} explanation(s) to {out}/")
    say(args, f"open the report in a browser: {result['report'].resolve()}")
    if result["failed"]:
        print(f"explained {len(result['entries'])} of {len(paths)} file(s); {len(result['failed'])} "
              "skipped (named above)", file=sys.stderr)
        return 3
    return 0


def run_long(args, paths, out: Path) -> int:
    """Explain long recordings in windows and write ``timeline.html`` (sharded under ``torchrun``)."""
    from speechbrain_interp.sharding import distributed

    with distributed(getattr(args, "device", "cpu")) as shard:
        if shard is not None:
            args.device = shard.device(args.device)
            args.quiet = args.quiet or not shard.is_main
        code = _explain_long_and_tell(args, paths, out, shard)
        return code if shard is None or shard.is_main else 0


def _explain_long_and_tell(args, paths, out: Path, shard=None) -> int:
    """Each recording in windows (this rank's share under torchrun); rank 0 writes timeline.html."""
    from speechbrain_interp.audio import AudioError
    from speechbrain_interp.long_audio import explain_long
    from speechbrain_interp.timeline_page import write_timeline_report

    mine = paths if shard is None else shard.take(paths)
    results, failed, error = [], {}, None
    try:
        explainer, what = load_explainer(args)
        say(args, f"explaining {len(paths)} recording(s) in {args.window:g} s windows with {what}"
                     + (f" in {shard.world_size} processes" if shard else ""))
        images = not getattr(args, "no_images", False) and getattr(args, "figures", "fast") != "none"
        for path in mine:
            try:
                results.append(explain_long(explainer, path, out, window_s=args.window, images=images,
                                            progress=not args.quiet))
            except (AudioError, OSError, RuntimeError) as err:  # other recordings still get explained
                failed[str(path)] = first_line(err)
    except Exception as err:
        if shard is None:
            raise
        error = f"{type(err).__name__}: {first_line(err)}"
    if shard is not None:
        parts = shard.gather({"results": results, "failed": failed, "error": error})
        if not shard.is_main:
            return 0
        results, failed = [], {}
        for rank, part in enumerate(parts):
            results += part["results"]
            failed.update(part["failed"])
            if part["error"]:
                print(f"error: process {rank} failed: {part['error']}", file=sys.stderr)
                failed.update({str(p): f"process {rank} failed" for p in paths[rank :: shard.world_size]})
    for result in results:
        heard = "; ".join(f"{c}: " + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans)
                          for c, spans in result["classes"].items()) or "no class above 0.5"
        say(args, f"  {Path(result['source']).name}: {len(result['windows'])} windows; {heard}")
    for path, message in failed.items():
        print(f"skipped {path}: {message}", file=sys.stderr)
    if not results:
        print(f"error: no recording could be explained; earlier results in {out}/ are kept", file=sys.stderr)
        return 1
    order = {str(p): k for k, p in enumerate(paths)}
    results.sort(key=lambda r: order.get(r["source"], len(order)))
    page = write_timeline_report(out, results)
    say(args, f"wrote stitched WAVs and timelines to {out}/")
    say(args, f"open the timeline in a browser: {page.resolve()}")
    return 3 if failed else 0
