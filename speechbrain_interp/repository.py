"""The interpreter repository folder: what it holds, and checks that a folder is one.

A repository folder holds everything needed to explain audio offline once downloaded:

* ``hyperparams.yaml``: the classifier's own inference modules (:data:`CLASSIFIER_MODULES`),
  how the interpreter reads them (``adapter:``), the brick (``interpreter: !name:...``) and a
  :class:`~speechbrain_interp.safety.SafePretrainer`;
* ``config.json``: the interface to load it with (``speechbrain_interface``), labels,
  sample rate and a fingerprint of the classifier weights (:func:`classifier_fingerprint`);
* weights as safetensors: one file per classifier module, ``interpreter.safetensors``
  for the brick (without the state-dict entries of :func:`shared_prefixes`);
  ``label_encoder.txt`` (SpeechBrain's literal format);
* ``examples/*.wav``: synthesized clips, free to ship;
* ``README.md``: a model card with Hub metadata.

:mod:`speechbrain_interp.export` writes such folders, :mod:`speechbrain_interp.interfaces`
loads them; :func:`check_hub_folder` checks one before it is pushed.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

__all__ = ["CLASSIFIER_MODULES", "classifier_fingerprint", "shared_prefixes", "check_hub_folder"]

#: Classifier modules an interpreter folder keeps from the classifier's inference YAML.
CLASSIFIER_MODULES = ("compute_stft", "compute_fbank", "compute_features", "mean_var_norm",
                      "embedding_model", "classifier")
_PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
#: Top-level keys the export adds to the classifier's YAML (dropped when a folder is exported again).
INTERPRETER_KEYS = ("pretrainer", "adapter", "interpreter", "interpreter_family", "classifier_sha256")


def classifier_fingerprint(adapter) -> str:
    """SHA-256 of the classifier's embedding model and classifier weights (as stored).

    For a SpeechBrain classifier, its ``embedding_model`` and ``classifier`` modules; for any
    other adapter, every floating-point tensor of its model.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "xvector", n_mels=24)
    >>> len(classifier_fingerprint(load_speechbrain_classifier(folder)))
    64
    """
    digest = hashlib.sha256()
    # a SpeechBrain classifier's modules are a ModuleDict; any other model is hashed whole
    modules = ("embedding_model", "classifier") if isinstance(adapter.model, torch.nn.ModuleDict) else None
    for key, value in sorted(adapter.model.state_dict().items()):
        if (modules is None or key.split(".", 1)[0] in modules) and value.is_floating_point():
            digest.update(key.encode())
            digest.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def shared_prefixes(brick) -> tuple:
    """State-dict prefixes of a brick that are not its own weights: the classifier and text towers.

    The classifier's weights travel in their own files (``embedding_model.safetensors``,
    ...), wherever the brick reaches it (``classifier.``, an embedder's ``classifier.``);
    frozen text encoders (concept interpreters) do not travel at all.

    Example
    -------
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.lmac import LMAC
    >>> import tempfile
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32)
    >>> shared_prefixes(LMAC(load_speechbrain_classifier(folder, "compact"), channels=8))
    ('classifier.',)
    """
    classifier = getattr(brick, "classifier", None)
    prefixes = []
    for name, module in brick.named_modules(remove_duplicate=False):
        if name and (module is classifier or name.rsplit(".", 1)[-1] == "text_encoder"):
            prefixes.append(name + ".")
    return tuple(dict.fromkeys(prefixes)) or ("classifier.",)


def check_hub_folder(folder) -> dict:
    """Check that a folder is a complete, pickle-free interpreter repository; returns its config.

    Example
    -------
    >>> import tempfile
    >>> check_hub_folder(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    ValueError: ... is not an interpreter repository folder: missing config.json, hyperparams.yaml, ...
    """
    folder = Path(folder)
    needed = ["config.json", "hyperparams.yaml", "README.md", "interpreter.safetensors"]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"{folder} is not an interpreter repository folder: missing {', '.join(missing)}")
    pickles = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in _PICKLE_SUFFIXES)
    if pickles:
        raise ValueError(f"{folder} holds pickle-based weight files {pickles}; export safetensors only")
    text = (folder / "README.md").read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{folder}/README.md has no Hub metadata block (--- ... ---)")
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))
