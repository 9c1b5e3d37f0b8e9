"""Spectral front-end: the one place interpreters get spectrograms from.

A :class:`SpectralFrontEnd` turns waveforms into a magnitude and a phase, applies
masks in the domain declared in hparams, projects to mel for classifiers that
take log-mel, and inverts a (masked) magnitude with the original phase back to
a waveform of exactly the input length, which is what makes explanations
listenable. All tensors are ``(batch, time, freq)``, SpeechBrain's layout.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio.functional as AF
from torch import nn

from speechbrain_interp.audio import validate_waveform

__all__ = ["Spectrum", "SpectralFrontEnd", "MASK_DOMAINS"]

MASK_DOMAINS = ("magnitude", "log1p_magnitude")


@dataclass
class Spectrum:
    """Magnitude and phase of a batch of waveforms.

    Arguments
    ---------
    magnitude : torch.Tensor
        ``(batch, frames, freq)`` linear STFT magnitude.
    phase : torch.Tensor
        ``(batch, frames, freq)`` phase in radians.
    num_samples : int
        Length of the waveforms the spectrum came from.
    """

    magnitude: torch.Tensor
    phase: torch.Tensor
    num_samples: int


class SpectralFrontEnd(nn.Module):
    """STFT analysis, masking and ISTFT synthesis with the original phase.

    Arguments
    ---------
    sample_rate : int
        Expected sample rate in Hz.
    n_fft : int
        FFT size; the spectrum has ``n_fft // 2 + 1`` bins.
    win_length : int, optional
        Window length in samples (default ``n_fft``).
    hop_length : int, optional
        Hop in samples (default ``win_length // 4``).
    window : str, torch.Tensor or list
        ``"hann"``, ``"hamming"`` or a window (tensor or list) of ``win_length`` samples.
    center : bool
        Pad so frame ``t`` is centred on sample ``t * hop`` (SpeechBrain's and torchaudio's
        default). False frames the waveform as it is, as many AudioSet models do; the samples
        no frame covers (the tail after the last full frame) resynthesise as silence, and the
        edges, where few frames overlap, are inverted with a floored window envelope.
    pad_mode : str
        Padding used when ``center`` is True.
    mask_domain : str
        Where masks multiply the spectrogram: ``"magnitude"`` (``M * |X|``) or
        ``"log1p_magnitude"`` (``expm1(M * log1p|X|)``, as L-MAC does).
    n_mels : int, optional
        Number of mel bands for :meth:`mel` (HTK mel scale, slaney-free triangles).
    f_min, f_max : float
        Mel band limits in Hz (``f_max`` defaults to Nyquist).
    mel_power : float
        :meth:`mel` projects ``|X| ** mel_power``: 2 (power, the default) or 1 (magnitude mels).
    log_offset : float
        :meth:`log_mel` is ``log(mel + log_offset)`` (default 1e-6; models use 1e-10, 0.01, 1, ...).
    mel_scale, mel_norm : str, optional
        torchaudio's ``melscale_fbanks`` scale (``"htk"``, default, or ``"slaney"``) and
        normalisation (None, default, or ``"slaney"``).
    mel_fbanks : torch.Tensor, optional
        A ``(n_freq, n_mels)`` filterbank to use as it is (e.g. the one a model was trained
        with, from librosa or its own code), instead of building one.

    Example
    -------
    >>> frontend = SpectralFrontEnd(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40)
    >>> wav = torch.randn(2, 16000)
    >>> spec = frontend(wav)
    >>> spec.magnitude.shape
    torch.Size([2, 101, 257])
    >>> rebuilt = frontend.istft(spec.magnitude, spec.phase, spec.num_samples)
    >>> bool((rebuilt - wav).abs().max() < 1e-5)
    True
    >>> uncentred = SpectralFrontEnd(sample_rate=16000, n_fft=512, win_length=400, hop_length=160,
    ...                              center=False)
    >>> spec = uncentred(wav)
    >>> rebuilt = uncentred.istft(spec.magnitude, spec.phase, spec.num_samples)
    >>> rebuilt.shape, bool((rebuilt - wav)[:, 400:15600].abs().max() < 1e-4), uncentred.min_samples
    (torch.Size([2, 16000]), True, 512)
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        win_length: int | None = None,
        hop_length: int | None = None,
        window="hann",
        center: bool = True,
        pad_mode: str = "constant",
        mask_domain: str = "log1p_magnitude",
        n_mels: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        mel_power: float = 2.0,
        log_offset: float = 1e-6,
        mel_scale: str = "htk",
        mel_norm: str | None = None,
        mel_fbanks: torch.Tensor | None = None,
    ):
        super().__init__()
        if mask_domain not in MASK_DOMAINS:
            raise ValueError(f"mask_domain must be one of {MASK_DOMAINS}, got '{mask_domain}'")
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.win_length = int(win_length or n_fft)
        self.hop_length = int(hop_length or self.win_length // 4)
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length {self.win_length} exceeds n_fft {self.n_fft}")
        self.center = center
        self.pad_mode = pad_mode
        self.mask_domain = mask_domain
        if isinstance(window, str):
            makers = {"hann": torch.hann_window, "hamming": torch.hamming_window}
            if window not in makers:
                raise ValueError(f"window must be 'hann', 'hamming' or a tensor, got '{window}'")
            window = makers[window](self.win_length)
        window = torch.as_tensor(window)  # a list of values, as export_config() writes one
        if window.shape != (self.win_length,):
            raise ValueError(f"window has shape {tuple(window.shape)}, expected ({self.win_length},)")
        self.register_buffer("window", window.float(), persistent=False)
        self.mel_power, self.log_offset = float(mel_power), float(log_offset)
        # kept so that export_config() can write the front-end back to YAML
        self._mel_options = {"f_min": float(f_min), "f_max": None if f_max is None else float(f_max),
                             "mel_scale": mel_scale, "mel_norm": mel_norm}
        self._custom_fbanks = mel_fbanks is not None
        if mel_fbanks is not None:
            mel_fbanks = torch.as_tensor(mel_fbanks, dtype=torch.float32)
            if mel_fbanks.dim() != 2 or mel_fbanks.shape[0] != self.n_freqs:
                raise ValueError(f"mel_fbanks must be (n_freq={self.n_freqs}, n_mels), got "
                                 f"{tuple(mel_fbanks.shape)}; transpose a (n_mels, n_freq) librosa one")
            n_mels = mel_fbanks.shape[1]
        elif n_mels:
            mel_fbanks = AF.melscale_fbanks(self.n_freqs, f_min, f_max or sample_rate / 2, n_mels,
                                            self.sample_rate, norm=mel_norm, mel_scale=mel_scale)
        self.n_mels = n_mels
        if n_mels:
            self.register_buffer("mel_fbanks", mel_fbanks, persistent=False)

    @classmethod
    def from_speechbrain_stft(cls, stft: nn.Module, **kwargs) -> SpectralFrontEnd:
        """Mirror a ``speechbrain.processing.features.STFT`` so masks line up with its frames.

        Example
        -------
        >>> from speechbrain.processing.features import STFT
        >>> frontend = SpectralFrontEnd.from_speechbrain_stft(STFT(16000, n_fft=400))
        >>> (frontend.n_fft, frontend.win_length, frontend.hop_length)
        (400, 400, 160)
        """
        if not stft.onesided or stft.normalized_stft:
            raise ValueError("only one-sided, unnormalised SpeechBrain STFTs can be mirrored")
        return cls(
            sample_rate=stft.sample_rate,
            n_fft=stft.n_fft,
            win_length=stft.win_length,
            hop_length=stft.hop_length,
            window=stft.window.detach().clone(),
            center=stft.center,
            pad_mode=stft.pad_mode,
            **kwargs,
        )

    def export_config(self) -> dict:
        """Constructor arguments that rebuild this front-end, as plain values (for an exported YAML).

        A Hann or Hamming window is written by name, another one as its values; a filterbank
        given as ``mel_fbanks`` cannot be written (describe the model's input with an
        importable function instead).

        Example
        -------
        >>> fe = SpectralFrontEnd(n_fft=256, hop_length=64, n_mels=32)
        >>> SpectralFrontEnd(**fe.export_config()).export_config() == fe.export_config()
        True
        """
        if self._custom_fbanks:
            raise TypeError(
                "this SpectralFrontEnd was built with its own mel_fbanks tensor, which cannot be written to "
                "YAML; build it from n_mels/f_min/f_max/mel_scale/mel_norm, or compute the model's input "
                "in an importable function (input='package.module.function')")
        window = self.window.cpu()
        for name, make in (("hann", torch.hann_window), ("hamming", torch.hamming_window)):
            if torch.allclose(window, make(self.win_length), atol=1e-6):
                window = name
                break
        else:
            window = [float(v) for v in window]
        config = {"sample_rate": self.sample_rate, "n_fft": self.n_fft, "win_length": self.win_length,
                  "hop_length": self.hop_length, "window": window, "center": bool(self.center),
                  "pad_mode": self.pad_mode, "mask_domain": self.mask_domain}
        if self.n_mels:
            config.update(n_mels=int(self.n_mels), mel_power=self.mel_power, log_offset=self.log_offset,
                          **self._mel_options)
        return config

    @property
    def n_freqs(self) -> int:
        """Number of frequency bins."""
        return self.n_fft // 2 + 1

    @property
    def min_samples(self) -> int:
        """Shortest waveform accepted: one analysis window (one FFT frame when not centred)."""
        return self.win_length if self.center else self.n_fft

    def num_frames(self, num_samples: int) -> int:
        """Number of STFT frames for a waveform of ``num_samples``."""
        if self.center:
            return num_samples // self.hop_length + 1
        return (num_samples - self.n_fft) // self.hop_length + 1

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT, ``(batch, frames, freq)``."""
        wav = validate_waveform(wav, min_samples=self.min_samples)
        spec = torch.stft(
            wav,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.to(wav.device),
            center=self.center,
            pad_mode=self.pad_mode,
            return_complex=True,
        )
        return spec.transpose(1, 2)

    def forward(self, wav: torch.Tensor) -> Spectrum:
        """Analyse ``(batch, time)`` waveforms into a :class:`Spectrum`."""
        wav = validate_waveform(wav, min_samples=self.min_samples)
        spec = self.stft(wav)
        return Spectrum(spec.abs(), spec.angle(), wav.shape[-1])

    def istft(self, magnitude: torch.Tensor, phase: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Invert a magnitude with a phase to ``(batch, num_samples)`` waveforms."""
        if not self.center:
            return self._overlap_add(torch.polar(magnitude.float(), phase.float()), int(num_samples))
        spec = torch.polar(magnitude.float(), phase.float()).transpose(1, 2)
        return torch.istft(
            spec,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.to(magnitude.device),
            center=self.center,
            length=int(num_samples),
        )

    def _full_window(self, device) -> torch.Tensor:
        """The analysis window zero-padded to ``n_fft`` and centred, as ``torch.stft`` uses it."""
        left = (self.n_fft - self.win_length) // 2
        return nn.functional.pad(self.window.to(device), (left, self.n_fft - self.win_length - left))

    def _overlap_add(self, spec: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Least-squares inversion of an uncentred ``(batch, frames, freq)`` STFT.

        ``torch.istft`` refuses uncentred frames whose window envelope reaches zero at the
        edges; here the envelope is floored at a thousandth of its peak, so edge samples come
        back attenuated instead of failing, and samples after the last frame are silence.
        """
        frames = spec.shape[1]
        window = self._full_window(spec.device)
        chunks = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * window  # (batch, frames, n_fft)
        covered = (frames - 1) * self.hop_length + self.n_fft
        fold = dict(output_size=(1, covered), kernel_size=(1, self.n_fft), stride=(1, self.hop_length))
        wav = nn.functional.fold(chunks.transpose(1, 2), **fold)[:, 0, 0]
        envelope = nn.functional.fold(window.pow(2)[None, :, None].expand(1, -1, frames), **fold)[0, 0, 0]
        wav = wav / envelope.clamp_min(1e-3 * float(envelope.max()))
        if covered >= num_samples:
            return wav[:, :num_samples]
        return nn.functional.pad(wav, (0, num_samples - covered))

    def to_mask_domain(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Map a linear magnitude to the domain masks multiply."""
        return torch.log1p(magnitude) if self.mask_domain == "log1p_magnitude" else magnitude

    def from_mask_domain(self, values: torch.Tensor) -> torch.Tensor:
        """Map values in the mask domain back to a linear magnitude."""
        return torch.expm1(values) if self.mask_domain == "log1p_magnitude" else values

    def apply_mask(self, magnitude: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked linear magnitude: the mask multiplies the spectrogram in :attr:`mask_domain`.

        Example
        -------
        >>> frontend = SpectralFrontEnd(n_fft=8, mask_domain="log1p_magnitude")
        >>> frontend.apply_mask(torch.full((1, 1, 5), 3.0), torch.full((1, 1, 5), 0.5))[0, 0, 0]
        tensor(1.)
        """
        return self.from_mask_domain(mask * self.to_mask_domain(magnitude))

    def mel(self, magnitude: torch.Tensor, power: float | None = None) -> torch.Tensor:
        """``|X| ** power`` (default ``mel_power``) on the mel bands, ``(batch, frames, n_mels)``."""
        if not self.n_mels:
            raise ValueError("this front-end was built without n_mels; pass n_mels=... to use mel()")
        power = self.mel_power if power is None else power
        return (magnitude**power) @ self.mel_fbanks.to(magnitude.device)

    def log_mel(self, magnitude: torch.Tensor, eps: float | None = None) -> torch.Tensor:
        """``log(mel(|X|) + eps)`` with ``eps`` defaulting to ``log_offset``: the usual classifier input.

        Example
        -------
        >>> fe = SpectralFrontEnd(n_fft=64, n_mels=4, mel_power=1.0, log_offset=0.01)
        >>> mag = torch.ones(1, 2, 33)
        >>> torch.allclose(fe.log_mel(mag), torch.log(mag @ fe.mel_fbanks + 0.01))
        True
        """
        return torch.log(self.mel(magnitude) + (self.log_offset if eps is None else eps))

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, win_length={self.win_length}, "
            f"hop_length={self.hop_length}, center={self.center}, mask_domain={self.mask_domain}, "
            f"n_mels={self.n_mels}, mel_power={self.mel_power}, log_offset={self.log_offset}"
        )
