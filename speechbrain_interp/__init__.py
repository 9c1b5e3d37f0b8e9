"""speechbrain_interp: listenable, faithful explanations for SpeechBrain and torch audio classifiers.

The most used entry points are importable from the package itself (loaded on first use,
so ``import speechbrain_interp`` stays light):

* :func:`load` (any exported interpreter: folder, Hub id or Hub cache) and
  :func:`pretrained_default` (the interpreter bundled with the package);
* :class:`LMACInterpreter`, :class:`L2IInterpreter`, :class:`ConceptBottleneckInterpreter`
  (SpeechBrain ``Pretrained`` interfaces: ``from_hparams``, ``interpret_file``);
* :func:`explain_classifier` (explanations for a SpeechBrain classifier you already have)
  and :func:`train_lmac` (an L-MAC interpreter for it, trained on your audio).

Example
-------
>>> import speechbrain_interp
>>> speechbrain_interp.LMACInterpreter.FAMILY
'lmac'
"""

from importlib import import_module

_LAZY = {
    "load": ("speechbrain_interp.interfaces", "load"),
    "pretrained_default": ("speechbrain_interp.sources", "bundled_interpreter"),
    "export_interpreter": ("speechbrain_interp.export", "export_interpreter"),
    "push_to_hub": ("speechbrain_interp.export", "push_to_hub"),
    "PretrainedInterpreter": ("speechbrain_interp.interfaces", "PretrainedInterpreter"),
    "LMACInterpreter": ("speechbrain_interp.interfaces", "LMACInterpreter"),
    "L2IInterpreter": ("speechbrain_interp.interfaces", "L2IInterpreter"),
    "ConceptBottleneckInterpreter": ("speechbrain_interp.interfaces", "ConceptBottleneckInterpreter"),
    "explain_classifier": ("speechbrain_interp.explainer", "explain_classifier"),
    "train_lmac": ("speechbrain_interp.training", "train_lmac"),
    "Explanation": ("speechbrain_interp.explanation", "Explanation"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'speechbrain_interp' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
