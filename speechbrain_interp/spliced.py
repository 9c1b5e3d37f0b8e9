"""Classifiers that compute their own spectrogram: splice the mask in at the front-end's output.

Many torch and torchaudio models take a waveform and build their features inside ``forward``
(``torchaudio.transforms.MelSpectrogram``, then ``AmplitudeToDB``, then the network). Rewriting
that front-end by hand as a function of a magnitude is where wrappers go wrong (other STFT
settings, other mel scales, a forgotten power). :class:`SplicedClassifier` leaves the model as it
is: it finds the model's torchaudio ``Spectrogram`` module (a ``MelSpectrogram`` holds one),
builds a :class:`~speechbrain_interp.spectral.SpectralFrontEnd` with exactly its STFT (FFT size,
window, hop, centring, padding) and, while the model runs, replaces that module's output with
``|X| ** power`` of the (masked) magnitude it was given, through a forward hook. Everything
after it (mel filterbank, dB, normalisation, the network) is the model's own code, so the
adapter's logits are the model's logits.

The waveform the model is called with is the magnitude resynthesised with the original phase
(what any other branch of the model reads), or silence of the right length when no phase is
given; the spliced module's output never depends on it.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from torch import nn

from speechbrain_interp.adapters import ClassifierAdapter
from speechbrain_interp.spectral import SpectralFrontEnd

__all__ = ["SplicedClassifier", "find_spectrogram"]


def find_spectrogram(model: nn.Module) -> str:
    """Dotted name of the one ``torchaudio.transforms.Spectrogram`` inside ``model``.

    Example
    -------
    >>> import torch, torchaudio
    >>> net = nn.Sequential(torchaudio.transforms.MelSpectrogram(16000, n_fft=400, n_mels=32))
    >>> find_spectrogram(net)
    '0.spectrogram'
    """
    from torchaudio.transforms import Spectrogram

    found = [name for name, module in model.named_modules() if isinstance(module, Spectrogram)]
    if len(found) != 1:
        what = "no torchaudio Spectrogram or MelSpectrogram" if not found else f"several ({found})"
        raise ValueError(
            f"{type(model).__name__} has {what} inside; name the module whose output is the "
            "spectrogram with frontend_module=..., or wrap the model with TorchClassifier(input='wav')")
    return found[0]


class SplicedClassifier(ClassifierAdapter):
    """Adapter for a model that takes a waveform and computes its own spectrogram inside.

    Arguments
    ---------
    model : nn.Module
        Maps ``(batch, time)`` waveforms to ``(batch, classes)`` outputs, with a
        ``torchaudio.transforms.Spectrogram`` (or ``MelSpectrogram``) somewhere inside.
    sample_rate : int
        The model's sample rate.
    frontend_module : str, optional
        Dotted name of that module (default: found, when there is exactly one).
    mask_domain : str
        Passed to the :class:`SpectralFrontEnd` built from the module's STFT settings.
    **kwargs
        ``layers``, ``labels``, ``multilabel``, ``output``, ``freeze``, see
        :class:`ClassifierAdapter`.

    Example
    -------
    >>> import torch, torchaudio
    >>> net = nn.Sequential(torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=32),
    ...                     torchaudio.transforms.AmplitudeToDB(), nn.Flatten(1), nn.LazyLinear(3))
    >>> wav = torch.randn(2, 16000)
    >>> expected = net(wav)
    >>> adapter = SplicedClassifier(net, sample_rate=16000, labels=["dog", "rain", "siren"])
    >>> spec = adapter.frontend(wav)
    >>> torch.allclose(adapter(spec.magnitude, phase=spec.phase), expected, atol=1e-4)
    True
    """

    def __init__(self, model: nn.Module, sample_rate: int, frontend_module: str | None = None,
                 mask_domain: str = "log1p_magnitude", **kwargs):
        name = frontend_module or find_spectrogram(model)
        stft = model.get_submodule(name)
        power = getattr(stft, "power", 1.0)
        if power is None or getattr(stft, "pad", 0) or getattr(stft, "normalized", False) is not False \
                or not getattr(stft, "onesided", True):
            raise ValueError(f"'{name}' must return a one-sided magnitude or power spectrogram without "
                             "extra padding or normalisation (power not None, pad=0, normalized=False) to be "
                             "spliced")
        frontend = SpectralFrontEnd(sample_rate=sample_rate, n_fft=stft.n_fft, win_length=stft.win_length,
                                    hop_length=stft.hop_length, window=stft.window.detach().cpu().clone(),
                                    center=stft.center, pad_mode=stft.pad_mode, mask_domain=mask_domain)
        self.frontend_module, self.power = name, float(power)
        self._replacement = None
        super().__init__(frontend, model, **kwargs)
        stft.register_forward_hook(self._splice)

    def _splice(self, module, inputs, output):
        """The front-end's output, replaced by the power spectrogram of the magnitude being explained."""
        if self._replacement is None:
            return output
        spliced = self._replacement.transpose(-1, -2)  # torchaudio: (..., freq, frames)
        if spliced.numel() != output.numel():
            raise RuntimeError(
                f"'{self.frontend_module}' returned shape {tuple(output.shape)} but the magnitude gives "
                f"{tuple(spliced.shape)}: the model must compute its spectrogram from the waveform it is "
                "given")
        return spliced.reshape(output.shape).to(output.dtype)

    def compute_logits(self, magnitude, phase=None, lengths=None):
        fe = self.frontend
        frames = magnitude.shape[1]
        samples = (frames - 1) * fe.hop_length + (0 if fe.center else fe.n_fft)
        if phase is not None:
            wav = fe.istft(magnitude, phase, samples)
        else:
            wav = magnitude.new_zeros(magnitude.shape[0], samples)
        self._replacement = magnitude if self.power == 1.0 else magnitude.clamp_min(0).pow(self.power)
        try:
            return self.model(wav)
        finally:
            self._replacement = None

    def export_spec(self) -> dict:
        """The model, its sample rate and the spliced module (see :class:`ClassifierAdapter`)."""
        return {"model": self.model, "sample_rate": self.frontend.sample_rate,
                "frontend_module": self.frontend_module, "mask_domain": self.frontend.mask_domain,
                **self._common_spec()}
