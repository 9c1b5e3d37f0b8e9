"""Sanity checks for masks, after Adebayo et al. 2018, "Sanity Checks for Saliency Maps".

Two questions a mask must answer "yes" to before any of its scores mean anything:

* **Does it depend on the model?** Model-parameter randomization: the classifier's top
  layers are re-initialised (cascading from the output down), the brick explains the same
  clips again, and the Spearman rank correlation between the two masks of each clip is
  reported. A mask that barely changes when the model it explains is destroyed is a
  property of the input (or of the brick), not of the model.
* **Does it depend on the input?** Input specificity: the Pearson correlation of each
  clip's mask with the mean mask of the other clips, and the mean pairwise correlation of
  the clips' frequency profiles (masks averaged over time). A fixed profile, the same for
  every clip, scores 1 on both.

Randomization happens in place inside :func:`randomized_layers`, a context manager that
restores every parameter and buffer on exit, so bricks that hook the classifier's layers
keep working unchanged.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from speechbrain_interp.localization import average_ranks, nanmean, predictions

__all__ = [
    "top_layers",
    "randomized_layers",
    "spearman",
    "input_specificity",
    "profile_correlation",
    "randomization_check",
    "sanity_checks",
]


def top_layers(model: nn.Module, count: int) -> list:
    """Names of the last ``count`` modules that own parameters, in registration order (output last).

    Example
    -------
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> top_layers(net, 1), top_layers(net, 2)
    (['2'], ['0', '2'])
    """
    owners = [name for name, m in model.named_modules()
              if name and any(True for _ in m.parameters(recurse=False))]
    return owners[-int(count):] if count > 0 else []


@contextlib.contextmanager
def randomized_layers(model: nn.Module, names, seed: int = 0):
    """Re-initialise the parameters of the named modules for the duration of a ``with`` block.

    Modules with ``reset_parameters`` (linear, convolution, ...) use it; any other parameter
    is redrawn from a normal distribution with its own mean and standard deviation. Running
    statistics (BatchNorm) are kept. Everything is restored on exit.

    Example
    -------
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    >>> before = net[1].weight.clone()
    >>> with randomized_layers(net, ["1"]):
    ...     changed = not torch.equal(net[1].weight, before)
    >>> changed, torch.equal(net[1].weight, before)
    (True, True)
    """
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    devices = torch.cuda.device_count() and [torch.cuda.current_device()] or []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(int(seed))
            for name in names:
                module = model.get_submodule(name)
                for m in module.modules():
                    if hasattr(m, "reset_parameters") and not isinstance(m, nn.modules.batchnorm._NormBase):
                        m.reset_parameters()
                    else:
                        for p in m.parameters(recurse=False):
                            p.copy_(p.mean() + p.std(correction=0).clamp_min(1e-3) * torch.randn_like(p))
        yield model
    finally:
        model.load_state_dict(saved)


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    den = a.norm(dim=-1) * b.norm(dim=-1)
    return torch.where(den > 0, (a * b).sum(-1) / den.clamp_min(1e-300), torch.full_like(den, float("nan")))


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-clip Spearman rank correlation of two ``(batch, ...)`` mask tensors, ``(batch,)``.

    A clip where one mask is constant and the other is not scores 0 (they share no
    ordering); where both are constant it scores 1 (nothing changed).

    Example
    -------
    >>> a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    >>> spearman(a, a ** 3).round(decimals=6).tolist(), spearman(a, -a).round(decimals=6).tolist()
    ([1.0], [-1.0])
    >>> spearman(a, torch.zeros(1, 4)).tolist()
    [0.0]
    """
    a, b = a.detach().flatten(1).double(), b.detach().flatten(1).double()
    ra = torch.stack([average_ranks(x) for x in a])
    rb = torch.stack([average_ranks(x) for x in b])
    r = _pearson(ra, rb)
    flat_a, flat_b = ra.std(-1) == 0, rb.std(-1) == 0
    r = torch.where(flat_a | flat_b, torch.zeros_like(r), r)
    return torch.where(flat_a & flat_b, torch.ones_like(r), r)


def input_specificity(masks: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each clip's mask with the mean mask of the other clips, ``(n,)``.

    1 for a mask that is the same for every clip; lower is more specific to the input.

    Example
    -------
    >>> same = torch.rand(1, 5, 3).expand(4, 5, 3)
    >>> input_specificity(same).round(decimals=6).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    flat = masks.detach().flatten(1).double()
    n = flat.shape[0]
    if n < 2:
        raise ValueError("input specificity needs at least two clips")
    others = (flat.sum(0, keepdim=True) - flat) / (n - 1)
    return _pearson(flat, others)


def profile_correlation(masks: torch.Tensor) -> float:
    """Mean pairwise Pearson correlation of the clips' frequency profiles (masks averaged over time).

    Example
    -------
    >>> profile = torch.rand(1, 1, 6)
    >>> round(profile_correlation(profile.expand(3, 10, 6)), 6)
    1.0
    """
    prof = masks.detach().double().mean(1)
    prof = prof - prof.mean(-1, keepdim=True)
    norm = prof.norm(dim=-1, keepdim=True)
    unit = torch.where(norm > 0, prof / norm.clamp_min(1e-300), torch.zeros_like(prof))
    gram = unit @ unit.T
    n = gram.shape[0]
    if n < 2:
        raise ValueError("profile correlation needs at least two clips")
    return float((gram.sum() - gram.diagonal().sum()) / (n * (n - 1)))


def _masks(interpreter, wavs, batch_size, target=None):
    chunks = []
    for start in range(0, wavs.shape[0], batch_size):
        t = None if target is None else target[start:start + batch_size]
        chunks.append(interpreter.explain(wavs[start:start + batch_size], target=t).mask.detach().cpu())
    return torch.cat(chunks)


def randomization_check(interpreter, wavs: torch.Tensor, layers=None, count: int = 1,
                        batch_size: int = 8, seed: int = 0, masks=None, target=None) -> torch.Tensor:
    """Spearman correlation, per clip, of a brick's masks before and after randomizing top layers.

    Arguments
    ---------
    interpreter : Interpreter
        The brick; its ``classifier.model`` is randomized in place and restored.
    wavs : torch.Tensor
        ``(n, time)`` clips.
    layers : list of str, optional
        Module names under ``classifier.model`` to randomize (default: :func:`top_layers`
        with ``count``).
    count : int
        How many parameter-owning modules, from the output down, to randomize.
    batch_size, seed : int
        Clips per ``explain`` call; seed of the new parameters.
    masks : torch.Tensor, optional
        The brick's masks on ``wavs`` with the trained model, if already computed.
    target : torch.Tensor, optional
        The trained model's predictions on ``wavs``, if already computed.

    Returns
    -------
    torch.Tensor
        ``(n,)`` rank correlations; the masks explain the trained model's prediction in both
        cases, so only the model changes.

    Example
    -------
    >>> from speechbrain_interp.testing import band_window_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> brick = Saliency(band_window_classifier())
    >>> r = randomization_check(brick, torch.randn(2, 4000), layers=["features"])
    >>> r.shape
    torch.Size([2])
    """
    model = interpreter.classifier.model
    names = list(layers) if layers is not None else top_layers(model, count)
    if target is None:
        target = predictions(interpreter.classifier, wavs, batch_size)
    before = masks if masks is not None else _masks(interpreter, wavs, batch_size, target)
    with randomized_layers(model, names, seed):
        after = _masks(interpreter, wavs, batch_size, target)
    return spearman(before, after)


def sanity_checks(interpreters: dict, wavs: torch.Tensor, counts=(1, 3), batch_size: int = 8,
                  seed: int = 0, fixed_profile_of: str | None = None) -> dict:
    """Sanity table: randomization correlations and input specificity of every brick.

    Arguments
    ---------
    interpreters : dict
        ``{row name: Interpreter}``.
    wavs : torch.Tensor
        ``(n, time)`` clips (at least two).
    counts : sequence of int
        Cascade depths: randomize the top ``k`` parameter-owning modules, for each ``k``.
    fixed_profile_of : str, optional
        Add a "fixed profile" row made of this brick's mean mask (default: the first brick).

    Returns
    -------
    dict
        ``{row: {column: mean}}`` with columns ``"rand r (top k)"`` for each ``k``,
        ``"cross-clip r"`` and ``"profile r"``.
    """
    rows, profile_source = {}, fixed_profile_of or next(iter(interpreters))
    for name, interp in interpreters.items():
        interp.eval()
        target = predictions(interp.classifier, wavs, batch_size)
        masks = _masks(interp, wavs, batch_size, target)
        row = {}
        for k in counts:
            r = randomization_check(interp, wavs, count=k, batch_size=batch_size, seed=seed, masks=masks,
                                    target=target)
            row[f"rand r (top {k})"] = nanmean(r)
        row["cross-clip r"] = nanmean(input_specificity(masks))
        row["profile r"] = profile_correlation(masks)
        rows[name] = row
        if name == profile_source:
            fixed = masks.double().mean(0, keepdim=True).expand_as(masks)
            rows_fixed = {f"rand r (top {k})": 1.0 for k in counts}
            rows_fixed.update({"cross-clip r": nanmean(input_specificity(fixed)),
                               "profile r": profile_correlation(fixed)})
    rows["fixed profile"] = rows_fixed
    return rows

