"""Pretrained interpreters as SpeechBrain ``Pretrained`` interfaces; explanations for existing classifiers.

Two ways to get an :class:`~speechbrain_interp.explanation.Explanation`:

* a **pretrained interpreter** (a folder or Hub repository written by
  :func:`speechbrain_interp.hub.export_interpreter`), loaded with
  ``LMACInterpreter.from_hparams(source, savedir)`` like any SpeechBrain model. The
  hparams YAML carries the classifier's modules, how the interpreter reads them and
  the brick; the classes here stay thin: ``interpret_file``, ``interpret_batch``,
  ``forward``;
* **any SpeechBrain classifier you already have** (an ``AudioClassifier`` or
  ``EncoderClassifier`` object, folder or Hub id): :func:`explain_classifier` wraps
  it with a trained interpreter when you have one, and otherwise explains it right
  away with a gradient baseline, saying so in ``Explanation.note``.
  :func:`train_lmac` trains an L-MAC interpreter for it on a folder of your own audio.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from speechbrain.inference.interfaces import Pretrained

from speechbrain_interp.adapters import ClassifierAdapter, SpeechBrainClassifier
from speechbrain_interp.audio import AudioError, load_audio
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.hub import (
    CLASSIFIER_MODULES,
    classifier_fingerprint,
    load_pretrained,
    resolve_source,
    shared_prefixes,
)
from speechbrain_interp.interpreters.base import Interpreter

__all__ = [
    "PretrainedInterpreter",
    "LMACInterpreter",
    "L2IInterpreter",
    "ConceptBottleneckInterpreter",
    "build_concept_interpreter",
    "ClassifierExplainer",
    "INTERFACES",
    "explain_classifier",
    "gradient_baseline",
    "audio_files",
    "load_classifier_adapter",
    "train_lmac",
    "TrainingResult",
]

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def audio_files(inputs: Sequence) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of audio files.

    Example
    -------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.wav", "a.flac", "notes.txt"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> [p.name for p in audio_files([folder])]
    ['a.flac', 'b.wav']
    """
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        else:
            files.append(path)  # a missing file fails later with AudioFileNotFoundError
    return files


def _pad_last(t: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    if t.shape[dim] == size:
        return t
    shape = list(t.shape)
    shape[dim] = size - t.shape[dim]
    return torch.cat([t, t.new_zeros(shape)], dim=dim)


def _concat(parts: list[Explanation], order: list[int], num_samples: int) -> Explanation:
    """One batched Explanation from per-group ones, zero-padded to the longest clip, in input order."""
    frames = max(p.mask.shape[1] for p in parts)
    flat = [p[i] for p in parts for i in range(len(p))]
    flat = [flat[order.index(k)] for k in range(len(order))]
    first = flat[0]

    def cat(name, dim=None, size=None):
        values = [getattr(e, name) for e in flat]
        if values[0] is None:
            return None
        if dim is not None:
            values = [_pad_last(v, size, dim) for v in values]
        return torch.cat(values)

    scores = {k: torch.cat([e.scores[k] for e in flat]) for k in first.scores
              if all(k in e.scores for e in flat)}
    return Explanation(
        method=first.method, sample_rate=first.sample_rate,
        wav=cat("wav", 1, num_samples), magnitude=cat("magnitude", 1, frames),
        mask=cat("mask", 1, frames), interpretation=cat("interpretation", 1, num_samples),
        residual=cat("residual", 1, num_samples), target=cat("target"),
        probability=cat("probability"), probability_in=cat("probability_in"),
        labels=first.labels, probability_out=cat("probability_out"), scores=scores,
        components=[e.components[0] for e in flat] if first.components is not None else None,
        concepts=[e.concepts[0] for e in flat] if first.concepts is not None else None,
        note=first.note,
    )


def _add_note(explanation: Explanation, note: str | None) -> Explanation:
    if note and note not in (explanation.note or ""):
        explanation.note = f"{explanation.note} {note}".strip() if explanation.note else note
    return explanation


class _Interpreting:
    """``interpret_batch``/``interpret_file``/``interpret_files`` over ``self.interpreter`` (a brick)."""

    interpreter: Interpreter
    note: str | None = None

    @property
    def sample_rate(self) -> int:
        """Sample rate the classifier expects; files are resampled to it."""
        return self.interpreter.classifier.sample_rate

    @property
    def labels(self):
        """Class names of the explained classifier."""
        return self.interpreter.classifier.labels

    def _device(self):
        return next(self.interpreter.classifier.parameters(), torch.empty(0)).device

    def _explain(self, wavs: torch.Tensor, target) -> Explanation:
        with torch.enable_grad():  # gradient-based bricks need autograd even under no_grad()
            return self.interpreter.explain(wavs.to(self._device()), target=target)

    def interpret_batch(self, wavs, wav_lens=None, target=None) -> Explanation:
        """Explain a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``(batch, time)`` (or ``(time,)``) audio at :attr:`sample_rate`, zero-padded.
        wav_lens : torch.Tensor, optional
            ``(batch,)`` relative lengths, SpeechBrain style. Clips shorter than the batch are
            explained at their own length (padding would change the prediction), and the
            result is zero-padded back to the batch length.
        target : int, str or list, optional
            Class to explain (default: the prediction).

        Returns
        -------
        Explanation
        """
        wavs = torch.as_tensor(wavs)
        if wavs.dim() == 1:
            wavs = wavs[None]
        if wav_lens is None or bool((torch.as_tensor(wav_lens) >= 1.0 - 1e-6).all()):
            return _add_note(self._explain(wavs, target), self.note)
        total = wavs.shape[-1]
        lengths = (torch.as_tensor(wav_lens, dtype=torch.float64).cpu() * total).round().long()
        lengths = lengths.clamp(1, total).tolist()
        targets = target if isinstance(target, (list, tuple, torch.Tensor)) else [target] * len(lengths)
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(lengths):
            groups.setdefault(n, []).append(i)
        parts, order = [], []
        for n, idx in groups.items():
            group_target = [targets[i] for i in idx]
            group_target = None if all(t is None for t in group_target) else group_target
            parts.append(self._explain(wavs[idx, :n], group_target))
            order += idx
        return _add_note(_concat(parts, order, total), self.note)

    def interpret_file(self, path, target=None) -> Explanation:
        """Explain one audio file (wav, flac, ogg, mp3), resampled to the classifier's rate.

        Raises
        ------
        speechbrain_interp.audio.AudioError
            A specific subclass naming the file and the problem (missing, corrupt, empty, ...).
        """
        wav = load_audio(path, sample_rate=self.sample_rate,
                         min_samples=self.interpreter.frontend.min_samples)
        return self.interpret_batch(wav[None], target=target)

    def interpret_files(self, paths: Sequence, batch_size: int = 8, progress: bool = True,
                        on_error: Callable | None = None, target=None) -> Iterator:
        """Explain many files in batches; yields ``(paths, Explanation)`` per batch.

        Clips of equal length share a batch. A file that cannot be read raises its
        :class:`~speechbrain_interp.audio.AudioError`, or is passed to ``on_error(path, error)``
        and skipped. A tqdm progress bar counts files when ``progress``.
        """
        from tqdm.auto import tqdm

        paths = [Path(p) for p in paths]
        bar = tqdm(total=len(paths), unit="file", desc="explaining", disable=not progress)
        min_samples = self.interpreter.frontend.min_samples
        try:
            for start in range(0, len(paths), batch_size):
                loaded: dict[int, list] = {}
                for path in paths[start:start + batch_size]:
                    try:
                        wav = load_audio(path, sample_rate=self.sample_rate, min_samples=min_samples)
                    except AudioError as err:
                        if on_error is None:
                            raise
                        on_error(path, err)
                        bar.update(1)
                        continue
                    loaded.setdefault(wav.shape[-1], []).append((path, wav))
                for items in loaded.values():
                    batch = torch.stack([w for _, w in items])
                    explanation = self.interpret_batch(batch, target=target)
                    yield [p for p, _ in items], explanation
                    bar.update(len(items))  # after the caller's work too (saving, figures)
        finally:
            bar.close()


class PretrainedInterpreter(_Interpreting, Pretrained):
    """A pretrained interpreter, loaded like any SpeechBrain model: the generic base of every family.

    The hparams YAML holds the classifier's modules (``compute_features`` or
    ``compute_stft``, ``embedding_model``, ``classifier``, ...), ``adapter:`` (layers
    the brick reads, mask domain), ``interpreter: !name:<brick class>`` with the brick's
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
    >>> from speechbrain_interp.hub import export_interpreter
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> repo = export_interpreter(Saliency(load_speechbrain_classifier(folder)), root / "repo",
    ...                           classifier_source=folder)
    >>> interpreter = PretrainedInterpreter.from_hparams(repo, savedir=root / "savedir")
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
        self.note = None
        if classifier is None:
            adapter = SpeechBrainClassifier(SimpleNamespace(mods=own, hparams=self.hparams),
                                            **adapter_spec)
        else:
            adapter = _as_adapter(classifier, adapter_spec)
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
            from speechbrain_interp.safety import load_weights_into

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
        expected = self.brick_class()
        if self.BRICK is not None and (expected is None or not isinstance(brick, expected)):
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
        return load_pretrained(cls, folder, savedir=savedir, hparams_file=hparams_file,
                               overrides=overrides, run_opts=run_opts, trust_code=trust_code,
                               allow=allow, **kwargs)

    def forward(self, wavs, wav_lens=None, target=None) -> Explanation:
        """Explain a batch: same as :meth:`interpret_batch` (SpeechBrain's forward convention)."""
        return self.interpret_batch(wavs, wav_lens, target=target)


class LMACInterpreter(PretrainedInterpreter):
    """Pretrained L-MAC interpreter (Listenable Maps for Audio Classifiers).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.lmac import LMAC
    >>> from speechbrain_interp.hub import export_interpreter
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32)
    >>> lmac = LMAC(load_speechbrain_classifier(folder, "compact"), channels=8)  # train it first
    >>> repo = export_interpreter(lmac, root / "repo", classifier_source=folder)
    >>> interpreter = LMACInterpreter.from_hparams(repo, savedir=root / "savedir")
    >>> e = interpreter.interpret_file(repo / "examples" / "siren_and_barks.wav")
    >>> e.method, e.interpretation.shape
    ('L-MAC', torch.Size([1, 80000]))
    """

    FAMILY = "lmac"
    BRICK = "speechbrain_interp.interpreters.lmac.LMAC"


class L2IInterpreter(PretrainedInterpreter):
    """Pretrained L2I interpreter (NMF components of the audio, weighted by relevance).

    Its explanations carry ``components``: listenable NMF parts with their relevance.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.l2i import L2I
    >>> from speechbrain_interp.interpreters.nmf import NMFDictionary
    >>> from speechbrain_interp.hub import export_interpreter
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> adapter = load_speechbrain_classifier(folder)
    >>> l2i = L2I(adapter, NMFDictionary(8, adapter.frontend.n_freqs), channels=8, top_k=2)
    >>> repo = export_interpreter(l2i, root / "repo", classifier_source=folder, examples=False)
    >>> e = L2IInterpreter.from_hparams(repo).interpret_batch(torch.randn(1, 16000) * 0.1)
    >>> len(e.components[0]), e.components[0][0].wav.shape
    (2, torch.Size([16000]))
    """

    FAMILY = "l2i"
    BRICK = "speechbrain_interp.interpreters.l2i.L2I"


class ConceptBottleneckInterpreter(PretrainedInterpreter):
    """Pretrained concept-bottleneck interpreter; explanations carry top ``concepts``.

    Loaded like :class:`LMACInterpreter` from a folder whose ``interpreter`` builds a
    :class:`speechbrain_interp.interpreters.concepts.ConceptInterpreter`; that brick can also
    be used directly around any classifier adapter (see its example).

    Example
    -------
    >>> ConceptBottleneckInterpreter.FAMILY
    'concepts'
    >>> ConceptBottleneckInterpreter.brick_class().__name__
    'ConceptInterpreter'
    """

    FAMILY = "concepts"
    BRICK = "speechbrain_interp.interpreters.concepts.ConceptInterpreter"


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
    (:func:`speechbrain_interp.hub.export_interpreter` writes it): a
    :class:`~speechbrain_interp.clap.TextAlignedEncoder` projection of the classifier's
    ``layer``, a :class:`~speechbrain_interp.concepts.ConceptBottleneck` over ``concepts``,
    and the :class:`~speechbrain_interp.interpreters.concepts.ConceptInterpreter` brick.
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
    from speechbrain_interp.clap import TextAlignedEncoder
    from speechbrain_interp.concepts import ConceptBottleneck
    from speechbrain_interp.interpreters.concepts import ConceptInterpreter

    text = _VocabularyOnlyText(embed_dim, cache_key=text_cache_key, name=text_encoder)
    embedder = TextAlignedEncoder(classifier, text, layer=layer, in_dim=in_dim, hidden_dim=hidden_dim)
    placeholder = torch.eye(len(concepts), int(embed_dim))  # overwritten by the saved buffers
    bottleneck = ConceptBottleneck(list(concepts), placeholder, l1_penalty=l1_penalty,
                                   audio_mean=torch.zeros(int(embed_dim)), embedder=embedder)
    return ConceptInterpreter(classifier, bottleneck, embedder=embedder, top_k=top_k, mask=mask).eval()


#: Interfaces :func:`speechbrain_interp.hub.load` may instantiate, by ``config.json`` name.
INTERFACES = {c.__name__: c for c in (PretrainedInterpreter, LMACInterpreter, L2IInterpreter,
                                       ConceptBottleneckInterpreter)}


# --------------------------------------------------------------------------------------
# Existing SpeechBrain classifiers
# --------------------------------------------------------------------------------------
def _default_layers(pretrained) -> list:
    """Hidden layers a brick can read: the last blocks of the embedding model."""
    from speechbrain_interp.testing import ARCHITECTURES

    name = type(pretrained.mods["embedding_model"]).__name__
    known = {"CompactCNN": "compact", "Cnn14": "cnn14", "ECAPA_TDNN": "ecapa", "Xvector": "xvector"}
    if name in known:
        return list(ARCHITECTURES[known[name]][1])
    return []


def _as_adapter(classifier, adapter_spec=None) -> ClassifierAdapter:
    if isinstance(classifier, ClassifierAdapter):
        return classifier
    if isinstance(classifier, Pretrained):
        spec = dict(adapter_spec or {})
        spec.setdefault("layers", _default_layers(classifier))
        return SpeechBrainClassifier(classifier, **spec)
    raise TypeError(
        "classifier must be a SpeechBrain AudioClassifier/EncoderClassifier, a ClassifierAdapter, "
        f"or a folder / Hub id of one; got {type(classifier).__name__}"
    )


def load_classifier_adapter(classifier, savedir=None, layers=None, trust_code=False, offline=None):
    """A ``ClassifierAdapter`` from a SpeechBrain classifier object, adapter, folder or Hub id.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "ecapa", n_mels=24)
    >>> load_classifier_adapter(folder).labels
    ['dog_bark', 'siren', 'rain']
    """
    if isinstance(classifier, (str, Path)):
        from speechbrain_interp.hub import load_classifier

        classifier = load_classifier(classifier, savedir=savedir, trust_code=trust_code, offline=offline)
    spec = {} if layers is None else {"layers": list(layers)}
    return _as_adapter(classifier, spec)


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
            raise ValueError("Grad-CAM needs a layer: pass layer=... or build the adapter with layers")
        kwargs["layer"] = adapter.layers[0]  # the deepest captured layer by this package's convention
    return getattr(baselines, BASELINES[name])(adapter, **kwargs)


class ClassifierExplainer(_Interpreting, torch.nn.Module):
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
                       savedir=None, trust_code: bool = False, offline=None, **baseline_options):
    """Explanations for a SpeechBrain classifier you already have.

    Arguments
    ---------
    classifier : AudioClassifier, EncoderClassifier, ClassifierAdapter, str or Path
        The classifier object, or its folder / Hub id.
    interpreter : str, Path, Interpreter or PretrainedInterpreter, optional
        A trained interpreter for this classifier: a folder / Hub id written by
        :func:`speechbrain_interp.hub.export_interpreter`, a loaded interface, or a brick.
        When None, a gradient baseline explains the classifier right away and every
        explanation's ``note`` says so.
    baseline : str
        Which gradient baseline when there is no interpreter (see :data:`BASELINES`).
    layers : list of str, optional
        Hidden layers for the adapter (default: known per architecture).
    savedir, trust_code, offline
        Loading options, see :func:`speechbrain_interp.hub.load_pretrained`.
    **baseline_options
        Passed to the baseline brick, e.g. ``nt_samples`` for SmoothGrad or ``layer`` for Grad-CAM.

    Returns
    -------
    PretrainedInterpreter or ClassifierExplainer
        Both have ``interpret_file``, ``interpret_batch`` and ``interpret_files``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> from speechbrain_interp.hub import load_classifier
    >>> classifier = load_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "ecapa"))
    >>> type(classifier).__name__
    'EncoderClassifier'
    >>> e = explain_classifier(classifier, baseline="smoothgrad", nt_samples=2).interpret_batch(
    ...     torch.randn(1, 8000) * 0.1)
    >>> e.method
    'SmoothGrad (gradient baseline)'
    """
    if isinstance(interpreter, (str, Path)):
        from speechbrain_interp import hub

        pretrained = classifier
        if isinstance(classifier, (str, Path)):
            pretrained = hub.load_classifier(classifier, trust_code=trust_code, offline=offline)
        return hub.load(interpreter, savedir=savedir, trust_code=trust_code, offline=offline,
                        classifier=pretrained)
    if isinstance(interpreter, PretrainedInterpreter):
        return interpreter
    adapter = load_classifier_adapter(classifier, savedir=savedir, layers=layers,
                                      trust_code=trust_code, offline=offline)
    if isinstance(interpreter, Interpreter):
        if interpreter.classifier is not adapter:
            raise ValueError("the interpreter brick was built around another classifier adapter")
        return ClassifierExplainer(interpreter)
    if interpreter is not None:
        raise TypeError(f"interpreter must be a folder, Hub id or Interpreter, got {type(interpreter)}")
    brick = gradient_baseline(adapter, baseline, **baseline_options)
    note = (f"No trained interpreter was given, so this is a {baseline} gradient baseline: "
            "faster to get but usually less faithful than L-MAC. Train one with "
            "speechbrain_interp.inference.train_lmac or `speechbrain-interp train`.")
    return ClassifierExplainer(brick, note=note)


# --------------------------------------------------------------------------------------
# Training an L-MAC interpreter for an existing classifier
# --------------------------------------------------------------------------------------
class _Crops(torch.utils.data.Dataset):
    """Fixed-length crops of audio files at the classifier's sample rate (zero-padded if short)."""

    def __init__(self, paths, sample_rate: int, samples: int, min_samples: int, random_crop: bool, seed=0):
        self.paths, self.sample_rate, self.samples = list(paths), sample_rate, samples
        self.min_samples, self.random_crop = min_samples, random_crop
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        wav = load_audio(self.paths[i], sample_rate=self.sample_rate, min_samples=self.min_samples)
        extra = wav.shape[-1] - self.samples
        if extra > 0:
            start = int(torch.randint(extra + 1, (1,), generator=self.generator)) if self.random_crop \
                else extra // 2
            wav = wav[start:start + self.samples]
        elif extra < 0:
            wav = torch.nn.functional.pad(wav, (0, -extra))
        return wav


@dataclass
class TrainingResult:
    """What :func:`train_lmac` returns.

    Attributes
    ----------
    explainer : ClassifierExplainer
        The trained L-MAC brick around the classifier, ready to ``interpret_file``.
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``valid_loss`` (None without validation clips),
        ``mask_mean``, ``seconds``; ``selected`` marks the epoch whose decoder was kept.
    folder : Path or None
        The repository folder written when ``out`` was given.
    """

    explainer: ClassifierExplainer
    history: list
    folder: Path | None


def train_lmac(classifier, audio, out=None, epochs: int = 10, batch_size: int = 8, seconds: float = 5.0,
               lr: float = 1e-3, layers=None, valid_fraction: float = 0.1, mixtures: bool = True,
               progress: bool = True, overwrite: bool = False, seed: int = 0, trust_code: bool = False,
               offline=None, device: str = "cpu", classifier_source=None, card=None,
               **lmac_options) -> TrainingResult:
    """Train an L-MAC interpreter for a classifier on a folder of your own audio.

    No labels are needed: L-MAC explains the classifier's own predictions. Clips are
    cropped to ``seconds``; with ``mixtures``, half of each batch is mixed with another
    clip or with noise while the loss keeps the clean prediction as its target (the
    L-MAC recipe's robustness trick). A tenth of the files (at least one, when there are
    five or more) is held out, and the decoder of the epoch with the lowest validation
    loss is kept.

    Arguments
    ---------
    classifier : AudioClassifier, EncoderClassifier, ClassifierAdapter, str or Path
        The classifier (object, folder or Hub id).
    audio : str, Path or list
        Audio files and/or folders (searched recursively).
    out : str or Path, optional
        Also export the trained interpreter to this repository folder.
    epochs, batch_size, seconds, lr : training settings.
    layers : list of str, optional
        Hidden layers the decoder reads (default: known per architecture).
    valid_fraction : float
        Share of files held out for checkpoint selection.
    mixtures : bool
        Train on mixtures (recommended).
    progress : bool
        Show a tqdm progress bar.
    overwrite : bool
        Replace an existing ``out`` folder.
    seed : int
        Seed of the split, crops, mixtures and initialisation.
    trust_code, offline : loading options for a classifier given as folder or Hub id.
    device : str
        Torch device.
    classifier_source : str or Path, optional
        The classifier's inference folder, needed for ``out`` when ``classifier`` is an object.
    card : speechbrain_interp.hub.ModelCardInfo, optional
        Model card text for ``out``.
    **lmac_options
        Passed to :class:`~speechbrain_interp.interpreters.lmac.LMAC` (e.g. ``channels``,
        ``lambda_in``).

    Returns
    -------
    TrainingResult

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> from speechbrain_interp.audio import save_audio
    >>> from speechbrain_interp.synth import demo_clip
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32)
    >>> for i in range(2):
    ...     save_audio(root / "audio" / f"clip{i}.wav", demo_clip(1.0, seed=i), 16000)
    >>> result = train_lmac(folder, root / "audio", epochs=1, batch_size=2, seconds=0.5,
    ...                     progress=False, channels=4)
    >>> result.history[0]["epoch"], result.explainer.interpret_file(root / "audio/clip0.wav").method
    (1, 'L-MAC')
    """
    from tqdm.auto import tqdm

    from speechbrain_interp.interpreters.lmac import LMAC, training_mixtures

    if isinstance(classifier, (str, Path)) and classifier_source is None:
        classifier_source = resolve_source(classifier, offline=offline)
    adapter = load_classifier_adapter(classifier, layers=layers, trust_code=trust_code, offline=offline)
    adapter.to(device)
    files = audio_files([audio] if isinstance(audio, (str, Path)) else audio)
    if not files:
        raise ValueError(f"no audio files (wav, flac, ogg, mp3) in {audio}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(files), generator=generator).tolist()
    n_valid = max(1, round(valid_fraction * len(files))) if len(files) >= 5 else 0
    valid_files = [files[i] for i in order[:n_valid]]
    train_files = [files[i] for i in order[n_valid:]]
    samples = int(round(seconds * adapter.sample_rate))
    min_samples = adapter.frontend.min_samples
    train_set = _Crops(train_files, adapter.sample_rate, samples, min_samples, True, seed)
    valid_set = _Crops(valid_files, adapter.sample_rate, samples, min_samples, False, seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed), drop_last=False)
    torch.manual_seed(seed)
    brick = LMAC(adapter, layers=layers, **lmac_options).to(device)
    optimizer = torch.optim.Adam(brick.decoder.parameters(), lr=lr)
    history, best, best_loss = [], None, float("inf")
    import time

    bar = tqdm(total=epochs * len(loader), unit="batch", desc="training L-MAC", disable=not progress)
    try:
        for epoch in range(1, epochs + 1):
            start, total, count, mask_mean = time.time(), 0.0, 0, 0.0
            brick.train()
            for wav in loader:
                wav = wav.to(device)
                if mixtures:
                    mixed, _ = training_mixtures(wav, generator=generator)
                    loss, stats = brick.loss(mixed, clean_wav=wav)
                else:
                    loss, stats = brick.loss(wav)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * wav.shape[0]
                count += wav.shape[0]
                mask_mean += float(stats["mask_mean"]) * wav.shape[0]
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{float(loss.detach()):.3f}")
            valid_loss = _valid_loss(brick, valid_set, batch_size, seed, mixtures) if n_valid else None
            record = {"epoch": epoch, "train_loss": total / max(count, 1), "valid_loss": valid_loss,
                      "mask_mean": mask_mean / max(count, 1), "seconds": round(time.time() - start, 1)}
            history.append(record)
            score = valid_loss if valid_loss is not None else record["train_loss"]
            if score < best_loss:
                best_loss = score
                best = {k: v.detach().clone() for k, v in brick.decoder.state_dict().items()}
                for r in history:
                    r["selected"] = r is record
    finally:
        bar.close()
    brick.decoder.load_state_dict(best)
    brick.eval()
    folder = None
    if out is not None:
        from speechbrain_interp.hub import ModelCardInfo, export_interpreter

        if classifier_source is None:
            raise ValueError("to export, pass classifier_source=<the classifier's inference folder>")
        selected = next(r for r in history if r.get("selected"))
        card = card or ModelCardInfo(
            title="L-MAC interpreter trained with speechbrain_interp.inference.train_lmac",
            training_data=f"{len(files)} audio files from {audio}",
            evaluation=[{k: v for k, v in r.items() if k != "selected"} for r in history],
            evaluation_note=f"Training history; the decoder of epoch {selected['epoch']} was kept "
                            "(lowest validation loss).",
        )
        folder = export_interpreter(brick, out, classifier_source=classifier_source, card=card,
                                    overwrite=overwrite)
    return TrainingResult(ClassifierExplainer(brick), history, folder)


@torch.no_grad()
def _valid_loss(brick, dataset, batch_size, seed, mixtures) -> float:
    """Mean L-MAC loss on held-out crops: clean, plus fixed mixtures when training on mixtures."""
    from speechbrain_interp.interpreters.lmac import training_mixtures

    brick.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    device = next(brick.decoder.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(dataset), batch_size):
        wav = torch.stack([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        wav = wav.to(device)
        inputs = [wav]
        if mixtures:
            inputs.append(training_mixtures(wav, generator=generator)[0])
        for x in inputs:
            loss, _ = brick.loss(x, clean_wav=wav)
            total += float(loss) * wav.shape[0]
            count += wav.shape[0]
    return total / max(count, 1)
