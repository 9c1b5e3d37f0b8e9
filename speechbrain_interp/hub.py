"""Hugging Face Hub: export a trained interpreter to a repository folder, push it, load it back.

A repository folder holds everything needed to explain audio offline once downloaded:

* ``hyperparams.yaml``: the classifier's own inference modules, how the interpreter
  reads them (``adapter:``), the brick (``interpreter: !name:...``) and a
  :class:`~speechbrain_interp.safety.SafePretrainer`;
* ``config.json``: the interface to load it with (``speechbrain_interface``), labels,
  sample rate and a fingerprint of the classifier weights;
* weights as safetensors: one file per classifier module, ``interpreter.safetensors``
  for the brick; ``label_encoder.txt`` (SpeechBrain's literal format);
* ``examples/*.wav``: synthesized clips, free to ship;
* ``README.md``: a model card with Hub metadata (classifier, training data and its
  licence, evaluation table, usage code).

Loading accepts a local folder, a Hub id (``org/name``), or a Hub id already in the
local cache when there is no network; the YAML is checked against the allow-list of
:mod:`speechbrain_interp.safety` before anything in it is built.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import torch

from speechbrain_interp.safety import (
    SafePretrainer,
    load_hparams,
    safe_load_collected,
    save_state_dict,
)

__all__ = [
    "HubUnavailableError",
    "ModelCardInfo",
    "resolve_source",
    "load_pretrained",
    "load_classifier",
    "load",
    "bundled_interpreter",
    "BUNDLED_INTERPRETER",
    "export_interpreter",
    "export",
    "export_recipe",
    "evaluation_from_file",
    "logged_test_table",
    "brick_spec",
    "shared_prefixes",
    "ModuleSpec",
    "classifier_fingerprint",
    "check_hub_folder",
    "push_to_hub",
]

#: Classifier modules an interpreter folder keeps from the classifier's inference YAML.
CLASSIFIER_MODULES = ("compute_stft", "compute_fbank", "compute_features", "mean_var_norm",
                      "embedding_model", "classifier")
_PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$|^[A-Za-z0-9][\w.-]*$")
_OUR_KEYS = ("pretrainer", "adapter", "interpreter", "interpreter_family", "classifier_sha256")


class HubUnavailableError(OSError):
    """A Hub repository could not be downloaded and is not in the local cache."""


# --------------------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------------------
def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_cache_dir() -> Path:
    """The Hub cache huggingface_hub uses, read from the environment at call time.

    Example
    -------
    >>> isinstance(hub_cache_dir(), Path)
    True
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def resolve_source(source, revision: str | None = None, offline: bool | None = None,
                   cache_dir=None) -> Path:
    """A local folder holding the repository: ``source`` itself, or its Hub snapshot.

    Arguments
    ---------
    source : str or Path
        A local folder, or a Hub id such as ``"org/name"``.
    revision : str, optional
        Hub branch, tag or commit.
    offline : bool, optional
        Never touch the network (default: the ``HF_HUB_OFFLINE`` environment variable).
        Without network, the copy in the Hub cache is used when there is one.
    cache_dir : str or Path, optional
        Hub cache (default: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else huggingface_hub's).

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        ``source`` looks like a path but is no folder.
    HubUnavailableError
        The Hub could not be reached (or ``offline``) and the cache holds no copy.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> resolve_source(folder) == Path(folder).resolve()
    True
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return path.resolve()
    if isinstance(source, Path) or text.startswith((".", "/", "~")) or not _REPO_ID.match(text):
        raise FileNotFoundError(
            f"'{text}' is not a folder, and does not look like a Hugging Face Hub id (org/name)"
        )
    import huggingface_hub
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = _env_flag("HF_HUB_OFFLINE") if offline is None else offline
    cache = Path(cache_dir) if cache_dir is not None else hub_cache_dir()
    kwargs = {"repo_id": text, "revision": revision, "cache_dir": str(cache)}
    try:
        return Path(huggingface_hub.snapshot_download(local_files_only=offline, **kwargs))
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise HubUnavailableError(
            f"the Hugging Face Hub has no repository '{text}'"
            + (f" at revision '{revision}'" if revision else "")
            + " (or it is private: log in with `hf auth login`)"
        ) from err
    except (LocalEntryNotFoundError, OSError, ValueError) as err:
        reason = "offline mode (HF_HUB_OFFLINE or offline=True)" if offline else (
            f"the Hub could not be reached ({str(err).splitlines()[0][:160]})")
        try:  # huggingface_hub usually falls back to the cache itself; be explicit
            return Path(huggingface_hub.snapshot_download(local_files_only=True, **kwargs))
        except Exception:
            pass
        raise HubUnavailableError(
            f"cannot load '{text}': {reason}, and the Hub cache at {cache} holds no copy of it. "
            "Either connect to the internet once (it is cached for offline use afterwards), "
            f"or copy the repository folder to this machine and pass its path instead of "
            f"'{text}', or point HF_HOME / HF_HUB_CACHE at a cache that holds it"
        ) from err


def load_pretrained(cls, folder, savedir=None, hparams_file: str = "hyperparams.yaml",
                    overrides=None, run_opts=None, trust_code: bool = False, allow=(), **kwargs):
    """Build a SpeechBrain ``Pretrained`` subclass from a local folder, safely.

    SpeechBrain's ``pretrained_from_hparams``, with two changes: the YAML is checked
    against the allow-list before anything in it is built (unless ``trust_code``), and
    weights are read with safetensors or ``torch.load(weights_only=True)``.

    Arguments
    ---------
    cls : type
        E.g. :class:`~speechbrain_interp.inference.LMACInterpreter` or SpeechBrain's
        ``EncoderClassifier``.
    folder : str or Path
        Local repository folder (see :func:`resolve_source`).
    savedir : str or Path, optional
        Where links to the files are collected (SpeechBrain convention); None uses the
        folder in place.
    hparams_file, overrides, run_opts
        As for SpeechBrain's ``from_hparams``.
    trust_code : bool
        Allow the YAML to build anything (only for repositories you trust).
    allow : iterable of str
        Extra allowed dotted prefixes.
    **kwargs
        Passed to ``cls``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain.inference.classifiers import EncoderClassifier
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "xvector", n_mels=24)
    >>> model = load_pretrained(EncoderClassifier, folder)
    >>> sorted(model.mods.keys())
    ['classifier', 'compute_features', 'embedding_model', 'mean_var_norm']
    """
    from speechbrain.utils.fetching import FetchConfig

    folder = Path(folder).resolve()
    path = folder / hparams_file
    if not path.is_file():
        raise FileNotFoundError(f"'{folder}' has no {hparams_file}; is it a SpeechBrain model folder?")
    hparams = load_hparams(path, overrides=overrides, trust_code=trust_code, allow=allow)
    if "pretrainer" not in hparams or "modules" not in hparams:
        raise ValueError(f"{path} needs 'modules:' and 'pretrainer:' keys (SpeechBrain inference YAML)")
    hparams["savedir"] = savedir
    pretrainer = hparams["pretrainer"]
    pretrainer.set_collect_in(savedir)
    # overwrite=True: links left in savedir by another model are replaced, never reused
    pretrainer.collect_files(default_source=str(folder),
                             fetch_config=FetchConfig(overwrite=True, allow_network=False))
    if isinstance(pretrainer, SafePretrainer):
        pretrainer.load_collected()
    else:
        safe_load_collected(pretrainer)
    return cls(modules=hparams["modules"], hparams=hparams, run_opts=run_opts, **kwargs)


def _declares(hparams_path: Path, key: str) -> bool:
    """Whether a YAML file has a top-level ``key`` (parsed without building anything)."""
    from ruamel.yaml import YAML

    try:
        tree = YAML(typ="rt").load(hparams_path.read_text(encoding="utf-8"))
    except Exception:
        return True  # unreadable: let the loader report the real problem
    return isinstance(tree, dict) and key in tree


def _classifier_interface(hparams_path: Path):
    """SpeechBrain interface class for a classifier folder, from the modules its YAML declares."""
    from ruamel.yaml import YAML
    from speechbrain.inference import classifiers

    tree = YAML(typ="rt").load(hparams_path.read_text(encoding="utf-8"))
    modules = tree.get("modules") or {}
    if "compute_stft" in modules:
        return classifiers.AudioClassifier
    return classifiers.EncoderClassifier


def load_classifier(source, savedir=None, interface=None, trust_code: bool = False, allow=(),
                    revision=None, offline=None, run_opts=None):
    """Load an existing SpeechBrain classifier (folder or Hub id) safely.

    Arguments
    ---------
    source : str or Path
        Folder or Hub id of an ``AudioClassifier`` / ``EncoderClassifier``.
    interface : str or type, optional
        Interface class or its name in ``speechbrain.inference.classifiers``; guessed from
        the modules (``compute_stft`` means ``AudioClassifier``) when not given.
    savedir, trust_code, allow, revision, offline, run_opts
        See :func:`resolve_source` and :func:`load_pretrained`.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "cnn14", n_mels=32)
    >>> type(load_classifier(folder)).__name__
    'AudioClassifier'
    """
    from speechbrain.inference import classifiers

    folder = resolve_source(source, revision=revision, offline=offline)
    if interface is None:
        interface = _classifier_interface(folder / "hyperparams.yaml")
    elif isinstance(interface, str):
        interface = getattr(classifiers, interface)
    return load_pretrained(interface, folder, savedir=savedir, trust_code=trust_code, allow=allow,
                           run_opts=run_opts)


def load(source, savedir=None, trust_code: bool = False, allow=(), revision=None, offline=None,
         **kwargs):
    """Load any exported interpreter: ``config.json`` names its interface.

    Only the interfaces of :mod:`speechbrain_interp.inference` are accepted, so a
    ``config.json`` cannot make this import arbitrary code.

    Arguments
    ---------
    source : str or Path
        Folder or Hub id.
    savedir, trust_code, allow, revision, offline
        See :func:`resolve_source` and :func:`load_pretrained`.
    **kwargs
        Passed to the interface, e.g. ``classifier=`` to explain another copy of the classifier.

    Returns
    -------
    speechbrain_interp.inference.PretrainedInterpreter

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> repo = export_interpreter(Saliency(load_speechbrain_classifier(folder)), root / "repo",
    ...                           classifier_source=folder, examples=False)
    >>> type(load(repo)).__name__, load(repo).labels
    ('PretrainedInterpreter', ['dog_bark', 'siren', 'rain'])
    """
    from speechbrain_interp import inference

    folder = resolve_source(source, revision=revision, offline=offline)
    config_path = folder / "config.json"
    name = "PretrainedInterpreter"
    if config_path.is_file():
        name = json.loads(config_path.read_text(encoding="utf-8")).get("speechbrain_interface", name)
    if (folder / "hyperparams.yaml").is_file() and not _declares(folder / "hyperparams.yaml", "interpreter"):
        raise ValueError(
            f"{source} holds no interpreter (its hyperparams.yaml has no 'interpreter:' entry); if it "
            "is a classifier, explain it with explain_classifier(...) or `speechbrain-interp explain "
            "--classifier SOURCE`, or train one with train_lmac / `speechbrain-interp train`"
        )
    if name not in inference.INTERFACES:
        raise ValueError(
            f"{config_path} names the interface '{name}', which is not one of this package's "
            f"interpreter interfaces {sorted(inference.INTERFACES)}"
        )
    return inference.INTERFACES[name].from_hparams(
        folder, savedir=savedir, trust_code=trust_code, allow=allow, **kwargs
    )


#: Name of the interpreter bundled with the package (``speechbrain_interp/pretrained/<name>``).
BUNDLED_INTERPRETER = "lmac-esc50-compact"


def bundled_interpreter(name: str = BUNDLED_INTERPRETER) -> Path:
    """Folder of a pretrained interpreter shipped inside the package (works offline).

    The default is an L-MAC interpreter for the project's compact ESC-50 classifier,
    trained by ``recipes/ESC50/interpret``; its ``README.md`` is the model card.

    Raises
    ------
    FileNotFoundError
        The package was installed without its pretrained data.

    Example
    -------
    >>> json.loads((bundled_interpreter() / "config.json").read_text())["speechbrain_interface"]
    'LMACInterpreter'
    >>> bundled_interpreter("no-such-interpreter")
    Traceback (most recent call last):
    ...
    FileNotFoundError: the bundled interpreter 'no-such-interpreter' is not in this installation ...
    """
    folder = Path(__file__).resolve().parent / "pretrained" / name
    if not (folder / "hyperparams.yaml").is_file():
        available = sorted(p.name for p in folder.parent.glob("*") if (p / "hyperparams.yaml").is_file())
        raise FileNotFoundError(
            f"the bundled interpreter '{name}' is not in this installation ({folder}); available: "
            f"{available or 'none'}. Reinstall the package with its data, or pass --interpreter SOURCE"
        )
    return folder


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------
@dataclass
class ModelCardInfo:
    """What the model card says beyond what the folder itself knows.

    Arguments
    ---------
    title : str
        Heading of the card.
    classifier : str
        One paragraph on the explained classifier (architecture, accuracy, where it comes from).
    training_data : str
        Name of the data the interpreter and classifier were trained on.
    training_data_url : str
        Where that data is documented.
    training_data_license : str
        Its licence, e.g. ``"CC BY-NC 3.0"``.
    license : str
        Hub licence id of the weights, e.g. ``"cc-by-nc-3.0"`` (weights trained on
        non-commercial data inherit that restriction).
    evaluation : str or list of dict
        The recipe's evaluation table: markdown text, or rows (``{column: value}``).
    evaluation_note : str
        How the table was produced (command, data split, settings).
    repo_id : str
        Hub id used in the usage code.
    notes : str
        Anything else (limitations, intended use).
    tags : list of str
        Extra Hub tags.

    Example
    -------
    >>> info = ModelCardInfo(training_data="ESC-50", training_data_license="CC BY-NC 3.0",
    ...                      license="cc-by-nc-3.0", repo_id="my-org/lmac-esc50")
    >>> info.license, info.evaluation is None
    ('cc-by-nc-3.0', True)
    """

    title: str = "Audio classifier interpreter"
    classifier: str = ""
    training_data: str = "unknown"
    training_data_url: str = ""
    training_data_license: str = "unknown"
    license: str = "other"
    evaluation: object = None
    evaluation_note: str = ""
    repo_id: str = "<your-org>/<this-repo>"
    notes: str = ""
    tags: list = field(default_factory=list)


def classifier_fingerprint(adapter) -> str:
    """SHA-256 of the classifier's embedding model and classifier weights (as stored).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "xvector", n_mels=24)
    >>> len(classifier_fingerprint(load_speechbrain_classifier(folder)))
    64
    """
    digest = hashlib.sha256()
    for key, value in sorted(adapter.model.state_dict().items()):
        if key.split(".", 1)[0] in ("embedding_model", "classifier") and value.is_floating_point():
            digest.update(key.encode())
            digest.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _plain(value):
    """YAML-safe copy of a constructor argument, or raise TypeError."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise TypeError(type(value).__name__)


class ModuleSpec:
    """A module to rebuild in YAML as ``!new:<target>`` with ``kwargs`` (weights come separately).

    Arguments
    ---------
    target : str
        Dotted class name.
    kwargs : dict
        Constructor arguments: plain values or nested :class:`ModuleSpec`.

    Example
    -------
    >>> ModuleSpec(*brick_spec(torch.nn.Linear(3, 2)))
    ModuleSpec('torch.nn.modules.linear.Linear', {'in_features': 3, 'out_features': 2})
    """

    def __init__(self, target: str, kwargs: dict):
        self.target, self.kwargs = target, kwargs

    def __eq__(self, other):
        return isinstance(other, ModuleSpec) and (self.target, self.kwargs) == (other.target, other.kwargs)

    def __repr__(self):
        return f"ModuleSpec({self.target!r}, {self.kwargs!r})"


def _spec_value(value):
    if isinstance(value, torch.nn.Module):
        return ModuleSpec(*brick_spec(value))
    return _plain(value)


def brick_spec(interpreter) -> tuple[str, dict]:
    """``(dotted class name, constructor kwargs)`` that rebuild ``interpreter`` around a classifier.

    Looked up in this order: the brick's ``export_config()`` if it has one; its
    ``options`` dict when that holds constructor arguments only (L-MAC keeps its resolved
    options there); else each ``__init__`` argument is read back from the attribute of the
    same name or from a ``config`` / ``options`` dict. Module arguments (e.g. L2I's NMF
    dictionary) become nested :class:`ModuleSpec`; their weights travel in
    ``interpreter.safetensors``. Arguments that cannot be recovered keep their defaults,
    and a required one raises.

    Example
    -------
    >>> from speechbrain_interp.interpreters.base import Interpreter
    >>> class Scaled(Interpreter):
    ...     def __init__(self, classifier, gain=1.0):
    ...         super().__init__(classifier)
    ...         self.gain = gain
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> adapter = TorchClassifier(torch.nn.Flatten(), SpectralFrontEnd(n_fft=64), input="magnitude")
    >>> brick_spec(Scaled(adapter, gain=0.5))[1]
    {'gain': 0.5}
    >>> brick_spec(torch.nn.Linear(3, 2))
    ('torch.nn.modules.linear.Linear', {'in_features': 3, 'out_features': 2})
    """
    import inspect

    cls = type(interpreter)
    target = f"{cls.__module__}.{cls.__qualname__}"
    if _is_concept_brick(interpreter):
        return _concept_spec(interpreter)
    if hasattr(interpreter, "export_config"):
        return target, {k: _spec_value(v) for k, v in interpreter.export_config().items()}
    params = inspect.signature(cls.__init__).parameters
    options = getattr(interpreter, "options", None)
    resolved = getattr(interpreter, "config", None)
    if isinstance(options, dict) and options and set(options) <= set(params):
        kwargs = {k: _spec_value(v) for k, v in options.items() if v is not None}
        if isinstance(resolved, dict):  # sizes resolved at construction win (e.g. L2I's n_components)
            for key in kwargs:
                try:
                    kwargs[key] = _plain(resolved[key]) if key in resolved else kwargs[key]
                except TypeError:
                    pass
        for name in params:
            value = getattr(interpreter, name, None)
            if name in kwargs or name == "classifier" or not isinstance(value, torch.nn.Module):
                continue
            try:  # a module argument (L2I's dictionary): rebuilt in YAML, weights from safetensors
                kwargs[name] = ModuleSpec(*brick_spec(value))
            except TypeError:
                pass  # the brick builds it itself (L-MAC's decoder)
        return target, kwargs
    stores = [d for d in (getattr(interpreter, "config", None), options) if isinstance(d, dict)]
    kwargs = {}
    for name, param in params.items():
        if name in ("self", "classifier") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        required = param.default is inspect.Parameter.empty
        found = [getattr(interpreter, name)] if hasattr(interpreter, name) else [
            d[name] for d in stores if name in d][:1]
        if not found:
            if required:
                raise TypeError(
                    f"cannot recover the required argument '{name}' of {cls.__name__}; pass "
                    "brick=(target, kwargs) to export_interpreter or give it an export_config() method"
                )
            continue
        try:
            value = _spec_value(found[0])
        except TypeError as err:
            if required:
                raise TypeError(
                    f"{cls.__name__}.{name} is a {err} and cannot be written to YAML; pass "
                    f"brick=(target, kwargs) or brick_yaml=... to export_interpreter, or give "
                    f"{cls.__name__} an export_config() method"
                ) from None
            continue  # e.g. an initial tensor: the default rebuilds it, the weights overwrite it
        kwargs[name] = value  # written even when default: defaults may change between versions
    return target, kwargs


def _is_concept_brick(interpreter) -> bool:
    from speechbrain_interp.inference import ConceptBottleneckInterpreter

    brick_class = ConceptBottleneckInterpreter.brick_class()
    return brick_class is not None and isinstance(interpreter, brick_class)


def _concept_spec(brick) -> tuple[str, dict]:
    """Sizes and vocabulary that :func:`~speechbrain_interp.inference.build_concept_interpreter` needs."""
    from speechbrain_interp.clap import TextAlignedEncoder

    embedder, bottleneck = brick.embedder, brick.bottleneck
    if not isinstance(embedder, TextAlignedEncoder) or embedder.classifier is not brick.classifier:
        raise TypeError(
            "export writes concept interpreters whose embedder is a TextAlignedEncoder on the explained "
            f"classifier (the embedder ships as a projection of its layer); got {type(embedder).__name__}"
        )
    if not bottleneck.has_audio_mean:
        raise ValueError("the concept bottleneck has no audio mean yet: call fit_audio_mean(...) first")
    projection = embedder.projection
    hidden = projection[0].out_features if isinstance(projection, torch.nn.Sequential) else None
    text = embedder.text_encoder
    return "speechbrain_interp.inference.build_concept_interpreter", {
        "concepts": list(bottleneck.concepts), "embed_dim": int(embedder.embed_dim),
        "in_dim": int(embedder.in_dim), "layer": embedder.layer, "hidden_dim": hidden,
        "l1_penalty": float(bottleneck.l1_penalty), "top_k": int(brick.top_k), "mask": brick.mask_kind,
        "text_encoder": getattr(text, "name", type(text).__name__), "text_cache_key": embedder.cache_key,
    }


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


def _render_kwargs(kwargs: dict, indent: int = 4) -> str:
    """YAML lines for constructor kwargs: JSON values (valid YAML), nested modules as ``!new:``."""
    pad = " " * indent
    lines = []
    for key, value in kwargs.items():
        if isinstance(value, ModuleSpec):
            lines.append(f"{pad}{key}: !new:{value.target}\n" + _render_kwargs(value.kwargs, indent + 4))
        else:
            lines.append(f"{pad}{key}: {json.dumps(value)}\n")
    return "".join(lines)


def _yaml_dump(data, flow=None) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.width = 4096
    stream = StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _indent(text: str, spaces: int = 4) -> str:
    return "".join(" " * spaces + line if line.strip() else line for line in text.splitlines(True))


def _classifier_yaml(path: Path) -> tuple[str, list]:
    """The classifier's inference YAML without its pretrainer (and our keys), and its loadables."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = 110
    tree = yaml.load(path.read_text(encoding="utf-8"))
    pretrainer = tree.get("pretrainer")
    loadables = list((pretrainer or {}).get("loadables", {}) or {})
    if "interpreter" in loadables:
        loadables.remove("interpreter")
    for key in _OUR_KEYS:
        tree.pop(key, None)
    stream = StringIO()
    yaml.dump(tree, stream)
    return stream.getvalue(), loadables


def _family_of(interpreter) -> tuple[str, str]:
    from speechbrain_interp import inference

    for interface in inference.INTERFACES.values():
        if interface.brick_class() is not None and isinstance(interpreter, interface.brick_class()):
            return interface.FAMILY, interface.__name__
    return "generic", "PretrainedInterpreter"


def export_interpreter(interpreter, out, classifier_source=None, brick=None, brick_yaml=None,
                       card: ModelCardInfo | None = None, examples: bool = True,
                       overwrite: bool = False, verify: bool = True, allow=()) -> Path:
    """Write a Hub repository folder for a trained interpreter and its classifier.

    Arguments
    ---------
    interpreter : speechbrain_interp.interpreters.Interpreter
        The trained brick; its classifier must be a ``SpeechBrainClassifier``.
    out : str or Path
        The repository folder to write.
    classifier_source : str or Path, optional
        The classifier's inference folder (its ``hyperparams.yaml`` defines the modules).
        Defaults to the folder the classifier was loaded from, when SpeechBrain kept it.
    brick : tuple, optional
        ``(dotted class name, kwargs)`` rebuilding the brick (default :func:`brick_spec`).
    brick_yaml : str, optional
        Or the YAML body of the ``interpreter: !name:...`` entry, verbatim (for bricks
        whose arguments are modules).
    card : ModelCardInfo, optional
        Model card text.
    examples : bool
        Write synthesized example clips under ``examples/``.
    overwrite : bool
        Replace an existing folder.
    verify : bool
        Load the folder back and check that it gives the same mask (to 1e-6) on an example.
    allow : iterable of str
        Extra allowed module prefixes for that check (bricks defined outside this package).

    Returns
    -------
    Path
        The folder.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> repo = export_interpreter(Saliency(load_speechbrain_classifier(folder)), root / "repo",
    ...                           classifier_source=folder)
    >>> sorted(p.name for p in repo.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['README.md', 'classifier.safetensors', 'config.json', 'embedding_model.safetensors', 'examples',
     'hyperparams.yaml', 'interpreter.safetensors', 'label_encoder.txt']
    """
    from speechbrain.dataio.encoder import CategoricalEncoder

    from speechbrain_interp.adapters import SpeechBrainClassifier

    adapter = interpreter.classifier
    if not isinstance(adapter, SpeechBrainClassifier):
        raise TypeError(
            "export needs an interpreter whose classifier is a SpeechBrainClassifier (a SpeechBrain "
            f"inference folder); got {type(adapter).__name__}"
        )
    classifier_yaml = _find_classifier_yaml(adapter, classifier_source)
    out = Path(out)
    if out.exists():
        if not overwrite and any(out.iterdir()):
            raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True)

    body, loadables = _classifier_yaml(classifier_yaml)
    loadables = [n for n in loadables if n != "label_encoder"]
    missing = [n for n in loadables if n not in adapter.model]
    if missing:
        raise ValueError(f"the classifier YAML loads {missing}, which the adapter does not hold")
    family, interface = _family_of(interpreter)
    if brick_yaml is None:
        target, kwargs = brick if brick is not None else brick_spec(interpreter)
        brick_yaml = _render_kwargs(kwargs)
    else:
        target = brick[0] if brick is not None else (
            f"{type(interpreter).__module__}.{type(interpreter).__qualname__}")
        brick_yaml = _indent(brick_yaml.strip("\n") + "\n")
    adapter_spec = {"layers": list(adapter.layers), "mask_domain": adapter.frontend.mask_domain,
                    "output": adapter.output, "multilabel": adapter.multilabel}
    fingerprint = classifier_fingerprint(adapter)
    has_encoder = "label_encoder:" in body
    lines = [
        body.rstrip("\n"),
        "",
        "# " + "-" * 90,
        "# Interpreter (speechbrain_interp): how it reads the classifier above, and the brick.",
        "# Load with speechbrain_interp.hub.load(<this folder or Hub id>)",
        f"# or speechbrain_interp.inference.{interface}.from_hparams(source=..., savedir=...).",
        "# " + "-" * 90,
        f"interpreter_family: {family}",
        f"classifier_sha256: {fingerprint}",
        "adapter:",
        "".join(f"    {k}: {json.dumps(v)}\n" for k, v in adapter_spec.items()).rstrip("\n"),
        f"interpreter: !name:{target}" + ("\n" + brick_yaml.rstrip("\n") if brick_yaml else ""),
    ]
    if not has_encoder and adapter.labels is not None:
        lines.append("label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder")
    lines += ["pretrainer: !new:speechbrain_interp.safety.SafePretrainer", "    loadables:"]
    lines += [f"        {n}: !ref <{n}>" for n in loadables]
    if adapter.labels is not None:
        lines.append("        label_encoder: !ref <label_encoder>")
    lines.append("    deferred: [interpreter]")
    (out / "hyperparams.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    for name in loadables:
        save_state_dict(adapter.model[name].state_dict(), out / f"{name}.safetensors")
    shared = shared_prefixes(interpreter)
    brick_state = {k: v for k, v in interpreter.state_dict().items() if not k.startswith(shared)}
    save_state_dict(brick_state, out / "interpreter.safetensors")
    if adapter.labels is not None:
        encoder = CategoricalEncoder()
        encoder.update_from_iterable(adapter.labels)
        encoder.save(out / "label_encoder.txt")

    example_files = _write_examples(out, adapter.sample_rate) if examples else []
    config = {
        "speechbrain_interface": interface,
        "interface_module": "speechbrain_interp.inference",
        "family": family,
        "method": getattr(interpreter, "method", type(interpreter).__name__),
        "brick": target,
        "sample_rate": adapter.sample_rate,
        "labels": adapter.labels,
        "multilabel": adapter.multilabel,
        "classifier": {
            "embedding_model": type(adapter.model["embedding_model"]).__name__,
            "layout": adapter.layout,
            "layers": list(adapter.layers),
            "sha256": fingerprint,
        },
        "examples": example_files,
        "speechbrain_interp_version": _version(),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    results = classifier_yaml.parent / "results.json"  # written by recipes/ESC50/classifier
    if results.is_file():
        config["classifier"]["results"] = _classifier_results(results)
    (out / "README.md").write_text(model_card(config, card or ModelCardInfo()), encoding="utf-8")
    check_hub_folder(out)
    if verify:
        _verify_round_trip(interpreter, out, example_files, allow)
    return out


def _classifier_results(path: Path) -> dict:
    """Scalar results of the classifier's own recipe (accuracies, epochs, folds)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keep = {}
    for key, value in data.items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            keep[key] = value
        elif key == "folds" and isinstance(value, dict):
            keep[key] = value
    return keep


def _find_classifier_yaml(adapter, classifier_source) -> Path:
    if classifier_source is None:
        savedir = getattr(getattr(adapter, "hparams_", None), "savedir", None)
        if savedir is None:
            raise ValueError(
                "cannot tell which folder the classifier was loaded from; pass classifier_source="
                "<the classifier's inference folder>"
            )
        classifier_source = savedir
    path = resolve_source(classifier_source) / "hyperparams.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no hyperparams.yaml in the classifier folder {path.parent}")
    return path


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("speechbrain_interp")
    except Exception:
        return "unknown"


def _write_examples(out: Path, sample_rate: int) -> list:
    from speechbrain_interp import synth
    from speechbrain_interp.audio import save_audio

    (out / "examples").mkdir()
    clips = {
        "siren_and_barks.wav": synth.demo_clip(seconds=5.0, sample_rate=sample_rate),
        "barks_in_noise.wav": _barks(sample_rate),
    }
    for name, wav in clips.items():
        save_audio(out / "examples" / name, wav, sample_rate)
    return [f"examples/{name}" for name in clips]


def _barks(sample_rate: int) -> torch.Tensor:
    from speechbrain_interp import synth

    wav = synth.noise(5.0, sample_rate, amplitude=0.03, seed=7)
    for k, start in enumerate((0.5, 1.6, 3.1, 4.0)):
        b = synth.bark(0.3, sample_rate, pitch=380 + 50 * k, seed=10 + k)
        i = int(start * sample_rate)
        wav[i:i + len(b)] += b[: len(wav) - i]
    return wav / max(1.0, float(wav.abs().max()) / 0.95)


def _verify_round_trip(interpreter, out: Path, example_files, allow=()) -> None:
    from speechbrain_interp.audio import load_audio
    from speechbrain_interp.synth import demo_clip

    sr = interpreter.classifier.sample_rate
    # two seconds of the shipped example (or of the demo clip) are enough to compare masks
    wav = load_audio(out / example_files[0], sample_rate=sr) if example_files else demo_clip(
        2.0, sample_rate=sr)
    wav = wav[: 2 * sr][None]
    loaded = load(out, allow=allow)
    device = next(interpreter.parameters(), torch.empty(0)).device
    was_training = interpreter.training
    interpreter.eval()
    try:
        expected = interpreter.explain(wav.to(device)).mask.cpu()
    finally:
        interpreter.train(was_training)
    got = loaded.interpret_batch(wav).mask.cpu()
    err = float((expected - got).abs().max())
    if err > 1e-6:
        raise RuntimeError(
            f"the exported folder {out} does not reproduce the interpreter: mask differs by {err:.2e}"
        )


def _evaluation_markdown(evaluation) -> str:
    if evaluation is None:
        return "_No evaluation table was provided with this export._"
    if isinstance(evaluation, str):
        return evaluation.strip()
    rows = list(evaluation)
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def fmt(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _fmt_result(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "; ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def model_card(config: dict, info: ModelCardInfo) -> str:
    """The ``README.md`` of a repository folder: Hub metadata and the card body.

    Example
    -------
    >>> from huggingface_hub import ModelCard
    >>> config = {"speechbrain_interface": "LMACInterpreter", "family": "lmac", "method": "L-MAC",
    ...           "sample_rate": 16000, "labels": ["dog", "siren"],
    ...           "classifier": {"embedding_model": "CompactCNN", "layers": ["embedding_model.conv_block5"]},
    ...           "examples": ["examples/siren_and_barks.wav"]}
    >>> card = ModelCard(model_card(config, ModelCardInfo(license="cc-by-nc-3.0")))
    >>> card.data.library_name, card.data.license
    ('speechbrain', 'cc-by-nc-3.0')
    """
    tags = ["audio-classification", "interpretability", "explainability", "speechbrain",
            "speechbrain_interp", config.get("family", "interpreter")] + list(info.tags)
    meta = {
        "library_name": "speechbrain",
        "license": info.license,
        "pipeline_tag": "audio-classification",
        "tags": list(dict.fromkeys(tags)),
        "metrics": ["average_increase", "average_drop", "average_gain", "faithfulness"],
    }
    if info.training_data and info.training_data != "unknown":
        meta["datasets"] = [info.training_data]
    interface = config.get("speechbrain_interface", "PretrainedInterpreter")
    labels = config.get("labels") or []
    clf = config.get("classifier", {})
    example = (config.get("examples") or ["examples/siren_and_barks.wav"])[0]
    label_text = ", ".join(labels[:12]) + (f", ... ({len(labels)} classes)" if len(labels) > 12 else "")
    data_line = info.training_data + (f" (<{info.training_data_url}>)" if info.training_data_url else "")
    layers = ", ".join(f"`{x}`" for x in clf.get("layers", []))
    results = clf.get("results") or {}
    results_text = ("\nResults of the classifier's training recipe: "
                    + ", ".join(f"{k} = {_fmt_result(v)}" for k, v in results.items()) + ".\n"
                    if results else "")
    derived = " (they derive from the training data above)" if info.license != "other" else ""
    return f"""---
{_yaml_dump(meta, flow=False).rstrip()}
---

# {info.title}

A pretrained **{config.get('method', 'interpreter')}** interpreter ({config.get('family', '')} family) for an
audio classifier, packaged for `speechbrain_interp`, a SpeechBrain plugin that explains audio classifiers.
It explains the classifier's decision with a mask over the spectrogram that you can **listen to**: the
interpretation (masked-in audio) is the part of the sound that drove the decision, the residual is the rest.

## Classifier

{info.classifier or 'The classifier whose modules are in `hyperparams.yaml`.'}
{results_text}
- embedding model: `{clf.get('embedding_model', '?')}`, read at layers {layers}
- sample rate: {config.get('sample_rate')} Hz
- classes: {label_text or 'unknown'}
- weights fingerprint (SHA-256 of embedding model + classifier): `{clf.get('sha256', '?')}`

## Training data and licence

- training data: {data_line}
- licence of the training data: {info.training_data_license}
- licence of these weights: `{info.license}`{derived}
- example clips in `examples/` are synthesized by `speechbrain_interp.synth` and free to use.

## Evaluation

{_evaluation_markdown(info.evaluation)}

{info.evaluation_note}

AI: average increase, AD: average drop, AG: average gain (in %), FF: faithfulness, Fid-In: input
fidelity, SPS: sparseness, COMP: complexity, as in Paissan et al., "Listenable Maps for Audio
Classifiers" (ICML 2024).

## Usage

With `speechbrain_interp` installed:

```bash
speechbrain-interp explain {example} --interpreter {info.repo_id} --out explanations/
```

```python
from speechbrain_interp.inference import {interface}

interpreter = {interface}.from_hparams(source="{info.repo_id}", savedir="pretrained_models/interpreter")
explanation = interpreter.interpret_file("{example}")
print(explanation.predicted_labels, explanation.probability_in)
explanation.save("explanations/")   # original, interpretation and residual WAVs, PNG, summary.json
```

Loading checks `hyperparams.yaml` against an allow-list before building anything, and reads weights from
safetensors only. Once downloaded, the repository loads offline from the Hugging Face cache.

{info.notes}
"""


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


def push_to_hub(folder, repo_id: str, token=None, private: bool | None = None,
                commit_message: str | None = None, revision: str | None = None):
    """Upload a repository folder to the Hugging Face Hub (creating the repository if needed).

    Arguments
    ---------
    folder : str or Path
        A folder written by :func:`export_interpreter` (checked first).
    repo_id : str
        ``"org/name"``.
    token : str, optional
        Hub token (default: the logged-in user's).
    private : bool, optional
        Create the repository as private.
    commit_message : str, optional
        Defaults to "Upload <family> interpreter".
    revision : str, optional
        Branch to push to.

    Returns
    -------
    huggingface_hub.CommitInfo

    Example
    -------
    >>> push_to_hub("hub/lmac-esc50", "my-org/lmac-esc50")  # doctest: +SKIP
    """
    from huggingface_hub import HfApi

    config = check_hub_folder(folder)
    if not _REPO_ID.match(repo_id) or "/" not in repo_id:
        raise ValueError(f"'{repo_id}' is not a Hub repository id of the form org/name")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    return api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), repo_type="model", revision=revision,
        commit_message=commit_message or f"Upload {config.get('method', 'interpreter')} interpreter",
    )


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
    import re

    from speechbrain_interp.metrics import METRIC_NAMES

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
    weights_file = hparams.get("weights_file")
    if weights_file and Path(str(weights_file)).is_file() and hasattr(interpreter, "load_weights"):
        interpreter.load_weights(weights_file)  # L2I recipe: Psi, Theta and dictionary (safetensors)
        return f"exported weights {Path(str(weights_file)).name}"
    decoder = folder / "decoder.ckpt"
    if decoder.is_file() and hasattr(interpreter, "load_decoder"):
        interpreter.load_decoder(decoder)  # L-MAC recipe: the best decoder (weights_only loading)
        return "exported best decoder decoder.ckpt"
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
