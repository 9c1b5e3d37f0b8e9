"""Classifier adapters: one protocol for every classifier an interpreter explains.

An adapter is a differentiable map from a linear magnitude spectrogram
``(batch, frames, freq)`` to logits ``(batch, classes)``, plus the hidden
representations at the layers named in hparams (captured with forward hooks),
plus what the classifier knows about itself: its :class:`SpectralFrontEnd`,
sample rate, class labels and whether it is multi-label.

Two implementations:

* :class:`SpeechBrainClassifier` wraps a SpeechBrain ``Pretrained`` classifier
  (``AudioClassifier`` with ``compute_stft``/``compute_fbank`` or
  ``EncoderClassifier`` with ``compute_features``/``mean_var_norm``), re-expressing
  its feature pipeline as a function of the STFT magnitude;
* :class:`TorchClassifier` wraps any ``nn.Module`` that maps a magnitude, a
  log-mel spectrogram or a waveform to logits.

Outputs are always logits: softmax (single-label) or sigmoid (multi-label)
gives probabilities. Log-softmax outputs, which many SpeechBrain classifiers
return, are valid logits; probability outputs are converted with ``logit``.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from speechbrain_interp.audio import validate_waveform
from speechbrain_interp.spectral import SpectralFrontEnd

__all__ = ["ClassifierAdapter", "SpeechBrainClassifier", "TorchClassifier", "ExportedFile"]

_OUTPUT_KINDS = ("logits", "log_probabilities", "probabilities")


class ExportedFile(str):
    """A path inside an exported folder, in an adapter's ``export_spec()``; loaded back as a full path.

    An adapter that writes files of its own into the folder (:meth:`ClassifierAdapter.export_files`,
    e.g. a ``save_pretrained`` copy of its model) names them this way; the YAML writes
    ``!ref <exported_folder>/<path>`` and the loader sets ``exported_folder``.

    Example
    -------
    >>> ExportedFile("model") == "model", type(ExportedFile("model")).__name__
    (True, 'ExportedFile')
    """


def _first_tensor(output):
    """Hidden outputs can be tuples (e.g. ``Cnn14(return_reps=True)``); keep the first tensor."""
    while isinstance(output, (tuple, list)):
        output = output[0]
    return output


class ClassifierAdapter(nn.Module):
    """Base class: spectrogram -> logits, with hidden representations captured by hooks.

    Subclasses implement :meth:`compute_logits`. The wrapped classifier is frozen
    (eval mode, no parameter gradients) so interpreters train around it, while
    gradients still reach the input spectrogram.

    Arguments
    ---------
    frontend : SpectralFrontEnd
        The STFT the classifier's features are built on.
    model : nn.Module
        Root of the module tree that ``layers`` names are resolved against.
    layers : sequence of str
        Dotted module names whose outputs :meth:`forward_with_hidden` returns.
    labels : sequence of str, optional
        Class names, index-aligned with the logits.
    multilabel : bool
        Sigmoid outputs (multi-label) instead of softmax (single-label).
    output : str
        What the model returns: ``"logits"``, ``"log_probabilities"`` or ``"probabilities"``.
    freeze : bool
        Keep the classifier in eval mode without parameter gradients.

    Notes
    -----
    **Export contract.** An interpreter trained for an adapter is exported with its classifier
    (:func:`speechbrain_interp.export.export_interpreter`, ``train_lmac(out=...)``). A
    :class:`SpeechBrainClassifier` travels as its own inference YAML; any other adapter
    describes its construction, and :mod:`speechbrain_interp.adapter_export` writes that
    description to ``classifier.yaml`` (checked against the allow-list of
    :mod:`speechbrain_interp.safety` when loaded back) and the weights to
    ``classifier.safetensors``. A subclass implements:

    * :meth:`export_spec`: the keyword arguments that rebuild it: plain values (numbers,
      strings, lists, dicts), torch modules (written as ``!new:<their class>`` with the
      arguments of their ``export_config()``, or read back from their attributes; the one
      under ``"model"`` with ``"model_kwargs"`` when the spec has them) and importable
      functions (``!name:``). When :meth:`export_weights` returns a module, it must be the
      one under ``"model"``;
    * ``export_target`` (optional class attribute): the dotted name of what those arguments
      are passed to, e.g. ``"package.module.MyAdapter.from_export"`` for a classmethod that
      loads a model from a source named in the spec (default: the class itself);
    * :meth:`export_weights` (optional): the module whose state dict travels in
      ``classifier.safetensors`` (default ``self.model``; None when the spec loads the
      weights itself, e.g. from a Hub id or from files of :meth:`export_files`);
    * :meth:`export_files` (optional): write files of its own into the folder (e.g. a
      ``save_pretrained`` copy), named in the spec as :class:`ExportedFile` paths.

    :class:`~speechbrain_interp.transformers_classifier.TransformersClassifier`, for instance,
    returns ``{"source": ExportedFile("hf_model"), "layers": [...], ...}`` from ``export_spec()``,
    saves its model to ``hf_model/`` in ``export_files()``, returns None from ``export_weights()``,
    and names its loading classmethod (``from_export``) in ``export_target``. Loading an
    exported folder builds only what the allow-list (or the user's ``allow=[...]`` /
    ``trust_code=True``) permits.

    Example
    -------
    >>> class MeanEnergy(ClassifierAdapter):
    ...     def compute_logits(self, magnitude, phase=None, lengths=None):
    ...         return self.model(magnitude.mean(dim=1))
    >>> frontend = SpectralFrontEnd(n_fft=64, hop_length=16)
    >>> adapter = MeanEnergy(frontend, nn.Linear(33, 2), labels=["quiet", "loud"])
    >>> adapter(frontend(torch.randn(3, 800)).magnitude).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        frontend: SpectralFrontEnd,
        model: nn.Module,
        layers: Sequence[str] = (),
        labels: Sequence[str] | None = None,
        multilabel: bool = False,
        output: str = "logits",
        freeze: bool = True,
    ):
        super().__init__()
        if output not in _OUTPUT_KINDS:
            raise ValueError(f"output must be one of {_OUTPUT_KINDS}, got '{output}'")
        self.frontend = frontend
        self.model = model
        self.layers = list(layers)
        self.labels = list(labels) if labels is not None else None
        self.multilabel = bool(multilabel)
        self.output = output
        self.freeze = freeze
        self._hidden: dict[str, torch.Tensor] = {}
        self._capturing = False
        for name in self.layers:
            self._resolve(name).register_forward_hook(self._make_hook(name))
        if freeze:
            self.model.requires_grad_(False)
            self.model.eval()

    def _resolve(self, name: str) -> nn.Module:
        try:
            return self.model.get_submodule(name)
        except AttributeError as err:
            available = [n for n, _ in self.model.named_modules() if n and n.count(".") < 2]
            raise ValueError(
                f"layer '{name}' not found in {type(self.model).__name__}; "
                f"available top-level names include {available[:25]}"
            ) from err

    def _make_hook(self, name):
        def hook(module, inputs, output):
            if self._capturing:
                self._hidden[name] = self.hidden_view(name, output)

        return hook

    def hidden_view(self, name: str, output) -> torch.Tensor:
        """The hidden map bricks read from the output of layer ``name`` (default: its first tensor).

        Adapters whose layers return something else than a map (e.g. transformer token
        sequences) override it; :func:`~speechbrain_interp.lobes.mask_decoder.infer_layouts`
        probes through it too.
        """
        return _first_tensor(output)

    def train(self, mode: bool = True):
        """Switch mode, keeping a frozen classifier in eval (no BatchNorm updates, no dropout)."""
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    # --- what the classifier knows about itself -------------------------------------------
    @property
    def sample_rate(self) -> int:
        """Sample rate the classifier expects."""
        return self.frontend.sample_rate

    @property
    def num_classes(self) -> int | None:
        """Number of classes, when labels are known."""
        return len(self.labels) if self.labels is not None else None

    # --- the protocol --------------------------------------------------------------------
    def compute_logits(self, magnitude, phase=None, lengths=None) -> torch.Tensor:
        """Model-specific map from magnitude to raw model outputs; subclasses override it."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_logits")

    def forward(self, magnitude: torch.Tensor, phase=None, lengths=None) -> torch.Tensor:
        """Logits ``(batch, classes)`` for a linear magnitude ``(batch, frames, freq)``."""
        out = self.compute_logits(magnitude, phase=phase, lengths=lengths)
        if out.dim() == 3 and out.shape[1] == 1:
            out = out.squeeze(1)
        if self.output == "probabilities":
            out = torch.logit(out.clamp(1e-7, 1 - 1e-7))
        return out

    def forward_with_hidden(self, magnitude, phase=None, lengths=None):
        """Logits and a ``{layer: tensor}`` dict of the hidden representations in ``layers``."""
        self._hidden = {}
        self._capturing = True
        try:
            logits = self.forward(magnitude, phase=phase, lengths=lengths)
        finally:
            self._capturing = False
        missing = [n for n in self.layers if n not in self._hidden]
        if missing:
            raise RuntimeError(f"layers {missing} were not called during the forward pass")
        hidden, self._hidden = self._hidden, {}
        return logits, hidden

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax for single-label classifiers, sigmoid for multi-label ones."""
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)

    def predict(self, magnitude: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
        """Predicted class indices ``(batch,)``, or a ``(batch, classes)`` 0/1 set if multi-label."""
        with torch.no_grad():
            logits = self.forward(magnitude)
        if self.multilabel:
            return (torch.sigmoid(logits) > threshold).float()
        return logits.argmax(dim=-1)

    def classify_wav(self, wav: torch.Tensor) -> torch.Tensor:
        """Probabilities ``(batch, classes)`` for ``(batch, time)`` waveforms."""
        wav = validate_waveform(wav, min_samples=self.frontend.min_samples)
        spec = self.frontend(wav)
        with torch.no_grad():
            return self.probabilities(self.forward(spec.magnitude, phase=spec.phase))

    def label_of(self, index: int) -> str:
        """Class name for an index (the index itself when labels are unknown)."""
        return self.labels[index] if self.labels is not None else str(index)

    # --- export (see the class docstring) ------------------------------------------------
    #: Dotted name of the callable :meth:`export_spec` is passed to; None: the class itself.
    export_target: str | None = None

    def export_spec(self) -> dict:
        """Keyword arguments that rebuild this adapter, as YAML-safe values; see the class Notes."""
        raise NotImplementedError(
            f"{type(self).__name__} does not describe its construction; implement export_spec() "
            "(see ClassifierAdapter), or wrap the model in a TorchClassifier")

    def export_weights(self) -> nn.Module | None:
        """The module whose weights travel in ``classifier.safetensors`` (None: the spec loads them)."""
        return self.model

    def export_files(self, folder: Path) -> None:
        """Write the files the spec names as :class:`ExportedFile` into ``folder`` (default: none)."""

    def _common_spec(self) -> dict:
        """The :class:`ClassifierAdapter` arguments every exported adapter repeats."""
        return {"layers": list(self.layers), "labels": self.labels, "multilabel": self.multilabel,
                "output": self.output}


def _check_local_source(source) -> None:
    """Fail clearly on a local folder that is missing or incomplete (SpeechBrain would try the Hub)."""
    text = os.fspath(source)
    looks_local = os.path.isabs(text) or text.startswith((".", "~")) or text.count("/") != 1
    if os.path.isdir(text) or looks_local:
        folder = Path(text).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"classifier folder '{folder}' does not exist")
        if not (folder / "hyperparams.yaml").exists():
            raise FileNotFoundError(
                f"'{folder}' has no hyperparams.yaml; a SpeechBrain model folder holds hyperparams.yaml "
                "and its *.ckpt files"
            )


class TorchClassifier(ClassifierAdapter):
    """Adapter for any ``nn.Module`` classifier.

    Arguments
    ---------
    model : nn.Module
        Maps its input (see ``input``) to ``(batch, classes)`` outputs.
    frontend : SpectralFrontEnd
        STFT settings; needs ``n_mels`` for ``input="log_mel"``.
    input : str or callable
        ``"magnitude"``, ``"log1p_magnitude"``, ``"log_mel"``, ``"wav"`` (resynthesised
        with the phase passed to :meth:`forward`), or ``f(frontend, magnitude, phase)``.
    model_kwargs : dict, optional
        The arguments ``model`` was built with, for the export (see
        :func:`~speechbrain_interp.adapter_export.describe_module`); without them they are
        read back from the model's attributes. An exported classifier is rebuilt as
        ``!new:<model class>`` with them, so the class must be importable.
    **kwargs
        ``layers``, ``labels``, ``multilabel``, ``output``, ``freeze``, see
        :class:`ClassifierAdapter`.

    Example
    -------
    >>> frontend = SpectralFrontEnd(n_fft=256, hop_length=64, n_mels=32)
    >>> net = nn.Sequential(nn.Conv1d(32, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
    ...                     nn.Flatten(1), nn.Linear(16, 3))
    >>> adapter = TorchClassifier(net, frontend, input=lambda fe, mag, ph: fe.log_mel(mag).mT,
    ...                           layers=["0"], labels=["dog", "rain", "siren"])
    >>> spec = frontend(torch.randn(2, 4000))
    >>> logits, hidden = adapter.forward_with_hidden(spec.magnitude)
    >>> logits.shape, hidden["0"].shape
    (torch.Size([2, 3]), torch.Size([2, 16, 61]))
    """

    _INPUTS = ("magnitude", "log1p_magnitude", "log_mel", "wav")

    def __init__(self, model: nn.Module, frontend: SpectralFrontEnd, input="log_mel",
                 model_kwargs: dict | None = None, **kwargs):
        if not callable(input) and input not in self._INPUTS:
            raise ValueError(f"input must be one of {self._INPUTS} or a callable, got '{input}'")
        if input == "log_mel" and not frontend.n_mels:
            raise ValueError("input='log_mel' needs a SpectralFrontEnd built with n_mels")
        self.input = input
        self.model_kwargs = dict(model_kwargs) if model_kwargs is not None else None
        super().__init__(frontend, model, **kwargs)

    def export_spec(self) -> dict:
        """The model and its arguments, front-end, input and outputs (see :class:`ClassifierAdapter`).

        Example
        -------
        >>> adapter = TorchClassifier(nn.Linear(33, 2), SpectralFrontEnd(n_fft=64), input="magnitude")
        >>> spec = adapter.export_spec()
        >>> type(spec["model"]).__name__, spec["input"]
        ('Linear', 'magnitude')
        """
        return {"model": self.model, "model_kwargs": self.model_kwargs, "frontend": self.frontend,
                "input": self.input, **self._common_spec()}

    def compute_logits(self, magnitude, phase=None, lengths=None):
        fe = self.frontend
        if callable(self.input):
            x = self.input(fe, magnitude, phase)
        elif self.input == "magnitude":
            x = magnitude
        elif self.input == "log1p_magnitude":
            x = torch.log1p(magnitude)
        elif self.input == "log_mel":
            x = fe.log_mel(magnitude)
        else:
            if phase is None:
                raise ValueError("a waveform classifier needs the phase to resynthesise its input")
            x = fe.istft(magnitude, phase, (magnitude.shape[1] - 1) * fe.hop_length)
        return self.model(x)


class SpeechBrainClassifier(ClassifierAdapter):
    """Adapter for SpeechBrain ``Pretrained`` classifiers.

    Supports the two layouts SpeechBrain ships:

    * ``AudioClassifier``: ``compute_stft``, optional ``compute_fbank``,
      ``embedding_model``, ``classifier``, hparams ``spec_mag_power`` and ``use_melspectra``;
    * ``EncoderClassifier``: ``compute_features`` (``Fbank`` or ``MFCC``), optional
      ``mean_var_norm``, ``embedding_model``, ``classifier``.

    The feature pipeline is rebuilt from the STFT magnitude with the classifier's own
    modules, so masks and gradients act on exactly the spectrogram the model sees.
    ``embedding_model(feats, lengths)`` is only called with lengths when it accepts them
    (a Cnn14 does not).

    Arguments
    ---------
    pretrained : speechbrain.inference.interfaces.Pretrained
        A loaded classifier.
    layers : sequence of str
        Hidden layers to capture, named from ``pretrained.mods``,
        e.g. ``["embedding_model.conv_block6"]``.
    mask_domain : str
        Passed to the :class:`SpectralFrontEnd` built from the classifier's STFT.
    **kwargs
        ``labels``, ``multilabel``, ``output``, see :class:`ClassifierAdapter`. Labels
        default to the pretrained ``label_encoder``.

    Example
    -------
    >>> from speechbrain.inference.classifiers import EncoderClassifier
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain.lobes.models.Xvector import Xvector, Classifier
    >>> mods = {"compute_features": Fbank(n_mels=24),
    ...         "embedding_model": Xvector(in_channels=24, tdnn_channels=[16] * 5,
    ...                                    lin_neurons=8),
    ...         "classifier": Classifier(input_shape=(2, 1, 8), lin_neurons=8, out_neurons=3)}
    >>> pretrained = EncoderClassifier(modules=mods, hparams={})
    >>> adapter = SpeechBrainClassifier(pretrained, layers=["embedding_model.blocks.3"])
    >>> spec = adapter.frontend(torch.randn(2, 8000))
    >>> logits, hidden = adapter.forward_with_hidden(spec.magnitude)
    >>> logits.shape
    torch.Size([2, 3])
    """

    def __init__(self, pretrained, layers: Sequence[str] = (), mask_domain="log1p_magnitude",
                 **kwargs):
        mods = pretrained.mods
        self.hparams_ = getattr(pretrained, "hparams", None)
        if "compute_stft" in mods:
            stft = mods["compute_stft"]
            self.layout = "audio_classifier"
        elif "compute_features" in mods:
            feats = mods["compute_features"]
            if not hasattr(feats, "compute_STFT") or not hasattr(feats, "compute_fbanks"):
                raise TypeError(
                    f"compute_features is a {type(feats).__name__}; SpeechBrainClassifier "
                    "supports speechbrain.lobes.features.Fbank and MFCC. Wrap other "
                    "classifiers with TorchClassifier and an explicit input function"
                )
            stft = feats.compute_STFT
            self.layout = "encoder_classifier"
        else:
            raise TypeError(
                "the pretrained model has neither 'compute_stft' (AudioClassifier) nor "
                f"'compute_features' (EncoderClassifier); it has {list(mods.keys())}"
            )
        for needed in ("embedding_model", "classifier"):
            if needed not in mods:
                raise TypeError(f"the pretrained model has no '{needed}' module")
        kwargs.setdefault("labels", self._labels_from(pretrained))
        kwargs.setdefault("output", "log_probabilities")
        frontend = SpectralFrontEnd.from_speechbrain_stft(stft, mask_domain=mask_domain)
        super().__init__(frontend, mods, layers=layers, **kwargs)
        self._pass_lengths = self._accepts_lengths(mods["embedding_model"])

    @staticmethod
    def _labels_from(pretrained):
        encoder = getattr(getattr(pretrained, "hparams", None), "label_encoder", None)
        if encoder is None or not getattr(encoder, "ind2lab", None):
            return None
        return [encoder.ind2lab[i] for i in range(len(encoder.ind2lab))]

    @staticmethod
    def _accepts_lengths(module) -> bool:
        params = list(inspect.signature(module.forward).parameters.values())
        return len(params) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)

    @classmethod
    def from_hparams(cls, source, savedir=None, layers=(), interface="AudioClassifier",
                     run_opts=None, **kwargs):
        """Load a SpeechBrain classifier from a Hub id or a local folder and wrap it.

        ``interface`` is the name of a class in ``speechbrain.inference.classifiers``.
        """
        from speechbrain.inference import classifiers

        _check_local_source(source)
        iface = getattr(classifiers, interface, None)
        if iface is None:
            raise ValueError(f"unknown interface '{interface}'; use AudioClassifier or EncoderClassifier")
        pretrained = iface.from_hparams(source=source, savedir=savedir, run_opts=run_opts)
        return cls(pretrained, layers=layers, **kwargs)

    def _features(self, magnitude, lengths):
        mods, hp = self.model, self.hparams_
        power = magnitude.pow(2)  # SpeechBrain's spectral_magnitude(power=1) is |X|^2
        if self.layout == "audio_classifier":
            spec_power = getattr(hp, "spec_mag_power", 1)
            x = power.clamp_min(1e-14).pow(spec_power) if spec_power != 1 else power
            if getattr(hp, "use_melspectra", True) and "compute_fbank" in mods:
                return mods["compute_fbank"](x)
            return torch.log1p(x)
        feats_mod = mods["compute_features"]
        feats = feats_mod.compute_fbanks(power)
        if hasattr(feats_mod, "compute_dct"):  # MFCC
            feats = feats_mod.compute_dct(feats)
        if feats_mod.deltas:
            d1 = feats_mod.compute_deltas(feats)
            feats = torch.cat([feats, d1, feats_mod.compute_deltas(d1)], dim=2)
        if feats_mod.context:
            feats = feats_mod.context_window(feats)
        if "mean_var_norm" in mods:
            feats = mods["mean_var_norm"](feats, lengths)
        return feats

    def compute_logits(self, magnitude, phase=None, lengths=None):
        if lengths is None:
            lengths = torch.ones(magnitude.shape[0], device=magnitude.device)
        feats = self._features(magnitude, lengths)
        embed = self.model["embedding_model"]
        emb = embed(feats, lengths) if self._pass_lengths else embed(feats)
        emb = _first_tensor(emb)
        if emb.dim() == 4:
            emb = emb.mean((-1, -2))
        return self.model["classifier"](emb)
