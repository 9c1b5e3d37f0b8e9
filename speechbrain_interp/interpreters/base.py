"""The interpreter base class: the one contract every brick follows.

A brick implements :meth:`Interpreter.compute_mask` (or, to add components, concepts or
scores to the explanation, :meth:`Interpreter.compute_explanation`); it never overrides
:meth:`Interpreter.explain`, which does the rest the same way for every family: validate
the audio, analyse it with the classifier's own front-end, pick the target, apply the
mask in the declared mask domain, resynthesise the interpretation and residual with the
original phase and measure the classifier on both.

The rest of the contract is declared, not probed:

* options: ``DEFAULTS`` lists every option and its default, once; :meth:`resolve_options`
  merges defaults, a ``config`` dict (a brick fragment of ``hparams/``) and explicit
  arguments, and rejects unknown keys with a ``TypeError`` naming the known ones;
* family and export: ``family`` and ``interface`` (the SpeechBrain interface that loads
  an exported folder), ``export_target`` and :meth:`export_config` when the class and
  its options do not rebuild the brick by themselves;
* training and persistence: ``trainable``, :meth:`trainable_parameters`,
  :meth:`loss` ``-> (loss, stats)``, :meth:`save_weights` / :meth:`load_weights` (the
  file a recipe writes, ``weights_file`` when it has a fixed name) and ``state_dict``.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from speechbrain_interp.adapters import ClassifierAdapter
from speechbrain_interp.audio import validate_waveform
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.spectral import Spectrum

__all__ = ["Interpreter", "deprecated_alias"]


def deprecated_alias(new_name: str, old_name: str):
    """A method ``old_name`` that warns and calls ``new_name`` (kept so old code keeps working).

    Example
    -------
    >>> class A:
    ...     def new(self):
    ...         return 1
    ...     old = deprecated_alias("new", "old")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     A().old(), caught[0].category.__name__
    (1, 'DeprecationWarning')
    """

    def alias(self, *args, **kwargs):
        warnings.warn(f"{type(self).__name__}.{old_name} is deprecated; use {new_name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(self, new_name)(*args, **kwargs)

    alias.__name__ = old_name
    alias.__doc__ = f"Deprecated alias of :meth:`{new_name}`."
    return alias


class Interpreter(nn.Module):
    """Base class of every interpreter brick.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier to explain.

    Example
    -------
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> class Everything(Interpreter):
    ...     method = "everything"
    ...     def compute_mask(self, spectrum, target, logits, hidden):
    ...         return torch.ones_like(spectrum.magnitude)
    >>> frontend = SpectralFrontEnd(n_fft=128, hop_length=32, n_mels=16)
    >>> net = nn.Sequential(nn.Flatten(1), nn.Linear(63 * 16, 3))
    >>> explainer = Everything(TorchClassifier(net, frontend, input="log_mel"))
    >>> e = explainer.explain(torch.randn(2, 2000))
    >>> e.mask.shape, e.interpretation.shape
    (torch.Size([2, 63, 65]), torch.Size([2, 2000]))
    >>> bool(torch.allclose(e.probability, e.probability_in, atol=1e-5))
    True
    """

    method = "interpreter"
    needs_hidden = False  # set True when compute_mask reads the classifier's hidden layers
    #: every option with its default, written once here (``hparams/*.yaml`` must agree)
    DEFAULTS: dict = {}
    #: family name written to exported folders, and the SpeechBrain interface that loads them
    family = "generic"
    interface = "PretrainedInterface"
    #: dotted name that rebuilds the brick in exported YAML (default: the class itself)
    export_target: str | None = None
    #: whether the brick has weights to train (then it implements ``loss`` and ``save_weights``)
    trainable = False
    #: fixed file name of the weights a recipe saves next to its checkpoints, if any
    weights_file: str | None = None
    #: explain in eval mode even while training (for bricks with dropout)
    explains_in_eval = False

    def __init__(self, classifier: ClassifierAdapter):
        super().__init__()
        if not isinstance(classifier, ClassifierAdapter):
            raise TypeError(
                f"classifier must be a ClassifierAdapter, got {type(classifier).__name__}; "
                "wrap it with SpeechBrainClassifier or TorchClassifier"
            )
        self.classifier = classifier

    # --- options -----------------------------------------------------------------------
    def resolve_options(self, config=None, **given) -> dict:
        """``DEFAULTS``, then ``config``, then the explicit arguments that are not None.

        Unknown keys, in ``config`` or ``given``, raise a ``TypeError`` naming them and the
        known ones. The result is stored as ``self.options`` (what export writes back).

        Example
        -------
        >>> from speechbrain_interp.testing import band_window_classifier
        >>> class Gain(Interpreter):
        ...     DEFAULTS = {"gain": 1.0, "floor": 0.0}
        >>> Gain(band_window_classifier()).resolve_options({"gain": 2.0}, floor=None)
        {'gain': 2.0, 'floor': 0.0}
        >>> Gain(band_window_classifier()).resolve_options({"gian": 2.0})
        Traceback (most recent call last):
        TypeError: unknown Gain options ['gian']; known: ['floor', 'gain']
        """
        config = dict(config or {})
        unknown = sorted((set(config) | set(given)) - set(self.DEFAULTS))
        if unknown:
            known = sorted(self.DEFAULTS)
            raise TypeError(f"unknown {type(self).__name__} options {unknown}; known: {known}")
        self.options = {**self.DEFAULTS, **config, **{k: v for k, v in given.items() if v is not None}}
        return self.options

    # --- training and persistence --------------------------------------------------------
    def trainable_parameters(self) -> list:
        """Parameters a recipe optimises (none for bricks that are not ``trainable``)."""
        return []

    def loss(self, wav, *args, **kwargs):
        """Training objective ``(loss, stats)`` of a ``trainable`` brick on a batch of waveforms."""
        raise NotImplementedError(f"{type(self).__name__} is not trainable")

    def save_weights(self, path) -> Path:
        """Write the trained weights to ``path``; returns the path."""
        raise NotImplementedError(f"{type(self).__name__} has no weights of its own to save")

    def load_weights(self, path):
        """Load weights written by :meth:`save_weights`; returns ``self``."""
        raise NotImplementedError(f"{type(self).__name__} has no weights of its own to load")

    def export_config(self) -> dict | None:
        """Constructor arguments for ``export_target``, or None to read them back from the brick."""
        return None

    @property
    def frontend(self):
        """The classifier's spectral front-end."""
        return self.classifier.frontend

    def compute_mask(self, spectrum: Spectrum, target: torch.Tensor, logits, hidden):
        """Mask ``(batch, frames, freq)`` in [0, 1] for the ``target`` classes; override this.

        Arguments
        ---------
        spectrum : Spectrum
            Magnitude and phase of the input.
        target : torch.Tensor
            ``(batch,)`` class indices to explain.
        logits : torch.Tensor
            ``(batch, classes)`` classifier output on the input.
        hidden : dict
            Hidden representations at the adapter's layers (empty unless ``needs_hidden``).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement compute_mask")

    def compute_explanation(self, spectrum: Spectrum, target: torch.Tensor, logits, hidden):
        """``(mask, extras)``: the hook through which a brick adds to its :class:`Explanation`.

        ``extras`` are keyword arguments of :class:`Explanation` (``components``,
        ``concepts``, ``scores``). The default is :meth:`compute_mask` and no extras;
        override this instead when the extras share work with the mask.
        """
        return self.compute_mask(spectrum, target, logits, hidden), {}

    def analyse(self, wav):
        """Validate ``wav`` and return its spectrum, the logits and the hidden layers."""
        wav = validate_waveform(wav, min_samples=self.frontend.min_samples)
        wav = wav.to(next(self.classifier.buffers(), torch.empty(0)).device)
        spectrum = self.frontend(wav)
        with torch.no_grad():
            if self.needs_hidden:
                logits, hidden = self.classifier.forward_with_hidden(
                    spectrum.magnitude, phase=spectrum.phase
                )
            else:
                logits, hidden = self.classifier(spectrum.magnitude, phase=spectrum.phase), {}
        return wav, spectrum, logits, hidden

    def resolve_target(self, logits: torch.Tensor, target=None) -> torch.Tensor:
        """``(batch,)`` class indices: ``target`` if given (int, name or per-clip list), else the
        prediction."""
        batch = logits.shape[0]
        if target is None:
            return logits.argmax(-1)
        labels = self.classifier.labels
        if isinstance(target, (str, int)):
            target = [target] * batch
        if isinstance(target, (list, tuple)):
            resolved = []
            for t in target:
                if isinstance(t, str):
                    if labels is None or t not in labels:
                        raise ValueError(f"unknown class '{t}'; the classifier knows {labels}")
                    t = labels.index(t)
                resolved.append(int(t))
            target = resolved
        target = torch.as_tensor(target, device=logits.device).long().reshape(-1)
        if target.numel() != batch:
            raise ValueError(f"got {target.numel()} targets for a batch of {batch}")
        if ((target < 0) | (target >= logits.shape[-1])).any():
            raise ValueError(f"target {target.tolist()} outside 0..{logits.shape[-1] - 1}")
        return target

    def explain(self, wav, target=None, text=None) -> Explanation:
        """Explain a batch of waveforms.

        Arguments
        ---------
        wav : torch.Tensor
            ``(time,)`` or ``(batch, time)`` mono audio at the classifier's sample rate.
        target : int, str, list or torch.Tensor, optional
            Class to explain (index or name, one per clip or one for all); defaults to
            the classifier's prediction.
        text : str or list of str, optional
            A text prompt to explain instead of a class (one for all clips or one per clip),
            for text-conditioned bricks (see :meth:`prompted`).

        Returns
        -------
        Explanation
        """
        if text is None:
            return self._explain(wav, target)
        if target is not None:
            raise ValueError("ask about a text or a target class, not both")
        batch = 1 if torch.as_tensor(wav).dim() == 1 else len(wav)
        texts = [text] * batch if isinstance(text, str) else list(text)
        if len(texts) != batch:
            raise ValueError(f"got {len(texts)} prompts for a batch of {batch} clips")
        with self.prompted(texts) as target:
            return self._explain(wav, target)

    def prompted(self, texts: list):
        """A context in which ``texts`` are classes of the classifier; yields their indices.

        Text-conditioned bricks override it (their classifier scores any prompt); the others
        cannot be asked about text.
        """
        raise TypeError(f"{type(self).__name__} is not text-conditioned: ask it about a class with "
                        "target=...; a text prompt needs a text-conditioned L-MAC (TextLMAC)")

    def _explain(self, wav, target) -> Explanation:
        was_training = self.training
        if self.explains_in_eval:
            self.eval()
        try:
            wav, spectrum, logits, hidden = self.analyse(wav)
            target = self.resolve_target(logits, target)
            mask, extras = self.compute_explanation(spectrum, target, logits, hidden)
            return self.build_explanation(wav, spectrum, mask.detach(), target, logits, **extras)
        finally:
            if self.explains_in_eval:
                self.train(was_training)

    def forward(self, wav, target=None, text=None) -> Explanation:
        """Same as :meth:`explain`."""
        return self.explain(wav, target=target, text=text)

    @torch.no_grad()
    def build_explanation(self, wav, spectrum, mask, target, logits, **extra) -> Explanation:
        """Listenable interpretation and residual plus the classifier's view of both."""
        fe, clf = self.frontend, self.classifier
        mask = torch.nan_to_num(mask.float(), nan=0.0).clamp(0.0, 1.0)
        mag, phase = spectrum.magnitude, spectrum.phase
        mag_in, mag_out = fe.apply_mask(mag, mask), fe.apply_mask(mag, 1.0 - mask)
        logits_in, logits_out = clf(torch.cat([mag_in, mag_out]), phase=torch.cat([phase, phase])).chunk(2)
        p_in, p_out = clf.probabilities(torch.cat([logits_in, logits_out])).chunk(2)
        probs = clf.probabilities(logits)
        pick = target[:, None]
        return Explanation(
            method=extra.pop("method", self.method),
            sample_rate=fe.sample_rate,
            wav=wav,
            magnitude=mag,
            mask=mask,
            interpretation=fe.istft(mag_in, phase, spectrum.num_samples),
            residual=fe.istft(mag_out, phase, spectrum.num_samples),
            target=target,
            probability=probs.gather(1, pick).squeeze(1),
            probability_in=p_in.gather(1, pick).squeeze(1),
            probability_out=p_out.gather(1, pick).squeeze(1),
            labels=clf.labels,
            logits=logits,
            logits_in=logits_in,
            logits_out=logits_out,
            probabilities=probs,
            **extra,
        )
