"""Old home of the interfaces and of explaining or training for a classifier, kept for imports.

``inference.py`` held several jobs; each now has its own module, and this module only
re-exports their names (new code should import from the new homes):

* :mod:`speechbrain_interp.interfaces`: the SpeechBrain ``Pretrained`` interfaces
  ``PretrainedInterface``, ``LMACInterface``, ``L2IInterface``,
  ``ConceptBottleneckInterface``, ``INTERFACES`` and ``build_concept_interpreter``;
* :mod:`speechbrain_interp.explainer`: ``ClassifierInterface``, ``explain_classifier``,
  ``gradient_baseline``, ``BASELINES``;
* :mod:`speechbrain_interp.loading`: ``load_classifier_adapter``;
* :mod:`speechbrain_interp.interpreting`: ``audio_files``, ``AUDIO_SUFFIXES`` and the
  ``interpret_batch`` / ``interpret_file`` / ``interpret_files`` mixin;
* :mod:`speechbrain_interp.training`: ``train_lmac``, ``TrainingResult``.

Exported folders write ``speechbrain_interp.inference.build_concept_interpreter`` and
``speechbrain_interp.inference.<Interface>`` into their ``hyperparams.yaml`` and model card;
those names still resolve here.

Example
-------
>>> from speechbrain_interp import inference, interfaces
>>> inference.LMACInterface is interfaces.LMACInterface
True

Authors
* speechbrain_interp contributors 2026
"""

from speechbrain_interp.explainer import BASELINES, ClassifierInterface, explain_classifier, gradient_baseline
from speechbrain_interp.interfaces import (
    INTERFACES,
    ConceptBottleneckInterface,
    L2IInterface,
    LMACInterface,
    PretrainedInterface,
    build_concept_interpreter,
)
from speechbrain_interp.interpreting import AUDIO_SUFFIXES, audio_files
from speechbrain_interp.loading import load_classifier_adapter
from speechbrain_interp.training import TrainingResult, train_lmac

__all__ = [
    "PretrainedInterface",
    "LMACInterface",
    "L2IInterface",
    "ConceptBottleneckInterface",
    "build_concept_interpreter",
    "ClassifierInterface",
    "INTERFACES",
    "BASELINES",
    "AUDIO_SUFFIXES",
    "explain_classifier",
    "gradient_baseline",
    "audio_files",
    "load_classifier_adapter",
    "train_lmac",
    "TrainingResult",
]


def __getattr__(name):
    """Old names of the interfaces still import from here, with a ``DeprecationWarning``."""
    from speechbrain_interp import explainer, interfaces

    if name in interfaces.DEPRECATED_NAMES:
        return getattr(interfaces, name)
    if name == "ClassifierExplainer":
        return explainer.ClassifierExplainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
