"""Small helpers shared by the ESC-50 recipes.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import speechbrain as sb
import torch
import yaml
from esc50_prepare import prepare_esc50
from hyperpyyaml import load_hyperpyyaml

from speechbrain_interp.audio import load_audio, save_audio

logger = logging.getLogger(__name__)


class _PeekLoader(yaml.SafeLoader):
    """Reads plain top-level values of a hyperpyyaml file; tagged nodes become None."""


_PeekLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def start_processes(run_opts):
    """Join the ``torchrun`` process group (SpeechBrain's DDP) and share the CPU cores.

    Returns the run options to build the Brain with (changed for ``--debug`` under ``torchrun``).
    """
    sb.utils.distributed.ddp_init_group(run_opts)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # a process group left to the interpreter's exit can abort a process at the very end
        # ("terminate called without an active exception"), failing a run that finished
        atexit.register(_leave_process_group)
    if world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
        # --debug moves checkpoints to a temporary folder of each process's own: the processes
        # would then disagree on which checkpoints exist, and SpeechBrain's synchronised deletion
        # would wait forever. One shared folder, as in a real run.
        if run_opts.get("debug"):
            if isinstance(run_opts, dict):
                run_opts = {**run_opts, "debug_persistently": True}
            else:
                given = {*run_opts.overridden_args, "debug_persistently"}  # SpeechBrain reads only these
                run_opts = dataclasses.replace(run_opts, debug_persistently=True, overridden_args=given)
    return run_opts


def _leave_process_group() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


class AveragedGradients:
    """``sb.Brain`` mixin: data-parallel training of a brick trained through its own methods.

    An interpreter's loss is computed by ``brick.loss(...)``, not by its ``forward``, so a
    ``DistributedDataParallel`` wrapper would neither see the call nor synchronise anything.
    Under ``torchrun`` the modules stay as they are: rank 0's weights are broadcast once, and the
    gradients of the trainable parameters are averaged over the processes before every step,
    which is what DDP computes. SpeechBrain's sampler gives each process its share of every epoch.
    """

    def _wrap_distributed(self):
        if not (self.distributed_launch and torch.distributed.is_initialized()):
            return super()._wrap_distributed()
        for tensor in [*self.modules.parameters(), *self.modules.buffers()]:
            torch.distributed.broadcast(tensor.data, src=0)

    def optimizers_step(self):
        if self.distributed_launch and torch.distributed.is_initialized():
            params = [p for p in self.modules.parameters() if p.requires_grad]
            for p in params:  # the same list on every rank, or the collective would not match
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            grads = [p.grad for p in params]
            flat = torch._utils._flatten_dense_tensors(grads)
            torch.distributed.all_reduce(flat)
            flat /= torch.distributed.get_world_size()
            for grad, averaged in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
                grad.copy_(averaged)
        super().optimizers_step()


def top_level(hparams_file) -> dict:
    """The plain top-level values of a hyperpyyaml file (tagged values as None), building nothing."""
    with open(hparams_file, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_PeekLoader) or {}


def peek(hparams_file, overrides: dict, key: str):
    """A top-level plain value of the hparams file after overrides, without building any object.

    Recipes use it to decide, before hyperpyyaml builds anything, whether a debug run needs
    a stand-in classifier or synthesised clips.

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "h.yaml"
    >>> _ = path.write_text("data_folder: /data\\nmodel: !new:torch.nn.Linear [2, 2]\\n")
    >>> peek(path, {}, "data_folder"), peek(path, {"data_folder": "/x"}, "data_folder")
    ('/data', '/x')
    >>> peek(path, {}, "model") is None
    True
    """
    if key in overrides:
        return overrides[key]
    return top_level(hparams_file).get(key)


def parse_arguments(argv):
    """SpeechBrain's command line (``hparams_file, run_opts, overrides``), overrides as a dict.

    A mistake on the command line stops the run with one line that says what to do (no
    traceback): a missing or broken hparams file, an override that is not one of its keys, and
    (outside ``--debug``) a ``data_folder`` that is not given or does not exist.
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    overrides = (yaml.safe_load(overrides) if isinstance(overrides, str) else overrides) or {}
    check_command_line(hparams_file, overrides, debug=bool(run_opts.get("debug", False)))
    return hparams_file, run_opts, overrides


def check_command_line(hparams_file, overrides: dict, debug: bool = False) -> None:
    """Raise ``SystemExit`` with one line for a command-line mistake (see :func:`parse_arguments`).

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "h.yaml"
    >>> _ = path.write_text("seed: 1\\ndata_folder: !PLACEHOLDER\\n")
    >>> check_command_line(path, {"seed": 2}, debug=True)
    >>> check_command_line(path, {"sede": 2}, debug=True)
    Traceback (most recent call last):
    ...
    SystemExit: error: --sede is not a key of h.yaml (did you mean --seed?); see the file for the keys
    >>> check_command_line(path, {})
    Traceback (most recent call last):
    ...
    SystemExit: error: h.yaml needs --data_folder=<the ESC-50 folder> (or run with --debug for a smoke test)
    """
    import difflib

    from ruamel.yaml import YAML

    from speechbrain_interp.safety import yaml_problem

    path = Path(hparams_file)
    if not path.is_file():
        raise SystemExit(f"error: no hparams file '{path}'; give the path of a recipe's YAML")
    text = path.read_text(encoding="utf-8")
    try:  # composed, not constructed: nothing is built and no tag handler is touched
        root = YAML(typ="safe", pure=True).compose(text)
    except Exception as err:
        raise SystemExit(f"error: '{path}': broken YAML, {yaml_problem(err)}; fix the file") from None
    tree = {}
    for key_node, value_node in getattr(root, "value", None) or []:
        plain = value_node.tag.startswith("tag:yaml.org") and isinstance(value_node.value, str)
        tree[key_node.value] = value_node.value if plain else None
    keys = list(tree)
    for key in overrides:
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            raise SystemExit(f"error: --{key} is not a key of {path.name}{hint}; see the file for the keys")
    if "data_folder" in keys and not debug:
        given = overrides.get("data_folder", tree.get("data_folder"))
        if given is None:
            raise SystemExit(f"error: {path.name} needs --data_folder=<the ESC-50 folder> "
                             "(or run with --debug for a smoke test)")
        if not Path(str(given)).exists():
            raise SystemExit(f"error: data_folder '{given}' does not exist; pass --data_folder=<the ESC-50 "
                             "folder> (or run with --debug for a smoke test)")


def start_experiment(hparams_file, overrides: dict) -> dict:
    """Build the hparams, apply their ``torch_threads`` (if set) and create the experiment folder."""
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    if hparams.get("torch_threads"):
        torch.set_num_threads(int(hparams["torch_threads"]))
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"],
                                   hyperparams_to_save=hparams_file, overrides=overrides)
    return hparams


def markdown_table(rows, cols, first: str = "method", fmt=None) -> list[str]:
    """A Markdown table, one row per ``{name: {column: value}}`` entry (or ``(name, row)`` pair,
    when names repeat); missing cells stay empty.

    Example
    -------
    >>> print("\\n".join(markdown_table({"L-MAC": {"lift": 1.745}}, ["lift", "AI"])))
    | method | lift | AI |
    |---|---:|---:|
    | L-MAC | 1.745 |  |
    """
    fmt = fmt or (lambda col, value: f"{value:.3f}")
    lines = [f"| {first} | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, row in (rows.items() if isinstance(rows, dict) else rows):
        lines.append(f"| {name} | " + " | ".join(fmt(c, row[c]) if c in row else "" for c in cols) + " |")
    return lines


# --- shared by the interpretation recipes (train_nmf, train_l2i, train_lmac, eval) -----------
def debug_scratch(prefix: str) -> Path:
    """A temporary folder for ``--debug`` runs, removed when the process exits.

    With ``--debug_persistently`` on the command line the folder is kept (its path is logged).
    """
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    if "--debug_persistently" in sys.argv:
        logger.info("debug files kept in %s", scratch)
    else:
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


def esc50_debug_overrides(hparams_file, overrides: dict, extra_none=(), prefix: str = "l2i_debug_",
                          clips_per_fold: int = 1, classifier: bool = True):
    """Overrides that make ``--debug`` self-contained and quick.

    A random-weight compact classifier when ``classifier_source`` holds none (unless
    ``classifier`` is False: a recipe without a SpeechBrain classifier), a synthesised
    data set in ESC-50's layout (``clips_per_fold`` clips per class and fold) when
    ``data_folder`` holds none, and the keys in ``extra_none`` set to None when the files
    they name do not exist. Scratch files go to a ``prefix`` temporary folder.
    """
    from speechbrain_interp.testing import make_fake_esc50, make_speechbrain_classifier

    overrides = dict(overrides)
    scratch = debug_scratch(prefix)
    labels = ["dog", "siren", "rain", "engine"]
    source = peek(hparams_file, overrides, "classifier_source")
    if classifier and (not source or not (Path(str(source)) / "hyperparams.yaml").exists()):
        folder = make_speechbrain_classifier(scratch / "classifier", "compact", n_mels=32, labels=labels)
        overrides["classifier_source"] = str(folder)
        overrides["classifier_interface"] = "EncoderClassifier"
    data = peek(hparams_file, overrides, "data_folder")
    if not data or not (Path(str(data)) / "meta" / "esc50.csv").exists():
        overrides["data_folder"] = str(make_fake_esc50(scratch / "esc50", classes=labels, seconds=1.0,
                                                       clips_per_fold=clips_per_fold))
    for key in extra_none:
        path = peek(hparams_file, overrides, key)
        if path and not Path(str(path)).exists():
            overrides[key] = None
    overrides.setdefault("output_folder", str(scratch / "output"))
    return overrides


def random_clap_overrides(hparams_file, overrides: dict) -> dict:
    """For ``--debug`` of a LAION-CLAP recipe given no ``clap_checkpoint``: a random-weight
    LAION-CLAP of the real architecture (built once, then reused from the package cache)."""
    if "clap_checkpoint" not in top_level(hparams_file) or peek(hparams_file, overrides, "clap_checkpoint"):
        return overrides
    from speechbrain_interp.testing import write_random_laion_clap

    folder = write_random_laion_clap()
    return {**overrides, "clap_checkpoint": str(folder / "clap.safetensors"),
            "clap_text_encoder": str(folder / "roberta")}


def esc50_datasets(hparams, debug: bool = False):
    """ESC-50 manifests (train/valid/test folds) and DynamicItemDatasets yielding ``id`` and ``sig``."""
    manifests = prepare_esc50(
        hparams["data_folder"], hparams["manifest_folder"], train_folds=hparams["train_folds"],
        valid_folds=hparams["valid_folds"], test_folds=hparams["test_folds"],
        max_per_split=8 if debug else None,
    )
    sample_rate = int(hparams["sample_rate"])

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(path):
        return load_audio(path, sample_rate=sample_rate)

    root = str(Path(hparams["data_folder"]).resolve())
    return {
        split: sb.dataio.dataset.DynamicItemDataset.from_json(
            str(path), replacements={"data_root": root}, dynamic_items=[audio_pipeline],
            output_keys=["id", "sig"],
        )
        for split, path in manifests.items()
    }


class RunningMeans:
    """Per-key means over a stage, weighted by batch size."""

    def __init__(self):
        self.sums, self.count = {}, 0

    def update(self, stats: dict, n: int):
        for key, value in stats.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * n
        self.count += n

    def means(self) -> dict:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


def synthesize_clips(folder, n_per_split: int = 4, seconds: float = 1.5, sample_rate: int = 16000):
    """Write a few synthesised clips per split and their manifests; returns ``{split: json}``."""
    from speechbrain_interp import synth

    folder = Path(folder)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    manifests = {}
    for s, split in enumerate(("train", "valid", "test")):
        items = {}
        for k in range(n_per_split):
            seed = 10 * s + k
            wav = synth.demo_clip(seconds, sample_rate, seed=seed) * (0.5 + 0.1 * k)
            if k % 2:
                wav = wav + synth.tone(300.0 + 100 * k, seconds, sample_rate, 0.2)
            path = folder / "audio" / f"{split}{k}.wav"
            save_audio(path, wav, sample_rate)
            items[f"{split}{k}"] = {"wav": str(path.resolve())}
        manifests[split] = folder / f"{split}.json"
        manifests[split].write_text(json.dumps(items, indent=1), encoding="utf-8")
    return manifests
