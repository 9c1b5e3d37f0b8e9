"""Non-negative lasso, exact and batched: the solver of the concept bottleneck.

Per row ``z`` of a batch, :func:`nonneg_lasso` solves

.. math:: \\min_{w \\ge 0} \\tfrac12 \\lVert z - C^\\top w \\rVert^2 + \\lambda \\lVert w \\rVert_1

on CPU or GPU with a working-set method. Every clip keeps a small working set of concepts
(its current support plus the concepts whose gradient most violates the optimality
conditions); on it, the problem is solved exactly by a primal active-set method
(Lawson-Hanson, adding several concepts at a time) on blocks of the precomputed Gram matrix
``C C^T``, batched over clips with one Cholesky factorisation of each passive block per step;
then the full gradient checks the optimality conditions of all concepts, and only the clips
with violations go round again, warm-started, with their violators added. Clips whose
support outgrows their working set move to a larger size bucket. :func:`lambda_for_l0`
picks ``lambda`` for a target number of active concepts; :func:`lasso_objective` is the
objective above.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import logging
import math
import warnings

import torch
import torch.nn.functional as F

__all__ = ["nonneg_lasso", "lasso_objective", "lambda_for_l0"]

logger = logging.getLogger(__name__)


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
