"""NMF dictionary: planted-dictionary recovery, scikit-learn parity, online updates, encoder, I/O."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from speechbrain_interp import synth
from speechbrain_interp.interpreters.nmf import (
    NMFDictionary,
    NMFEncoder,
    beta_divergence,
    multiplicative_update,
    reconstruction_error,
)
from speechbrain_interp.spectral import SpectralFrontEnd


@pytest.fixture(autouse=True)
def _one_thread():
    """Small matrices: one thread avoids thread synchronisation costs on a loaded 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def planted(n_clips=6, frames=60, n_freqs=48, k=4, seed=0):
    """Spectra ``W_true H_true`` with K well-separated spectral bumps and sparse activations."""
    g = torch.Generator().manual_seed(seed)
    bins = torch.arange(n_freqs, dtype=torch.float32)
    centres = torch.linspace(6, n_freqs - 6, k)
    W = torch.exp(-0.5 * ((bins[:, None] - centres[None]) / 2.5) ** 2)  # (F, K)
    W = W / W.norm(dim=0)
    H = torch.rand(n_clips, k, frames, generator=g) * (torch.rand(n_clips, k, frames, generator=g) > 0.5)
    return (W @ H).transpose(1, 2), W, H


def matched_cosines(W_est, W_true):
    """Best cosine similarity per true component over permutations of the estimated ones."""
    a = W_est / W_est.norm(dim=0).clamp_min(1e-12)
    b = W_true / W_true.norm(dim=0)
    cos = a.T @ b  # (K_est, K_true)
    k = W_true.shape[1]
    best = max(itertools.permutations(range(k)), key=lambda p: sum(cos[p[j], j] for j in range(k)))
    return torch.stack([cos[best[j], j] for j in range(k)])


@pytest.mark.parametrize("beta", ["frobenius", "kullback-leibler"])
def test_planted_dictionary_is_recovered_up_to_permutation(beta):
    x, W_true, _ = planted()
    nmf = NMFDictionary(n_components=4, n_freqs=x.shape[-1], beta=beta, domain="magnitude")
    nmf.fit(x, n_iter=400, tol=0)
    cos = matched_cosines(nmf.W, W_true)
    assert (cos > 0.99).all(), cos
    assert nmf.reconstruction_err_ < 0.03 * x.norm()


def test_normalized_dictionary_is_unit_norm_and_ordered_by_centroid():
    x, _, _ = planted()
    nmf = NMFDictionary(n_components=4, n_freqs=x.shape[-1], domain="magnitude")
    H = nmf.fit_transform(x, n_iter=300)
    assert torch.allclose(nmf.W.norm(dim=0), torch.ones(4), atol=1e-5)
    bins = torch.arange(x.shape[-1], dtype=torch.float32)
    centroid = (nmf.W * bins[:, None]).sum(0) / nmf.W.sum(0)
    assert (centroid.diff() > 0).all()
    # fit_transform's activations match the normalised dictionary
    assert reconstruction_error(x, nmf.reconstruct(H)) == pytest.approx(nmf.reconstruction_err_, rel=1e-4)


def _low_rank(seed=0, n=600, f=64, rank=6):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, rank, generator=g) @ torch.rand(rank, f, generator=g) + 0.05 * torch.rand(
        n, f, generator=g
    )


def _spectra(n_copies=1):
    """log1p magnitudes of synthesized clips (tones, siren, bark, noise), ``(clips, frames, freq)``."""
    fe = SpectralFrontEnd(n_fft=256, hop_length=128)
    clips = [synth.demo_clip(seconds=1.0), synth.siren(1.0), synth.noise(1.0, amplitude=0.1, seed=1),
             synth.siren(1.0, low=300, high=900), synth.tone(440, 1.0), synth.tone(1200, 1.0)]
    wav = torch.stack(clips * n_copies) * torch.linspace(0.3, 1, len(clips) * n_copies)[:, None]
    return fe.to_mask_domain(fe(wav).magnitude)


@pytest.mark.parametrize("beta", ["frobenius", "kullback-leibler"])
@pytest.mark.parametrize("init", ["nndsvda", "random"])
def test_same_error_as_sklearn_on_spectrograms(beta, init):
    """Reconstruction error within 5 % of scikit-learn's ``NMF(solver="mu")`` on the same data."""
    sk = pytest.importorskip("sklearn.decomposition")
    x = _spectra()
    ref = sk.NMF(10, solver="mu", beta_loss=beta, init=init, max_iter=200, tol=0, random_state=0)
    ref.fit(x.reshape(-1, x.shape[-1]).double().numpy())
    _, _, info = multiplicative_update(x, 10, beta=beta, n_iter=200, tol=0, init=init)
    if init == "nndsvda":  # deterministic start: the same optimum
        assert info["error"] == pytest.approx(ref.reconstruction_err_, rel=0.05)
    else:  # different random draws: no worse than 5 % above scikit-learn
        assert info["error"] < 1.05 * ref.reconstruction_err_


@pytest.mark.parametrize("beta", ["frobenius", "kullback-leibler", 0.5, 3.0])
def test_identical_iterates_to_sklearn_from_the_same_start(beta):
    """Same start, same number of updates: the same factorisation (sklearn's W = our H^T)."""
    sk = pytest.importorskip("sklearn.decomposition")
    x = _low_rank(n=200, f=32)
    g = torch.Generator().manual_seed(1)
    a0 = torch.rand(200, 5, generator=g, dtype=torch.float64) + 0.1
    d0 = torch.rand(5, 32, generator=g, dtype=torch.float64) + 0.1
    ref = sk.NMF(5, solver="mu", beta_loss=beta, init="custom", max_iter=50, tol=0)
    a_ref = ref.fit_transform(x.double().numpy(), W=a0.numpy().copy(), H=d0.numpy().copy())
    W, H, info = multiplicative_update(x.double(), beta=beta, n_iter=50, tol=0, dictionary=d0.T,
                                       activations=a0.T)
    assert info["error"] == pytest.approx(ref.reconstruction_err_, rel=1e-6)
    assert torch.allclose(W.T, torch.from_numpy(ref.components_), rtol=1e-5, atol=1e-8)
    assert torch.allclose(H.T, torch.from_numpy(a_ref), rtol=1e-5, atol=1e-8)


def test_transform_matches_sklearn_transform():
    sk = pytest.importorskip("sklearn.decomposition")
    x = _low_rank(n=300, f=40)
    ref = sk.NMF(6, solver="mu", init="nndsvda", max_iter=300, tol=0).fit(x.double().numpy())
    nmf = NMFDictionary(6, 40, domain="magnitude", W=torch.from_numpy(ref.components_).T.float())
    H = nmf.transform(x, n_iter=300, tol=0)
    ref_err = math.sqrt(2 * float(beta_divergence(x.double(), torch.from_numpy(
        ref.transform(x.double().numpy()) @ ref.components_), 2)))
    assert reconstruction_error(x, nmf.reconstruct(H)) == pytest.approx(ref_err, rel=0.05)


def test_cached_euclidean_transform_has_the_generic_iterates():
    from speechbrain_interp.interpreters.nmf import _update_activations

    x, W, _ = planted(n_clips=2)
    a = torch.full((2, x.shape[1], 4), 0.3)
    for _ in range(25):
        a = _update_activations(x, a, W.T, 2.0, 1.0)
    _, H, _ = multiplicative_update(x, beta=2, n_iter=25, tol=0, dictionary=W, activations=torch.full(
        (2, 4, x.shape[1]), 0.3), update_dictionary=False)
    assert torch.allclose(H, a.transpose(1, 2), rtol=1e-4, atol=1e-6)


def test_batched_fit_equals_fit_on_concatenated_frames():
    x, _, _ = planted(n_clips=3)
    _, _, batched = multiplicative_update(x, 4, n_iter=50, tol=0, init="nndsvda")
    _, _, flat = multiplicative_update(x.reshape(1, -1, x.shape[-1]), 4, n_iter=50, tol=0, init="nndsvda")
    assert batched["error"] == pytest.approx(flat["error"], rel=1e-4)


def test_online_updates_approach_the_full_batch_fit():
    x = _spectra(n_copies=4)
    full = NMFDictionary(10, x.shape[-1]).fit(x, n_iter=200, tol=0)
    online = NMFDictionary(10, x.shape[-1])
    for epoch in range(6):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for batch in x[order].split(4):
            online.partial_fit(batch, forget_factor=0.5)
    assert online.error(x) < 1.05 * full.error(x)


def test_online_updates_recover_a_planted_dictionary():
    x, W_true, _ = planted(n_clips=16, frames=40, seed=3)
    online = NMFDictionary(4, x.shape[-1], domain="magnitude")
    for _ in range(5):
        for batch in x.split(4):
            online.partial_fit(batch)
    assert (matched_cosines(online.W, W_true) > 0.99).all()


def test_online_state_is_checkpointed_in_the_state_dict():
    x, _, _ = planted()
    nmf = NMFDictionary(4, x.shape[-1], domain="magnitude")
    nmf.partial_fit(x[:3])
    copy = NMFDictionary(4, x.shape[-1], domain="magnitude")
    copy.load_state_dict(nmf.state_dict())
    nmf.partial_fit(x[3:])
    copy.partial_fit(x[3:])
    assert torch.allclose(nmf.W, copy.W)


def test_divergences_by_hand():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0])
    assert float(beta_divergence(x, y, 2)) == pytest.approx(0.5)
    assert float(beta_divergence(x, y, 1)) == pytest.approx(math.log(0.5) - 1 + 2)
    assert float(beta_divergence(x, y, 0)) == pytest.approx(0.5 - math.log(0.5) - 1)
    beta = 3.0
    expected = sum((a**beta + (beta - 1) * b**beta - beta * a * b ** (beta - 1)) / (beta * (beta - 1))
                   for a, b in [(1.0, 2.0), (2.0, 2.0)])
    assert float(beta_divergence(x, y, beta)) == pytest.approx(expected)
    assert float(beta_divergence(torch.zeros(2), torch.ones(2), "kl")) == pytest.approx(2.0)


def test_bad_inputs_are_refused():
    nmf = NMFDictionary(3, 10, domain="magnitude")
    with pytest.raises(ValueError, match="non-negative"):
        nmf.fit(-torch.ones(1, 5, 10))
    with pytest.raises(ValueError, match="frequency bins"):
        nmf.transform(torch.ones(1, 5, 11))
    with pytest.raises(ValueError, match="strictly positive"):
        multiplicative_update(torch.zeros(1, 5, 10), 2, beta="itakura-saito")
    with pytest.raises(ValueError, match="domain"):
        NMFDictionary(3, 10, domain="power")
    with pytest.raises(ValueError, match="unknown beta"):
        NMFDictionary(3, 10, beta="cosine")


def test_itakura_saito_decreases_the_divergence():
    x = _low_rank(n=100, f=20) + 0.1
    _, _, short = multiplicative_update(x, 4, beta="itakura-saito", n_iter=5, tol=0)
    _, _, long = multiplicative_update(x, 4, beta="itakura-saito", n_iter=100, tol=0)
    assert long["error"] < short["error"]


def test_save_and_load_roundtrip(tmp_path):
    x, _, _ = planted()
    nmf = NMFDictionary(4, x.shape[-1], beta="kl", domain="magnitude").fit(x, n_iter=100)
    path = nmf.save(tmp_path / "d.safetensors", sample_rate=16000, n_fft=94)
    again = NMFDictionary.load(path)
    assert torch.equal(again.W, nmf.W)
    assert (again.beta, again.domain, again.n_components) == (1.0, "magnitude", 4)
    assert again.metadata["n_fft"] == "94"
    with pytest.raises(FileNotFoundError, match="train_nmf"):
        NMFDictionary.load(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    save_file({"W": torch.ones(2, 2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a speechbrain_interp NMF"):
        NMFDictionary.load(tmp_path / "other.safetensors")


def test_amortised_encoder_learns_and_roundtrips(tmp_path):
    x, W_true, _ = planted(n_clips=8)
    nmf = NMFDictionary(4, x.shape[-1], domain="magnitude", W=W_true)
    enc = NMFEncoder(n_freqs=x.shape[-1], n_components=4, channels=32)
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)
    first = float(enc.loss(x, nmf).detach())
    for _ in range(150):
        opt.zero_grad()
        loss = enc.loss(x, nmf)
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.1 * first
    # the encoder's activations warm-start the multiplicative updates
    warm = nmf.error(x, H=nmf.transform(x, n_iter=20, H=enc(x).detach()))
    cold = nmf.error(x, H=nmf.transform(x, n_iter=20))
    assert warm < cold
    path = enc.save(tmp_path / "enc.safetensors")
    other = NMFEncoder(n_freqs=x.shape[-1], n_components=4, channels=32).load(path)
    assert torch.allclose(other(x), enc(x))
