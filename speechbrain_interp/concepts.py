"""Concept bottleneck: audio embeddings as sparse, non-negative mixtures of text concepts.

An audio embedding ``z`` from any audio-text embedder (:mod:`speechbrain_interp.clap`) is
approximated by a non-negative, sparse combination of the text embeddings ``C`` of the
concepts of a vocabulary (SpLiCE, Bhalla et al. 2024, carried to audio by Zhang, Thomaz and
Lu 2025). Both modalities are centred first (their mean is removed and they are
renormalised), which removes the modality gap; then, per clip,

.. math:: \\min_{w \\ge 0} \\tfrac12 \\lVert z - C^\\top w \\rVert^2 + \\lambda \\lVert w \\rVert_1 .

The weights ``w`` are the interpretable representation. The surface follows SpLiCE:
:func:`load` builds a :class:`ConceptBottleneck` (``decompose``, ``recompose``,
``get_vocabulary``), :func:`get_vocabulary` reads a shipped vocabulary.

The solver (:func:`nonneg_lasso`) is exact, batched and runs on CPU or GPU: a working-set
method. Every clip keeps a small working set of concepts (its current support plus the
concepts whose gradient most violates the optimality conditions); on it, the problem is
solved exactly by a primal active-set method (Lawson-Hanson, adding several concepts at a
time) on blocks of the precomputed Gram matrix ``C C^T``, batched over clips with one
Cholesky factorisation of each passive block per step; then the full gradient checks the
optimality conditions of all concepts, and only the clips with violations go round again,
warm-started, with their violators added. Clips whose support outgrows their working set
move to a larger size bucket.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_interp.vocabularies import list_vocabularies, load_vocabulary, vocabulary_version

__all__ = [
    "nonneg_lasso",
    "lasso_objective",
    "lambda_for_l0",
    "center",
    "concept_embeddings",
    "ConceptBottleneck",
    "load",
    "get_vocabulary",
    "LinearProbe",
    "ConceptProjector",
    "zero_shot_logits",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# The solver
# --------------------------------------------------------------------------------------------
def lasso_objective(z, dictionary, weights, l1_penalty) -> torch.Tensor:
    """Per-clip objective ``0.5 * ||z - C^T w||^2 + lambda * sum(w)`` (``w >= 0``).

    Arguments
    ---------
    z : torch.Tensor
        ``(batch, dim)`` targets.
    dictionary : torch.Tensor
        ``(concepts, dim)`` rows ``C``.
    weights : torch.Tensor
        ``(batch, concepts)`` non-negative weights.
    l1_penalty : float or torch.Tensor
        ``lambda``, scalar or ``(batch,)``.

    Returns
    -------
    torch.Tensor
        ``(batch,)``.

    Example
    -------
    >>> C = torch.eye(3)
    >>> lasso_objective(torch.tensor([[1.0, 0.0, 0.0]]), C, torch.tensor([[1.0, 0.0, 0.0]]), 0.1)
    tensor([0.1000])
    """
    lam = torch.as_tensor(l1_penalty, dtype=weights.dtype, device=weights.device)
    residual = z - weights @ dictionary
    return 0.5 * residual.pow(2).sum(-1) + lam * weights.sum(-1)


def _rounding_level(dtype) -> float:
    """Relative rounding of ``H x`` for Gram blocks stored in ``dtype``: gradients below it
    (times the Gram scale) are not resolved, by the inner solves or by the outer check."""
    return 1e-10 if dtype == torch.float64 else 50 * torch.finfo(dtype).eps


def _pivot(H, p, passive, max_iter: int, ridge: float = 1e-6):
    """Block principal pivoting for ``min 0.5 x'Hx - p'x, x >= 0``, batched.

    ``H`` is ``(n, k, k)`` positive (semi)definite, ``p`` is ``(n, k)``, ``passive`` the
    ``(n, k)`` initial guess of the support. Each step solves the equality-constrained
    problem on the passive set only (gathered to the largest passive-set size of the
    clips still iterating, padded with identity rows), checks the signs of the solution
    and of the gradient elsewhere, and exchanges every infeasible variable, with Kim &
    Park's backup rule (three tries, then one variable at a time), which terminates.
    Converged clips leave the batch.
    """
    n, k = p.shape
    x = torch.zeros_like(p)
    if n == 0:
        return x
    device = p.device
    cols = torch.arange(k, device=device)
    best = torch.full((n,), k + 1, device=device)
    tries = torch.full((n,), 3, device=device)
    scale = H.diagonal(dim1=1, dim2=2).amax(1).clamp_min(1e-30)
    act = torch.arange(n, device=device)
    Ha, pa, Fa, sa = H, p, passive.clone(), scale
    for _ in range(max_iter):
        nf = Fa.sum(1)
        f = max(int(nf.max()), 1)
        # passive indices first (stable order), padded with inactive ones
        order = torch.sort((~Fa).to(torch.int8), dim=1, stable=True).indices[:, :f]
        valid = cols[:f][None, :] < nf[:, None]
        vm = valid.to(H.dtype)
        Hcol = Ha.gather(2, order[:, None, :].expand(-1, k, -1))  # (m, k, f)
        A = Hcol.gather(1, order[:, :, None].expand(-1, -1, f)) * (vm[:, :, None] * vm[:, None, :])
        # identity on the padding; a small ridge keeps passive sets larger than the embedding
        # dimension (rank-deficient) solvable, so pivoting cannot cycle on singular systems
        A.diagonal(dim1=1, dim2=2).add_(1.0 - vm + ridge * sa[:, None] * vm)
        chol, info = torch.linalg.cholesky_ex(A)
        if bool((info > 0).any()):
            bad = info > 0
            A[bad] += 1e-7 * sa[bad, None, None] * torch.diag_embed(vm[bad])
            chol[bad] = torch.linalg.cholesky_ex(A[bad])[0]
        rhs = pa.gather(1, order) * vm
        xf = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1) * vm
        xs = torch.zeros_like(pa).scatter_(1, order, xf)
        y = (torch.bmm(Hcol, xf.unsqueeze(-1)).squeeze(-1) - pa).masked_fill(Fa, 0.0)  # ridge: x = 0 here
        tol = 1e-10 * sa[:, None] * (1.0 + xs.abs().amax(1, keepdim=True))
        infeasible = (Fa & (xs < -tol)) | (~Fa & (y < -tol))
        count = infeasible.sum(1)
        done = count == 0
        x[act[done]] = xs[done]
        if bool(done.all()):
            return x
        keep = ~done
        act, Ha, pa, Fa, sa = act[keep], Ha[keep], pa[keep], Fa[keep], sa[keep]
        infeasible, count, xs = infeasible[keep], count[keep], xs[keep]
        better = count < best[act]
        full = better | (tries[act] >= 1)
        tries[act] = torch.where(better, torch.full_like(count, 3), tries[act] - (~better).long())
        best[act] = torch.where(better, count, best[act])
        last = torch.where(infeasible, cols, -1).amax(1)
        single = F.one_hot(last, k).bool()
        Fa = Fa ^ torch.where(full[:, None], infeasible, single)
    # Pivoting can stall on nearly singular passive sets (supports larger than the embedding
    # dimension); finish those clips with accelerated projected gradient, which always converges.
    logger.info("block principal pivoting: %d clips left after %d steps, finishing them with "
                "projected gradient", len(act), max_iter)
    x[act] = _projected_gradient(Ha, pa, xs.clamp_min(0), steps=20 * max_iter)
    return x


def _solve_on(Hp, pa, Fa, sa, ridge, granularity: int = 8):
    """Minimiser of ``0.5 x'Hx - p'x`` over the coordinates in ``Fa`` (others 0), batched.

    ``Hp`` is ``(m, k + 1, k + 1)``, contiguous: ``H`` with a zero last row and column, so
    that padding indices gather zeros. Only passive blocks ``H_FF`` are gathered (straight
    from ``Hp``, without copying its rows) and factorised, in float64 whatever ``H``'s
    dtype. Clips are grouped by passive-set size (rounded up to ``granularity``) and each
    group is padded with identity rows to its own size, so a few large supports do not
    make every factorisation large. A relative ridge keeps rank-deficient sets solvable.
    Returns ``(m, k)`` float64.
    """
    m, k = pa.shape
    kk = k + 1
    out = torch.zeros(m, k, dtype=torch.float64, device=pa.device)
    nf = Fa.sum(1)
    bucket = (nf + granularity - 1) // granularity
    cols = torch.arange(k, device=pa.device)
    for b in bucket.unique().tolist():
        rows = (bucket == b).nonzero().squeeze(1)
        f = max(int(b) * granularity, 1)
        order = torch.sort((~Fa[rows]).to(torch.int8), dim=1, stable=True).indices[:, :f]
        valid = cols[:f][None, :] < nf[rows][:, None]
        vm = valid.double()
        order = torch.where(valid, order, k)
        base = (rows * (kk * kk))[:, None, None]
        A = torch.take(Hp, base + order[:, :, None] * kk + order[:, None, :]).double()
        A.diagonal(dim1=1, dim2=2).add_(1.0 - vm + ridge * sa[rows][:, None] * vm)
        chol, info = torch.linalg.cholesky_ex(A)
        if bool((info > 0).any()):
            bad = info > 0
            A[bad] += 1e-6 * sa[rows][bad][:, None, None] * torch.diag_embed(vm[bad])
            chol[bad] = torch.linalg.cholesky_ex(A[bad])[0]
        order = order.clamp(max=k - 1)  # padding: a valid index, zero weight
        rhs = (pa[rows].gather(1, order) * vm).unsqueeze(-1)
        # two triangular solves: faster than cholesky_solve on CPU batches (same result)
        half = torch.linalg.solve_triangular(chol, rhs, upper=False)
        xf = torch.linalg.solve_triangular(chol.mT, half, upper=True).squeeze(-1) * vm
        out[rows] = torch.zeros_like(out[rows]).scatter_add_(1, order, xf)
    return out


def _active_set(Hp, p, x0, max_iter: int, ridge: float = 1e-9, max_add: int = 16, at_min=None):
    """Primal active-set method (Lawson-Hanson with several additions) for ``min 0.5 x'Hx - p'x, x >= 0``.

    Batched over clips; ``Hp`` is ``(n, k + 1, k + 1)``, the working-set Gram blocks with a
    zero last row and column (see :func:`_solve_on`). ``x0 >= 0`` is a warm start whose
    support is the first passive set (``at_min`` marks clips whose warm start already
    minimises on its support: their violators join at once, which saves a solve). Each
    step solves the problem on the passive set. A non-negative solution is accepted, and
    then the most violating zero coordinates (up to ``max_add``) join the passive set;
    otherwise the step is cut where the first coordinate reaches zero, or goes to the
    projection of the solution when that lowers the objective more, and the coordinates at
    zero leave (after a projection the most violating coordinates may join in the same
    step, which saves a solve). The objective decreases at every step that moves, so the
    method cannot cycle. If coordinates that just joined come out non-positive and the
    projection does not help, they leave again, and a clip that had added them at a minimum
    then adds one coordinate at a time (the classical rule, under which the new coordinate
    is positive in exact arithmetic; if even that fails the violation is at rounding level
    and the clip stops). Converged clips leave the batch.
    """
    n, k = p.shape
    x = x0.double().clone()
    if n == 0:
        return x
    Hp = Hp.contiguous()
    scale = Hp[:, :k, :k].diagonal(dim1=1, dim2=2).amax(1).double().clamp_min(1e-30)
    rel = _rounding_level(Hp.dtype)
    act = torch.arange(n, device=p.device)
    Ha, pa, sa, xa = Hp[:, :k, :k], p.double(), scale, x.clone()
    Fa = xa > 0
    added = torch.zeros_like(Fa)
    single = torch.zeros(n, dtype=torch.bool, device=p.device)
    from_min = torch.ones(n, dtype=torch.bool, device=p.device)  # were the last additions made at a minimum
    ranks = torch.arange(min(max_add, k), device=p.device)

    def violators(grad, F_, tol, limit):
        violation = torch.where(~F_ & (grad < -tol), grad, torch.zeros_like(grad))
        worst = violation.topk(len(ranks), dim=1, largest=False)
        chosen = (worst.values < 0) & (ranks[None, :] < limit[:, None])
        return torch.zeros_like(F_).scatter_(1, worst.indices, chosen), (violation < 0).any(1)

    if at_min is not None and bool(at_min.any()):
        # warm clips already sit at the minimum on their support: add violators straight away
        tol = rel * sa[:, None] * (1.0 + xa.abs().amax(1, keepdim=True))
        grad = torch.bmm(Ha, xa.to(Ha.dtype).unsqueeze(-1)).squeeze(-1).double() - pa
        chosen, _ = violators(grad, Fa, tol, torch.full_like(ranks[:1], len(ranks)).expand(n))
        added = chosen & at_min[:, None]
        Fa = Fa | added

    for _ in range(max_iter):
        tol = rel * sa[:, None] * (1.0 + xa.abs().amax(1, keepdim=True))
        z = _solve_on(Hp, pa, Fa, sa, ridge)
        negative = Fa & (z <= tol)
        new_bad = negative & added
        feasible = ~negative.any(1)
        # step towards z, cut where the first passive coordinate reaches zero
        ratio = torch.where(negative, xa / (xa - z).clamp_min(1e-300), torch.full_like(xa, math.inf))
        alpha = torch.where(feasible[:, None], torch.ones_like(sa[:, None]),
                            ratio.amin(1, keepdim=True).clamp(0, 1))
        stepped = torch.where(feasible[:, None], z, xa + alpha * (z - xa)).clamp_min(0)
        # a bolder step: the projection of z, whenever it lowers the objective more
        projected = z.clamp_min(0) * Fa
        # one product gives both objectives and the gradient at the point kept (a failed
        # clip keeps xa, which is its cut step: alpha is 0 at its new coordinates)
        both = torch.stack([projected, stepped], 2)
        h_both = torch.bmm(Ha, both.to(Ha.dtype)).double()
        f_both = (both * (0.5 * h_both - pa[:, :, None])).sum(1)
        gain = f_both[:, 0] < f_both[:, 1] - tol[:, 0] * 1e-3
        failed = new_bad.any(1) & ~gain
        stuck = failed & single
        regular = ~failed
        bolder = (~feasible & gain & regular)[:, None]
        stepped = torch.where(bolder, projected, stepped)
        grad = torch.where(bolder, h_both[:, :, 0], h_both[:, :, 1]) - pa
        xa = torch.where(regular[:, None], stepped, xa)
        Fa = torch.where(regular[:, None], Fa & (xa > tol), Fa & ~new_bad)
        xa = xa * Fa
        # clips whose new coordinates came out non-positive drop those and re-solve; once
        # none is left, clips that added them at a minimum are back there and add one at a time
        added = added & ~new_bad & failed[:, None]
        pending = added.any(1)
        back = failed & ~pending & from_min  # back at the minimum the additions started from
        single = single | back
        at_min = feasible | back
        limit = torch.where(single, torch.ones_like(ranks[:1]), torch.full_like(ranks[:1], len(ranks)))
        chosen, violated = violators(grad, Fa, tol, limit)
        optimal = (at_min & ~violated) | stuck
        x[act[optimal]] = xa[optimal]
        if bool(optimal.all()):
            return x
        # a projected step also lets violators join (one solve instead of two), except in
        # the one-at-a-time mode, whose guarantee needs the subspace minimum
        may_add = at_min | (bolder[:, 0] & ~single)
        chosen = chosen & may_add[:, None]
        added = torch.where(may_add[:, None], chosen, added)
        from_min = torch.where(may_add, at_min, from_min)
        Fa = Fa | chosen
        keep = ~optimal
        act, Hp, pa, sa, xa, Fa = act[keep], Hp[keep], pa[keep], sa[keep], xa[keep], Fa[keep]
        Ha = Hp[:, :k, :k]
        added, single, from_min = added[keep], single[keep], from_min[keep]
    logger.warning("active-set solver stopped after %d steps for %d clips", max_iter, len(act))
    x[act] = xa
    return x


_PARALLEL_MIN_ELEMENTS = 2**18


class _SmallOpsThreads:
    """Run small batched CPU kernels on one thread (restoring the thread count after).

    Batched factorisations of many small matrices are latency-bound: OpenMP fan-out over
    the batch costs more than it saves, and on a busy machine it collapses (measured here:
    a (8, 32, 32) batched Cholesky took 0.1 ms on one thread and 40 ms on two under load).
    Batches of at least ``_PARALLEL_MIN_ELEMENTS`` working-set Gram entries are memory-bound
    instead, and keep every thread, as do the large products of the solver.
    """

    def __init__(self, device, elements: int = 0):
        self.active = torch.device(device).type == "cpu" and elements < _PARALLEL_MIN_ELEMENTS

    def __enter__(self):
        if self.active:
            self.saved = torch.get_num_threads()
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        if self.active:
            torch.set_num_threads(self.saved)
        return False


def _projected_gradient(H, p, x, steps: int):
    """Accelerated projected gradient for the small problems ``min 0.5 x'Hx - p'x, x >= 0``.

    The step size comes from a power iteration and momentum restarts when the objective
    rises, so it always converges (slowly): the fallback of block principal pivoting.
    """
    v = torch.ones_like(p)
    for _ in range(30):
        v = F.normalize(torch.bmm(H, v.unsqueeze(-1)).squeeze(-1), dim=-1)
    lipschitz = (v * torch.bmm(H, v.unsqueeze(-1)).squeeze(-1)).sum(-1, keepdim=True) * 1.05
    step = 1.0 / lipschitz.clamp_min(1e-30)

    def objective(u):
        return 0.5 * (u * torch.bmm(H, u.unsqueeze(-1)).squeeze(-1)).sum(-1) - (p * u).sum(-1)

    y, t = x, torch.ones(p.shape[0], 1, dtype=p.dtype, device=p.device)
    f_old = objective(x)
    for _ in range(steps):
        x_new = (y - step * (torch.bmm(H, y.unsqueeze(-1)).squeeze(-1) - p)).clamp_min(0)
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        y = x_new + ((t - 1) / t_new) * (x_new - x)
        f_new = objective(x_new)
        rise = (f_new > f_old)[:, None]
        y = torch.where(rise, x_new, y)
        t_new = torch.where(rise, torch.ones_like(t_new), t_new)
        f_old = f_new
        x, t = x_new, t_new
    return x


@torch.no_grad()
def nonneg_lasso(z, dictionary, l1_penalty, gram=None, init=None, tol: float = 1e-5,
                 working_set: int = 16, max_outer: int = 100, max_elements: int = 2**24,
                 inner_dtype=torch.float32, method: str = "active_set") -> torch.Tensor:
    """Solve ``min_w 0.5 ||z - C^T w||^2 + lambda ||w||_1, w >= 0`` for a batch, exactly.

    The weights are an argmin, returned without an autograd graph (as SpLiCE's are).

    Arguments
    ---------
    z : torch.Tensor
        ``(batch, dim)`` (centred) embeddings.
    dictionary : torch.Tensor
        ``(concepts, dim)`` (centred, normalised) concept embeddings ``C``.
    l1_penalty : float or torch.Tensor
        ``lambda``: a scalar or one per clip ``(batch,)``.
    gram : torch.Tensor, optional
        ``C C^T`` ``(concepts, concepts)``; computed when not given (cache it when the
        same dictionary is reused, as :class:`ConceptBottleneck` does).
    init : torch.Tensor, optional
        ``(batch, concepts)`` warm start, e.g. the solution at a nearby ``lambda``.
    tol : float
        Optimality tolerance on the gradient of the zero weights (the objective is then
        within far less than 1e-4 relative of the optimum). It is raised, per clip, to the
        rounding level of ``inner_dtype`` (``50 eps * max G_jj * (1 + max w)``, about 1e-5
        in float32), which the working-set solves cannot resolve.
    working_set : int
        Initial working-set size per clip; it grows (to the support plus half of it, at least
        16 more) for clips whose support outgrows it.
    max_outer : int
        Cap on the working-set rounds.
    max_elements : int
        Memory cap: clips are processed in chunks of at most this many Gram entries.
    inner_dtype : torch.dtype
        Precision of the stored working-set Gram blocks (factorisations run in float64).
    method : str
        ``"active_set"`` (default) or ``"pivoting"`` (block principal pivoting) for the
        working-set problems.

    Returns
    -------
    torch.Tensor
        ``(batch, concepts)`` non-negative weights, in ``z``'s dtype and device.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> C = F.normalize(torch.randn(50, 16), dim=-1)
    >>> w_true = torch.zeros(2, 50); w_true[0, 3] = 1.0; w_true[1, [7, 9]] = 0.5
    >>> w = nonneg_lasso(w_true @ C, C, 1e-3)
    >>> w[0].topk(1).indices.tolist(), sorted(w[1].topk(2).indices.tolist())
    ([3], [7, 9])
    """
    if z.dim() != 2 or dictionary.dim() != 2 or z.shape[1] != dictionary.shape[1]:
        raise ValueError(f"z {tuple(z.shape)} and dictionary {tuple(dictionary.shape)} must be "
                         "(batch, dim) and (concepts, dim)")
    batch, n_concepts = z.shape[0], dictionary.shape[0]
    dictionary = dictionary.to(z)
    gram = (dictionary @ dictionary.T) if gram is None else gram.to(z)
    lam = torch.as_tensor(l1_penalty, dtype=z.dtype, device=z.device)
    lam = lam.expand(batch) if lam.dim() == 0 else lam.reshape(batch)
    if bool((lam < 0).any()):
        raise ValueError("l1_penalty must be non-negative")
    q = z @ dictionary.T - lam[:, None]  # minimise 0.5 w'Gw - q'w
    gram_p = F.pad(gram.to(inner_dtype), (0, 1, 0, 1))
    w = torch.zeros(batch, n_concepts, dtype=z.dtype, device=z.device)
    if init is not None:
        w = init.to(w).clamp_min(0).clone()
    # the clips still going round, compacted: weights, gradient, linear term, sizes
    todo = torch.arange(batch, device=z.device)
    wt, qt = w, q
    gt = w @ gram - q if init is not None else -q
    # zero minimises on its (empty) support, as does every solution the rounds produce
    at_min = torch.ones(batch, dtype=torch.bool, device=z.device) if init is None else ~(w > 0).any(1)
    sizes = torch.full((batch,), min(working_set, n_concepts), dtype=torch.long, device=z.device)
    # the inner solves cannot resolve gradients below the rounding of their Gram blocks: a
    # stricter check here would send such clips round forever
    floor = _rounding_level(inner_dtype) * float(gram.diagonal().amax())
    moved = torch.ones(batch, dtype=torch.bool, device=z.device)
    for outer in range(max_outer):
        support = wt > 0
        score = gt.masked_fill(support, math.inf)  # the violators' gradients, most negative first
        if outer > 0:
            limit = torch.clamp(floor * (1 + wt.amax(1)), min=tol)
            # a clip the last round left unchanged would only repeat it: it is done
            violated = (score < -limit[:, None]).any(1) & moved
            w[todo[~violated]] = wt[~violated]
            todo, wt, qt, score = todo[violated], wt[violated], qt[violated], score[violated]
            support, at_min, sizes = support[violated], at_min[violated], sizes[violated]
        if len(todo) == 0:
            break
        n_support = support.sum(1)
        # working set: the support plus room for violators, in steps of 16 concepts
        need = n_support + torch.clamp(n_support // 2, min=16)
        sizes = torch.maximum(sizes, ((need + 15) // 16) * 16).clamp(max=n_concepts)
        score = score.masked_fill(support, -math.inf)  # the support always belongs
        moved = torch.zeros(len(todo), dtype=torch.bool, device=z.device)
        for k in sizes.unique().tolist():
            in_bucket = (sizes == k).nonzero().squeeze(1)
            step = max(1, max_elements // (k * k))
            for start in range(0, len(in_bucket), step):
                rows = in_bucket[start : start + step]
                # sorted indices make the Gram gather below much faster (memory order)
                ws = score[rows].topk(k, dim=1, largest=False).indices.sort(1).values
                wsp = F.pad(ws, (0, 1), value=n_concepts)  # + the zero row/column of the padded Gram
                Hp = torch.take(gram_p, wsp[:, :, None] * (n_concepts + 1) + wsp[:, None, :])
                p = qt[rows].gather(1, ws).double()
                # current weights: a warm start that minimises on its support (zero included)
                x0 = wt[rows].gather(1, ws).double()
                with _SmallOpsThreads(z.device, len(rows) * k * k):
                    if method == "pivoting":
                        x = _pivot(Hp[:, :k, :k].double(), p, x0 > 0, max_iter=10 * k + 10)
                    else:
                        x = _active_set(Hp, p, x0, max_iter=4 * k + 20, at_min=at_min[rows])
                new = torch.zeros_like(wt[rows]).scatter_(1, ws, x.clamp_min(0).to(w.dtype))
                moved[rows] = (new != wt[rows]).any(1)
                wt[rows] = new
        at_min = torch.ones_like(at_min)
        gt = _sparse_rows_times(wt, dictionary) @ dictionary.T - qt
    else:
        logger.warning("nonneg_lasso stopped after %d working-set rounds", max_outer)
        w[todo] = wt
    return w


def _sparse_rows_times(w, dictionary):
    """``w @ dictionary`` for sparse non-negative weights: a CSR product on CPU (5x faster here)."""
    if w.device.type != "cpu":
        return w @ dictionary
    with warnings.catch_warnings():  # torch flags its CSR layout as beta; the product is exact
        warnings.simplefilter("ignore", UserWarning)
        return w.to_sparse_csr() @ dictionary


def lambda_for_l0(z, dictionary, target_l0: float, gram=None, per_sample: bool = False,
                  iterations: int = 30, **solver_kwargs):
    """The ``lambda`` that gives ``target_l0`` active concepts, by bisection on ``log lambda``.

    Arguments
    ---------
    z, dictionary : torch.Tensor
        As for :func:`nonneg_lasso` (centred).
    target_l0 : float
        Wanted number of non-zero weights, e.g. 5, 10, 20 or 50.
    gram : torch.Tensor, optional
        ``C C^T``.
    per_sample : bool
        One ``lambda`` per clip hitting its own L0 (as close as the path allows), instead
        of one ``lambda`` whose mean L0 over the batch is ``target_l0``.
    iterations : int
        Bisection steps (each one solve, warm-started from the previous one).

    Returns
    -------
    float or torch.Tensor
        ``lambda`` (a ``(batch,)`` tensor when ``per_sample``).

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> C = F.normalize(torch.randn(200, 32), dim=-1)
    >>> z = F.normalize(torch.randn(8, 32), dim=-1)
    >>> lam = lambda_for_l0(z, C, 5)
    >>> round(float((nonneg_lasso(z, C, lam) > 0).sum(1).float().mean()))
    5
    """
    gram = dictionary @ dictionary.T if gram is None else gram
    lam_max = (z @ dictionary.T).amax(1).clamp_min(1e-12)  # lambda >= lam_max gives w = 0
    if not per_sample:
        lam_max = lam_max.max()
    tolerance = 0.5 if per_sample else 0.05 * target_l0

    def l0_at(lam, init):
        w = nonneg_lasso(z, dictionary, lam.expand(z.shape[0]) if lam.dim() == 0 else lam, gram=gram,
                         init=init, **solver_kwargs)
        l0 = (w > 0).sum(1).to(z.dtype)
        return (l0 if per_sample else l0.mean()), w

    # walk down from lambda_max by halving (sparse solutions, warm starts) until dense enough,
    # so the search never visits the dense, ill-posed end of the path
    hi, lo = torch.log(lam_max), torch.log(lam_max)
    w, best_lam, best_err = None, lam_max.clone(), torch.full_like(lam_max, math.inf)
    for _ in range(40):
        l0, w = l0_at(lo.exp(), w)
        err = (l0 - target_l0).abs()
        better = err < best_err
        best_lam, best_err = torch.where(better, lo.exp(), best_lam), torch.where(better, err, best_err)
        sparse = l0 < target_l0
        if not bool(sparse.any()):
            break
        hi = torch.where(sparse, lo, hi)
        lo = torch.where(sparse, lo - math.log(2.0), lo)
    for _ in range(iterations):  # bisection on log lambda between the last two points
        if bool((best_err <= tolerance).all()):
            break
        mid = (lo + hi) / 2
        l0, w = l0_at(mid.exp(), w)
        err = (l0 - target_l0).abs()
        better = err < best_err
        best_lam, best_err = torch.where(better, mid.exp(), best_lam), torch.where(better, err, best_err)
        sparse = l0 < target_l0  # lambda too large: move the upper end down
        hi = torch.where(sparse, mid, hi)
        lo = torch.where(sparse, lo, mid)
    return best_lam if per_sample else float(best_lam)


# --------------------------------------------------------------------------------------------
# Centring and concept embeddings
# --------------------------------------------------------------------------------------------
def center(x, mean) -> torch.Tensor:
    """Normalise, remove a modality mean and renormalise: ``normalize(normalize(x) - mean)``.

    Example
    -------
    >>> x = torch.tensor([[3.0, 4.0], [4.0, 3.0]])
    >>> [[round(v, 4) for v in row] for row in center(x, F.normalize(x, dim=-1).mean(0)).tolist()]
    [[-0.7071, 0.7071], [0.7071, -0.7071]]
    """
    return F.normalize(F.normalize(x, dim=-1) - mean.to(x), dim=-1)


def _cache_root(cache_dir=None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("SPEECHBRAIN_INTERP_CACHE")
    return Path(env) / "concepts" if env else Path.home() / ".cache" / "speechbrain_interp" / "concepts"


def concept_embeddings(embedder, vocabulary="sound_events", cache_dir=None, batch_size: int = 256,
                       use_cache: bool = True):
    """Text embeddings of a vocabulary's concepts, cached on disk.

    The cache file is keyed by the embedder's ``cache_key`` (its text tower and weights),
    the vocabulary's name and its version (the SHA-256 of the file), so a changed model or
    vocabulary never reuses stale embeddings.

    Arguments
    ---------
    embedder : speechbrain_interp.clap.AudioTextEmbedder
        Anything with ``embed_text(list[str]) -> (V, dim)`` and a ``cache_key`` string.
    vocabulary : str, Path or list of str
        A shipped vocabulary's name, a ``.txt`` path, or the concepts themselves.
    cache_dir : str or Path, optional
        Default ``$SPEECHBRAIN_INTERP_CACHE/concepts`` or ``~/.cache/speechbrain_interp/concepts``.
    batch_size : int
        Concepts embedded at once.
    use_cache : bool
        Read and write the cache.

    Returns
    -------
    (list of str, torch.Tensor)
        The concepts and their ``(V, dim)`` normalised embeddings.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.clap import HashingTextEncoder
    >>> enc = HashingTextEncoder(dim=16)
    >>> concepts, emb = concept_embeddings(enc, ["dog bark", "rain"], cache_dir=tempfile.mkdtemp())
    >>> emb.shape
    torch.Size([2, 16])
    """
    from safetensors.torch import load_file, save_file

    if isinstance(vocabulary, (list, tuple)):
        concepts = [str(c) for c in vocabulary]
        name = "custom"
        version = hashlib.sha256("\n".join(concepts).encode()).hexdigest()[:16]
    else:
        concepts = load_vocabulary(vocabulary)
        name = Path(str(vocabulary)).stem
        version = vocabulary_version(vocabulary)
    key = getattr(embedder, "cache_key", None)
    path = None
    if use_cache and key:
        path = _cache_root(cache_dir) / _safe_name(key) / f"{name}-{version}.safetensors"
        if path.exists():
            emb = load_file(str(path))["embeddings"]
            if emb.shape[0] == len(concepts):
                return concepts, emb
    chunks = []
    with torch.no_grad():
        for start in range(0, len(concepts), batch_size):
            chunks.append(embedder.embed_text(concepts[start : start + batch_size]).float().cpu())
    emb = F.normalize(torch.cat(chunks), dim=-1)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file({"embeddings": emb.contiguous()}, str(tmp), metadata={"vocabulary": name,
                                                                        "version": version})
        os.replace(tmp, path)
    return concepts, emb


def _safe_name(text: str) -> str:
    clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60]
    return f"{clean}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def get_vocabulary(name: str = "sound_events") -> list[str]:
    """The concepts of a shipped vocabulary (``sound_events``, ``sound_descriptions``, ``sound_sources``).

    Example
    -------
    >>> len(get_vocabulary("sound_sources"))
    2000
    """
    if name not in list_vocabularies() and not str(name).endswith(".txt"):
        raise ValueError(f"unknown vocabulary '{name}'; shipped: {list_vocabularies()}")
    return load_vocabulary(name)


# --------------------------------------------------------------------------------------------
# The bottleneck
# --------------------------------------------------------------------------------------------
class ConceptBottleneck(nn.Module):
    """Sparse non-negative concept decomposition of an embedder's audio embeddings.

    Arguments
    ---------
    concepts : list of str
        The vocabulary.
    concept_embeddings : torch.Tensor
        ``(V, dim)`` text embeddings of ``concepts`` in the embedder's joint space.
    l1_penalty : float
        ``lambda`` of the decomposition (see :meth:`set_l0` to pick it for a target L0).
    audio_mean : torch.Tensor, optional
        ``(dim,)`` mean of normalised audio embeddings; :meth:`fit_audio_mean` estimates it.
    embedder : nn.Module, optional
        The audio-text embedder, for :meth:`encode` (waveforms to weights).

    Example
    -------
    >>> from speechbrain_interp.clap import HashingTextEncoder
    >>> enc = HashingTextEncoder(dim=32)
    >>> words = ["dog bark", "siren", "rain", "engine", "bird song", "speech"]
    >>> bottleneck = ConceptBottleneck(words, enc.embed_text(words), l1_penalty=0.05)
    >>> audio = enc.embed_text(["dog bark", "rain", "siren"])  # stand-ins for audio embeddings
    >>> _ = bottleneck.fit_audio_mean(audio)
    >>> w = bottleneck.decompose(audio)
    >>> bottleneck.top_concepts(w, k=1)[0][0][0]
    'dog bark'
    >>> bool(bottleneck.recompose_cosine(audio, w).min() > 0.5)
    True
    """

    def __init__(self, concepts: Sequence[str], concept_embeddings: torch.Tensor, l1_penalty: float = 0.1,
                 audio_mean: torch.Tensor | None = None, embedder: nn.Module | None = None):
        super().__init__()
        if len(concepts) != concept_embeddings.shape[0]:
            raise ValueError(f"{len(concepts)} concepts but {concept_embeddings.shape[0]} embeddings")
        self.concepts = list(concepts)
        raw = F.normalize(concept_embeddings.detach().float(), dim=-1)
        self.register_buffer("text_mean", raw.mean(0))
        self.register_buffer("dictionary", center(raw, raw.mean(0)))
        self.register_buffer("raw_concepts", raw)
        self.register_buffer("gram", self.dictionary @ self.dictionary.T)
        self.register_buffer("audio_mean", torch.zeros(raw.shape[1]))
        self.register_buffer("audio_scale", torch.ones(()))
        self.has_audio_mean = False
        if audio_mean is not None:
            self.audio_mean.copy_(audio_mean.reshape(-1).float())
            self.has_audio_mean = True
        self.l1_penalty = float(l1_penalty)
        self.embedder = embedder
        self._index = {c: i for i, c in enumerate(self.concepts)}

    # --- SpLiCE surface -------------------------------------------------------------------
    def get_vocabulary(self) -> list[str]:
        """The concepts, index-aligned with the weights."""
        return list(self.concepts)

    @torch.no_grad()
    def fit_audio_mean(self, embeddings: torch.Tensor) -> ConceptBottleneck:
        """Estimate the audio modality mean (and typical centred norm) from ``(N, dim)`` embeddings."""
        z = F.normalize(embeddings.detach().float(), dim=-1).to(self.audio_mean)
        self.audio_mean.copy_(z.mean(0))
        self.audio_scale.copy_((z - self.audio_mean).norm(dim=-1).mean())
        self.has_audio_mean = True
        return self

    def _centred(self, embeddings):
        if not self.has_audio_mean:
            raise RuntimeError(
                "the audio mean is unknown: call fit_audio_mean(embeddings) on a set of audio "
                "embeddings (e.g. the training set) or pass audio_mean= to the constructor"
            )
        z = F.normalize(embeddings.float(), dim=-1).to(self.audio_mean)
        return F.normalize(z - self.audio_mean, dim=-1), (z - self.audio_mean).norm(dim=-1)

    def decompose(self, embeddings: torch.Tensor, l1_penalty=None, return_scale: bool = False,
                  **solver_kwargs):
        """Concept weights ``(N, V)`` of ``(N, dim)`` audio embeddings.

        ``l1_penalty`` overrides the bottleneck's ``lambda`` (scalar or per clip). With
        ``return_scale``, also returns each clip's centred norm, which :meth:`recompose` uses.
        """
        zc, scale = self._centred(embeddings.detach())
        lam = self.l1_penalty if l1_penalty is None else l1_penalty
        w = nonneg_lasso(zc, self.dictionary, lam, gram=self.gram, **solver_kwargs)
        return (w, scale) if return_scale else w

    def recompose(self, weights: torch.Tensor, scale=None) -> torch.Tensor:
        """Normalised embeddings rebuilt from concept weights: ``normalize(mean + s * C^T w)``.

        ``scale`` is the centred norm of each original embedding (from ``decompose(...,
        return_scale=True)``); by default the typical norm measured by :meth:`fit_audio_mean`.
        """
        s = self.audio_scale if scale is None else torch.as_tensor(scale).to(weights)
        s = s.reshape(-1, 1) if s.dim() else s
        return F.normalize(self.audio_mean + s * (weights.to(self.dictionary) @ self.dictionary), dim=-1)

    def recompose_cosine(self, embeddings: torch.Tensor, weights: torch.Tensor | None = None,
                         **solver_kwargs) -> torch.Tensor:
        """Cosine similarity ``(N,)`` between embeddings and their recomposition from concepts."""
        if weights is None:
            weights, scale = self.decompose(embeddings, return_scale=True, **solver_kwargs)
        else:
            scale = self._centred(embeddings)[1]
        rebuilt = self.recompose(weights, scale)
        return F.cosine_similarity(rebuilt, F.normalize(embeddings.float(), dim=-1).to(rebuilt), dim=-1)

    # --- choosing lambda ------------------------------------------------------------------
    def set_l0(self, embeddings: torch.Tensor, target_l0: float, **kwargs) -> float:
        """Set ``l1_penalty`` so that the mean L0 on ``embeddings`` is ``target_l0``; return it."""
        zc, _ = self._centred(embeddings.detach())
        self.l1_penalty = lambda_for_l0(zc, self.dictionary, target_l0, gram=self.gram, **kwargs)
        return self.l1_penalty

    # --- reading and editing weights ------------------------------------------------------
    def top_concepts(self, weights: torch.Tensor, k: int = 10) -> list[list[tuple[str, float]]]:
        """Per clip, the ``k`` largest ``(concept, weight)`` pairs with a positive weight."""
        out = []
        values, indices = weights.detach().float().cpu().topk(min(k, weights.shape[-1]), dim=-1)
        for vals, idx in zip(values.tolist(), indices.tolist()):
            out.append([(self.concepts[i], v) for v, i in zip(vals, idx) if v > 0])
        return out

    def concept_index(self, concept) -> int:
        """Index of a concept given by name or index."""
        if isinstance(concept, int):
            return concept
        if concept not in self._index:
            raise KeyError(f"'{concept}' is not in the vocabulary of {len(self.concepts)} concepts")
        return self._index[concept]

    def intervene(self, weights: torch.Tensor, remove=(), boost=None, set_to=None) -> torch.Tensor:
        """Edited copy of concept weights: remove concepts, scale some, or set their weight.

        Arguments
        ---------
        weights : torch.Tensor
            ``(N, V)`` weights from :meth:`decompose`.
        remove : sequence of str or int
            Concepts whose weight becomes 0.
        boost : dict, optional
            ``{concept: factor}`` multiplies a weight (factor 2 doubles it).
        set_to : dict, optional
            ``{concept: weight}`` sets a weight, e.g. to add a concept the clip did not have.

        Returns
        -------
        torch.Tensor
            New weights; :meth:`recompose` turns them into an edited embedding.
        """
        out = weights.clone()
        for c in remove:
            out[:, self.concept_index(c)] = 0.0
        for c, factor in (boost or {}).items():
            out[:, self.concept_index(c)] *= float(factor)
        for c, value in (set_to or {}).items():
            out[:, self.concept_index(c)] = float(value)
        return out.clamp_min(0)

    # --- from audio -----------------------------------------------------------------------
    def encode(self, wav: torch.Tensor, **kwargs) -> torch.Tensor:
        """Concept weights of waveforms, through the embedder's ``embed_audio``."""
        if self.embedder is None:
            raise RuntimeError("this bottleneck has no embedder; build it with load(embedder, ...)")
        with torch.no_grad():
            return self.decompose(self.embedder.embed_audio(wav), **kwargs)

    def zero_shot(self, weights: torch.Tensor, class_embeddings: torch.Tensor, scale=None) -> torch.Tensor:
        """Zero-shot class scores ``(N, classes)`` of the recomposed embeddings (cosine)."""
        return zero_shot_logits(self.recompose(weights, scale), class_embeddings)


def load(embedder, vocabulary="sound_events", l1_penalty: float = 0.1, audio_mean=None,
         cache_dir=None) -> ConceptBottleneck:
    """A :class:`ConceptBottleneck` for an embedder and a vocabulary (SpLiCE's ``load``).

    Arguments
    ---------
    embedder : speechbrain_interp.clap.AudioTextEmbedder
        Gives the concept text embeddings (cached) and, for ``encode``, audio embeddings.
    vocabulary : str, Path or list of str
        Shipped vocabulary name, ``.txt`` path or a list of concepts.
    l1_penalty : float
        ``lambda``; see :meth:`ConceptBottleneck.set_l0`.
    audio_mean : torch.Tensor, optional
        Audio modality mean; otherwise call :meth:`ConceptBottleneck.fit_audio_mean`.
    cache_dir : str or Path, optional
        Concept embedding cache.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.clap import HashingTextEncoder
    >>> bottleneck = load(HashingTextEncoder(dim=64), "sound_events", cache_dir=tempfile.mkdtemp())
    >>> len(bottleneck.get_vocabulary()) == len(get_vocabulary("sound_events"))
    True
    """
    concepts, emb = concept_embeddings(embedder, vocabulary, cache_dir=cache_dir)
    return ConceptBottleneck(concepts, emb, l1_penalty=l1_penalty, audio_mean=audio_mean, embedder=embedder)


# --------------------------------------------------------------------------------------------
# Uses: zero-shot, linear probe, fine-tuned projector
# --------------------------------------------------------------------------------------------
def zero_shot_logits(audio_embeddings: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity ``(N, classes)`` between audio embeddings and class-prompt text embeddings.

    Example
    -------
    >>> zero_shot_logits(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
    tensor([[0., 1.]])
    """
    return F.normalize(audio_embeddings.float(), dim=-1) @ F.normalize(class_embeddings.float(), dim=-1).T


class LinearProbe(nn.Module):
    """Multinomial logistic regression on fixed features (dense embeddings or concept weights).

    Features are standardised with the training statistics; the weights are fitted by
    full-batch L-BFGS with an L2 penalty, deterministically.

    Arguments
    ---------
    n_features, n_classes : int
        Sizes.
    l2 : float
        L2 penalty on the weights (mean cross-entropy + ``l2 * ||W||^2``).

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(60, 5); y = (x[:, 0] > 0).long()
    >>> probe = LinearProbe(5, 2).fit(x, y)
    >>> probe.accuracy(x, y) > 0.9
    True
    """

    def __init__(self, n_features: int, n_classes: int, l2: float = 1e-3):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)
        self.l2 = l2
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x.float() - self.mean) / self.std)

    def fit(self, x: torch.Tensor, y: torch.Tensor, max_iter: int = 200) -> LinearProbe:
        """Fit on ``(N, features)`` and ``(N,)`` labels; returns ``self``."""
        x = x.detach().float()
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-6))
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        opt = torch.optim.LBFGS(self.linear.parameters(), lr=1.0, max_iter=max_iter,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-6)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(self(x), y) + self.l2 * self.linear.weight.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
        return self

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``(x, y)`` classified correctly."""
        return float((self(x).argmax(-1) == y).float().mean())


class ConceptProjector(nn.Module):
    """Fine-tuned variant: a linear projector on audio embeddings, trained on downstream labels.

    ``P`` (initialised to the identity) maps an audio embedding so that its cosine with the
    text embedding of its class prompt is high (cross-entropy over the classes, with a
    penalty keeping ``P`` near the identity so that the projected embeddings stay in the
    joint space the concepts live in). Concept weights of ``P z`` are then more
    discriminative for the task while remaining concept weights.

    Arguments
    ---------
    dim : int
        Embedding size.
    temperature : float
        Logit scale is ``1 / temperature``.
    identity_penalty : float
        Weight of ``||P - I||^2``.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> classes = F.normalize(torch.randn(3, 8), dim=-1)
    >>> y = torch.arange(3).repeat(10)
    >>> z = F.normalize(classes[y] + 0.8 * torch.randn(30, 8), dim=-1)
    >>> proj = ConceptProjector(8)
    >>> before = float((zero_shot_logits(z, classes).argmax(-1) == y).float().mean())
    >>> after = float((zero_shot_logits(proj.fit(z, y, classes)(z), classes).argmax(-1) == y).float().mean())
    >>> after >= before
    True
    """

    def __init__(self, dim: int, temperature: float = 0.05, identity_penalty: float = 1e-2):
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dim))
            self.linear.bias.zero_()
        self.temperature = temperature
        self.identity_penalty = identity_penalty

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(F.normalize(z.float(), dim=-1)), dim=-1)

    def loss(self, z, y, class_embeddings):
        """Cross-entropy of the projected zero-shot logits plus the identity penalty."""
        logits = zero_shot_logits(self(z), class_embeddings) / self.temperature
        eye = torch.eye(self.linear.weight.shape[0], device=z.device)
        return F.cross_entropy(logits, y) + self.identity_penalty * (self.linear.weight - eye).pow(2).sum()

    def fit(self, z, y, class_embeddings, epochs: int = 200, lr: float = 1e-2) -> ConceptProjector:
        """Full-batch Adam on ``(N, dim)`` embeddings and labels; returns ``self``."""
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        z, class_embeddings = z.detach().float(), class_embeddings.detach().float()
        with torch.enable_grad():
            for _ in range(epochs):
                opt.zero_grad()
                self.loss(z, y, class_embeddings).backward()
                opt.step()
        return self
