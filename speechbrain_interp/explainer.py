"""Explanations for a SpeechBrain classifier you already have: :func:`explain_classifier`.

Given any SpeechBrain classifier (an ``AudioClassifier`` or ``EncoderClassifier`` object,
folder or Hub id), or a Hugging Face transformers audio classifier (AST, wav2vec2, HuBERT,
WavLM, Whisper: object, ``save_pretrained`` folder or Hub id), :func:`explain_classifier` wraps
it with a trained interpreter when you have one, and otherwise explains it right away with a gradient baseline
(:func:`gradient_baseline`), saying so in ``Explanation.note``. The result,
a :class:`ClassifierInterface` or a pretrained interface, has ``interpret_file``,
``interpret_batch`` and ``interpret_files``. To train an L-MAC interpreter for the
classifier, see :func:`speechbrain_interp.training.train_lmac`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from speechbrain_interp.adapters import ClassifierAdapter
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.interfaces import PretrainedInterface, load
from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.interpreting import InterpretingMixin
from speechbrain_interp.loading import load_classifier, load_classifier_adapter

__all__ = ["ClassifierInterface", "explain_classifier", "gradient_baseline", "BASELINES"]


#: Gradient baselines by CLI name: (brick class in interpreters.baselines, description).
BASELINES = {
    "saliency": "Saliency",
    "integrated_gradients": "IntegratedGradients",
    "smoothgrad": "SmoothGrad",
    "gradcam": "GradCAM",
}


def gradient_baseline(adapter: ClassifierAdapter, name: str = "saliency", **kwargs) -> Interpreter:
    """A gradient-baseline brick for ``adapter`` (no training needed).

    Arguments
    ---------
    adapter : ClassifierAdapter
        The classifier.
    name : str
        One of :data:`BASELINES`.
    **kwargs
        Passed to the brick.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector"))
    >>> gradient_baseline(adapter, "integrated_gradients", n_steps=4).method
    'Integrated Gradients (gradient baseline)'
    """
    try:
        from speechbrain_interp.interpreters import baselines
    except ImportError as err:  # the baselines brick is an optional part of the package
        raise RuntimeError("speechbrain_interp.interpreters.baselines is not available") from err
    if name not in BASELINES:
        raise ValueError(f"unknown baseline '{name}'; choose from {sorted(BASELINES)}")
    if name == "gradcam" and "layer" not in kwargs:
        if not adapter.layers:
            raise ValueError("Grad-CAM needs a layer: pass layer=... (CLI: --layers MODULE) or build the "
                             "adapter with layers")
        # the deepest captured layer by this package's convention; channels-last blocks (TDNN)
        # fall back to their inner convolution, which is channels-first
        names = [n for n, _ in adapter.model.named_modules()] if hasattr(adapter, "model") else []
        inner = []
        for layer in adapter.layers:  # the last convolution up to that layer
            upto = names[: names.index(layer) + 1] if layer in names else []
            convs = [n for n in upto if n.endswith(".conv")]
            inner += convs[-1:]
        candidates = list(dict.fromkeys(list(adapter.layers) + inner))
        for layer in candidates:
            try:
                return baselines.GradCAM(adapter, layer=layer, **kwargs)
            except (ValueError, AttributeError, KeyError):
                continue
        raise ValueError(f"Grad-CAM needs a channels-first layer with a time axis; none of {candidates} is. "
                         "Name one with layer=... (CLI: --layers MODULE)")
    return getattr(baselines, BASELINES[name])(adapter, **kwargs)


class ClassifierInterface(InterpretingMixin, torch.nn.Module):
    """An interpreter brick around an existing classifier, with the file helpers of the interfaces.

    Arguments
    ---------
    interpreter : Interpreter
        Any brick (trained L-MAC, gradient baseline, ...).
    note : str, optional
        Added to every explanation (e.g. that a gradient baseline stood in).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "xvector", n_mels=24)
    >>> explainer = explain_classifier(folder)
    >>> e = explainer.interpret_batch(torch.randn(1, 16000) * 0.1)
    >>> "gradient baseline" in e.note
    True
    """

    def __init__(self, interpreter: Interpreter, note: str | None = None):
        super().__init__()
        self.interpreter = interpreter
        self.note = note

    def forward(self, wavs, wav_lens=None, target=None) -> Explanation:
        """Same as :meth:`interpret_batch`."""
        return self.interpret_batch(wavs, wav_lens, target=target)


def explain_classifier(classifier, interpreter=None, baseline: str = "saliency", layers=None,
                       savedir=None, trust_code: bool = False, offline=None, feature_extractor=None,
                       allow=(), **baseline_options):
    """Explanations for a SpeechBrain (or Hugging Face transformers) classifier you already have.

    Arguments
    ---------
    classifier : AudioClassifier, EncoderClassifier, PreTrainedModel, ClassifierAdapter, str or Path
        The classifier object, or its folder / Hub id. A transformers audio classifier (object,
        ``save_pretrained`` folder or Hub id) is wrapped in a
        :class:`~speechbrain_interp.transformers_classifier.TransformersClassifier`.
    interpreter : str, Path, Interpreter or PretrainedInterface, optional
        A trained interpreter for this classifier: a folder / Hub id written by
        :func:`speechbrain_interp.export.export_interpreter`, a loaded interface, or a brick.
        When None, a gradient baseline explains the classifier right away and every
        explanation's ``note`` says so.
    baseline : str
        Which gradient baseline when there is no interpreter (see :data:`BASELINES`).
    layers : list of str, optional
        Hidden layers for the adapter (default: known per architecture).
    savedir, trust_code, offline, allow
        Loading options, see :func:`speechbrain_interp.loading.load_pretrained` (``allow``: extra
        classes or modules a folder's YAML may build).
    feature_extractor : optional
        A transformers model's feature extractor (default: the one saved with the model).
    **baseline_options
        Passed to the baseline brick, e.g. ``nt_samples`` for SmoothGrad or ``layer`` for Grad-CAM.

    Returns
    -------
    PretrainedInterface or ClassifierInterface
        Both have ``interpret_file``, ``interpret_batch`` and ``interpret_files``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> from speechbrain_interp.loading import load_classifier
    >>> classifier = load_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "ecapa"))
    >>> type(classifier).__name__
    'EncoderClassifier'
    >>> e = explain_classifier(classifier, baseline="smoothgrad", nt_samples=2).interpret_batch(
    ...     torch.randn(1, 8000) * 0.1)
    >>> e.method
    'SmoothGrad (gradient baseline)'
    """
    if isinstance(interpreter, (str, Path)):
        pretrained = classifier
        if isinstance(classifier, (str, Path)):
            pretrained = load_classifier(classifier, trust_code=trust_code, offline=offline, allow=allow)
        return load(interpreter, savedir=savedir, trust_code=trust_code, offline=offline, allow=allow,
                    classifier=pretrained)
    if isinstance(interpreter, PretrainedInterface):
        return interpreter
    adapter = load_classifier_adapter(classifier, savedir=savedir, layers=layers, trust_code=trust_code,
                                      offline=offline, feature_extractor=feature_extractor, allow=allow)
    if isinstance(interpreter, Interpreter):
        if interpreter.classifier is not adapter:
            raise ValueError("the interpreter brick was built around another classifier adapter")
        return ClassifierInterface(interpreter)
    if interpreter is not None:
        raise TypeError(f"interpreter must be a folder, Hub id or Interpreter, got {type(interpreter)}")
    brick = gradient_baseline(adapter, baseline, **baseline_options)
    readable = {"saliency": "saliency", "integrated_gradients": "Integrated Gradients",
                "smoothgrad": "SmoothGrad", "gradcam": "Grad-CAM"}.get(baseline, baseline)
    note = (f"No trained interpreter was given, so this is the {readable} gradient baseline: "
            "faster to get but usually less faithful than L-MAC. Train one with "
            "speechbrain_interp.inference.train_lmac or `speechbrain-interp train`.")
    return ClassifierInterface(brick, note=note)


def __getattr__(name):
    """``ClassifierExplainer``, the old name of :class:`ClassifierInterface` (with a warning)."""
    if name == "ClassifierExplainer":
        warnings.warn("ClassifierExplainer is now ClassifierInterface", DeprecationWarning, stacklevel=2)
        return ClassifierInterface
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
