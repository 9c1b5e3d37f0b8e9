"""Pretrained interpreters as SpeechBrain ``Pretrained`` interfaces, and :func:`load` that picks one.

A pretrained interpreter is a folder or Hub repository written by
:func:`speechbrain_interp.export.export_interpreter` (its layout:
:mod:`speechbrain_interp.repository`), loaded with
``LMACInterface.from_hparams(source, savedir)`` like any SpeechBrain model. The hparams
YAML carries the classifier's modules, how the interpreter reads them and the brick; the
classes here stay thin: ``interpret_file``, ``interpret_batch``, ``forward`` (from
:mod:`speechbrain_interp.interpreting`). One interface per brick family:
:class:`LMACInterface`, :class:`L2IInterface`, :class:`ConceptBottleneckInterface`,
and the generic :class:`PretrainedInterface`. :func:`load` reads ``config.json`` to pick
the interface, and :func:`build_concept_interpreter` is what an exported concept folder's
YAML calls to rebuild its brick.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch
from speechbrain.inference.interfaces import Pretrained

from speechbrain_interp.adapters import SpeechBrainClassifier
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.interpreting import InterpretingMixin
from speechbrain_interp.loading import as_adapter, load_pretrained
from speechbrain_interp.repository import CLASSIFIER_MODULES, classifier_fingerprint, shared_prefixes
from speechbrain_interp.safety import load_weights_into
from speechbrain_interp.sources import resolve_source
from speechbrain_interp.text_interface import TextLMACInterface

__all__ = [
    "PretrainedInterface",
    "LMACInterface",
    "L2IInterface",
    "ConceptBottleneckInterface",
    "TextLMACInterface",
    "build_concept_interpreter",
    "INTERFACES",
    "load",
]


class PretrainedInterface(InterpretingMixin, Pretrained):
    """A pretrained interpreter, loaded like any SpeechBrain model: the generic base of every family.

    The hparams YAML holds the classifier's modules (``compute_features`` or
    ``compute_stft``, ``embedding_model``, ``classifier``, ...), ``adapter:`` (layers
    the brick reads, mask domain) or, for a non-SpeechBrain classifier, the adapter itself
    (``classifier_adapter:``, see :mod:`speechbrain_interp.adapter_export`),
    ``interpreter: !name:<brick class>`` with the brick's
    arguments, and a ``SafePretrainer`` that loads the weights (safetensors) and
    collects ``interpreter.safetensors``, the brick's own weights.

    Arguments
    ---------
    modules, hparams, run_opts, freeze_params
        As for SpeechBrain's ``Pretrained``; use :meth:`from_hparams` instead.
    classifier : SpeechBrain Pretrained classifier or ClassifierAdapter, optional
        Explain this classifier instead of the bundled copy (it should be the one the
        interpreter was trained for; a different one is explained with a warning).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> from speechbrain_interp.export import export_interpreter
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> repo = export_interpreter(Saliency(load_speechbrain_classifier(folder)), root / "repo",
    ...                           classifier_source=folder)
    >>> interpreter = PretrainedInterface.from_hparams(repo, savedir=root / "savedir")
    >>> explanation = interpreter.interpret_batch(torch.zeros(1, 16000))
    >>> explanation.mask.shape[0], explanation.method
    (1, 'saliency (gradient baseline)')
    """

    FAMILY = "generic"
    BRICK = None  # dotted name of the brick class this family expects
    MODULES_NEEDED = ["embedding_model", "classifier"]
    HPARAMS_NEEDED = ["interpreter"]

    def __init__(self, modules=None, hparams=None, run_opts=None, freeze_params=True, classifier=None):
        super().__init__(modules=modules, hparams=hparams, run_opts=run_opts,
                         freeze_params=freeze_params)
        adapter_spec = dict(getattr(self.hparams, "adapter", None) or {})
        own = torch.nn.ModuleDict({k: m for k, m in self.mods.items() if k in CLASSIFIER_MODULES})
        # a non-SpeechBrain classifier was built by the YAML itself (classifier.yaml, adapter_export)
        built = getattr(self.hparams, "classifier_adapter", None)
        self.note = None
        if classifier is None and built is not None:
            adapter = built
        elif classifier is None:
            adapter = SpeechBrainClassifier(SimpleNamespace(mods=own, hparams=self.hparams),
                                            **adapter_spec)
        else:
            adapter = as_adapter(classifier, adapter_spec)
            expected = getattr(self.hparams, "classifier_sha256", None)
            if expected and classifier_fingerprint(adapter) != expected:
                self.note = ("This interpreter was trained for a different classifier (weights "
                             "differ), so its masks may not be faithful to this one.")
                warnings.warn(self.note, stacklevel=2)
        brick = self.hparams.interpreter(classifier=adapter)
        self._check_brick(brick)
        pretrainer = getattr(self.hparams, "pretrainer", None)
        state = pretrainer.deferred_path("interpreter") if hasattr(pretrainer, "deferred_path") else None
        if state is not None:
            load_weights_into(brick, state, strict=True, skip_prefix=shared_prefixes(brick))
        brick.to(self.device)
        brick.eval()
        if freeze_params:
            brick.requires_grad_(False)
        self.interpreter = brick

    @classmethod
    def brick_class(cls):
        """The brick class this family loads, or None when its module is not available."""
        if cls.BRICK is None:
            return None
        module, _, name = cls.BRICK.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except Exception:  # a family whose module is missing or broken must not break the others
            return None

    def _check_brick(self, brick) -> None:
        if not isinstance(brick, Interpreter):
            raise TypeError(f"hparams 'interpreter' built a {type(brick).__name__}, not an Interpreter")
        # the brick declares its family (Interpreter.family); the generic interface loads any
        if self.FAMILY != PretrainedInterface.FAMILY and brick.family != self.FAMILY:
            family = getattr(self.hparams, "interpreter_family", "another")
            raise TypeError(
                f"{type(self).__name__} loads {self.BRICK} interpreters, but this folder holds a "
                f"{type(brick).__name__} ({family} family); load it with speechbrain_interp.hub.load"
            )

    @classmethod
    def from_hparams(cls, source, savedir=None, hparams_file="hyperparams.yaml", overrides=None,
                     run_opts=None, trust_code=False, allow=(), revision=None, offline=None, **kwargs):
        """Load from a local folder, a Hub id, or the Hub cache when offline.

        Arguments
        ---------
        source : str or Path
            Folder or Hub id (``"org/name"``).
        savedir : str or Path, optional
            Where SpeechBrain collects links to the files.
        hparams_file, overrides, run_opts
            As in SpeechBrain.
        trust_code : bool
            Let the YAML build classes outside the allow-list (only for trusted repositories).
        allow : iterable of str
            Extra allowed dotted module prefixes.
        revision : str, optional
            Hub revision.
        offline : bool, optional
            Use only the Hub cache (default: ``HF_HUB_OFFLINE``).
        **kwargs
            Passed to the constructor, e.g. ``classifier=``.
        """
        folder = resolve_source(source, revision=revision, offline=offline)
        if _declares(folder / hparams_file, "exported_folder"):  # files an adapter exported (adapter_export)
            overrides = {"exported_folder": str(Path(folder).resolve()), **(overrides or {})}
        return load_pretrained(cls, folder, savedir=savedir, hparams_file=hparams_file,
                               overrides=overrides, run_opts=run_opts, trust_code=trust_code,
                               allow=allow, **kwargs)

    def forward(self, wavs, wav_lens=None, target=None) -> Explanation:
        """Explain a batch: same as :meth:`interpret_batch` (SpeechBrain's forward convention)."""
        return self.interpret_batch(wavs, wav_lens, target=target)


class LMACInterface(PretrainedInterface):
    """Pretrained L-MAC interpreter (Listenable Maps for Audio Classifiers).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.lmac import LMAC
    >>> from speechbrain_interp.export import export_interpreter
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32)
    >>> lmac = LMAC(load_speechbrain_classifier(folder, "compact"), channels=8)  # train it first
    >>> repo = export_interpreter(lmac, root / "repo", classifier_source=folder)
    >>> interpreter = LMACInterface.from_hparams(repo, savedir=root / "savedir")
    >>> e = interpreter.interpret_file(repo / "examples" / "siren_and_barks.wav")
    >>> e.method, e.interpretation.shape
    ('L-MAC', torch.Size([1, 80000]))
    """

    FAMILY = "lmac"
    BRICK = "speechbrain_interp.interpreters.lmac.LMAC"


class L2IInterface(PretrainedInterface):
    """Pretrained L2I interpreter (NMF components of the audio, weighted by relevance).

    Its explanations carry ``components``: listenable NMF parts with their relevance.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.l2i import L2I
    >>> from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary
    >>> from speechbrain_interp.export import export_interpreter
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> adapter = load_speechbrain_classifier(folder)
    >>> l2i = L2I(adapter, NMFDictionary(8, adapter.frontend.n_freqs), channels=8, top_k=2)
    >>> repo = export_interpreter(l2i, root / "repo", classifier_source=folder, examples=False)
    >>> e = L2IInterface.from_hparams(repo).interpret_batch(torch.randn(1, 16000) * 0.1)
    >>> len(e.components[0]), e.components[0][0].wav.shape
    (2, torch.Size([16000]))
    """

    FAMILY = "l2i"
    BRICK = "speechbrain_interp.interpreters.l2i.L2I"


class ConceptBottleneckInterface(PretrainedInterface):
    """Pretrained concept-bottleneck interpreter; explanations carry top ``concepts``.

    Loaded like :class:`LMACInterface` from a folder whose ``interpreter`` builds a
    :class:`speechbrain_interp.interpreters.concept_bottleneck.ConceptInterpreter`; that brick can also
    be used directly around any classifier adapter (see its example).

    Example
    -------
    >>> ConceptBottleneckInterface.FAMILY
    'concepts'
    >>> ConceptBottleneckInterface.brick_class().__name__
    'ConceptInterpreter'
    """

    FAMILY = "concepts"
    BRICK = "speechbrain_interp.interpreters.concept_bottleneck.ConceptInterpreter"


class _VocabularyOnlyText(torch.nn.Module):
    """Text tower of an exported concept interpreter: its vocabulary's embeddings travel with it."""

    def __init__(self, embed_dim: int, cache_key: str = "exported", name: str = "its text encoder"):
        super().__init__()
        self.embed_dim = int(embed_dim)
        self._cache_key = cache_key
        self.name = name

    @property
    def cache_key(self) -> str:
        return self._cache_key

    def embed_text(self, texts):
        raise RuntimeError(
            "this exported concept interpreter carries the embeddings of its own vocabulary only; "
            f"embedding other text needs the text encoder it was trained with ({self.name}): build a "
            "ConceptBottleneck with it (speechbrain_interp.concepts.load)"
        )


def build_concept_interpreter(classifier, concepts, embed_dim: int, in_dim: int,
                              layer: str = "embedding_model", hidden_dim: int | None = None,
                              l1_penalty: float = 0.1, top_k: int = 10, mask: str = "saliency",
                              text_encoder: str = "unknown", text_cache_key: str = "exported"):
    """Rebuild an exported concept-bottleneck interpreter around a classifier (weights come after).

    This is what the ``interpreter: !name:...`` entry of an exported concept folder calls
    (:func:`speechbrain_interp.export.export_interpreter` writes it): a
    :class:`~speechbrain_interp.embedders.aligned.TextAlignedEncoder` projection of the classifier's
    ``layer``, a :class:`~speechbrain_interp.concepts.ConceptBottleneck` over ``concepts``,
    and the :class:`~speechbrain_interp.interpreters.concept_bottleneck.ConceptInterpreter` brick.
    The projection, the concept embeddings and the audio mean are placeholders until the
    folder's ``interpreter.safetensors`` is loaded into them. The text encoder does not
    travel (the vocabulary's embeddings do): embedding new text raises, naming it.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier, capturing ``layer``.
    concepts : list of str
        The vocabulary.
    embed_dim, in_dim : int
        Joint-space size and size of the pooled ``layer`` output.
    layer : str
        The classifier layer the projection reads.
    hidden_dim : int, optional
        Hidden size of an MLP projection (``None``: linear).
    l1_penalty : float
        The bottleneck's ``lambda``.
    top_k : int
        Concepts kept per clip.
    mask : str
        ``"saliency"`` or ``"none"``.
    text_encoder, text_cache_key : str
        Name and cache key of the text encoder the vocabulary was embedded with.

    Returns
    -------
    ConceptInterpreter

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32, emb_dim=16)
    >>> adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    >>> brick = build_concept_interpreter(adapter, ["dog bark", "siren", "rain"], embed_dim=24, in_dim=16,
    ...                                   top_k=2)
    >>> type(brick).__name__, brick.bottleneck.get_vocabulary()
    ('ConceptInterpreter', ['dog bark', 'siren', 'rain'])
    """
    # lazy: the concept family is optional (see PretrainedInterface.brick_class)
    from speechbrain_interp.concepts import ConceptBottleneck
    from speechbrain_interp.embedders.aligned import TextAlignedEncoder
    from speechbrain_interp.interpreters.concept_bottleneck import ConceptInterpreter

    text = _VocabularyOnlyText(embed_dim, cache_key=text_cache_key, name=text_encoder)
    embedder = TextAlignedEncoder(classifier, text, layer=layer, in_dim=in_dim, hidden_dim=hidden_dim)
    placeholder = torch.eye(len(concepts), int(embed_dim))  # overwritten by the saved buffers
    bottleneck = ConceptBottleneck(list(concepts), placeholder, l1_penalty=l1_penalty,
                                   audio_mean=torch.zeros(int(embed_dim)), embedder=embedder)
    return ConceptInterpreter(classifier, bottleneck, embedder=embedder, top_k=top_k, mask=mask).eval()


#: Names the interfaces had before "interpreter" came to mean the brick only; they still
#: import (with a ``DeprecationWarning``) and still load from ``config.json``.
DEPRECATED_NAMES = {
    "PretrainedInterpreter": "PretrainedInterface",
    "LMACInterpreter": "LMACInterface",
    "L2IInterpreter": "L2IInterface",
    "ConceptBottleneckInterpreter": "ConceptBottleneckInterface",
}

#: Interfaces :func:`load` may instantiate, by ``config.json`` name (old names included).
INTERFACES = {c.__name__: c for c in (PretrainedInterface, LMACInterface, L2IInterface,
                                       ConceptBottleneckInterface, TextLMACInterface)}
INTERFACES.update({old: INTERFACES[new] for old, new in DEPRECATED_NAMES.items()})


def __getattr__(name):
    """Old interface names resolve to the new classes, with a ``DeprecationWarning``.

    Example
    -------
    >>> import warnings
    >>> from speechbrain_interp import interfaces
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     old = interfaces.LMACInterpreter
    >>> old is interfaces.LMACInterface, caught[0].category.__name__
    (True, 'DeprecationWarning')
    """
    if name in DEPRECATED_NAMES:
        new = DEPRECATED_NAMES[name]
        warnings.warn(f"{name} is now {new} (a SpeechBrain interface; 'interpreter' names the brick)",
                      DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _declares(hparams_path: Path, key: str) -> bool:
    """Whether a YAML file has a top-level ``key`` (parsed without building anything)."""
    from ruamel.yaml import YAML

    try:
        tree = YAML(typ="rt").load(hparams_path.read_text(encoding="utf-8"))
    except Exception:
        return True  # unreadable: let the loader report the real problem
    return isinstance(tree, dict) and key in tree


def load(source, savedir=None, trust_code: bool = False, allow=(), revision=None, offline=None,
         **kwargs):
    """Load any exported interpreter: ``config.json`` names its interface.

    Only the interfaces of this module (:data:`INTERFACES`) are accepted, so a
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
    PretrainedInterface

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> from pathlib import Path
    >>> from speechbrain_interp.export import export_interpreter
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> repo = export_interpreter(Saliency(load_speechbrain_classifier(folder)), root / "repo",
    ...                           classifier_source=folder, examples=False)
    >>> type(load(repo)).__name__, load(repo).labels
    ('PretrainedInterface', ['dog_bark', 'siren', 'rain'])
    """
    folder = resolve_source(source, revision=revision, offline=offline)
    config_path = folder / "config.json"
    name = "PretrainedInterface"
    if config_path.is_file():
        name = json.loads(config_path.read_text(encoding="utf-8")).get("speechbrain_interface", name)
    if (folder / "hyperparams.yaml").is_file() and not _declares(folder / "hyperparams.yaml", "interpreter"):
        raise ValueError(
            f"{source} holds no interpreter (its hyperparams.yaml has no 'interpreter:' entry); if it "
            "is a classifier, explain it with explain_classifier(...) or `speechbrain-interp explain "
            "--classifier SOURCE`, or train one with train_lmac / `speechbrain-interp train`"
        )
    if name not in INTERFACES:
        raise ValueError(
            f"{config_path} names the interface '{name}', which is not one of this package's "
            f"interpreter interfaces {sorted(INTERFACES)}"
        )
    return INTERFACES[name].from_hparams(
        folder, savedir=savedir, trust_code=trust_code, allow=allow, **kwargs
    )
