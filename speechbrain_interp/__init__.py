"""speechbrain_interp: listenable, faithful explanations for SpeechBrain and torch audio classifiers.

The most used entry points are importable from the package itself (loaded on first use,
so ``import speechbrain_interp`` stays light):

* :func:`load` (any exported interpreter: folder, Hub id or Hub cache) and
  :func:`pretrained_default` (the interpreter bundled with the package);
* :class:`LMACInterface`, :class:`L2IInterface`, :class:`ConceptBottleneckInterface`
  (SpeechBrain ``Pretrained`` interfaces: ``from_hparams``, ``interpret_file``);
* :func:`explain_classifier` (explanations for a SpeechBrain classifier you already have)
  and :func:`train_lmac` (an L-MAC interpreter for it, trained on your audio).

One noun per idea: an *interpreter* is a brick (:mod:`speechbrain_interp.interpreters`:
``LMAC``, ``L2I``, ``ConceptInterpreter``, the gradient baselines), and an *interface* is
what loads or wraps one the SpeechBrain way (``...Interface``). The interfaces' old names
(``LMACInterpreter``, ``ClassifierExplainer``, ...) still work and warn.

Example
-------
>>> import speechbrain_interp
>>> speechbrain_interp.LMACInterface.FAMILY
'lmac'
"""

from importlib import import_module

_LAZY = {
    "load": ("speechbrain_interp.interfaces", "load"),
    "pretrained_default": ("speechbrain_interp.sources", "bundled_interpreter"),
    "export_interpreter": ("speechbrain_interp.export", "export_interpreter"),
    "push_to_hub": ("speechbrain_interp.export", "push_to_hub"),
    "PretrainedInterface": ("speechbrain_interp.interfaces", "PretrainedInterface"),
    "LMACInterface": ("speechbrain_interp.interfaces", "LMACInterface"),
    "L2IInterface": ("speechbrain_interp.interfaces", "L2IInterface"),
    "ConceptBottleneckInterface": ("speechbrain_interp.interfaces", "ConceptBottleneckInterface"),
    "ClassifierInterface": ("speechbrain_interp.explainer", "ClassifierInterface"),
    "explain_classifier": ("speechbrain_interp.explainer", "explain_classifier"),
    "train_lmac": ("speechbrain_interp.training", "train_lmac"),
    "Explanation": ("speechbrain_interp.explanation", "Explanation"),
}

#: Old names (they warn): interfaces are "...Interface", "interpreter" names the brick.
_DEPRECATED = {"PretrainedInterpreter": "speechbrain_interp.interfaces",
               "LMACInterpreter": "speechbrain_interp.interfaces",
               "L2IInterpreter": "speechbrain_interp.interfaces",
               "ConceptBottleneckInterpreter": "speechbrain_interp.interfaces",
               "ClassifierExplainer": "speechbrain_interp.explainer"}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _DEPRECATED:
        return getattr(import_module(_DEPRECATED[name]), name)  # warns, and is not cached
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'speechbrain_interp' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
