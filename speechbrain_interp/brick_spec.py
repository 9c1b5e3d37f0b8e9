"""How a brick is written to YAML: its class and constructor arguments, read back from the object.

:func:`brick_spec` returns ``(dotted class name, kwargs)`` that rebuild a trained brick around
a classifier; module arguments become nested :class:`ModuleSpec` (their weights travel in
``interpreter.safetensors``), and :func:`render_kwargs` writes them as the body of the
``interpreter: !name:...`` entry of an exported ``hyperparams.yaml``. Concept-bottleneck bricks
are written as a call of :func:`speechbrain_interp.interfaces.build_concept_interpreter` (their
``export_target``).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import inspect
import json

import torch

__all__ = ["brick_spec", "ModuleSpec", "render_kwargs"]


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

    Looked up in this order: the brick's ``export_target`` and ``export_config()`` if that is
    not None; its
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
    cls = type(interpreter)
    # a brick declares how it exports (Interpreter.export_target / export_config); other modules
    # (an NMF dictionary, torch layers) are read back from their constructor arguments
    target = getattr(cls, "export_target", None) or f"{cls.__module__}.{cls.__qualname__}"
    exported = interpreter.export_config() if callable(getattr(interpreter, "export_config", None)) else None
    if exported is not None:
        return target, {k: _spec_value(v) for k, v in exported.items()}
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


def render_kwargs(kwargs: dict, indent: int = 4) -> str:
    """YAML lines for constructor kwargs: JSON values (valid YAML), nested modules as ``!new:``.

    Example
    -------
    >>> print(render_kwargs({"top_k": 2, "dictionary": ModuleSpec("torch.nn.Linear", {"in_features": 3})}))
        top_k: 2
        dictionary: !new:torch.nn.Linear
            in_features: 3
    <BLANKLINE>
    """
    pad = " " * indent
    lines = []
    for key, value in kwargs.items():
        if isinstance(value, ModuleSpec):
            lines.append(f"{pad}{key}: !new:{value.target}\n" + render_kwargs(value.kwargs, indent + 4))
        else:
            lines.append(f"{pad}{key}: {json.dumps(value)}\n")
    return "".join(lines)

