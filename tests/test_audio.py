"""Audio I/O: formats, resampling, downmixing and one clear error per kind of bad input."""

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_interp.audio import (
    AudioError,
    AudioFileNotFoundError,
    AudioFormatError,
    AudioTooShortError,
    CorruptAudioError,
    EmptyAudioError,
    NonFiniteAudioError,
    load_audio,
    save_audio,
    validate_waveform,
)
from speechbrain_interp.synth import tone


@pytest.mark.parametrize("fmt,subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"),
                                         ("mp3", "MPEG_LAYER_III")])
def test_reads_common_formats(tmp_path, fmt, subtype):
    wav = tone(440.0, 1.0, 16000).numpy()
    path = tmp_path / f"tone.{fmt}"
    try:
        sf.write(str(path), wav, 16000, format=fmt.upper(), subtype=subtype)
    except (sf.LibsndfileError, ValueError, TypeError) as err:  # pragma: no cover - old libsndfile
        pytest.skip(f"libsndfile cannot write {fmt}: {err}")
    out = load_audio(path, sample_rate=16000)
    assert out.dtype == torch.float32 and out.dim() == 1
    assert abs(out.shape[0] - 16000) < 2000  # mp3 adds encoder padding
    # the tone survives lossy coding: its energy is near 440 Hz
    spectrum = torch.fft.rfft(out[:16000] if out.shape[0] >= 16000 else out).abs()
    peak_hz = spectrum.argmax().item() * 16000 / (2 * (spectrum.shape[0] - 1))
    assert abs(peak_hz - 440) < 10


def test_resamples_and_downmixes(tmp_path):
    left = tone(440.0, 1.0, 44100).numpy()
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    path = tmp_path / "stereo44k.wav"
    sf.write(str(path), stereo, 44100)
    out = load_audio(path, sample_rate=16000)
    assert out.shape == (16000,)
    # mono is the channel mean: half the amplitude of the only non-silent channel
    assert out.abs().max().item() == pytest.approx(0.25, abs=0.02)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match="nope.wav"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError for callers that catch that
        load_audio(tmp_path / "nope.wav")


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match="directory"):
        load_audio(tmp_path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(CorruptAudioError, match="broken.wav"):
        load_audio(path)
    text = tmp_path / "notes.flac"
    text.write_text("this is not audio")
    with pytest.raises(CorruptAudioError, match="notes.flac"):
        load_audio(text)


def test_zero_length_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(EmptyAudioError, match="empty.wav"):
        load_audio(path)


def test_nan_and_inf_samples(tmp_path):
    data = tone(440.0, 0.5).numpy()
    data[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), data, 16000, subtype="FLOAT")
    with pytest.raises(NonFiniteAudioError, match="nan.wav"):
        load_audio(path)
    with pytest.raises(NonFiniteAudioError, match="1 NaN or Inf"):
        validate_waveform(torch.tensor([0.0, float("inf"), 0.0]))


def test_too_short(tmp_path):
    path = tmp_path / "short.wav"
    save_audio(path, torch.zeros(100), 16000)
    with pytest.raises(AudioTooShortError, match="short.wav.*100 samples.*400"):
        load_audio(path, min_samples=400)


@pytest.mark.parametrize(
    "bad,pattern",
    [
        (torch.zeros(2, 3, 100), "shape"),
        (torch.zeros(100, dtype=torch.int16), "dtype"),
        (torch.zeros(100, dtype=torch.complex64), "dtype"),
        ([0.0, 0.1], "torch.Tensor"),
    ],
)
def test_bad_tensors(bad, pattern):
    with pytest.raises(AudioFormatError, match=pattern):
        validate_waveform(bad)


def test_wrong_sample_rate_is_refused():
    with pytest.raises(AudioFormatError, match="8000 Hz but the model expects 16000"):
        validate_waveform(torch.zeros(8000), sample_rate=8000, expected_rate=16000)


def test_empty_tensor():
    with pytest.raises(EmptyAudioError):
        validate_waveform(torch.zeros(0))
    with pytest.raises(EmptyAudioError):
        validate_waveform(torch.zeros(0, 100))


def test_silence_is_valid():
    out = validate_waveform(torch.zeros(16000), min_samples=400)
    assert out.shape == (1, 16000) and out.abs().sum() == 0


def test_every_error_is_an_audio_error():
    for cls in (AudioFileNotFoundError, CorruptAudioError, EmptyAudioError, NonFiniteAudioError,
                AudioTooShortError, AudioFormatError):
        assert issubclass(cls, AudioError)


def test_save_round_trip_clips_peaks(tmp_path):
    path = tmp_path / "loud.wav"
    save_audio(path, torch.tensor([0.0, 2.0, -2.0, 0.5] * 200), 16000)
    out = load_audio(path, sample_rate=16000)
    assert out.abs().max() <= 1.0
    assert out[3].item() == pytest.approx(0.5, abs=1e-3)


def test_a_truncated_wav_is_refused_naming_both_lengths(tmp_path):
    path = tmp_path / "cut.wav"
    save_audio(path, 0.1 * torch.randn(80000), 16000)
    with open(path, "r+b") as f:
        f.truncate(44 + 2 * 39989)
    with pytest.raises(CorruptAudioError, match=r"cut\.wav.*truncated.*declares 80000 samples.*holds 39989"):
        load_audio(path, 16000)


def test_a_zero_byte_file_says_it_is_empty(tmp_path):
    path = tmp_path / "nothing.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match=r"nothing\.wav.*empty \(0 bytes\)"):
        load_audio(path, 16000)
