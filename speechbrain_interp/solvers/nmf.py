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

This module holds the numerics (beta-divergences and the multiplicative updates,
:func:`multiplicative_update`); the learned dictionary and the amortised encoder are
torch modules in :mod:`speechbrain_interp.solvers.nmf_dictionary`. Two ways to get
activations, both provided:

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

import math

import torch

__all__ = [
    "beta_value",
    "beta_divergence",
    "reconstruction_error",
    "multiplicative_update",
]


EPSILON = float(torch.finfo(torch.float32).eps)


_BETAS = {
    "frobenius": 2.0, "euclidean": 2.0, "kullback-leibler": 1.0, "kl": 1.0,
    "itakura-saito": 0.0, "is": 0.0,
}


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
