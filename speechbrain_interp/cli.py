"""``speechbrain-interp``: explain audio from the command line, export and share interpreters.

Run ``speechbrain-interp --help`` (or ``python -m speechbrain_interp --help``) for the
commands; ``speechbrain-interp demo`` is the place to start.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path

from speechbrain_interp.cli_explain import run_explain, run_long, say

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
Listen to why an audio classifier decides what it decides.

An interpreter explains a classifier's prediction with a mask over the spectrogram.
For every clip you get three WAVs (the original, the interpretation: the part of the
sound that drove the decision, and the residual: the rest), a figure, the prediction,
faithfulness metrics, and one HTML report to open in a browser.

Start here (offline, nothing to download):
  speechbrain-interp demo                          # explains synthesized chirps in noise
  speechbrain-interp explain my_clips/ --out explanations/
"""

_EPILOG = """\
examples:
  speechbrain-interp demo --out demo/
  speechbrain-interp explain dog.wav rain.flac --out explanations/
  speechbrain-interp explain clips/ --interpreter org/lmac-esc50 --out explanations/
  speechbrain-interp explain clips/ --classifier speechbrain/cnn14-esc50 --out explanations/
  speechbrain-interp train my_audio/ --classifier path/to/classifier --out my_interpreter/
  speechbrain-interp export results/ESC50/interpret/lmac --out hub/lmac-esc50
  speechbrain-interp push hub/lmac-esc50 my-org/lmac-esc50
  speechbrain-interp check-report explanations/report.html

SOURCE is a local folder or a Hugging Face Hub id (org/name). Hub repositories are
cached, and load offline from the cache afterwards (HF_HUB_OFFLINE=1 forbids the
network). Downloaded hyperparams.yaml files may only build allow-listed classes unless
you pass --trust-code.

Exit status: 0 every input explained; 1 an error (nothing written, earlier results in
--out kept); 2 bad usage or no audio input; 3 some inputs explained, others skipped
(each skipped file is named on stderr).
"""


def _add_loading(p: argparse.ArgumentParser) -> None:
    p.add_argument("--savedir", help="where SpeechBrain collects links to downloaded files")
    p.add_argument("--trust-code", action="store_true",
                   help="let a downloaded hyperparams.yaml build classes outside the allow-list "
                        "(only for repositories you trust)")
    p.add_argument("--allow", action="append", default=[], metavar="MODULE_OR_CLASS",
                   help="also let a folder's YAML build this class, or the classes of this module "
                        "(e.g. your model's package); repeat for several")
    p.add_argument("--offline", action="store_true",
                   help="never use the network: load Hub ids from the local cache only")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda:0 (default: cpu)")


def _subparser(quiet):
    class _Sub(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs):
            kwargs["parents"] = [*kwargs.get("parents", []), quiet]
            super().__init__(*args, **kwargs)

    return _Sub


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``speechbrain-interp`` (all sub-commands).

    Example
    -------
    >>> args = build_parser().parse_args(["explain", "dog.wav", "--classifier", "my/classifier"])
    >>> args.command, args.inputs, args.baseline, args.out  # no --baseline: saliency, when it applies
    ('explain', ['dog.wav'], None, 'explanations')
    """
    parser = argparse.ArgumentParser(
        prog="speechbrain-interp", description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info lines")
    quiet = argparse.ArgumentParser(add_help=False)  # -q also works after the command
    quiet.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars or info lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_subparser(quiet))

    demo = sub.add_parser(
        "demo", help="explain a synthesized clip (cricket-like chirps in noise) with the bundled interpreter",
        description="Synthesize a 5 s clip (two bursts of cricket-like chirps over noise, at known "
                    "times), explain it with the bundled pretrained L-MAC interpreter (ESC-50 "
                    "classifier), say how much of the mask lies on the chirps, and write the WAVs, "
                    "the figure and report.html. Works offline.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--out", default="speechbrain_interp_demo", help="output folder (default: %(default)s)")
    demo.add_argument("--interpreter", metavar="SOURCE",
                      help="use this interpreter (folder or Hub id) instead of the bundled one")
    demo.add_argument("--check", action="store_true",
                      help="also open the report in headless Chromium and check that the audio plays")
    _add_loading(demo)

    explain = sub.add_parser(
        "explain", help="explain audio files or folders and write a listenable HTML report",
        description="Explain every audio file given (folders are searched recursively for "
                    "wav/flac/ogg/mp3). Without --interpreter or --classifier, the bundled pretrained "
                    "L-MAC interpreter (ESC-50 classes) is used. With --classifier alone, that SpeechBrain "
                    "classifier is explained right away with a gradient baseline (no training needed; the "
                    "report says so). With both, the trained interpreter explains that classifier.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("inputs", nargs="+", metavar="FILE|DIR", help="audio files or folders")
    explain.add_argument("--interpreter", metavar="SOURCE", help="pretrained interpreter (folder or Hub id)")
    explain.add_argument("--classifier", metavar="SOURCE",
                         help="a SpeechBrain AudioClassifier/EncoderClassifier (folder or Hub id) to explain")
    explain.add_argument("--baseline", default=None,
                         choices=["saliency", "integrated_gradients", "smoothgrad", "gradcam"],
                         help="gradient baseline used with --classifier and no --interpreter "
                              "(default: saliency)")
    explain.add_argument("--out", default="explanations", help="output folder (default: %(default)s)")
    explain.add_argument("--batch-size", type=int, default=8, help="files per batch (default: %(default)s)")
    explain.add_argument("--target", help="class name or index to explain instead of the prediction")
    explain.add_argument("--text", metavar="PROMPT",
                         help="with a text-conditioned --interpreter folder: mask what matches PROMPT")
    explain.add_argument("--concept-sounds", metavar="FOLDER",
                         help="with a concept --interpreter: give each top concept its mask and its own "
                              "sound, from this text-conditioned L-MAC folder (which concept, where)")
    explain.add_argument("--each-label", action="store_true",
                         help="one mask and interpretation per label the clip is heard as (multi-label "
                              "classifiers: every label above 0.5)")
    explain.add_argument("--long", action="store_true",
                         help="recordings of any length: explain in overlapping windows of --window seconds, "
                              "write stitched WAVs, a timeline per file and timeline.html, a clickable strip "
                              "per recording (bounded memory)")
    explain.add_argument("--window", type=float, default=5.0, help="with --long: window length in seconds")
    explain.add_argument("--no-metrics", action="store_true", help="skip the faithfulness metrics")
    explain.add_argument("--figures", choices=("fast", "detailed", "none"), default="fast",
                         help="image per clip: colour-mapped panels (fast, default), the full figure "
                              "(detailed), or none")
    explain.add_argument("--no-images", action="store_true", help="no image per clip (--figures none)")
    explain.add_argument("--layers", nargs="+", metavar="MODULE",
                         help="with --classifier: the classifier's modules to read (Grad-CAM uses the "
                              "first; default: per architecture)")
    _add_loading(explain)

    train = sub.add_parser(
        "train", help="train an L-MAC interpreter for a SpeechBrain classifier on your own audio",
        description="Train an L-MAC interpreter for a classifier on a folder of your audio (no labels "
                    "needed: L-MAC explains the classifier's own predictions), then write it as a "
                    "repository folder that `explain --interpreter` and `push` accept.",
    )
    train.add_argument("audio", nargs="+", metavar="FILE|DIR", help="training audio (files or folders)")
    train.add_argument("--classifier", required=True, metavar="SOURCE", help="classifier folder or Hub id")
    train.add_argument("--out", required=True, help="repository folder to write")
    train.add_argument("--epochs", type=int, default=10, help="default: %(default)s")
    train.add_argument("--batch-size", type=int, default=8, help="default: %(default)s")
    train.add_argument("--seconds", type=float, default=5.0,
                       help="crop length in seconds (default: %(default)s)")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: %(default)s)")
    train.add_argument("--layers", nargs="+",
                       help="hidden layers the decoder reads (default: per architecture)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    train.add_argument("--valid", nargs="+", metavar="FILE|DIR",
                       help="validation audio (default: a tenth of the training files is held out)")
    train.add_argument("--max-minutes", type=float, metavar="MINUTES",
                       help="stop after this much training time, keeping the best decoder so far")
    train.add_argument("--class-conditional", action="store_true",
                       help="one mask per class asked for (explain --target X masks X's evidence)")
    train.add_argument("--evidence-layer", metavar="LAYER",
                       help="class-conditional through the classifier's evidence for the class on this "
                            "hidden layer (a map with a time axis, e.g. the last convolutional block)")
    _add_loading(train)

    export = sub.add_parser(
        "export", help="turn a recipe's output folder into a Hub repository folder",
        description="Load a training recipe's saved hyperparams.yaml, recover its selected checkpoint and "
                    "write a repository folder: hyperparams.yaml, config.json, safetensors weights, label "
                    "encoder, example clips and a model card (README.md).",
    )
    export.add_argument("save_dir", metavar="RECIPE_SAVE_DIR", help="the recipe's output (or save) folder")
    export.add_argument("--out", required=True, metavar="HUB_FOLDER", help="repository folder to write")
    export.add_argument("--classifier", metavar="FOLDER", help="the classifier's inference folder "
                        "(default: the one the recipe names)")
    export.add_argument("--interpreter-key", default="interpreter", help="hparams key of the brick")
    export.add_argument("--min-key", help="select the checkpoint with the lowest value of this metric")
    export.add_argument("--max-key", help="select the checkpoint with the highest value of this metric")
    export.add_argument("--repo-id", default="<your-org>/<this-repo>",
                        help="Hub id for the card's usage code")
    export.add_argument("--title", default="L-MAC interpreter", help="model card title")
    export.add_argument("--training-data", default="unknown", help="training data name for the model card")
    export.add_argument("--training-data-url", default="", help="where the training data is documented")
    export.add_argument("--training-data-license", default="unknown", help="licence of the training data")
    export.add_argument("--license", default="other", help="Hub licence id of the weights")
    export.add_argument("--evaluation", metavar="RESULTS_MD",
                        help="markdown file of evaluation tables for the model card "
                             "(e.g. results/ESC50/interpret/eval/results.md)")
    export.add_argument("--classifier-description", default="",
                        help="a sentence on the classifier for the model card")
    export.add_argument("--notes", default="", help="extra model card text (limitations, how it was made)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing HUB_FOLDER")

    push = sub.add_parser("push", help="upload a repository folder to the Hugging Face Hub",
                          description="Check the folder (complete, safetensors only), create the repository "
                                      "if needed and upload it. Log in first with `hf auth login` or pass "
                                      "--token.")
    push.add_argument("folder", metavar="HUB_FOLDER")
    push.add_argument("repo_id", metavar="REPO_ID", help="org/name")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.add_argument("--token", help="Hub token (default: the logged-in user's)")
    push.add_argument("--message", help="commit message")

    check = sub.add_parser("check-report", help="open a report in headless Chromium and check its audio",
                           description="Load report.html in headless Chromium (Debian: apt-get install "
                                       "chromium), check that every audio element loads a file that "
                                       "exists, and save a screenshot.")
    check.add_argument("report", help="the report.html")
    check.add_argument("--screenshot", help="PNG to write (default: next to the report)")
    return parser


def _cmd_demo(args) -> int:
    from speechbrain_interp.audio import save_audio
    from speechbrain_interp.synth import demo_scene

    out = Path(args.out)
    explainer_rate = 16000
    inputs = out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    clip = inputs / "crickets_in_noise.wav"
    wav, events = demo_scene(5.0, sample_rate=explainer_rate)
    save_audio(clip, wav, explainer_rate)
    where = " and ".join(f"{a:g}-{b:g} s" for a, b in events)
    say(args, f"synthesized cricket-like chirps at {where} over background noise: {clip}")
    code = run_explain(args, [clip], out, title="speechbrain_interp demo: chirps in noise",
                        events={clip: events})
    if code == 0 and args.check:
        return _check(out / "report.html", None, args)
    return code


def _cmd_explain(args) -> int:
    from speechbrain_interp.interpreting import audio_files

    if args.baseline and not args.classifier:
        print("error: --baseline explains the classifier given with --classifier; pass --classifier "
              "SOURCE too (without it, the bundled L-MAC interpreter runs)", file=sys.stderr)
        return 2
    if args.baseline and args.interpreter:
        print("error: --baseline stands in for a trained interpreter; pass --baseline or --interpreter, "
              "not both", file=sys.stderr)
        return 2
    if args.each_label and args.target is not None:
        print("error: --each-label explains every label a clip is heard as; pass --each-label or --target "
              "CLASS, not both", file=sys.stderr)
        return 2
    paths = audio_files(args.inputs)
    if not paths:
        print(f"error: no audio files (wav, flac, ogg, mp3) in {' '.join(args.inputs)}", file=sys.stderr)
        return 2
    if args.text is not None:
        from speechbrain_interp.cli_text import run_text

        return run_text(args, paths, Path(args.out))
    if args.long:
        return run_long(args, paths, Path(args.out))
    return run_explain(args, paths, Path(args.out), title="speechbrain_interp explanations")


def _cmd_train(args) -> int:
    from speechbrain_interp.interpreting import audio_files
    from speechbrain_interp.training import train_lmac

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        print(f"error: --out {out} already exists; pass --overwrite to replace it, or choose another "
              "folder (checked before training, so nothing was trained)", file=sys.stderr)
        return 2
    paths = audio_files(args.audio)
    if not paths:
        print(f"error: no audio files in {' '.join(args.audio)}", file=sys.stderr)
        return 2
    result = train_lmac(
        args.classifier, paths, out=args.out, epochs=args.epochs, batch_size=args.batch_size,
        seconds=args.seconds, lr=args.lr, layers=args.layers, progress=not args.quiet,
        overwrite=args.overwrite, trust_code=args.trust_code, offline=args.offline or None,
        device=args.device, **({"class_conditional": True} if args.class_conditional else {}),
        **({"evidence_layer": args.evidence_layer} if args.evidence_layer else {}),
        valid=args.valid, max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
        allow=args.allow,
    )
    say(args, json.dumps(result.history[-1] if result.history else {}, indent=2))
    if result.stopped_early:
        say(args, f"stopped at the --max-minutes budget after epoch {result.history[-1]['epoch']}; "
                     "the best decoder so far was kept")
    say(args, f"wrote the interpreter to {args.out}/; explain with: speechbrain-interp explain FILES "
                 f"--interpreter {args.out} --classifier {args.classifier}")
    return 0


def _cmd_export(args) -> int:
    from speechbrain_interp.model_card import ModelCardInfo
    from speechbrain_interp.recipe_export import export_recipe

    card = ModelCardInfo(title=args.title, training_data=args.training_data,
                         training_data_url=args.training_data_url,
                         training_data_license=args.training_data_license, license=args.license,
                         repo_id=args.repo_id, classifier=args.classifier_description, notes=args.notes)
    out = export_recipe(args.save_dir, args.out, interpreter_key=args.interpreter_key,
                        classifier_source=args.classifier, min_key=args.min_key, max_key=args.max_key,
                        card=card, overwrite=args.overwrite, evaluation=args.evaluation)
    say(args, f"wrote {out}/:")
    for path in sorted(out.rglob("*")):
        if path.is_file():
            say(args, f"  {path.relative_to(out)}  ({path.stat().st_size / 1024:.0f} KiB)")
    say(args, f"share it with: speechbrain-interp push {out} <org>/<name>")
    return 0


def _cmd_push(args) -> int:
    from speechbrain_interp.export import push_to_hub

    info = push_to_hub(args.folder, args.repo_id, token=args.token, private=args.private or None,
                       commit_message=args.message)
    say(args, f"pushed {args.folder} to https://huggingface.co/{args.repo_id}")
    url = getattr(info, "commit_url", None)
    if url:
        say(args, f"commit: {url}")
    return 0


def _check(report, screenshot, args) -> int:
    from speechbrain_interp.report_check import check_report_in_chromium, find_chromium

    if find_chromium() is None:
        print("error: no chromium found; install it (Debian/Ubuntu: apt-get install -y chromium)",
              file=sys.stderr)
        return 2
    result = check_report_in_chromium(report, screenshot=screenshot)
    ok = (result["loaded"] and result["audio_done"] and not result["missing_files"]
          and result["audio_failed"] == 0 and result["audio_ok"] == result["audio_total"] > 0
          and result["screenshot"] is not None)
    print(f"report loaded: {result['loaded']}; audio playable: {result['audio_ok']} of "
          f"{result['audio_total']}; missing files: {len(result['missing_files'])}; "
          f"screenshot: {result['screenshot']}")
    return 0 if ok else 1


def _cmd_check(args) -> int:
    if not Path(args.report).is_file():
        print(f"error: no report at {args.report}; give the report.html that `explain` or `demo` wrote",
              file=sys.stderr)
        return 2
    return _check(args.report, args.screenshot, args)


_COMMANDS = {"demo": _cmd_demo, "explain": _cmd_explain, "train": _cmd_train, "export": _cmd_export,
             "push": _cmd_push, "check-report": _cmd_check}


def main(argv=None) -> int:
    """Run the command line; returns the exit status.

    Example
    -------
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: speechbrain-interp [-h] [-q] COMMAND ...
    ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help and usage errors
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", force=True)
    for handler in logging.getLogger().handlers:  # SpeechBrain's fetch/load chatter stays out
        handler.setLevel(logging.WARNING)
    if args.quiet:
        warnings.simplefilter("ignore")
    from speechbrain_interp.audio import AudioError
    from speechbrain_interp.safety import UnsafeHparamsError
    from speechbrain_interp.sources import HubUnavailableError

    device = str(getattr(args, "device", "cpu"))
    if device.startswith("cuda") and not torch_cuda_available():
        print(f"error: --device {device} asks for a GPU, but torch sees none on this machine; "
              "use --device cpu", file=sys.stderr)
        return 2
    try:
        return _COMMANDS[args.command](args)
    except (HubUnavailableError, UnsafeHparamsError, AudioError, FileNotFoundError, FileExistsError,
            ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as err:
        print(f"error: this needs the optional package '{err.name}', which is not installed: "
              f"pip install {err.name}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # no traceback reaches a CLI user: one line, the first of the message
        if os.environ.get("SPEECHBRAIN_INTERP_TRACEBACK"):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"error: {type(err).__name__}: {first} (set SPEECHBRAIN_INTERP_TRACEBACK=1 to see where)",
              file=sys.stderr)
        return 1


def torch_cuda_available() -> bool:
    """Whether torch sees a CUDA device (imported late: the CLI starts fast)."""
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    sys.exit(main())
