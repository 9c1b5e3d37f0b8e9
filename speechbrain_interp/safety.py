"""Safe loading of downloaded models: an allow-list for hyperparams YAML, weights without pickle.

A SpeechBrain ``hyperparams.yaml`` is code: hyperpyyaml builds whatever its
``!new:``, ``!name:``, ``!apply:``, ``!applyref:`` and ``!module:`` tags name, and
it parses scalars that look like tuples, ``(a, b)``, with PyYAML's unsafe loader,
so even a quoted string can run ``!!python/object/apply:os.system``. Before a YAML
from a downloaded repository is loaded, :func:`check_hparams` walks its YAML
nodes, without constructing anything, and refuses:

* any tag other than YAML's core types and hyperpyyaml's ``!ref``, ``!copy``,
  ``!tuple``, ``!PLACEHOLDER``, ``!include:`` (files inside the same folder, checked
  the same way) and the object tags above;
* object tags whose target is not on the allow-list, checked twice: the dotted name
  before anything is imported, then the object it resolves to, so a re-export such as
  ``speechbrain.nnet.linear.torch.load`` is refused too;
* tagged content inside tuple-looking scalars.

The allow-list (:data:`DEFAULT_ALLOW`) covers the model-building parts of this
package, of SpeechBrain and ``torch.nn``. It names subpackages rather than whole
libraries on purpose: ``speechbrain.utils.superpowers.run_shell`` runs a shell command
and ``speechbrain_interp.export.push_to_hub`` uploads files, so "all of speechbrain" or
"all of this package" would not be safe. Of transformers, it holds only
``TransformersClassifier.from_export``, which reads a local ``save_pretrained`` copy
(safetensors, never the repository's own code); ``from_pretrained`` is left out, since
it can download and run remote code. Anything else needs ``allow=[...]`` (CLI:
``--allow``) or an explicit ``trust_code=True``.

Weights are read with safetensors, or ``torch.load(weights_only=True)`` for the
``.ckpt`` files of existing SpeechBrain models; label encoders with SpeechBrain's
literal (non-pickle) reader. :class:`SafePretrainer` is the ``pretrainer:`` of every
exported folder and does exactly that.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import inspect
import io
import logging
import pydoc
import re
from collections.abc import Iterable
from pathlib import Path

import torch
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch
from speechbrain.utils.parameter_transfer import Pretrainer

__all__ = [
    "DEFAULT_ALLOW",
    "UnsafeHparamsError",
    "check_hparams",
    "yaml_problem",
    "load_hparams",
    "load_state_dict",
    "save_state_dict",
    "load_weights_into",
    "SafePretrainer",
]

logger = logging.getLogger(__name__)

#: Dotted prefixes whose classes and functions a downloaded YAML may build by default.
DEFAULT_ALLOW = (
    "speechbrain_interp.lobes",
    "speechbrain_interp.interpreters",
    "speechbrain_interp.adapters",
    "speechbrain_interp.patches.PatchClassifier",
    "speechbrain_interp.spliced.SplicedClassifier",
    "speechbrain_interp.spectral",
    "speechbrain_interp.embedders",
    "speechbrain_interp.solvers",
    "speechbrain_interp.safety.SafePretrainer",
    "speechbrain_interp.interfaces.build_concept_interpreter",
    # reads a local save_pretrained copy, safetensors only, never the repository's code
    "speechbrain_interp.transformers_classifier.TransformersClassifier.from_export",
    # old homes, still named by folders exported before the package was split (re-exports)
    "speechbrain_interp.clap",
    "speechbrain_interp.inference.build_concept_interpreter",
    "speechbrain.lobes.features",
    "speechbrain.lobes.models",
    "speechbrain.nnet",
    "speechbrain.processing",
    "speechbrain.dataio.encoder",
    "speechbrain.dataio.preprocess.AudioNormalizer",
    "speechbrain.utils.parameter_transfer.Pretrainer",
    "torch.nn",
)

#: Allowed prefixes that still hold loaders fetching or executing third-party code.
_DENY = (
    "speechbrain.lobes.models.huggingface_transformers",
    "speechbrain.lobes.models.flair",
    "speechbrain.lobes.models.spacy",
)

_CORE_TAGS = {
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "seq", "map", "merge", "timestamp")
}
_PLAIN_TAGS = {"!ref", "!copy", "!tuple", "!PLACEHOLDER"}
_OBJECT_TAGS = ("!new:", "!name:", "!apply:", "!applyref:", "!module:")
_TUPLE = re.compile(r"^\(.*\)$", re.DOTALL)


class UnsafeHparamsError(ValueError):
    """A hyperparams YAML names something outside the allow-list; nothing was built."""


def _covered(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _allowed_name(name: str, allow) -> bool:
    return _covered(name, allow) and not _covered(name, _DENY)


def _object_origin(obj) -> str | None:
    """``module.qualname`` where ``obj`` is really defined, or a module's own name."""
    if inspect.ismodule(obj):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if module is None or qualname is None:
        return None
    return f"{module}.{qualname}"


def _check_target(tag: str, target: str, allow, where: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][\w.]*", target) or not _allowed_name(target, allow):
        raise UnsafeHparamsError(
            f"{where}: '{tag}{target}' is not on the allow-list of classes a downloaded "
            f"hyperparams.yaml may build ({', '.join(allow)}). Nothing was run. If you trust "
            "this repository, load it with trust_code=True (CLI: --trust-code), or allow that "
            f"class or its module: allow=[...] (CLI: --allow {target})"
        )
    obj = pydoc.locate(target)  # imports only allow-listed modules
    if obj is None:
        raise UnsafeHparamsError(f"{where}: '{tag}{target}' names nothing importable")
    origin = _object_origin(obj)
    if origin is None or not _allowed_name(origin, allow):
        raise UnsafeHparamsError(
            f"{where}: '{tag}{target}' resolves to {origin or type(obj).__name__}, which is "
            "not on the allow-list (a re-export does not make a function safe). Nothing was "
            "run. Load with trust_code=True if you trust this repository"
        )


def _check_tuple_text(value: str, where: str) -> None:
    """hyperpyyaml parses ``(a, b)`` scalars with PyYAML's unsafe loader: allow no tags inside."""
    inner = "[" + value[1:-1] + "]"
    try:
        node = YAML(typ="safe", pure=True).compose(inner)
    except Exception:  # not valid YAML either way: hyperpyyaml would fail, but refuse anyway
        if "!" in value:
            raise UnsafeHparamsError(f"{where}: tuple-like value {value!r} holds a YAML tag") from None
        return
    stack = [node]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        if n.tag not in _CORE_TAGS:
            raise UnsafeHparamsError(
                f"{where}: tuple-like value {value!r} holds the tag '{n.tag}'; hyperpyyaml would "
                "build it with an unsafe loader. Nothing was run"
            )
        if isinstance(n, SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, MappingNode):
            for k, v in n.value:
                stack.extend((k, v))


def yaml_problem(err) -> str:
    """One line for a YAML parse error: its line number and problem (no '<unicode string>').

    Example
    -------
    >>> from ruamel.yaml import YAML
    >>> try:
    ...     YAML(typ="safe", pure=True).compose("a: [1, 2\\nb: 3\\n")
    ... except Exception as err:
    ...     print(yaml_problem(err))
    line 2: expected ',' or ']', but got ':'
    """
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return where + str(getattr(err, "problem", None) or str(err).strip().splitlines()[0])


def check_hparams(source, folder=None, allow: Iterable[str] = (), _seen=None) -> None:
    """Refuse a hyperparams YAML that would build anything outside the allow-list.

    Nothing is constructed: the YAML is composed into nodes and every tag is checked.

    Arguments
    ---------
    source : str or Path
        YAML text, or the path of a YAML file.
    folder : str or Path, optional
        Folder that ``!include:`` paths must stay inside (default: the file's folder).
    allow : iterable of str
        Dotted prefixes allowed on top of :data:`DEFAULT_ALLOW`.

    Raises
    ------
    UnsafeHparamsError
        Naming the offending line and tag.

    Example
    -------
    >>> check_hparams("model: !new:torch.nn.Linear [4, 2]")
    >>> check_hparams("x: !apply:os.system [echo hi]")
    Traceback (most recent call last):
    ...
    speechbrain_interp.safety.UnsafeHparamsError: line 1: '!apply:os.system' is not on the allow-list ...
    """
    allow = tuple(DEFAULT_ALLOW) + tuple(allow)
    _seen = set() if _seen is None else _seen
    path = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                     and source.endswith((".yaml", ".yml"))):
        path = Path(source).resolve()
        text = path.read_text(encoding="utf-8")
        folder = Path(folder).resolve() if folder is not None else path.parent
        _seen.add(path)
    else:
        text = source
        folder = Path(folder).resolve() if folder is not None else None
    label = f"{path.name}, " if path else ""
    try:
        root = YAML(typ="safe", pure=True).compose(text)
    except Exception as err:
        raise UnsafeHparamsError(f"{label}the YAML cannot be parsed: {yaml_problem(err)}") from err
    stack, visited = [root], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in visited:
            continue
        visited.add(id(node))
        where = f"{label}line {node.start_mark.line + 1}"
        tag = node.tag or ""
        if tag.startswith(_OBJECT_TAGS):
            prefix = next(p for p in _OBJECT_TAGS if tag.startswith(p))
            _check_target(prefix, tag[len(prefix):], allow, where)
        elif tag.startswith("!include:"):
            _check_include(tag[len("!include:"):], folder, allow, where, _seen)
        elif tag not in _CORE_TAGS and tag not in _PLAIN_TAGS:
            raise UnsafeHparamsError(
                f"{where}: the tag '{tag}' is not allowed in a downloaded hyperparams.yaml. "
                "Nothing was run. Load with trust_code=True if you trust this repository"
            )
        if isinstance(node, ScalarNode):
            if isinstance(node.value, str) and _TUPLE.match(node.value.strip()):
                _check_tuple_text(node.value.strip(), where)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))


def _check_include(name: str, folder, allow, where: str, seen) -> None:
    if folder is None:
        raise UnsafeHparamsError(f"{where}: '!include:{name}' needs the YAML's folder to be known")
    target = (folder / name).resolve()
    if folder not in target.parents:
        raise UnsafeHparamsError(f"{where}: '!include:{name}' points outside {folder}")
    if not target.is_file():
        raise UnsafeHparamsError(f"{where}: '!include:{name}' does not exist in {folder}")
    if target not in seen:
        check_hparams(target, folder=folder, allow=[a for a in allow if a not in DEFAULT_ALLOW],
                      _seen=seen)


def load_hparams(path, overrides=None, trust_code: bool = False, allow: Iterable[str] = ()):
    """Check a hyperparams YAML (unless ``trust_code``), then load it with hyperpyyaml.

    The text that was checked is the text that is loaded (no second read of the file).

    Arguments
    ---------
    path : str or Path
        The YAML file.
    overrides : dict, optional
        hyperpyyaml overrides, supplied by the caller and therefore trusted.
    trust_code : bool
        Skip the allow-list: only for repositories you trust.
    allow : iterable of str
        Extra allowed dotted prefixes.

    Returns
    -------
    dict

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "hyperparams.yaml")
    >>> _ = open(path, "w").write("n: 3\\nlayer: !new:torch.nn.Linear [!ref <n>, 2]\\n")
    >>> load_hparams(path)["layer"]
    Linear(in_features=3, out_features=2, bias=True)
    """
    import yaml
    from hyperpyyaml import load_hyperpyyaml
    from ruamel.yaml.error import YAMLError as RuamelYAMLError

    path = Path(path).resolve()
    text = path.read_text(encoding="utf-8")
    try:
        if not trust_code:
            check_hparams(text, folder=path.parent, allow=allow, _seen={path})
        stream = io.StringIO(text)
        stream.name = str(path)  # hyperpyyaml resolves !include: relative to the stream's name
        return load_hyperpyyaml(stream, overrides or {})
    except (yaml.YAMLError, RuamelYAMLError) as err:
        raise ValueError(f"'{path}': broken YAML, {yaml_problem(err)}; fix the file or export it "
                         "again") from err
    except UnsafeHparamsError as err:
        if not isinstance(err.__cause__, (yaml.YAMLError, RuamelYAMLError)):
            raise
        raise ValueError(f"'{path}': broken YAML, {yaml_problem(err.__cause__)}; fix the file or "
                         "export it again") from err


def save_state_dict(state: dict, path) -> None:
    """Write a state dict as safetensors (tensors made contiguous; shared storage duplicated).

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save_state_dict(torch.nn.Linear(2, 1).state_dict(), path)
    >>> sorted(load_state_dict(path))
    ['bias', 'weight']
    """
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()
               if isinstance(v, torch.Tensor)}
    skipped = sorted(set(state) - set(tensors))
    if skipped:
        raise TypeError(f"state entries {skipped} are not tensors and cannot go into safetensors")
    save_file(tensors, str(path))


def load_state_dict(path) -> dict:
    """Read weights without unpickling: safetensors, or ``torch.load(weights_only=True)``.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.ckpt")
    >>> torch.save({"w": torch.ones(2)}, path)
    >>> load_state_dict(path)["w"]
    tensor([1., 1.])
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as err:  # a pickle under this name, random bytes, a cut download
            raise ValueError(
                f"'{path}' is not a readable safetensors file ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else 'unreadable'}); download or export it again"
            ) from err
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"'{path}' is not a plain tensor checkpoint (weights_only loading refused it: {err}). "
            "It is not unpickled for safety; convert it to safetensors in a trusted environment"
        ) from err


def load_weights_into(module: torch.nn.Module, path, strict: bool = True, skip_prefix=None) -> None:
    """Load safe weights into ``module``; ``skip_prefix`` leaves e.g. ``classifier.`` keys alone.

    Raises
    ------
    ValueError
        When ``strict`` and keys are missing or unexpected, naming them.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save_state_dict(torch.nn.Linear(2, 1).state_dict(), path)
    >>> load_weights_into(torch.nn.Linear(2, 1), path)
    """
    state = load_state_dict(path)
    if hasattr(module, "prepare_state"):  # a module may adapt its shape to older weights
        module.prepare_state(state)
    own = module.state_dict()
    if skip_prefix:
        own = {k: v for k, v in own.items() if not k.startswith(skip_prefix)}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if strict and (missing or unexpected):
        raise ValueError(
            f"weights in '{path}' do not fit {type(module).__name__}: missing {missing[:10]}, "
            f"unexpected {unexpected[:10]}"
        )
    wrong = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own
             if k in state and isinstance(own[k], torch.Tensor) and state[k].shape != own[k].shape]
    if wrong:
        key, got, want = wrong[0]
        raise ValueError(
            f"weights in '{path}' do not fit {type(module).__name__}: '{key}' has shape {got} in the file "
            f"and {want} in the model ({len(wrong)} tensor(s) differ); were they saved for another "
            "configuration or classifier?")
    for key in unexpected:
        logger.warning("ignoring unexpected weight '%s' in %s", key, path)
    for key in missing:
        logger.warning("no weight for '%s' in %s; it keeps its initial value", key, path)
    module.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


def _load_loadable(name: str, obj, path, strict: bool) -> None:
    from speechbrain.dataio.encoder import CategoricalEncoder

    if isinstance(obj, torch.nn.Module):
        load_weights_into(obj, path, strict=strict)
    elif isinstance(obj, CategoricalEncoder):
        obj.load(path)  # SpeechBrain's literal format, parsed with ast.literal_eval, no pickle
    else:
        raise TypeError(
            f"don't know how to load '{name}' ({type(obj).__name__}) without pickle; only "
            "torch modules (safetensors / weights-only checkpoints) and label encoders are loaded"
        )


def safe_load_collected(pretrainer: Pretrainer, strict: bool = False) -> None:
    """Load what a (SpeechBrain or safe) pretrainer collected, never through pickle.

    Works for SpeechBrain's own ``Pretrainer`` (``.ckpt`` files, loaded with
    ``weights_only=True``, non-strict as SpeechBrain does) after ``collect_files``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> torch.save(torch.nn.Linear(2, 2).state_dict(), f"{folder}/model.ckpt")
    >>> pretrainer = Pretrainer(loadables={"model": torch.nn.Linear(2, 2)})
    >>> _ = pretrainer.collect_files(default_source=folder)
    >>> safe_load_collected(pretrainer)
    """
    for name, obj in pretrainer.loadables.items():
        if not pretrainer.is_loadable(name):
            continue
        if name in pretrainer.is_local or name in pretrainer.paths:
            path = pretrainer.paths[name]
        elif pretrainer.collect_in is not None:
            path = pretrainer.collect_in / f"{name}.ckpt"
        else:
            raise ValueError(f"'{name}' was never collected; call collect_files first")
        _load_loadable(name, obj, path, strict)


class SafePretrainer(Pretrainer):
    """A SpeechBrain ``Pretrainer`` that reads safetensors weights and text label encoders.

    Files are ``<name>.safetensors`` for torch modules and ``<name>.txt`` for label
    encoders, fetched with SpeechBrain's ``fetch`` (local folder, Hub id or cache).
    ``deferred`` names files that are collected but loaded later by their owner, e.g.
    the interpreter brick, which only exists once the classifier is loaded.

    Arguments
    ---------
    loadables : dict
        ``{name: module or label encoder}``.
    deferred : list of str
        Names of ``<name>.safetensors`` files to collect without loading.
    strict : bool
        Require the weights to match every module exactly.
    **kwargs
        ``collect_in``, ``paths``, ``conditions`` as for SpeechBrain's ``Pretrainer``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> save_state_dict(torch.nn.Linear(3, 2).state_dict(), f"{folder}/model.safetensors")
    >>> model = torch.nn.Linear(3, 2)
    >>> pretrainer = SafePretrainer(loadables={"model": model})
    >>> _ = pretrainer.collect_files(default_source=folder)
    >>> pretrainer.load_collected()
    >>> bool(torch.equal(model.weight, load_state_dict(f"{folder}/model.safetensors")["weight"]))
    True
    """

    def __init__(self, loadables=None, deferred=(), strict: bool = True, **kwargs):
        super().__init__(loadables=loadables, **kwargs)
        self.deferred = list(deferred)
        self.strict = strict

    def filename(self, name: str) -> str:
        """File name of a loadable: ``.txt`` for label encoders, ``.safetensors`` otherwise."""
        if name in self.loadables and not isinstance(self.loadables[name], torch.nn.Module):
            return f"{name}.txt"
        return f"{name}.safetensors"

    def collect_files(self, default_source=None, local_strategy=LocalStrategy.SYMLINK,
                      fetch_config=None):
        """Fetch every loadable and deferred file; returns ``{name: local path}``."""
        fetch_config = fetch_config if fetch_config is not None else FetchConfig()
        if self.collect_in is not None:
            self.collect_in.mkdir(parents=True, exist_ok=True)
        names = [n for n in self.loadables if self.is_loadable(n)] + list(self.deferred)
        collected = {}
        for name in names:
            if name in self.paths:
                source, filename = self.split_path(self.paths[name])
            elif default_source is not None:
                source, filename = default_source, self.filename(name)
            else:
                raise ValueError(f"no path for '{name}' and no default_source given")
            path = fetch(filename=filename, source=source, savedir=self.collect_in,
                         save_filename=self.filename(name), local_strategy=local_strategy,
                         fetch_config=fetch_config)
            collected[name] = path
            self.paths[name] = str(path)
            self.is_local.append(name)
        return collected

    def load_collected(self):
        """Load collected modules (safetensors) and label encoders (text); skip deferred ones."""
        for name, obj in self.loadables.items():
            if self.is_loadable(name):
                if name not in self.paths:
                    raise ValueError(f"'{name}' was never collected; call collect_files first")
                _load_loadable(name, obj, self.paths[name], self.strict)

    def deferred_path(self, name: str):
        """Local path of a collected deferred file, or None."""
        return self.paths.get(name) if name in self.deferred else None
