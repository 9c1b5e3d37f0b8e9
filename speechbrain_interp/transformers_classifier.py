"""Hugging Face ``transformers`` audio classifiers as classifier adapters.

:class:`TransformersClassifier` wraps an ``...ForAudioClassification`` or
``...ForSequenceClassification`` model (AST, wav2vec2, HuBERT, WavLM, Whisper, ...) in the
:class:`~speechbrain_interp.adapters.ClassifierAdapter` protocol, so every brick explains it.

Every family goes the same way: the STFT magnitude the bricks mask is turned back into a
waveform with the original phase (:meth:`SpectralFrontEnd.istft`, exact to float precision),
and the model's own feature extraction is then re-expressed in torch on that waveform, so the
logits equal those of ``model(**feature_extractor(wav))`` and gradients reach the magnitude.
Resynthesis is what makes this exact: the feature extractors pad the *waveform* (Whisper to
30 s, then an STFT over the padding), frame it their own way (AST's Kaldi fbank without
centring) or feed it to a convolutional front-end (wav2vec2), none of which is a function of
one STFT's frames alone.

What differs per family is one entry of :data:`FAMILIES`, keyed by the config's
``model_type`` (or the model's class name): which feature function, where the encoder blocks
are, which of them to read by default, and how their token sequences become hidden maps the
L-MAC decoder reads (AST's patch tokens go back to their time x frequency grid, Whisper's
fixed 30 s of frames are cut to the clip). The maps are channels-first, so Grad-CAM reads
them too (:attr:`TransformersClassifier.gradcam_on_view`).

Exported interpreters carry their classifier as a ``save_pretrained`` copy in ``hf_model/``
(:meth:`TransformersClassifier.export_files`), rebuilt on loading by
:meth:`TransformersClassifier.from_export`. That classmethod is on the default allow-list of
:mod:`speechbrain_interp.safety` because it cannot run code: it reads a local folder only (no
download), safetensors weights only, JSON configs, and never the repository's own code
(``trust_remote_code`` is always False; it has no argument to turn it on). A model that needs
its own code is exported with :meth:`TransformersClassifier.from_pretrained` and
``trust_remote_code: true`` instead, which is not allow-listed: loading it needs ``trust_code=True``.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from speechbrain_interp.adapters import ClassifierAdapter, ExportedFile, _first_tensor
from speechbrain_interp.spectral import SpectralFrontEnd

__all__ = ["Family", "FAMILIES", "TransformersClassifier", "is_transformers_model", "is_transformers_folder",
           "load_transformers_model", "HF_FOLDER", "HUB_FILES"]

#: Sub-folder of an exported interpreter holding the ``save_pretrained`` copy of the classifier.
HF_FOLDER = "hf_model"

#: The files of a Hub repository a transformers classifier is loaded from: configs (model,
#: feature extractor, sharded-weights index) and safetensors weights; not the ``.bin``, ``.h5``,
#: ``.msgpack`` or ``.onnx`` copies that many repositories also hold.
HUB_FILES = ["*.json", "*.safetensors"]


@dataclass(frozen=True)
class Family:
    """How one transformers family is adapted: a row of :data:`FAMILIES`.

    Arguments
    ---------
    features : str
        Key of :data:`FEATURES`: how the waveform becomes the model's input
        (``"kaldi_fbank"``, ``"waveform"``, ``"whisper_log_mel"``).
    blocks : tuple of str
        Candidate dotted paths of the encoder's block list (the first that exists is used, so
        one entry covers transformers versions that renamed it); ``{base}`` is the model's
        ``base_model_prefix``.
    default_blocks : tuple of int
        Blocks read by default, counted from the end (``-1`` is the last).
    tokens : str
        Key of :data:`TOKEN_VIEWS`: how a block's ``(batch, tokens, dim)`` output becomes a hidden map.

    Example
    -------
    >>> FAMILIES["wavlm"].blocks
    ('{base}.encoder.layers',)
    """

    features: str
    blocks: tuple
    default_blocks: tuple = (-1, -2)
    tokens: str = "frames"


_WAVEFORM = Family("waveform", ("{base}.encoder.layers",))

#: The supported families by ``config.model_type`` (or class name); a new family is a new row.
FAMILIES = {
    "audio-spectrogram-transformer": Family("kaldi_fbank", ("{base}.layers", "{base}.encoder.layer"),
                                            tokens="patch_grid"),
    "wav2vec2": _WAVEFORM,
    "hubert": _WAVEFORM,
    "wavlm": _WAVEFORM,
    "data2vec-audio": _WAVEFORM,
    "unispeech-sat": _WAVEFORM,
    "whisper": Family("whisper_log_mel", ("encoder.layers",), tokens="cropped_frames"),
}


# --- features: waveform (batch, samples) -> the model's keyword inputs ---------------------------
def _unit_variance(wav):
    """The feature extractors' ``zero_mean_unit_var_norm`` (population variance, 1e-7 floor)."""
    var, mean = torch.var_mean(wav, dim=-1, correction=0, keepdim=True)
    return (wav - mean) / torch.sqrt(var + 1e-7)


def _kaldi_fbank(adapter, wav):
    """``ASTFeatureExtractor``: Kaldi fbank, zero-padded or cut to ``max_length``, ``(x - mean) / 2 std``."""
    from torchaudio.compliance import kaldi

    fe = adapter.feature_extractor
    rows = []
    for clip in wav:  # kaldi.fbank reads one channel
        fbank = kaldi.fbank(clip.unsqueeze(0), sample_frequency=fe.sampling_rate, window_type="hanning",
                            num_mel_bins=fe.num_mel_bins)
        fbank = fbank[: fe.max_length]
        rows.append(F.pad(fbank, (0, 0, 0, fe.max_length - fbank.shape[0])))
    x = torch.stack(rows)
    if getattr(fe, "do_normalize", False):
        x = (x - fe.mean) / (fe.std * 2)
    return {"input_values": x}


def _waveform(adapter, wav):
    """wav2vec2-like extractors: the waveform, standardised when ``do_normalize``."""
    fe = adapter.feature_extractor
    return {"input_values": _unit_variance(wav) if getattr(fe, "do_normalize", False) else wav}


def _whisper_log_mel(adapter, wav):
    """``WhisperFeatureExtractor``: pad to ``n_samples``, power STFT, mel, log10, max-8 floor, (x+4)/4."""
    fe = adapter.feature_extractor
    if getattr(fe, "do_normalize", False):
        wav = _unit_variance(wav)
    wav = F.pad(wav[:, : fe.n_samples], (0, max(0, fe.n_samples - wav.shape[1])))
    window = torch.hann_window(fe.n_fft, device=wav.device)
    stft = torch.stft(wav, fe.n_fft, fe.hop_length, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    log_spec = (adapter.whisper_mel_filters.T @ power).clamp_min(1e-10).log10()
    peak = log_spec.amax(dim=(1, 2), keepdim=True)
    return {"input_features": (torch.maximum(log_spec, peak - 8.0) + 4.0) / 4.0}


#: Feature functions by name: ``f(adapter, wav) -> dict`` of model inputs.
FEATURES = {"kaldi_fbank": _kaldi_fbank, "waveform": _waveform, "whisper_log_mel": _whisper_log_mel}


# --- token views: a block's (batch, tokens, dim) output -> the hidden map the bricks read --------
def _fit_time(x, steps: int, axis: int):
    """Cut or zero-pad ``x`` along ``axis`` to ``steps``: a fixed-length input covers the clip, no more."""
    if x.shape[axis] >= steps:
        return x.narrow(axis, 0, steps)
    pad = [0, 0] * (x.dim() - 1 - axis) + [0, steps - x.shape[axis]]
    return F.pad(x, pad)


def _frames(adapter, tokens, num_samples):
    """Tokens are frames in time already (wav2vec2, HuBERT, WavLM): ``(batch, dim, time)``."""
    return tokens.transpose(1, 2)


def _patch_grid(adapter, tokens, num_samples):
    """AST: drop the CLS and distillation tokens, fold the patches to ``(batch, dim, time, freq)``.

    Patches are ordered frequency-major (the patch convolution's output flattened); the time
    axis is cut to the patches that hold the clip's frames (or zero-padded past ``max_length``),
    so it follows the clip length like every other hidden map.
    """
    cfg = adapter.model.config
    n_freq = (cfg.num_mel_bins - cfg.patch_size) // cfg.frequency_stride + 1
    n_time = (cfg.max_length - cfg.patch_size) // cfg.time_stride + 1
    grid = tokens[:, -n_freq * n_time:].reshape(tokens.shape[0], n_freq, n_time, -1).permute(0, 3, 2, 1)
    sr = adapter.feature_extractor.sampling_rate
    frames = max(1, 1 + (num_samples - int(0.025 * sr)) // int(0.010 * sr))  # Kaldi's snip_edges framing
    return _fit_time(grid, math.ceil(frames / cfg.time_stride), axis=2)


def _cropped_frames(adapter, tokens, num_samples):
    """Whisper: 30 s of frames (two mel frames each) whatever the clip; keep the clip's, channels-first."""
    fe = adapter.feature_extractor
    return _fit_time(tokens.transpose(1, 2), math.ceil(math.ceil(num_samples / fe.hop_length) / 2), axis=2)


#: Token views by name: ``f(adapter, tokens, num_samples) -> hidden map``.
TOKEN_VIEWS = {"frames": _frames, "patch_grid": _patch_grid, "cropped_frames": _cropped_frames}


# --- recognising and loading transformers models -------------------------------------------------
def is_transformers_model(obj) -> bool:
    """Whether ``obj`` is a ``transformers.PreTrainedModel`` (without importing transformers).

    Example
    -------
    >>> is_transformers_model(torch.nn.Linear(2, 2))
    False
    """
    module = sys.modules.get("transformers")
    return module is not None and isinstance(obj, module.PreTrainedModel)


def is_transformers_folder(folder) -> bool:
    """Whether a folder holds a transformers model (``config.json``, no SpeechBrain ``hyperparams.yaml``).

    Example
    -------
    >>> import tempfile
    >>> is_transformers_folder(tempfile.mkdtemp())
    False
    """
    folder = Path(folder)
    if (folder / "hyperparams.yaml").is_file() or not (folder / "config.json").is_file():
        return False
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and ("model_type" in config or "architectures" in config)


def _could_not_load(source, why: str, error=OSError):
    return error(
        f"could not load the transformers classifier '{source}': {why}. Check the id, connect to the "
        "internet once (the Hub cache keeps it for offline use), or pass a local folder written by "
        "save_pretrained (config.json, model.safetensors, preprocessor_config.json)"
    )


def load_transformers_model(source, revision=None, offline=None, trust_remote_code: bool = False):
    """An audio classification model from a Hub id or a ``save_pretrained`` folder, safetensors only.

    Arguments
    ---------
    source : str or Path
        Folder or Hub id.
    revision, offline
        See :func:`speechbrain_interp.sources.resolve_source`.
    trust_remote_code : bool
        Let the repository run its own modelling code (only for repositories you trust).

    Returns
    -------
    transformers.PreTrainedModel
        Its ``name_or_path`` is the local folder, where the feature extractor is read from.

    Raises
    ------
    FileNotFoundError or OSError
        One sentence naming ``source`` and what to do.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import tiny_transformers_classifier
    >>> folder = tempfile.mkdtemp()
    >>> _ = tiny_transformers_classifier("hubert", folder)
    >>> type(load_transformers_model(folder)).__name__
    'HubertForSequenceClassification'
    """
    from speechbrain_interp.sources import resolve_source

    try:  # a Hub id: only the files loaded below (and the repository's code when trusted)
        patterns = HUB_FILES + (["*.py"] if trust_remote_code else [])
        folder = resolve_source(source, revision=revision, offline=offline, allow_patterns=patterns)
    except FileNotFoundError as err:
        why = "no such folder, and not a Hub id (org/name)"
        raise _could_not_load(source, why, FileNotFoundError) from err
    except OSError as err:
        why = str(err).removeprefix(f"cannot load '{source}': ").split(". ")[0]
        raise _could_not_load(source, why) from err
    if not (folder / "config.json").is_file():
        raise _could_not_load(source, f"{folder} has no config.json", FileNotFoundError)
    from transformers import AutoModelForAudioClassification

    try:
        # safetensors only: pickled .bin weights can run code when loaded
        return AutoModelForAudioClassification.from_pretrained(
            str(folder), use_safetensors=True, trust_remote_code=trust_remote_code, local_files_only=True)
    except (OSError, ValueError) as err:
        raise _could_not_load(source, str(err).splitlines()[0][:300]) from err


def _load_feature_extractor(model, trust_remote_code: bool = False):
    from transformers import AutoFeatureExtractor

    where = getattr(model, "name_or_path", "") or ""
    if not where or not Path(where).is_dir():
        raise ValueError(
            f"{type(model).__name__} was not loaded from a local folder ('{where}'), so its feature "
            "extractor cannot be found: pass feature_extractor=AutoFeatureExtractor.from_pretrained(...)")
    try:
        return AutoFeatureExtractor.from_pretrained(where, trust_remote_code=trust_remote_code,
                                                    local_files_only=True)
    except (OSError, ValueError) as err:
        raise _could_not_load(where, "no feature extractor (preprocessor_config.json); pass "
                                     "feature_extractor=... ") from err


def _resolve_index(model, name: str) -> str:
    """A dotted module name with negative indices (``layers.-1``) counted from the end of their list."""
    parts, module = [], model
    for part in name.split("."):
        if module is not None and part.startswith("-") and part[1:].isdigit():
            part = str(len(module) + int(part))
        parts.append(part)
        module = getattr(module, part, None)
    return ".".join(parts)


class TransformersClassifier(ClassifierAdapter):
    """Adapter for a transformers audio classifier (AST, wav2vec2, HuBERT, WavLM, Whisper, ...).

    The magnitude is resynthesised with the original phase and passed through the model's feature
    extraction re-expressed in torch (see the module docstring for why), so the logits are the
    model's own and differentiable in the magnitude. Hidden layers are encoder blocks: their
    token outputs are turned into channels-first maps by the family's token view (AST:
    ``(batch, dim, time, freq)`` patch grid; speech models: ``(batch, dim, time)`` frames), which
    L-MAC's decoder, L2I and Grad-CAM read.

    Arguments
    ---------
    model : transformers.PreTrainedModel
        An audio classification model of one of :data:`FAMILIES`.
    feature_extractor : transformers.FeatureExtractionMixin, optional
        Its feature extractor; read from the folder the model was loaded from when not given.
    layers : sequence of str, optional
        Dotted module names under ``model`` (negative indices count from the end, e.g.
        ``"wav2vec2.encoder.layers.-1"``); default: the family's last encoder blocks.
    mask_domain : str
        Passed to the :class:`SpectralFrontEnd` (25 ms Hann windows every 10 ms).
    family : str, optional
        Key of :data:`FAMILIES` (default: the config's ``model_type``, then the class name).
    **kwargs
        ``labels``, ``multilabel``, ``freeze``, see :class:`ClassifierAdapter`; labels default
        to ``config.id2label``, multi-label to ``config.problem_type``.

    Example
    -------
    >>> from speechbrain_interp.testing import tiny_transformers_classifier
    >>> model, extractor = tiny_transformers_classifier("ast")
    >>> adapter = TransformersClassifier(model, extractor)
    >>> spec = adapter.frontend(torch.randn(1, 16000) * 0.1)
    >>> logits, hidden = adapter.forward_with_hidden(spec.magnitude, phase=spec.phase)
    >>> logits.shape, adapter.labels
    (torch.Size([1, 3]), ['dog_bark', 'siren', 'rain'])
    >>> hidden[adapter.layers[0]].shape  # (batch, dim, time patches, frequency patches)
    torch.Size([1, 32, 10, 2])
    """

    def __init__(self, model, feature_extractor=None, layers=None, mask_domain: str = "log1p_magnitude",
                 family: str | None = None, trust_remote_code: bool = False, **kwargs):
        if not is_transformers_model(model):
            raise TypeError(f"model must be a transformers PreTrainedModel, got {type(model).__name__}")
        config = model.config
        family = family or next((k for k in (getattr(config, "model_type", None), type(model).__name__)
                                 if k in FAMILIES), None)
        if family not in FAMILIES:
            raise ValueError(
                f"{type(model).__name__} (model_type '{getattr(config, 'model_type', None)}') is not a "
                f"supported family; supported: {sorted(FAMILIES)}. Add a row to "
                "speechbrain_interp.transformers_classifier.FAMILIES to support it")
        self.family = family
        self.spec_ = FAMILIES[family]
        self.feature_extractor = feature_extractor or _load_feature_extractor(model, trust_remote_code)
        self.trust_remote_code = trust_remote_code
        sr = int(self.feature_extractor.sampling_rate)
        win, hop = int(0.025 * sr), int(0.010 * sr)
        frontend = SpectralFrontEnd(sample_rate=sr, n_fft=2 ** math.ceil(math.log2(win)), win_length=win,
                                    hop_length=hop, mask_domain=mask_domain)
        id2label = getattr(config, "id2label", None) or {}
        kwargs.setdefault("labels", [id2label[i] for i in sorted(id2label)] if id2label else None)
        kwargs.setdefault("multilabel", getattr(config, "problem_type", None) == "multi_label_classification")
        base = getattr(model, "base_model_prefix", "")
        blocks = [p.format(base=base) for p in self.spec_.blocks]
        self.blocks = next((p for p in blocks if _has_module(model, p)), None)
        if layers is None:
            if self.blocks is None:
                raise ValueError(f"none of {blocks} is in {type(model).__name__}; pass layers=[...]")
            layers = [f"{self.blocks}.{i}" for i in self.spec_.default_blocks]
        layers = list(dict.fromkeys(_resolve_index(model, name) for name in layers))
        self._num_samples = None
        super().__init__(frontend, model, layers=layers, output="logits", **kwargs)
        if self.spec_.features == "whisper_log_mel":  # its mel filters, as a buffer that follows .to(device)
            filters = torch.as_tensor(self.feature_extractor.mel_filters, dtype=torch.float32)
            self.register_buffer("whisper_mel_filters", filters, persistent=False)

    @classmethod
    def from_pretrained(cls, source, feature_extractor=None, layers=None, revision=None, offline=None,
                        trust_remote_code: bool = False, **kwargs):
        """Load a model (Hub id or ``save_pretrained`` folder, safetensors only) and wrap it.

        Example
        -------
        >>> import tempfile
        >>> from speechbrain_interp.testing import tiny_transformers_classifier
        >>> folder = tempfile.mkdtemp()
        >>> _ = tiny_transformers_classifier("wav2vec2", folder)
        >>> TransformersClassifier.from_pretrained(folder).layers
        ['wav2vec2.encoder.layers.1', 'wav2vec2.encoder.layers.0']
        """
        model = load_transformers_model(source, revision=revision, offline=offline,
                                        trust_remote_code=trust_remote_code)
        adapter = cls(model, feature_extractor, layers=layers, trust_remote_code=trust_remote_code, **kwargs)
        adapter.source = str(source)
        return adapter

    @property
    def construction(self) -> dict:
        """Plain values that rebuild this adapter with :meth:`from_pretrained` (source, family, layers...).

        Example
        -------
        >>> from speechbrain_interp.testing import tiny_transformers_classifier
        >>> TransformersClassifier(*tiny_transformers_classifier("hubert")).construction["family"]
        'hubert'
        """
        return {"source": getattr(self, "source", None) or self.model.name_or_path or None,
                "family": self.family, "layers": list(self.layers), "mask_domain": self.frontend.mask_domain,
                "multilabel": self.multilabel, "trust_remote_code": self.trust_remote_code}

    # --- export (the contract is in ClassifierAdapter's docstring) ---------------------------
    @classmethod
    def from_export(cls, source, family: str | None = None, layers=None,
                    mask_domain: str = "log1p_magnitude", labels=None, multilabel: bool = False):
        """Rebuild the adapter from an exported folder's ``save_pretrained`` copy, running no code.

        What an exported ``classifier.yaml`` calls (allow-listed): ``source`` must be a local
        folder (nothing is downloaded), weights are read from safetensors only and the
        repository's own code is never run (there is no ``trust_remote_code`` argument).

        Example
        -------
        >>> import tempfile
        >>> from speechbrain_interp.testing import tiny_transformers_classifier
        >>> adapter = TransformersClassifier(*tiny_transformers_classifier("hubert"))
        >>> folder = tempfile.mkdtemp()
        >>> adapter.export_files(folder)
        >>> layers = ["hubert.encoder.layers.-1"]
        >>> loaded = TransformersClassifier.from_export(f"{folder}/hf_model", layers=layers)
        >>> loaded.layers, loaded.labels
        (['hubert.encoder.layers.1'], ['dog_bark', 'siren', 'rain'])
        """
        if not Path(source).is_dir():
            raise FileNotFoundError(
                f"'{source}' is not a folder: an exported transformers classifier is loaded from its "
                f"{HF_FOLDER}/ copy only; export the interpreter again (or use from_pretrained for a Hub id)")
        # labels=None would override the config's id2label: pass them only when given
        named = {"labels": labels} if labels is not None else {}
        return cls.from_pretrained(Path(source), layers=layers, offline=True, trust_remote_code=False,
                                   family=family, mask_domain=mask_domain, multilabel=multilabel, **named)

    @property
    def export_target(self) -> str:
        """:meth:`from_export` (allow-listed); :meth:`from_pretrained` for a model that runs its own code."""
        method = "from_pretrained" if self.trust_remote_code else "from_export"
        return f"{__name__}.TransformersClassifier.{method}"

    def export_spec(self) -> dict:
        """The :attr:`construction`, with the model and its feature extractor in ``hf_model/``.

        Example
        -------
        >>> from speechbrain_interp.testing import tiny_transformers_classifier
        >>> spec = TransformersClassifier(*tiny_transformers_classifier("wav2vec2")).export_spec()
        >>> spec["source"], spec["family"], "trust_remote_code" in spec
        ('hf_model', 'wav2vec2', False)
        """
        spec = {**self.construction, "source": ExportedFile(HF_FOLDER), "labels": self.labels}
        if not spec["trust_remote_code"]:  # from_export has no such argument: it never runs remote code
            del spec["trust_remote_code"]
        return spec

    def export_weights(self):
        """None: the weights travel in the ``save_pretrained`` copy (:meth:`export_files`)."""
        return None

    def export_files(self, folder) -> None:
        """Save the model (safetensors) and its feature extractor to ``<folder>/hf_model``."""
        target = Path(folder) / HF_FOLDER
        self.model.save_pretrained(target)  # safetensors: transformers' only format from version 5
        self.feature_extractor.save_pretrained(target)

    #: Grad-CAM weighs the token view of a block (activations and gradients rearranged alike),
    #: not the raw token sequence.
    gradcam_on_view = True

    def hidden_view(self, name, output):
        """Block outputs go through the family's token view; other layers are kept as they are."""
        hidden = _first_tensor(output)
        if self.blocks is not None and name.rpartition(".")[0] == self.blocks and hidden.dim() == 3:
            return TOKEN_VIEWS[self.spec_.tokens](self, hidden, self._num_samples)
        return hidden

    def compute_logits(self, magnitude, phase=None, lengths=None):
        if phase is None:
            raise ValueError(f"{type(self.model).__name__} reads a waveform: pass the phase to resynthesise")
        num_samples = (magnitude.shape[1] - 1) * self.frontend.hop_length
        wav = self.frontend.istft(magnitude, phase, num_samples)
        self._num_samples = num_samples
        out = self.model(**FEATURES[self.spec_.features](self, wav))
        return out.logits if hasattr(out, "logits") else out[0]


def _has_module(model, name: str) -> bool:
    try:
        model.get_submodule(name)
    except AttributeError:
        return False
    return True
