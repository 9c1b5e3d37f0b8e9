"""NMF as torch modules: a learned dictionary of spectral components and an amortised encoder.

:class:`NMFDictionary` holds the dictionary ``W`` (``(freq, K)``, in the front-end's mask
domain) that L2I explains with, learned with the multiplicative updates of
:mod:`speechbrain_interp.solvers.nmf` (full batch with :meth:`~NMFDictionary.fit`, online
with :meth:`~NMFDictionary.partial_fit`) and saved with safetensors.
:class:`NMFEncoder` predicts activations for it in one forward pass.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from speechbrain_interp.solvers.nmf import (
    EPSILON,
    _as_batch,
    _check_nonnegative,
    _dictionary_statistics,
    _gamma,
    _init,
    beta_divergence,
    beta_value,
    multiplicative_update,
    reconstruction_error,
)
from speechbrain_interp.spectral import MASK_DOMAINS

__all__ = ["NMFDictionary", "NMFEncoder"]

_FORMAT = "speechbrain_interp.nmf/1"


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
