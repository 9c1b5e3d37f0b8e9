"""Any classifier adapter as safe YAML: how an exported folder rebuilds a non-SpeechBrain classifier.

A :class:`~speechbrain_interp.adapters.SpeechBrainClassifier` travels as its own inference
YAML. Every other adapter describes its construction with ``export_spec()`` (the contract is
in the :class:`~speechbrain_interp.adapters.ClassifierAdapter` docstring); this module turns
that description into ``classifier.yaml``, a hyperpyyaml file whose ``!new:`` and ``!name:``
tags go through the allow-list of :mod:`speechbrain_interp.safety` when the folder is loaded
back, and writes the weights to ``classifier.safetensors``:

* :func:`describe_module` and :func:`describe_callable`: a user's model class and input
  function by dotted import path (refused, with what to do, when they cannot be imported);
* :func:`check_exportable`: the adapter's spec with its modules and functions described that
  way, without writing anything, so ``train_lmac(out=...)`` fails before training, not after;
* :func:`classifier_yaml` and :func:`write_classifier`: the YAML text and the folder files;
* :func:`load_exported_classifier` (defined in :mod:`speechbrain_interp.loading`, where the
  loaders use it): the adapter back from such a folder.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import inspect
import json
import pydoc
from pathlib import Path

import torch

from speechbrain_interp.adapters import ExportedFile
from speechbrain_interp.brick_spec import ModuleSpec, brick_spec
from speechbrain_interp.loading import CLASSIFIER_WEIGHTS, CLASSIFIER_YAML, load_exported_classifier

__all__ = ["CallableRef", "describe_module", "describe_callable", "check_exportable", "classifier_yaml",
           "write_classifier", "exported_targets", "load_exported_classifier", "CLASSIFIER_YAML",
           "CLASSIFIER_WEIGHTS"]


class CallableRef:
    """A function written to YAML as ``!name:<target>`` (hyperpyyaml passes it uncalled).

    Example
    -------
    >>> CallableRef("speechbrain_interp.audio.load_audio")
    CallableRef('speechbrain_interp.audio.load_audio')
    """

    def __init__(self, target: str):
        self.target = target

    def __eq__(self, other):
        return isinstance(other, CallableRef) and other.target == self.target

    def __repr__(self):
        return f"CallableRef({self.target!r})"


def _importable_name(obj, what: str) -> str:
    """``module.qualname`` of a class or function that ``pydoc.locate`` finds again, or a clear error."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(obj, torch.nn.Module) or not (module and qualname):
        raise TypeError(f"the {what} {obj!r} is not a function or class that can be named in YAML; "
                        "use a function defined at the top level of an importable module")
    name = f"{module}.{qualname}"
    if module == "__main__" or "<" in qualname:  # a script's class, a lambda, a local function
        raise TypeError(
            f"the {what} {name} cannot be exported: it is defined in a script, inside a function or as a "
            "lambda, so a loaded folder could not import it. Move it to the top level of an importable "
            "module (a file of your package) and build the classifier from there")
    if pydoc.locate(name) is not obj:
        raise TypeError(f"the {what} {name} cannot be exported: importing that name does not give it back")
    return name


def describe_callable(function) -> CallableRef:
    """A classifier's input function as a :class:`CallableRef` (refused when it is not importable).

    Example
    -------
    >>> from speechbrain_interp.audio import load_audio
    >>> describe_callable(load_audio)
    CallableRef('speechbrain_interp.audio.load_audio')
    >>> describe_callable(lambda fe, mag, ph: mag)
    Traceback (most recent call last):
    ...
    TypeError: the input function ....<lambda> cannot be exported: it is defined ...
    """
    return CallableRef(_importable_name(function, "input function"))


def build(spec):
    """Build a :class:`ModuleSpec` (recursively) in this process, as the YAML would."""
    if isinstance(spec, ModuleSpec) and isinstance(spec.kwargs, list):  # positional: nn.Sequential
        return pydoc.locate(spec.target)(*[build(v) for v in spec.kwargs])
    if isinstance(spec, ModuleSpec):
        return pydoc.locate(spec.target)(**{k: build(v) for k, v in spec.kwargs.items()})
    if isinstance(spec, CallableRef):
        return pydoc.locate(spec.target)
    return spec


def _check_nested(spec: ModuleSpec) -> None:
    """Modules inside a description must be importable too (not only found in this process)."""
    inner = spec.kwargs if isinstance(spec.kwargs, list) else list(spec.kwargs.values())
    for value in inner:
        if isinstance(value, ModuleSpec):
            if value.target.startswith("__main__.") or "<" in value.target:
                raise TypeError(f"{spec.target} holds a {value.target}, defined in a script or a function, "
                                "which a loaded folder could not import; move it to a module of your package")
            _check_nested(value)


def describe_module(model: torch.nn.Module, kwargs: dict | None = None) -> ModuleSpec:
    """A user's model as ``!new:<class>`` with its constructor arguments, checked by rebuilding it.

    ``kwargs`` are the constructor arguments (plain values, nested modules); without them
    they are read back from the model's attributes (:func:`~speechbrain_interp.brick_spec.brick_spec`);
    an ``nn.Sequential`` is written as the list of its layers, each described that way.
    The model is then rebuilt from the description and its weights must have the same names
    and shapes, so a description that would not load is refused now, not after training.

    Example
    -------
    >>> describe_module(torch.nn.Linear(3, 2))
    ModuleSpec('torch.nn.modules.linear.Linear', {'in_features': 3, 'out_features': 2})
    """
    cls = type(model)
    target = _importable_name(cls, "model class")
    hint = (f"pass model_kwargs={{...}} (the arguments {cls.__name__} was built with) to the "
            "TorchClassifier, or store each constructor argument on the model as an attribute of that name")
    if kwargs is None and type(model) is torch.nn.Sequential:  # its layers are its arguments
        described = [describe_module(layer) for layer in model]
    elif kwargs is None:
        try:
            _, described = brick_spec(model)
        except TypeError as err:
            raise TypeError(f"cannot tell how to rebuild {target} for the export ({err}); {hint}") from None
    else:
        from speechbrain_interp.brick_spec import _spec_value

        try:
            described = {str(k): _spec_value(v) for k, v in kwargs.items()}
        except TypeError as err:
            raise TypeError(f"model_kwargs of {target} hold a {err}, which cannot be written to YAML; "
                            "use plain values (numbers, strings, lists, dicts) and modules") from None
    spec = ModuleSpec(target, described)
    _check_nested(spec)
    try:
        rebuilt = build(spec)
    except Exception as err:
        raise TypeError(f"{target}(**{described}) fails ({type(err).__name__}: {err}); {hint}") from None
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    if want != got:
        diff = sorted(set(want) ^ set(got)) or [k for k in want if want[k] != got[k]]
        raise TypeError(f"{target}(**{described}) builds a model whose weights differ from yours "
                        f"({diff[:5]}); {hint}")
    return spec


def _describe_value(value, kwargs=None):
    """One ``export_spec()`` value as YAML-ready: modules and functions described, plain values checked."""
    from speechbrain_interp.brick_spec import _plain

    if isinstance(value, (ModuleSpec, CallableRef, ExportedFile)):
        return value
    if isinstance(value, torch.nn.Module):
        config = getattr(value, "export_config", None)
        if kwargs is None and callable(config):  # e.g. SpectralFrontEnd: its own plain arguments
            return ModuleSpec(_importable_name(type(value), "module class"), config())
        return describe_module(value, kwargs)
    if callable(value) and not inspect.isclass(value):
        return describe_callable(value)
    if isinstance(value, dict):
        return {str(k): _describe_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_describe_value(v) for v in value]
    try:
        return _plain(value)
    except TypeError as err:
        raise TypeError(f"a {err} cannot be written to YAML") from None


def _target_of(adapter) -> tuple[str, str]:
    """``(tag, dotted name)`` of what rebuilds an adapter: its class (``!new:``) or ``export_target``."""
    cls = type(adapter)
    target = getattr(adapter, "export_target", None) or _importable_name(cls, "adapter class")
    return ("!new:" if inspect.isclass(pydoc.locate(target)) else "!apply:"), target


def check_exportable(adapter, compare: bool = True) -> dict:
    """The adapter's ``export_spec()``, described for YAML, or the one-line error that says why not.

    Called by ``train_lmac(out=...)`` before training, so that an export that would fail
    fails before any time is spent. With ``compare`` (and weights in ``export_weights()``), the
    adapter is also rebuilt from the description in this process (weights copied) and must
    give the same logits on a second of noise: arguments read back wrongly are caught here,
    not after training.

    Example
    -------
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> spec = check_exportable(TorchClassifier(torch.nn.Linear(33, 2), SpectralFrontEnd(n_fft=64),
    ...                                         input="magnitude"))
    >>> spec["model"].target, spec["model_kwargs"]
    ('torch.nn.modules.linear.Linear', {'in_features': 33, 'out_features': 2})
    """
    name = type(adapter).__name__
    try:
        raw = dict(adapter.export_spec())
    except NotImplementedError as err:
        raise TypeError(f"{name} cannot be exported: {err}") from None
    _target_of(adapter)
    weights = adapter.export_weights()
    if weights is not None and raw.get("model") is not weights:
        raise TypeError(f"{name}.export_spec() must give the module of export_weights() as 'model'")
    spec = {}
    for key, value in raw.items():
        try:
            spec[key] = _describe_value(value, raw.get("model_kwargs") if key == "model" else None)
        except TypeError as err:
            raise TypeError(f"{name} cannot be exported: its '{key}': {err}") from None
    if "model_kwargs" in spec and isinstance(spec.get("model"), ModuleSpec):
        # what rebuilt the model, so that a re-export is exact (a Sequential's layers rebuild it alone)
        kwargs = spec["model"].kwargs
        spec["model_kwargs"] = kwargs if isinstance(kwargs, dict) else None
    if compare:
        _compare_rebuilt(adapter, spec)
    return spec


@torch.no_grad()
def _compare_rebuilt(adapter, spec: dict) -> None:
    """Rebuild the adapter from its description, as loading would, and compare logits on noise."""
    weights = adapter.export_weights()
    if weights is None:
        return  # the spec loads its own weights (files, a Hub id); the export's round trip checks it
    kwargs = {k: build(v) for k, v in spec.items()}
    kwargs["model"].load_state_dict(weights.state_dict())
    twin = pydoc.locate(_target_of(adapter)[1])(**kwargs)
    fe = adapter.frontend
    device = next(adapter.buffers(), torch.empty(0)).device
    samples = max(fe.sample_rate, 4 * fe.win_length)
    stft = fe((0.1 * torch.randn(1, samples, generator=torch.Generator().manual_seed(0))).to(device))
    was_training = adapter.training
    adapter.eval()
    try:
        expected = adapter(stft.magnitude, phase=stft.phase)
    finally:
        adapter.train(was_training)
    got = twin.to(device).eval()(stft.magnitude, phase=stft.phase)
    if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-5, rtol=1e-4):
        raise TypeError(
            f"{type(adapter).__name__} rebuilt from its description gives other logits than the original, so "
            f"an exported folder would explain another classifier; pass model_kwargs={{...}} with the exact "
            f"arguments the model was built with (read back: {spec.get('model_kwargs')})")


def _render(value, indent: int) -> str:
    """YAML for one value (after ``key:``): JSON scalars and lists, tags for modules and functions."""
    pad = " " * indent
    if isinstance(value, ModuleSpec) and isinstance(value.kwargs, list):
        return f" !new:{value.target}" + "".join(f"\n{pad}-{_render(v, indent + 4)}" for v in value.kwargs)
    if isinstance(value, ModuleSpec):
        body = "".join(f"\n{pad}{k}:{_render(v, indent + 4)}" for k, v in value.kwargs.items())
        return f" !new:{value.target}{body}"
    if isinstance(value, CallableRef):
        return f" !name:{value.target}"
    if isinstance(value, ExportedFile):
        return f" !ref <exported_folder>/{value}"
    if isinstance(value, dict) and any(isinstance(v, (ModuleSpec, CallableRef, ExportedFile))
                                       for v in value.values()):
        return "".join(f"\n{pad}{k}:{_render(v, indent + 4)}" for k, v in value.items())
    return " " + json.dumps(value)


def classifier_yaml(adapter) -> str:
    """``classifier.yaml``: the weights' module as ``classifier``, the adapter as ``classifier_adapter``.

    Example
    -------
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> adapter = TorchClassifier(torch.nn.Linear(33, 2), SpectralFrontEnd(n_fft=64), input="magnitude")
    >>> print(classifier_yaml(adapter).splitlines()[4])
    classifier: !new:torch.nn.modules.linear.Linear
    """
    spec = dict(check_exportable(adapter, compare=False))
    tag, target = _target_of(adapter)
    lines = ["# The classifier (speechbrain_interp adapter), rebuilt from this YAML; its weights are in "
             f"{CLASSIFIER_WEIGHTS}.",
             "# Every !new:/!name: below is checked against the allow-list on loading.",
             "# exported_folder is set to this folder when it is loaded (for files named in it).",
             'exported_folder: "."']
    body = ""
    if adapter.export_weights() is not None:
        lines.append("classifier:" + _render(spec.pop("model"), 4))
        # first: hyperpyyaml mis-reads a !ref to a Sequential's positional layers when a blank line follows
        body = "\n    model: !ref <classifier>"
    body += "".join(f"\n    {k}:{_render(v, 8)}" for k, v in spec.items())
    lines.append(f"classifier_adapter: {tag}{target}{body}")
    return "\n".join(lines) + "\n"


def exported_targets(adapter) -> list[str]:
    """Dotted names the adapter's YAML builds (to allow them when checking an export in-process).

    Example
    -------
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> adapter = TorchClassifier(torch.nn.Linear(33, 2), SpectralFrontEnd(n_fft=64), input="magnitude")
    >>> exported_targets(adapter)
    ['speechbrain_interp.adapters.TorchClassifier', 'torch.nn.modules.linear.Linear', ...]
    """
    found = [_target_of(adapter)[1]]
    stack = list(check_exportable(adapter, compare=False).values())
    while stack:
        value = stack.pop(0)
        if isinstance(value, (ModuleSpec, CallableRef)):
            found.append(value.target)
        if isinstance(value, ModuleSpec):
            stack.extend(value.kwargs if isinstance(value.kwargs, list) else value.kwargs.values())
        elif isinstance(value, dict):
            stack.extend(value.values())
    return list(dict.fromkeys(found))


def write_classifier(adapter, folder) -> str:
    """Write ``classifier.yaml`` (and ``classifier.safetensors``) into ``folder``; returns the YAML text."""
    from speechbrain_interp.safety import save_state_dict

    folder = Path(folder)
    text = classifier_yaml(adapter)
    adapter.export_files(folder)
    (folder / CLASSIFIER_YAML).write_text(text, encoding="utf-8")
    weights = adapter.export_weights()
    if weights is not None:
        save_state_dict(weights.state_dict(), folder / CLASSIFIER_WEIGHTS)
    return text
