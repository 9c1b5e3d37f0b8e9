"""Turn a recipe's output folder into an interpreter repository folder.

:func:`export_recipe` (short name :func:`export`, the ``speechbrain-interp export`` command)
loads the recipe's saved ``hyperparams.yaml`` from where the recipe ran, recovers its
checkpoint (or the weights it exported), finds the classifier folder it names, collects its
evaluation table (a markdown file, or the test line of ``train_log.txt``:
:func:`logged_test_table`) and hands everything to
:func:`speechbrain_interp.export.export_interpreter`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import os
import re
from io import StringIO
from pathlib import Path

from speechbrain_interp.export import export_interpreter
from speechbrain_interp.metrics import METRIC_NAMES
from speechbrain_interp.model_card import ModelCardInfo

__all__ = ["export_recipe", "export", "evaluation_from_file", "logged_test_table"]


def _recipe_folder(save_dir: Path) -> Path:
    """The recipe output folder (the one holding the saved ``hyperparams.yaml``)."""
    for folder in (save_dir, *list(save_dir.parents)[:3]):
        if (folder / "hyperparams.yaml").is_file():
            return folder
    raise FileNotFoundError(
        f"no hyperparams.yaml in {save_dir} or its parents; pass the recipe's output folder "
        "(SpeechBrain recipes save their hyperparams.yaml there)"
    )


class _chdir:
    """Run a block in another working directory (``contextlib.chdir`` needs Python 3.11)."""

    def __init__(self, path):
        self.path, self.old = path, None

    def __enter__(self):
        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.old)


def _recipe_root(folder: Path, output_folder) -> Path:
    """Where the recipe ran: relative paths in its YAML are relative to that directory."""
    if output_folder and not Path(str(output_folder)).is_absolute():
        parts = Path(str(output_folder)).parts
        if folder.parts[-len(parts):] == parts:
            return Path(*folder.parts[: -len(parts)]) if len(folder.parts) > len(parts) else Path("/")
    return Path.cwd()


def _find_classifier_source(hparams: dict, root: Path, recipe_folder: Path):
    """The one classifier inference folder the recipe names (a folder with hyperparams.yaml)."""
    found = [recipe_folder.resolve()]
    for value in hparams.values():
        if isinstance(value, (str, Path)) and str(value) and "\n" not in str(value):
            path = Path(str(value))
            path = path if path.is_absolute() else root / path
            if (path / "hyperparams.yaml").is_file() and path.resolve() not in found:
                found.append(path.resolve())
    return found[1] if len(found) == 2 else None


def evaluation_from_file(path) -> str:
    """Markdown of an evaluation file for a model card (headings demoted below the card's own).

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "results.md")
    >>> _ = open(path, "w").write("## mixture\\n\\n| method | AI |\\n|---|---|\\n| L-MAC | 61.6 |\\n")
    >>> print(evaluation_from_file(path))
    ### mixture
    <BLANKLINE>
    | method | AI |
    |---|---|
    | L-MAC | 61.6 |
    """
    text = Path(path).read_text(encoding="utf-8").strip()
    return "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())


def _recipe_evaluation(folder: Path):
    """The recipe's evaluation: a markdown file (``*eval*.md``, ``results.md``), else its test log line."""
    for path in sorted(folder.glob("*eval*.md")) + sorted(folder.glob("results*.md")):
        if any(ln.strip().startswith("|") for ln in path.read_text(encoding="utf-8").splitlines()):
            return evaluation_from_file(path), f"Tables from `{path.name}`, written by the recipe."
    return logged_test_table(folder / "train_log.txt")


def logged_test_table(train_log) -> tuple:
    """Rows of faithfulness metrics from the test line of a SpeechBrain ``train_log.txt``.

    Metrics logged with a ``mix_`` prefix (the L-MAC recipe's out-of-domain mixtures) make a
    second row. Returns ``(rows or None, note)``.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> _ = open(path, "w").write("epoch loaded: 7 - test loss: 1.2, test AI: 40.0, test AD: 9.5, "
    ...                           "test mix_AI: 30.0, test mix_AD: 12.0\\n")
    >>> logged_test_table(path)[0]
    [{'setting': 'in-domain', 'AI': 40.0, 'AD': 9.5}, {'setting': 'mixtures', 'AI': 30.0, 'AD': 12.0}]
    """
    path = Path(train_log)
    if not path.is_file():
        return None, ""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if " test " in f" {ln}"]
    if not lines:
        return None, ""
    stats = dict(re.findall(r"test ([\w-]+): ([-+\d.eE]+)", lines[-1]))
    rows = []
    for setting, prefix in (("in-domain", ""), ("mixtures", "mix_")):
        row = {m: float(stats[prefix + m]) for m in METRIC_NAMES if prefix + m in stats}
        if row:
            rows.append({"setting": setting, **row})
    if not rows:
        return None, ""
    epoch = re.search(r"epoch loaded: (\d+)", lines[-1], re.IGNORECASE)
    note = (f"Test-stage metrics logged by the recipe in `{path.name}`"
            + (f" (checkpoint of epoch {epoch.group(1)})" if epoch else "")
            + "; \"mixtures\" are the recipe's out-of-domain mixtures with another test clip.")
    return rows, note


def _load_exported_weights(interpreter, hparams: dict, folder: Path):
    """Load the weights a recipe exports next to its checkpoints; returns a note, or None."""
    if not getattr(interpreter, "trainable", False):
        return None
    weights_file = hparams.get("weights_file")
    if weights_file and Path(str(weights_file)).is_file():
        interpreter.load_weights(weights_file)  # e.g. L2I recipe: Psi, Theta and dictionary (safetensors)
        return f"exported weights {Path(str(weights_file)).name}"
    own = type(interpreter).weights_file  # e.g. L-MAC recipe: the best decoder, decoder.ckpt
    if own and (folder / own).is_file():
        interpreter.load_weights(folder / own)
        return f"exported best {Path(own).stem} {own}"
    return None


def export_recipe(save_dir, out, interpreter_key: str = "interpreter", classifier_source=None,
                  min_key: str | None = None, max_key: str | None = None, overrides=None,
                  card: ModelCardInfo | None = None, overwrite: bool = False, evaluation=None,
                  **kwargs) -> Path:
    """Turn a recipe's output (save) folder into a Hub repository folder.

    The recipe's saved ``hyperparams.yaml`` is loaded (it is your own recipe, so it is
    trusted), with the working directory set to where the recipe ran so its relative
    paths resolve; the checkpoint is recovered with the recipe's ``checkpointer`` and the
    interpreter under ``interpreter_key`` is exported with :func:`export_interpreter`.

    Arguments
    ---------
    save_dir : str or Path
        The recipe's output folder, or its ``save`` folder.
    out : str or Path
        The repository folder to write.
    interpreter_key : str
        hparams key of the trained brick.
    classifier_source : str or Path, optional
        The classifier's inference folder (default: the one folder with a ``hyperparams.yaml``
        that the recipe's hparams name).
    min_key, max_key : str, optional
        Checkpoint selection, as for ``Checkpointer.recover_if_possible``; default: what the
        recipe declares (``ckpt_key`` with ``ckpt_mode``, or ``checkpoint_min_key`` /
        ``checkpoint_max_key``), else the most recent checkpoint.
    evaluation : str or Path, optional
        A markdown file of evaluation tables (e.g. ``eval.py``'s ``results.md``) for the card.
    overrides : dict, optional
        hyperpyyaml overrides for loading the recipe YAML.
    card : ModelCardInfo, optional
        Model card text; its ``evaluation`` defaults to the recipe's table (``*eval*.md``).
    overwrite : bool
        Replace an existing ``out``.
    **kwargs
        Passed to :func:`export_interpreter`.

    Returns
    -------
    Path

    Example
    -------
    >>> export_recipe("results/ESC50/interpret/lmac/1234", "hub/lmac-esc50",
    ...               evaluation="results/ESC50/interpret/eval/results.md")  # doctest: +SKIP
    """
    from hyperpyyaml import load_hyperpyyaml

    folder = _recipe_folder(Path(save_dir).resolve())
    text = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
    from ruamel.yaml import YAML

    preview = YAML(typ="rt").load(text)
    root = _recipe_root(folder, preview.get("output_folder"))
    overrides = dict(overrides or {})
    if "output_folder" in preview:  # the folder may have moved since training
        overrides.setdefault("output_folder", str(folder))
    with _chdir(root):
        stream = StringIO(text)
        stream.name = str(folder / "hyperparams.yaml")
        hparams = load_hyperpyyaml(stream, overrides)
        if interpreter_key not in hparams:
            raise KeyError(f"the recipe's hparams have no '{interpreter_key}' (keys: {sorted(hparams)[:30]})")
        interpreter = hparams[interpreter_key]
        checkpointer = hparams.get("checkpointer")
        if min_key is None and max_key is None:  # the recipe's own selection, when it declares one
            min_key, max_key = hparams.get("checkpoint_min_key"), hparams.get("checkpoint_max_key")
            if hparams.get("ckpt_key") and min_key is None and max_key is None:
                if hparams.get("ckpt_mode", "min") == "min":
                    min_key = hparams["ckpt_key"]
                else:
                    max_key = hparams["ckpt_key"]
        checkpoint = None
        if checkpointer is not None:
            checkpoint = checkpointer.recover_if_possible(min_key=min_key, max_key=max_key)
        source_note = f"checkpoint {Path(str(checkpoint.path)).name}" if checkpoint is not None else None
        if checkpoint is None:  # e.g. a --debug run, whose checkpoints live in a temporary folder
            source_note = _load_exported_weights(interpreter, hparams, folder)
        if source_note is None:
            raise FileNotFoundError(
                f"no checkpoint in {getattr(checkpointer, 'checkpoints_dir', folder / 'save')} and no "
                f"exported weights (decoder.ckpt, weights_file) in {folder}; train first"
            )
        if classifier_source is None:
            classifier_source = _find_classifier_source(hparams, root, folder)
        classifier_source = Path(classifier_source).resolve() if classifier_source else None
    card = card or ModelCardInfo()
    card.notes = (card.notes + "\n\n" if card.notes else "") + (
        f"Exported with `speechbrain-interp export` from the recipe output `{folder.name}` ({source_note}).")
    if evaluation is not None:
        card.evaluation = evaluation_from_file(evaluation)
        card.evaluation_note = card.evaluation_note or f"Tables from `{Path(evaluation).name}`."
    if card.evaluation is None:
        card.evaluation, note = _recipe_evaluation(folder)
        card.evaluation_note = card.evaluation_note or note
    interpreter.eval()
    return export_interpreter(interpreter, out, classifier_source=classifier_source, card=card,
                              overwrite=overwrite, **kwargs)


def export(save_dir, out, **kwargs) -> Path:
    """Short name of :func:`export_recipe`."""
    return export_recipe(save_dir, out, **kwargs)
