"""The interpreter base class: one uniform ``explain(wav, target=None) -> Explanation`` call.

A brick only implements :meth:`Interpreter.compute_mask`; the base class does the
rest the same way for every family: validate the audio, analyse it with the
classifier's own front-end, pick the target, apply the mask in the declared mask
domain, resynthesise the interpretation and residual with the original phase
and measure the classifier on both.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
from torch import nn

from speechbrain_interp.adapters import ClassifierAdapter
from speechbrain_interp.audio import validate_waveform
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.spectral import Spectrum

__all__ = ["Interpreter"]


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

    def __init__(self, classifier: ClassifierAdapter):
        super().__init__()
        if not isinstance(classifier, ClassifierAdapter):
            raise TypeError(
                f"classifier must be a ClassifierAdapter, got {type(classifier).__name__}; "
                "wrap it with SpeechBrainClassifier or TorchClassifier"
            )
        self.classifier = classifier

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

    def explain(self, wav, target=None) -> Explanation:
        """Explain a batch of waveforms.

        Arguments
        ---------
        wav : torch.Tensor
            ``(time,)`` or ``(batch, time)`` mono audio at the classifier's sample rate.
        target : int, str, list or torch.Tensor, optional
            Class to explain (index or name, one per clip or one for all); defaults to
            the classifier's prediction.

        Returns
        -------
        Explanation
        """
        wav, spectrum, logits, hidden = self.analyse(wav)
        target = self.resolve_target(logits, target)
        mask = self.compute_mask(spectrum, target, logits, hidden)
        return self.build_explanation(wav, spectrum, mask.detach(), target, logits)

    def forward(self, wav, target=None) -> Explanation:
        """Same as :meth:`explain`."""
        return self.explain(wav, target=target)

    @torch.no_grad()
    def build_explanation(self, wav, spectrum, mask, target, logits, **extra) -> Explanation:
        """Listenable interpretation and residual plus the classifier's view of both."""
        fe, clf = self.frontend, self.classifier
        mask = torch.nan_to_num(mask.float(), nan=0.0).clamp(0.0, 1.0)
        mag, phase = spectrum.magnitude, spectrum.phase
        mag_in, mag_out = fe.apply_mask(mag, mask), fe.apply_mask(mag, 1.0 - mask)
        both = clf.probabilities(clf(torch.cat([mag_in, mag_out]), phase=torch.cat([phase, phase])))
        p_in, p_out = both.chunk(2)
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
            **extra,
        )
