"""NMF dictionaries of spectral components, learned in torch, batched, on CPU or GPU.

L2I explains a classifier with the activations of a fixed dictionary of spectral
components (Parekh et al., NeurIPS 2022). This module learns that dictionary.

Notation: a spectrogram ``X`` in the front-end's mask domain (linear magnitude or
``log1p`` magnitude, :class:`~speechbrain_interp.spectral.SpectralFrontEnd`) is
``(batch, frames, freq)`` here, like everywhere in the package. NMF approximates
each clip as ``X_b^T ~= W H_b`` with a dictionary ``W`` of shape ``(freq, K)``
shared by all clips and non-negative activations ``H_b`` of shape ``(K, frames)``.
Frames are independent columns, so a batch of clips is one big matrix and every
update below is a handful of batched matrix products.

Two ways to get activations, both provided:

* classic multiplicative updates (Lee & Seung 2001; Fevotte & Idier 2011) that
  minimise the beta-divergence ``D_beta(X | W H)`` (``beta = 2`` Euclidean,
  ``1`` Kullback-Leibler, ``0`` Itakura-Saito, or any float): :class:`NMFDictionary`
  with :meth:`~NMFDictionary.fit` (full batch), :meth:`~NMFDictionary.partial_fit`
  (online mini-batches, Lefevre et al. 2011, as ``sklearn.decomposition.MiniBatchNMF``)
  and :meth:`~NMFDictionary.transform` (activations for a fixed dictionary);
* an amortised encoder, :class:`NMFEncoder`, a small network trained to output the
  activations in one forward pass, as SpeechBrain's ``recipes/ESC50/interpret`` does.

The updates follow scikit-learn's ``solver="mu"`` step for step (same order, same
``float32``-epsilon guards, same maximisation-minimisation exponent), so results
match ``sklearn.decomposition.NMF`` (tested) while running batched in ``float32`` on
any device. Dictionaries are saved with safetensors, never pickle.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "beta_value",
    "beta_divergence",
    "reconstruction_error",
    "multiplicative_update",
    "NMFDictionary",
    "NMFEncoder",
]

EPSILON = float(torch.finfo(torch.float32).eps)
_BETAS = {
    "frobenius": 2.0, "euclidean": 2.0, "kullback-leibler": 1.0, "kl": 1.0,
    "itakura-saito": 0.0, "is": 0.0,
}
_FORMAT = "speechbrain_interp.nmf/1"


def beta_value(beta) -> float:
    """The float ``beta`` of a divergence given by name or number.

    Example
    -------
    >>> beta_value("kullback-leibler"), beta_value(2)
    (1.0, 2.0)
    """
    if isinstance(beta, str):
        key = beta.lower()
        if key not in _BETAS:
            raise ValueError(f"unknown beta divergence '{beta}'; use a float or one of {sorted(_BETAS)}")
        return _BETAS[key]
    return float(beta)


def _gamma(beta: float) -> float:
    """Exponent of the maximisation-minimisation updates (Fevotte & Idier 2011), in ]0, 1]."""
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


def beta_divergence(x: torch.Tensor, y: torch.Tensor, beta=2.0, reduction: str = "sum") -> torch.Tensor:
    """Beta-divergence ``D_beta(x | y)`` between non-negative tensors.

    ``beta = 2``: ``(x - y)^2 / 2``; ``beta = 1``: ``x log(x / y) - x + y``;
    ``beta = 0``: ``x / y - log(x / y) - 1``; otherwise
    ``(x^b + (b - 1) y^b - b x y^(b - 1)) / (b (b - 1))``. Zeros are guarded with the
    ``float32`` epsilon, as scikit-learn does.

    Arguments
    ---------
    x, y : torch.Tensor
        Data and approximation, same shape.
    beta : float or str
        See :func:`beta_value`.
    reduction : str
        ``"sum"``, ``"mean"`` or ``"batch"`` (sum over all but the first dimension).

    Example
    -------
    >>> x = torch.tensor([[1.0, 2.0]])
    >>> float(beta_divergence(x, torch.tensor([[1.0, 1.0]]), 2))
    0.5
    >>> round(float(beta_divergence(x, x, "kullback-leibler")), 6)
    0.0
    """
    beta = beta_value(beta)
    if beta == 2:
        div = 0.5 * (x - y) ** 2
    elif beta == 1:
        y_safe = y.clamp_min(EPSILON)
        keep = x > EPSILON
        div = torch.where(keep, x * torch.log(torch.where(keep, x, 1.0) / y_safe), 0.0) - x + y
    elif beta == 0:
        ratio = x.clamp_min(EPSILON) / y.clamp_min(EPSILON)
        div = ratio - torch.log(ratio) - 1.0
    else:
        y_safe = y.clamp_min(EPSILON) if beta < 2 else y
        div = (x**beta + (beta - 1.0) * y_safe**beta - beta * x * y_safe ** (beta - 1.0)) / (
            beta * (beta - 1.0)
        )
    if reduction == "sum":
        return div.sum()
    if reduction == "mean":
        return div.mean()
    if reduction == "batch":
        return div.flatten(1).sum(1)
    raise ValueError(f"reduction must be 'sum', 'mean' or 'batch', got '{reduction}'")


def reconstruction_error(x: torch.Tensor, y: torch.Tensor, beta=2.0) -> float:
    """``sqrt(2 D_beta(x | y))``, the number ``sklearn.decomposition.NMF.reconstruction_err_`` reports.

    For ``beta = 2`` it is the Frobenius norm ``||x - y||``.

    Example
    -------
    >>> reconstruction_error(torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0]))
    5.0
    """
    return math.sqrt(max(0.0, 2.0 * float(beta_divergence(x.double(), y.double(), beta))))


# --- multiplicative updates -----------------------------------------------------------------
# X: (B, T, F) data; A: (B, T, K) activations (H transposed, frames as rows); D: (K, F) dictionary
# (W transposed). This is scikit-learn's layout (samples x features = frames x freq), batched.


def _approx(a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    return a @ d


def _weighted_data(x, y, beta):
    """``x * y^(beta - 2)`` and ``y^(beta - 1)`` with scikit-learn's epsilon guards.

    ``y`` is a fresh product ``A D`` that is overwritten: large temporaries are the cost of
    these updates on CPU, so they are reused in place.
    """
    if beta == 1:
        y.clamp_min_(EPSILON)
        return torch.div(x, y, out=y), None
    if beta < 1:
        y.clamp_min_(EPSILON)  # both powers are guarded below beta = 1
        weighted = y.pow(beta - 2.0).mul_(x)
        return weighted, y.pow_(beta - 1.0)
    y_num = y.clamp_min(EPSILON) if beta < 2 else y
    weighted = y_num.pow(beta - 2.0).mul_(x)
    return weighted, y.pow_(beta - 1.0)


def _guard(den: torch.Tensor) -> torch.Tensor:
    """Zeros of a (freshly computed) denominator become the epsilon, in place."""
    return den.masked_fill_(den == 0, EPSILON)


def _update_activations(x, a, d, beta, gamma):
    """One multiplicative update of the activations for a fixed dictionary."""
    if beta == 2:
        num = x @ d.T
        den = a @ (d @ d.T)
    else:
        weighted, power = _weighted_data(x, _approx(a, d), beta)
        num = weighted @ d.T
        if beta == 1:
            d_sum = d.sum(1)
            den = torch.where(d_sum == 0, torch.ones_like(d_sum), d_sum)  # (K,), broadcast
        else:
            den = power @ d.T
    delta = num.div_(_guard(den))
    if gamma != 1:
        delta.pow_(gamma)
    return delta.mul_(a)


def _dictionary_statistics(x, a, d, beta):
    """Numerator and denominator of the dictionary update, summed over the batch and frames."""
    af = a.reshape(-1, a.shape[-1])
    xf = x.reshape(-1, x.shape[-1])
    if beta == 2:
        return af.T @ xf, (af.T @ af) @ d
    weighted, power = _weighted_data(xf, _approx(af, d), beta)
    num = af.T @ weighted
    if beta == 1:
        den = af.sum(0)[:, None].expand_as(num).contiguous()
    else:
        den = af.T @ power
    return num, den


def _update_dictionary(x, a, d, beta, gamma):
    num, den = _dictionary_statistics(x, a, d, beta)
    delta = num.div_(_guard(den))
    if gamma != 1:
        delta.pow_(gamma)
    return delta.mul_(d)


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 2:
        return x.unsqueeze(0)
    if x.dim() != 3:
        raise ValueError(f"expected a (batch, frames, freq) or (frames, freq) tensor, got {tuple(x.shape)}")
    return x


def _check_nonnegative(x: torch.Tensor, beta: float) -> None:
    if not torch.isfinite(x).all():
        raise ValueError("the spectrogram contains NaN or Inf values")
    if (x < 0).any():
        raise ValueError("NMF needs a non-negative spectrogram (a magnitude or log1p magnitude)")
    if beta <= 0 and (x == 0).any():
        raise ValueError("beta <= 0 (e.g. Itakura-Saito) needs a strictly positive spectrogram")


def _nndsvda(x2d: torch.Tensor, k: int):
    """NNDSVD initialisation with zeros filled by the mean (Boutsidis & Gallopoulos 2008)."""
    # exact leading singular triplets from the (freq x freq) Gram matrix: one pass over the data
    xd = x2d.double()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a (freq x freq) eigh is quick on one thread; threaded LAPACK stalls when busy
    try:
        evals, evecs = torch.linalg.eigh(xd.T @ xd)
    finally:
        torch.set_num_threads(threads)
    order = torch.argsort(evals, descending=True)[:k]
    s = evals[order].clamp_min(0).sqrt()
    v = evecs[:, order]
    u = (xd @ v) / s.clamp_min(1e-30)
    a = torch.zeros(x2d.shape[0], k, dtype=torch.float64, device=x2d.device)
    d = torch.zeros(k, x2d.shape[1], dtype=torch.float64, device=x2d.device)
    a[:, 0] = s[0].sqrt() * u[:, 0].abs()
    d[0] = s[0].sqrt() * v[:, 0].abs()
    for j in range(1, k):
        uj, vj = u[:, j], v[:, j]
        up, un = uj.clamp_min(0), (-uj).clamp_min(0)
        vp, vn = vj.clamp_min(0), (-vj).clamp_min(0)
        pos = up.norm() * vp.norm()
        neg = un.norm() * vn.norm()
        if pos >= neg:
            uu, vv, sigma = up / up.norm().clamp_min(1e-30), vp / vp.norm().clamp_min(1e-30), pos
        else:
            uu, vv, sigma = un / un.norm().clamp_min(1e-30), vn / vn.norm().clamp_min(1e-30), neg
        scale = (s[j] * sigma).sqrt()
        a[:, j] = scale * uu
        d[j] = scale * vv
    mean = x2d.double().mean()
    a = torch.where(a < 1e-6, mean, a)
    d = torch.where(d < 1e-6, mean, d)
    return a.to(x2d.dtype), d.to(x2d.dtype)


def _init(x: torch.Tensor, k: int, init: str, generator: torch.Generator):
    """Activations ``(B, T, K)`` and dictionary ``(K, F)`` to start from."""
    b, t, f = x.shape
    if init == "random":
        avg = math.sqrt(float(x.mean()) / k)
        d = avg * torch.randn(k, f, generator=generator, dtype=torch.float64).abs()
        a = avg * torch.randn(b * t, k, generator=generator, dtype=torch.float64).abs()
        return a.to(x).reshape(b, t, k), d.to(x)
    if init == "nndsvda":
        a, d = _nndsvda(x.reshape(-1, f), k)
        return a.reshape(b, t, k), d
    raise ValueError(f"init must be 'random' or 'nndsvda', got '{init}'")


def _fixed_dictionary_euclidean(x, a, d, n_iter, tol, check_every):
    """Euclidean updates of the activations for a fixed dictionary, products computed once.

    ``X D^T`` and ``D D^T`` do not change, so each update costs one ``(frames x K x K)``
    product, and the divergence ``(|X|^2 - 2 <A, X D^T> + <A D D^T, A>) / 2`` is as cheap.
    The iterates are exactly those of :func:`_update_activations`.
    """
    xdt, gram = x @ d.T, d @ d.T
    energy = float(x.double().pow(2).sum())

    def divergence(a):
        return 0.5 * (energy - 2 * float((a * xdt).double().sum()) + float(((a @ gram) * a).double().sum()))

    previous = initial = divergence(a) if tol > 0 else 0.0
    done = 0
    for it in range(1, n_iter + 1):
        den = a @ gram
        a = a * (xdt / torch.where(den == 0, torch.full_like(den, EPSILON), den))
        done = it
        if tol > 0 and it % check_every == 0:
            current = divergence(a)
            if (previous - current) / max(initial, 1e-30) < tol:
                break
            previous = current
    return a, done


def multiplicative_update(x: torch.Tensor, n_components: int | None = None, beta=2.0, n_iter: int = 200,
                          tol: float = 1e-4, init: str = "random", seed: int = 0,
                          dictionary: torch.Tensor | None = None, activations: torch.Tensor | None = None,
                          update_dictionary: bool = True, check_every: int = 10,
                          compute_error: bool = True):
    """Batched multiplicative-update NMF minimising ``D_beta(X | W H)``.

    Arguments
    ---------
    x : torch.Tensor
        ``(batch, frames, freq)`` (or ``(frames, freq)``) non-negative spectrogram.
    n_components : int, optional
        ``K``; taken from ``dictionary`` when given.
    beta : float or str
        Divergence, see :func:`beta_value`.
    n_iter : int
        Maximum number of iterations.
    tol : float
        Stop when the relative decrease of the divergence over ``check_every`` iterations
        falls below ``tol`` (``0`` runs all ``n_iter``), as scikit-learn does.
    init : str
        ``"random"`` (scikit-learn's scaled half-normal) or ``"nndsvda"``; ignored for the
        parts given in ``dictionary`` / ``activations``.
    seed : int
        Seed of the random initialisation.
    dictionary : torch.Tensor, optional
        ``(freq, K)`` starting (or, with ``update_dictionary=False``, fixed) ``W``.
    activations : torch.Tensor, optional
        ``(batch, K, frames)`` starting ``H``.
    update_dictionary : bool
        Learn ``W`` too; ``False`` only fits the activations (scikit-learn's ``transform``).
    check_every : int
        Iterations between convergence checks.
    compute_error : bool
        Measure the final reconstruction error (one more product ``W H``); ``nan`` otherwise.

    Returns
    -------
    W : torch.Tensor
        ``(freq, K)`` dictionary.
    H : torch.Tensor
        ``(batch, K, frames)`` activations (``(K, frames)`` for a 2-D input).
    info : dict
        ``n_iter`` (iterations run) and ``error`` (final :func:`reconstruction_error`).

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(4, 30, 3, generator=g) @ torch.rand(3, 20, generator=g)
    >>> W, H, info = multiplicative_update(x, n_components=3, n_iter=500, tol=0)
    >>> W.shape, H.shape
    (torch.Size([20, 3]), torch.Size([4, 3, 30]))
    >>> bool(info["error"] < 0.05 * x.norm())
    True
    """
    squeeze = x.dim() == 2
    x = _as_batch(x)
    beta = beta_value(beta)
    _check_nonnegative(x, beta)
    gamma = _gamma(beta)
    if dictionary is not None:
        n_components = dictionary.shape[1]
    if not n_components:
        raise ValueError("give n_components or a dictionary")
    g = torch.Generator().manual_seed(int(seed))
    if dictionary is None or activations is None:
        if dictionary is not None and not update_dictionary:
            # scikit-learn's transform: activations start at a constant
            a0 = torch.full((*x.shape[:2], n_components), math.sqrt(float(x.mean()) / n_components),
                            dtype=x.dtype, device=x.device)
            d0 = None
        else:
            a0, d0 = _init(x, n_components, init, g)
    d = (dictionary.T if dictionary is not None else d0).to(x).clone()
    if activations is not None:
        a = (activations if activations.dim() == 3 else activations.unsqueeze(0)).transpose(1, 2)
    else:
        a = a0
    a = a.to(x).clone()
    if beta == 2 and not update_dictionary:
        a, done = _fixed_dictionary_euclidean(x, a, d, n_iter, tol, check_every)
    else:
        previous = initial = float(beta_divergence(x, _approx(a, d), beta))
        done = 0
        for it in range(1, n_iter + 1):
            a = _update_activations(x, a, d, beta, gamma)
            if update_dictionary:
                d = _update_dictionary(x, a, d, beta, gamma)
            done = it
            if tol > 0 and it % check_every == 0:
                current = float(beta_divergence(x, _approx(a, d), beta))
                if (previous - current) / max(initial, 1e-30) < tol:
                    break
                previous = current
    error = reconstruction_error(x, _approx(a, d), beta) if compute_error else float("nan")
    h = a.transpose(1, 2)
    return d.T.contiguous(), (h[0] if squeeze else h), {"n_iter": done, "error": error}


class NMFDictionary(nn.Module):
    """A dictionary ``W`` of ``K`` non-negative spectral components, learned by NMF.

    Components live in the front-end's mask domain (``domain``), so that the ratio
    masks L2I builds from them multiply the same spectrogram the classifier's masks
    multiply. After :meth:`fit`, columns are scaled to unit L2 norm (activations carry
    the energy) and ordered by spectral centroid, low to high, so component ids read
    like a frequency axis.

    Arguments
    ---------
    n_components : int
        ``K``.
    n_freqs : int
        Frequency bins, ``n_fft // 2 + 1`` of the front-end.
    beta : float or str
        Beta-divergence minimised by the multiplicative updates (``"frobenius"``,
        ``"kullback-leibler"``, ``"itakura-saito"`` or a float).
    domain : str
        ``"magnitude"`` or ``"log1p_magnitude"``: what the spectrograms it models are.
    W : torch.Tensor, optional
        ``(n_freqs, n_components)`` dictionary to start from (random otherwise).
    seed : int
        Seed of the random initial dictionary.

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> spectra = torch.rand(8, 50, 4, generator=g) @ torch.rand(4, 33, generator=g)
    >>> nmf = NMFDictionary(n_components=4, n_freqs=33).fit(spectra, n_iter=300)
    >>> H = nmf.transform(spectra)
    >>> H.shape, nmf.reconstruct(H).shape
    (torch.Size([8, 4, 50]), torch.Size([8, 50, 33]))
    >>> bool(nmf.reconstruction_err_ < 0.05 * spectra.norm())
    True
    """

    def __init__(self, n_components: int = 100, n_freqs: int = 513, beta="frobenius",
                 domain: str = "log1p_magnitude", W: torch.Tensor | None = None, seed: int = 0):
        super().__init__()
        from speechbrain_interp.spectral import MASK_DOMAINS

        if domain not in MASK_DOMAINS:
            raise ValueError(f"domain must be one of {MASK_DOMAINS}, got '{domain}'")
        self.n_components, self.n_freqs = int(n_components), int(n_freqs)
        self.beta = beta_value(beta)
        self.domain = domain
        if W is None:
            g = torch.Generator().manual_seed(int(seed))
            W = torch.rand(self.n_freqs, self.n_components, generator=g) + 0.1
        if tuple(W.shape) != (self.n_freqs, self.n_components):
            raise ValueError(f"W has shape {tuple(W.shape)}, expected ({self.n_freqs}, {self.n_components})")
        if (W < 0).any():
            raise ValueError("an NMF dictionary must be non-negative")
        self.register_buffer("W", W.detach().float().clone())
        # sufficient statistics of the online updates (partial_fit), checkpointed with the module
        self.register_buffer("online_numerator", torch.zeros(self.n_components, self.n_freqs))
        self.register_buffer("online_denominator", torch.zeros(self.n_components, self.n_freqs))
        self.register_buffer("online_steps", torch.zeros((), dtype=torch.long))
        self.reconstruction_err_: float | None = None
        self.n_iter_: int | None = None

    @classmethod
    def for_classifier(cls, classifier, n_components: int = 100, beta="frobenius", seed: int = 0,
                       **kwargs) -> NMFDictionary:
        """An (unlearned) dictionary matching a classifier adapter's (or front-end's) spectra.

        Example
        -------
        >>> from speechbrain_interp.spectral import SpectralFrontEnd
        >>> NMFDictionary.for_classifier(SpectralFrontEnd(n_fft=64), n_components=8)
        NMFDictionary(n_components=8, n_freqs=33, beta=2.0, domain=log1p_magnitude)
        """
        frontend = getattr(classifier, "frontend", classifier)
        return cls(n_components, frontend.n_freqs, beta=beta, domain=frontend.mask_domain, seed=seed,
                   **kwargs)

    # --- learning -----------------------------------------------------------------------
    def _check(self, x: torch.Tensor) -> torch.Tensor:
        x = _as_batch(x)
        if x.shape[-1] != self.n_freqs:
            raise ValueError(f"spectrogram has {x.shape[-1]} frequency bins, the dictionary {self.n_freqs}")
        return x.to(self.W)

    @torch.no_grad()
    def fit(self, x: torch.Tensor, n_iter: int = 200, tol: float = 1e-4, init: str = "nndsvda",
            seed: int = 0, normalize: bool = True) -> NMFDictionary:
        """Learn ``W`` by full-batch multiplicative updates on ``(batch, frames, freq)`` spectra.

        Returns ``self``; :attr:`reconstruction_err_` and :attr:`n_iter_` record the fit.
        """
        self.fit_transform(x, n_iter=n_iter, tol=tol, init=init, seed=seed, normalize=normalize)
        return self

    @torch.no_grad()
    def fit_transform(self, x: torch.Tensor, n_iter: int = 200, tol: float = 1e-4, init: str = "nndsvda",
                      seed: int = 0, normalize: bool = True) -> torch.Tensor:
        """Like :meth:`fit`, returning the ``(batch, K, frames)`` activations of ``x``."""
        x = self._check(x)
        W, H, info = multiplicative_update(x, self.n_components, self.beta, n_iter=n_iter, tol=tol,
                                           init=init, seed=seed)
        self.W.copy_(W)
        self.online_numerator.zero_()
        self.online_denominator.zero_()
        self.online_steps.zero_()
        self.reconstruction_err_, self.n_iter_ = info["error"], info["n_iter"]
        if normalize:
            H = self.normalize_(H)
        return H

    @torch.no_grad()
    def partial_fit(self, x: torch.Tensor, n_inner: int = 50, forget_factor: float = 0.7,
                    tol: float = 1e-4, init: str | None = "nndsvda") -> torch.Tensor:
        """One online (mini-batch) update of ``W`` from a batch of spectra.

        The activations of the batch are fitted with ``W`` fixed, then ``W`` moves to the
        ratio of running sums of the update's numerator and denominator, discounted by
        ``forget_factor`` per batch (Lefevre, Bach & Fevotte 2011; scikit-learn's
        ``MiniBatchNMF``). The first call initialises ``W`` from its batch with ``init``
        (``None`` keeps the current ``W``). The state is in buffers, so a SpeechBrain
        ``Checkpointer`` resumes it. Returns the batch's ``(batch, K, frames)`` activations.

        Example
        -------
        >>> g = torch.Generator().manual_seed(0)
        >>> data = torch.rand(64, 20, 3, generator=g) @ torch.rand(3, 16, generator=g)
        >>> nmf = NMFDictionary(n_components=3, n_freqs=16)
        >>> before = nmf.error(data)
        >>> for epoch in range(10):
        ...     for batch in data.split(8):
        ...         _ = nmf.partial_fit(batch)
        >>> bool(nmf.error(data) < 0.2 * before)
        True
        """
        x = self._check(x)
        _check_nonnegative(x, self.beta)
        gamma = _gamma(self.beta)
        if int(self.online_steps) == 0 and init is not None:
            # start from the first batch's NNDSVDa (or random) dictionary rather than an arbitrary one
            _, d0 = _init(x, self.n_components, init, torch.Generator().manual_seed(0))
            self.W.copy_(d0.T)
        d = self.W.T.clone()
        _, h, _ = multiplicative_update(x, beta=self.beta, n_iter=n_inner, tol=tol, dictionary=d.T,
                                        update_dictionary=False, compute_error=False)
        a = h.transpose(1, 2)
        num, den = _dictionary_statistics(x, a, d, self.beta)
        den = torch.where(den == 0, torch.full_like(den, EPSILON), den)
        if gamma != 1:
            d = d ** (1.0 / gamma)
        rho = forget_factor if int(self.online_steps) > 0 else 0.0
        self.online_numerator.mul_(rho).add_(num * d)
        self.online_denominator.mul_(rho).add_(den)
        d = self.online_numerator / self.online_denominator
        if gamma != 1:
            d = d**gamma
        self.W.copy_(d.T)
        self.online_steps += 1
        return h

    @torch.no_grad()
    def normalization(self):
        """Column norms of ``W`` and the order of its columns by spectral centroid, low to high."""
        norms = self.W.norm(dim=0).clamp_min(1e-12)
        W = self.W / norms
        bins = torch.arange(self.n_freqs, dtype=W.dtype, device=W.device)
        centroid = (W * bins[:, None]).sum(0) / W.sum(0).clamp_min(1e-12)
        return norms, torch.argsort(centroid)

    @torch.no_grad()
    def normalize_(self, H: torch.Tensor | None = None) -> torch.Tensor | None:
        """Scale columns of ``W`` to unit L2 norm and order them by spectral centroid.

        ``W H`` is unchanged: the given activations are rescaled and permuted to match
        (and returned), as are the online statistics. An :class:`NMFEncoder` trained
        against the old dictionary follows with ``encoder.absorb_normalization_(*nmf.normalization())``
        called before this method.
        """
        norms, order = self.normalization()
        self.W.copy_((self.W / norms)[:, order])
        self.online_numerator.copy_((self.online_numerator / norms[:, None])[order])
        self.online_denominator.copy_(self.online_denominator[order])
        if H is None:
            return None
        return (H * norms.to(H)[:, None])[..., order, :]

    # --- inference ------------------------------------------------------------------------
    @torch.no_grad()
    def transform(self, x: torch.Tensor, n_iter: int = 200, tol: float = 1e-4,
                  H: torch.Tensor | None = None) -> torch.Tensor:
        """Activations ``(batch, K, frames)`` of spectra for the fixed dictionary.

        ``H`` warm-starts the updates (e.g. with :class:`NMFEncoder` outputs).
        """
        squeeze = x.dim() == 2
        x = self._check(x)
        if H is not None and H.dim() == 2:
            H = H.unsqueeze(0)
        _, h, _ = multiplicative_update(x, beta=self.beta, n_iter=n_iter, tol=tol, dictionary=self.W,
                                        activations=None if H is None else H.clamp_min(EPSILON),
                                        update_dictionary=False, compute_error=False)
        return h[0] if squeeze else h

    def reconstruct(self, H: torch.Tensor) -> torch.Tensor:
        """``(W H)^T``: spectra ``(batch, frames, freq)`` from activations ``(batch, K, frames)``."""
        return (self.W @ H).transpose(-1, -2)

    def components_spectra(self, H: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Spectra of single components: ``(batch, n, frames, freq)`` for ``index`` ``(batch, n)``.

        Example
        -------
        >>> nmf = NMFDictionary(n_components=5, n_freqs=9)
        >>> H = torch.rand(2, 5, 7)
        >>> parts = nmf.components_spectra(H, torch.arange(5).expand(2, 5))
        >>> bool(torch.allclose(parts.sum(1), nmf.reconstruct(H), atol=1e-5))
        True
        """
        h = H.gather(1, index[..., None].expand(-1, -1, H.shape[-1]))  # (B, n, T)
        w = self.W.T[index]  # (B, n, F)
        return h[..., :, None] * w[..., None, :]

    @torch.no_grad()
    def error(self, x: torch.Tensor, H: torch.Tensor | None = None, n_iter: int = 200) -> float:
        """:func:`reconstruction_error` of spectra ``x`` (activations fitted unless given)."""
        x = self._check(x)
        H = self.transform(x, n_iter=n_iter) if H is None else H
        return reconstruction_error(x, self.reconstruct(H), self.beta)

    def divergence(self, x: torch.Tensor, H: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Differentiable ``D_beta(x | (W H)^T)``, e.g. the reconstruction term of a loss."""
        return beta_divergence(x, self.reconstruct(H), self.beta, reduction=reduction)

    # --- persistence --------------------------------------------------------------------
    def save(self, path, **metadata) -> Path:
        """Write the dictionary to a ``.safetensors`` file (plus ``metadata`` strings).

        Example
        -------
        >>> import tempfile, os
        >>> nmf = NMFDictionary(n_components=3, n_freqs=5, beta="kl")
        >>> path = nmf.save(os.path.join(tempfile.mkdtemp(), "nmf.safetensors"), n_fft=8)
        >>> same = NMFDictionary.load(path)
        >>> bool(torch.equal(same.W, nmf.W)), same.beta, same.metadata["n_fft"]
        (True, 1.0, '8')
        """
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "beta": repr(self.beta), "domain": self.domain,
                "n_components": str(self.n_components), "n_freqs": str(self.n_freqs)}
        meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
        save_file({"W": self.W.detach().cpu().contiguous()}, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path, map_location="cpu") -> NMFDictionary:
        """Read a dictionary written by :meth:`save`."""
        from safetensors import safe_open

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"NMF dictionary '{path}' does not exist; train one with "
                                    "recipes/ESC50/interpret/train_nmf.py")
        with safe_open(str(path), framework="pt", device=str(map_location)) as fh:
            meta = fh.metadata() or {}
            if meta.get("format") != _FORMAT:
                raise ValueError(f"'{path}' is not a speechbrain_interp NMF dictionary")
            W = fh.get_tensor("W")
        nmf = cls(int(meta["n_components"]), int(meta["n_freqs"]), beta=float(meta["beta"]),
                  domain=meta["domain"], W=W)
        nmf.metadata = meta
        return nmf

    def extra_repr(self) -> str:
        return (f"n_components={self.n_components}, n_freqs={self.n_freqs}, beta={self.beta}, "
                f"domain={self.domain}")


class NMFEncoder(nn.Module):
    """Amortised NMF: a 1-D convolutional network that predicts activations in one pass.

    Trained with :meth:`loss` against a (fixed or jointly learned) :class:`NMFDictionary`,
    it replaces hundreds of multiplicative updates at inference, or warm-starts them
    (``NMFDictionary.transform(x, H=encoder(x))``).

    Arguments
    ---------
    n_freqs : int
        Frequency bins of the input spectra.
    n_components : int
        ``K``, the dictionary size.
    channels : int
        Hidden channels.
    kernel_size : int
        Temporal kernel of the convolutions (odd, so frames stay aligned).
    n_layers : int
        Hidden convolution layers.

    Example
    -------
    >>> enc = NMFEncoder(n_freqs=33, n_components=4, channels=16)
    >>> H = enc(torch.rand(2, 50, 33))
    >>> H.shape, bool((H >= 0).all())
    (torch.Size([2, 4, 50]), True)
    >>> nmf = NMFDictionary(n_components=4, n_freqs=33)
    >>> enc.loss(torch.rand(2, 50, 33), nmf).shape
    torch.Size([])
    """

    def __init__(self, n_freqs: int = 513, n_components: int = 100, channels: int = 256,
                 kernel_size: int = 5, n_layers: int = 2):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd so that activations stay aligned with frames")
        layers, width = [], n_freqs
        for _ in range(n_layers):
            layers += [nn.Conv1d(width, channels, kernel_size, padding=kernel_size // 2), nn.ReLU()]
            width = channels
        # ReLU (not softplus): exact zeros, and a positive rescaling of a component commutes with it
        layers += [nn.Conv1d(width, n_components, kernel_size, padding=kernel_size // 2), nn.ReLU()]
        self.net = nn.Sequential(*layers)
        self.n_freqs, self.n_components = n_freqs, n_components

    @classmethod
    def for_dictionary(cls, dictionary: NMFDictionary, **kwargs) -> NMFEncoder:
        """An encoder sized for ``dictionary`` (``kwargs``: ``channels``, ``kernel_size``, ``n_layers``).

        Example
        -------
        >>> NMFEncoder.for_dictionary(NMFDictionary(6, 20), channels=8).n_components
        6
        """
        return cls(dictionary.n_freqs, dictionary.n_components, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Activations ``(batch, K, frames)`` of spectra ``(batch, frames, freq)``."""
        return self.net(x.transpose(1, 2))

    def loss(self, x: torch.Tensor, dictionary: NMFDictionary, l1: float = 0.0) -> torch.Tensor:
        """Mean beta-divergence of the reconstruction, plus ``l1`` times the mean activation."""
        H = self(x)
        loss = dictionary.divergence(x, H, reduction="mean")
        return loss + l1 * H.mean() if l1 else loss

    @torch.no_grad()
    def absorb_normalization_(self, norms: torch.Tensor, order: torch.Tensor) -> NMFEncoder:
        """Follow :meth:`NMFDictionary.normalize_`: scale output ``k`` by ``norms[k]``, then reorder.

        Example
        -------
        >>> nmf, enc = NMFDictionary(4, 12, W=torch.rand(12, 4) * 3), NMFEncoder(12, 4, channels=8)
        >>> x = torch.rand(1, 9, 12)
        >>> before = nmf.reconstruct(enc(x))
        >>> _ = enc.absorb_normalization_(*nmf.normalization())
        >>> _ = nmf.normalize_()
        >>> bool(torch.allclose(nmf.reconstruct(enc(x)), before, atol=1e-5))
        True
        """
        conv = self.net[-2]
        conv.weight.mul_(norms.to(conv.weight)[:, None, None])
        conv.bias.mul_(norms.to(conv.bias))
        conv.weight.copy_(conv.weight[order])
        conv.bias.copy_(conv.bias[order])
        return self

    def save(self, path) -> Path:
        """Write the weights to a ``.safetensors`` file."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path), metadata={"n_freqs": str(self.n_freqs),
                                              "n_components": str(self.n_components)})
        return path

    def load(self, path) -> NMFEncoder:
        """Read weights written by :meth:`save` into this encoder; returns ``self``."""
        from safetensors.torch import load_file

        self.load_state_dict(load_file(str(path)))
        return self
