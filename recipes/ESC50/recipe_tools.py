"""Small helpers shared by the ESC-50 recipes.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import speechbrain as sb
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml


class _PeekLoader(yaml.SafeLoader):
    """Reads plain top-level values of a hyperpyyaml file; tagged nodes become None."""


_PeekLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


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
    """SpeechBrain's command line (``hparams_file, run_opts, overrides``), overrides as a dict."""
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    overrides = (yaml.safe_load(overrides) if isinstance(overrides, str) else overrides) or {}
    return hparams_file, run_opts, overrides


def start_experiment(hparams_file, overrides: dict) -> dict:
    """Build the hparams, apply their ``torch_threads`` (if set) and create the experiment folder."""
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    if hparams.get("torch_threads"):
        torch.set_num_threads(int(hparams["torch_threads"]))
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"],
                                   hyperparams_to_save=hparams_file, overrides=overrides)
    return hparams
