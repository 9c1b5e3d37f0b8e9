"""Spectral front-end: exact round trip, mask domains, mel projection, SpeechBrain STFT parity."""

import pytest
import torch
from speechbrain.processing.features import STFT

from speechbrain_interp.audio import AudioTooShortError
from speechbrain_interp.spectral import SpectralFrontEnd


@pytest.mark.parametrize("length", [1024, 4000, 16000, 16001, 16159, 80000])
@pytest.mark.parametrize("window", ["hann", "hamming"])
def test_round_trip_below_1e5(length, window):
    fe = SpectralFrontEnd(sample_rate=16000, n_fft=1024, win_length=640, hop_length=320, window=window)
    wav = torch.randn(3, length) * 0.3
    spec = fe(wav)
    rebuilt = fe.istft(spec.magnitude, spec.phase, spec.num_samples)
    assert rebuilt.shape == wav.shape
    assert (rebuilt - wav).abs().max().item() < 1e-5


def test_lengths_not_multiple_of_hop_and_frame_count():
    fe = SpectralFrontEnd(n_fft=512, hop_length=160)
    for length in (1000, 1601, 3333):
        spec = fe(torch.randn(1, length))
        assert spec.magnitude.shape == (1, fe.num_frames(length), 257)


def test_full_mask_is_identity_and_zero_mask_is_silence():
    for domain in ("magnitude", "log1p_magnitude"):
        fe = SpectralFrontEnd(n_fft=256, hop_length=64, mask_domain=domain)
        wav = torch.randn(2, 3000)
        spec = fe(wav)
        full = fe.istft(fe.apply_mask(spec.magnitude, torch.ones_like(spec.magnitude)), spec.phase, 3000)
        assert torch.allclose(full, wav, atol=1e-5)
        none = fe.istft(fe.apply_mask(spec.magnitude, torch.zeros_like(spec.magnitude)), spec.phase, 3000)
        assert none.abs().max() < 1e-6


def test_log1p_domain_definition():
    fe = SpectralFrontEnd(n_fft=64, mask_domain="log1p_magnitude")
    mag = torch.tensor([[[0.0, 1.0, 10.0]]])
    mask = torch.tensor([[[0.5, 0.5, 0.25]]])
    expected = torch.expm1(mask * torch.log1p(mag))
    assert torch.allclose(fe.apply_mask(mag, mask), expected)
    linear = SpectralFrontEnd(n_fft=64, mask_domain="magnitude")
    assert torch.allclose(linear.apply_mask(mag, mask), mask * mag)


def test_mask_gradients_are_finite_on_silence():
    fe = SpectralFrontEnd(n_fft=256, hop_length=64, n_mels=20)
    spec = fe(torch.zeros(1, 2000))
    mask = torch.full_like(spec.magnitude, 0.5, requires_grad=True)
    out = fe.log_mel(fe.apply_mask(spec.magnitude, mask)).sum()
    out.backward()
    assert torch.isfinite(mask.grad).all()


def test_mel_projection_matches_torchaudio():
    import torchaudio

    fe = SpectralFrontEnd(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40, pad_mode="reflect")
    wav = torch.randn(1, 8000)
    ours = fe.mel(fe(wav).magnitude)  # (batch, frames, mels)
    ref = torchaudio.transforms.MelSpectrogram(16000, n_fft=512, hop_length=160, n_mels=40, power=2.0)(wav)
    assert torch.allclose(ours, ref.transpose(1, 2), rtol=1e-4, atol=1e-4)


def test_mirrors_speechbrain_stft():
    sb_stft = STFT(sample_rate=16000, n_fft=1024, win_length=40, hop_length=20)
    fe = SpectralFrontEnd.from_speechbrain_stft(sb_stft)
    wav = torch.randn(2, 16000)
    sb_out = sb_stft(wav)  # (batch, frames, freq, 2)
    sb_mag = sb_out.pow(2).sum(-1).sqrt()
    assert torch.allclose(fe(wav).magnitude, sb_mag, atol=1e-4)
    spec = fe(wav)  # and the hamming-window inverse is exact too
    assert (fe.istft(spec.magnitude, spec.phase, 16000) - wav).abs().max() < 1e-5


def test_bad_settings_and_short_input():
    with pytest.raises(ValueError, match="mask_domain"):
        SpectralFrontEnd(mask_domain="power")
    with pytest.raises(ValueError, match="window"):
        SpectralFrontEnd(window="kaiser")
    with pytest.raises(ValueError, match="n_mels"):
        SpectralFrontEnd(n_fft=64).mel(torch.ones(1, 2, 33))
    fe = SpectralFrontEnd(n_fft=512)
    with pytest.raises(AudioTooShortError, match="512"):
        fe(torch.zeros(1, 100))


# --- models with their own front-end: uncentred STFTs, explicit log-mel -------------------
def _uncentred():
    return SpectralFrontEnd(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, center=False,
                            n_mels=32, mel_power=1.0, log_offset=0.01)


def test_uncentred_stft_inverts_with_exact_length_and_the_brick_explains():
    from speechbrain_interp.adapters import TorchClassifier
    from speechbrain_interp.interpreters.baselines import Saliency

    fe = _uncentred()
    wav = torch.randn(2, 16123)
    spec = fe(wav)
    assert spec.magnitude.shape[1] == fe.num_frames(16123)
    rebuilt = fe.istft(spec.magnitude, spec.phase, spec.num_samples)
    assert rebuilt.shape == wav.shape
    covered = (fe.num_frames(16123) - 1) * fe.hop_length + fe.n_fft
    inner = slice(fe.n_fft, covered - fe.n_fft)  # where frames overlap fully
    assert (rebuilt[:, inner] - wav[:, inner]).abs().max() < 1e-4
    assert rebuilt[:, covered:].abs().max() == 0  # no frame covers the tail: silence
    net = torch.nn.Sequential(torch.nn.Linear(32, 3))
    adapter = TorchClassifier(torch.nn.Sequential(), fe, input=lambda f, mag, ph: net(f.log_mel(mag)).mean(1))
    e = Saliency(adapter).explain(wav)
    assert e.interpretation.shape == wav.shape and torch.isfinite(e.interpretation).all()


def test_uncentred_clips_shorter_than_one_fft_frame_are_refused_up_front():
    from speechbrain_interp.audio import AudioTooShortError

    fe = _uncentred()
    assert fe.min_samples == 512
    with pytest.raises(AudioTooShortError):
        fe(torch.randn(1, 450))
    assert fe(torch.randn(1, 512)).magnitude.shape[1] == 1


def test_log_mel_power_offset_and_filterbank_are_explicit():
    fe = _uncentred()
    mag = torch.rand(1, 5, fe.n_freqs)
    assert torch.allclose(fe.log_mel(mag), torch.log(mag @ fe.mel_fbanks + 0.01))
    power = SpectralFrontEnd(n_fft=512, n_mels=32)  # the default stays log(|X|^2 @ mel + 1e-6)
    assert torch.allclose(power.log_mel(mag), torch.log(mag.pow(2) @ power.mel_fbanks + 1e-6))
    slaney = SpectralFrontEnd(n_fft=512, n_mels=32, mel_scale="slaney", mel_norm="slaney")
    assert not torch.allclose(slaney.mel_fbanks, power.mel_fbanks)
    own = torch.rand(fe.n_freqs, 8)
    custom = SpectralFrontEnd(n_fft=512, mel_fbanks=own)
    assert custom.n_mels == 8 and torch.equal(custom.mel_fbanks, own)
    with pytest.raises(ValueError, match="transpose"):
        SpectralFrontEnd(n_fft=512, mel_fbanks=own.T)
