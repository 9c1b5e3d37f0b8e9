"""Audio input and output with validation that names the file and the problem.

Every interpreter receives audio through this module, so a bad file fails here,
once, with a specific exception, instead of as a shape error deep in a model.
``torchaudio.load`` needs torchcodec, which is often unavailable, so files are
read and written with ``soundfile`` (wav, flac, ogg and mp3 through libsndfile).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

__all__ = [
    "AudioError",
    "AudioFileNotFoundError",
    "CorruptAudioError",
    "EmptyAudioError",
    "NonFiniteAudioError",
    "AudioTooShortError",
    "declared_wav_frames",
    "AudioFormatError",
    "load_audio",
    "save_audio",
    "to_mono",
    "resample",
    "validate_waveform",
]


class AudioError(ValueError):
    """Base class of every audio input problem; the message names the source."""


class AudioFileNotFoundError(AudioError, FileNotFoundError):
    """The audio file does not exist."""


class CorruptAudioError(AudioError):
    """The file exists but cannot be decoded as audio."""


class EmptyAudioError(AudioError):
    """The audio holds zero samples."""


class NonFiniteAudioError(AudioError):
    """The audio holds NaN or Inf samples."""


class AudioTooShortError(AudioError):
    """The audio is shorter than one analysis window."""


class AudioFormatError(AudioError, TypeError):
    """A tensor has the wrong shape or dtype to be a waveform."""


def _describe(source) -> str:
    return f"'{source}'" if source is not None else "the input waveform"


def to_mono(wav: torch.Tensor) -> torch.Tensor:
    """Average channels of a ``(time, channels)`` waveform into ``(time,)``.

    Arguments
    ---------
    wav : torch.Tensor
        ``(time,)`` or ``(time, channels)``, as soundfile returns it.

    Returns
    -------
    torch.Tensor
        ``(time,)``.

    Example
    -------
    >>> to_mono(torch.ones(4, 2)).shape
    torch.Size([4])
    """
    return wav.mean(dim=-1) if wav.dim() == 2 else wav


def resample(wav: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample along the last axis with torchaudio's band-limited sinc filter.

    Example
    -------
    >>> resample(torch.zeros(1, 44100), 44100, 16000).shape
    torch.Size([1, 16000])
    """
    if orig_rate == new_rate:
        return wav
    return AF.resample(wav, orig_freq=int(orig_rate), new_freq=int(new_rate))


def validate_waveform(
    wav,
    min_samples: int = 1,
    source=None,
    sample_rate: int | None = None,
    expected_rate: int | None = None,
) -> torch.Tensor:
    """Check that ``wav`` is a usable batch of mono waveforms and return it as ``(batch, time)``.

    All-silent audio is valid: explanations of silence must come out finite.

    Arguments
    ---------
    wav : torch.Tensor or numpy.ndarray
        ``(time,)`` or ``(batch, time)`` floating-point samples.
    min_samples : int
        Shortest accepted length, usually one STFT window.
    source : str, optional
        File name or description used in error messages.
    sample_rate, expected_rate : int, optional
        When both are given they must agree; tensors are never resampled silently.

    Returns
    -------
    torch.Tensor
        ``(batch, time)`` float32.

    Raises
    ------
    AudioFormatError, EmptyAudioError, NonFiniteAudioError, AudioTooShortError

    Example
    -------
    >>> validate_waveform(torch.zeros(16000), min_samples=400).shape
    torch.Size([1, 16000])
    >>> validate_waveform(torch.full((800,), float("nan")))
    Traceback (most recent call last):
    ...
    speechbrain_interp.audio.NonFiniteAudioError: the input waveform contains 800 NaN or Inf samples ...
    """
    where = _describe(source)
    if isinstance(wav, np.ndarray):
        wav = torch.from_numpy(np.ascontiguousarray(wav))
    if not isinstance(wav, torch.Tensor):
        raise AudioFormatError(
            f"{where} must be a torch.Tensor or numpy array, got {type(wav).__name__}"
        )
    if wav.is_complex() or not wav.is_floating_point():
        raise AudioFormatError(
            f"{where} has dtype {wav.dtype}; expected floating-point samples in [-1, 1] "
            "(convert integer PCM with wav.float() / 32768)"
        )
    if wav.dim() == 1:
        wav = wav.unsqueeze(0)
    if wav.dim() != 2:
        raise AudioFormatError(
            f"{where} has shape {tuple(wav.shape)}; expected (time,) or (batch, time) mono audio. "
            "Downmix multichannel audio first, e.g. with speechbrain_interp.audio.to_mono"
        )
    if sample_rate is not None and expected_rate is not None and sample_rate != expected_rate:
        raise AudioFormatError(
            f"{where} is sampled at {sample_rate} Hz but the model expects {expected_rate} Hz; "
            "resample it with speechbrain_interp.audio.resample"
        )
    if wav.shape[-1] == 0 or wav.shape[0] == 0:
        raise EmptyAudioError(f"{where} is empty (0 samples)")
    # one reduction for the common case: NaN/Inf propagate through the sum (a finite-sample
    # overflow only costs the exact count below)
    bad = 0 if torch.isfinite(wav.sum()) else (~torch.isfinite(wav)).sum().item()
    if bad:
        raise NonFiniteAudioError(
            f"{where} contains {bad} NaN or Inf samples out of {wav.numel()}; "
            "the recording or an upstream processing step is broken"
        )
    if wav.shape[-1] < min_samples:
        raise AudioTooShortError(
            f"{where} has {wav.shape[-1]} samples, shorter than one analysis window "
            f"({min_samples} samples); pad it or use a longer clip"
        )
    return wav.float()


def declared_wav_frames(path) -> tuple[int, int] | None:
    """``(frames the WAV header declares, frames the file holds)``, or None if it is not a WAV.

    libsndfile quietly reads what is there when a WAV file is cut short (a failed copy or
    download): the header's ``data`` chunk size still says how long it should be. Streamed
    WAVs that leave the size unset (0 or 0xFFFFFFFF) give None.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> save_audio(path, torch.zeros(800), 8000)
    >>> declared_wav_frames(path)
    (800, 800)
    >>> _ = open(path, "r+b").truncate(44 + 2 * 300)
    >>> declared_wav_frames(path)
    (800, 300)
    """
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, length = chunk[:4], int.from_bytes(chunk[4:], "little")
            if cid == b"fmt ":
                fmt = f.read(length)
                block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
                f.seek(length % 2, 1)
            elif cid == b"data":
                if not block_align or length in (0, 0xFFFFFFFF):
                    return None
                held = max(0, size - f.tell())
                return length // block_align, min(length, held) // block_align
            else:
                f.seek(length + length % 2, 1)


def load_audio(path, sample_rate: int = 16000, min_samples: int = 1) -> torch.Tensor:
    """Read an audio file as a mono float waveform at ``sample_rate``.

    Arguments
    ---------
    path : str or Path
        A wav, flac, ogg or mp3 file.
    sample_rate : int
        The rate the model expects; other rates are resampled.
    min_samples : int
        Shortest accepted length after resampling, usually one STFT window.

    Returns
    -------
    torch.Tensor
        ``(time,)`` float32.

    Raises
    ------
    AudioFileNotFoundError, CorruptAudioError, EmptyAudioError, NonFiniteAudioError,
    AudioTooShortError

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> save_audio(path, torch.sin(torch.arange(8000) * 0.1), 8000)
    >>> load_audio(path, sample_rate=16000).shape
    torch.Size([16000])
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise AudioFileNotFoundError(f"audio file '{path}' does not exist")
    if path.is_dir():
        raise AudioFileNotFoundError(f"'{path}' is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"audio file '{path}' is empty (0 bytes); copy or export it again")
    frames = declared_wav_frames(path)
    if frames is not None and frames[1] < frames[0]:
        raise CorruptAudioError(
            f"audio file '{path}' is truncated: its header declares {frames[0]} samples, the file "
            f"holds {frames[1]}; copy or export it again")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile raises several types for bad files
        raise CorruptAudioError(
            f"cannot decode audio file '{path}': {err}. "
            "Supported formats: wav, flac, ogg, mp3"
        ) from err
    wav = to_mono(torch.from_numpy(data))
    if wav.numel() == 0:
        raise EmptyAudioError(f"audio file '{path}' holds 0 samples")
    validate_waveform(wav, min_samples=1, source=path)
    wav = resample(wav.unsqueeze(0), rate, sample_rate).squeeze(0)
    return validate_waveform(wav, min_samples=min_samples, source=path).squeeze(0)


def save_audio(path, wav: torch.Tensor, sample_rate: int) -> None:
    """Write a mono waveform as 16-bit PCM (playable by every browser); peaks are clipped.

    Arguments
    ---------
    path : str or Path
        Output file; the extension picks the format (``.wav`` or ``.flac``).
    wav : torch.Tensor
        ``(time,)`` or ``(1, time)`` samples in [-1, 1].
    sample_rate : int
        Sample rate in Hz.

    Example
    -------
    >>> import tempfile, os
    >>> save_audio(os.path.join(tempfile.mkdtemp(), "x.wav"), torch.zeros(100), 16000)
    """
    data = wav.detach().float().cpu().reshape(-1).clamp(-1.0, 1.0).numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() != ".wav":
        sf.write(str(path), data, int(sample_rate), subtype="PCM_16")
        return
    # the standard library's writer, with the samples rounded to 16 bits here, is about five
    # times faster than libsndfile's conversion; the CLI writes three WAVs per clip
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        # scaled by 2 ** 15 as libsndfile writes and reads 16-bit PCM, so a round trip is exact to 2 ** -16
        out.writeframes(np.clip(np.round(data * 32768.0), -32768, 32767).astype("<i2").tobytes())
