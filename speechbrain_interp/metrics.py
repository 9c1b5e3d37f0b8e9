"""Faithfulness metrics for spectrogram masks: pure, batched, per-sample functions.

Notation for one sample: ``X`` the magnitude spectrogram, ``M`` the mask in
[0, 1], ``f`` the classifier, ``c`` the explained class (by default the class
predicted on ``X``), ``p_c(.)`` its probability (softmax, or sigmoid for
multi-label classifiers), ``M (.) X`` the mask applied in the front-end's mask
domain (:meth:`SpectralFrontEnd.apply_mask`). Every function returns a tensor
of shape ``(batch,)``; average it over a data set for the usual table entries.

The probability-level functions (:func:`average_increase`, ...) take
probabilities that have already been normalised. SpeechBrain's
``recipes/ESC50/interpret`` applies ``softmax`` to probabilities once more
inside its AD metric, which flattens both values towards ``1/C`` and
under-reports the drop; here AD follows the definition in the L-MAC paper
(from Grad-CAM++), on probabilities normalised exactly once.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "average_increase",
    "average_drop",
    "average_drop_speechbrain",
    "average_gain",
    "faithfulness",
    "input_fidelity",
    "sparseness",
    "complexity",
    "deletion_auc",
    "insertion_auc",
    "evaluate_mask",
    "evaluate_explanation",
    "scores_from_logits",
    "summarize",
    "METRIC_NAMES",
]

METRIC_NAMES = ("AI", "AD", "AD (SB)", "AG", "FF", "Fid-In", "SPS", "COMP")
_EPS = 1e-10


def average_increase(p_full: torch.Tensor, p_in: torch.Tensor) -> torch.Tensor:
    """AI: ``100 * 1[p_c(M (.) X) > p_c(X)]``; its mean is the share of clips whose confidence rises.

    Arguments
    ---------
    p_full, p_in : torch.Tensor
        ``(batch,)`` probability of class ``c`` on the full and the masked-in input.

    Example
    -------
    >>> average_increase(torch.tensor([0.5, 0.5]), torch.tensor([0.6, 0.4]))
    tensor([100.,   0.])
    """
    return (p_in > p_full).float() * 100.0


def average_drop(p_full: torch.Tensor, p_in: torch.Tensor) -> torch.Tensor:
    """AD: ``100 * max(0, p_c(X) - p_c(M (.) X)) / p_c(X)``; lower is better.

    Example
    -------
    >>> average_drop(torch.tensor([0.5, 0.5]), torch.tensor([0.6, 0.4])).round(decimals=3)
    tensor([ 0., 20.])
    """
    return torch.relu(p_full - p_in) / (p_full + _EPS) * 100.0


def average_drop_speechbrain(probs_full: torch.Tensor, probs_in: torch.Tensor, target=None) -> torch.Tensor:
    """AD as SpeechBrain's ESC-50 interpretation recipe computes it: softmax applied to probabilities.

    The recipe passes class probabilities through ``softmax`` once more before the AD
    formula, which pulls every value towards ``1/C``. Reported beside :func:`average_drop`
    only so that tables compare like for like with SpeechBrain's published numbers.

    Arguments
    ---------
    probs_full, probs_in : torch.Tensor
        ``(batch, classes)`` probabilities on the full and the masked-in input.
    target : torch.Tensor, optional
        ``(batch,)`` explained classes (default: the argmax of ``probs_full``).

    Example
    -------
    >>> full, masked = torch.tensor([[0.9, 0.1]]), torch.tensor([[0.5, 0.5]])
    >>> paper = average_drop(full[:, 0], masked[:, 0])
    >>> paper.round(decimals=2), average_drop_speechbrain(full, masked).round(decimals=2)
    (tensor([44.4400]), tensor([27.5300]))
    """
    if target is None:
        target = probs_full.argmax(-1)
    target = target.reshape(-1, 1)
    p_full = torch.softmax(probs_full, -1).gather(1, target).squeeze(1)
    p_in = torch.softmax(probs_in, -1).gather(1, target).squeeze(1)
    return average_drop(p_full, p_in)


def average_gain(p_full: torch.Tensor, p_in: torch.Tensor) -> torch.Tensor:
    """AG: ``100 * max(0, p_c(M (.) X) - p_c(X)) / (1 - p_c(X))``; higher is better.

    Example
    -------
    >>> average_gain(torch.tensor([0.5, 0.5]), torch.tensor([0.6, 0.4])).round(decimals=3)
    tensor([20.,  0.])
    """
    return torch.relu(p_in - p_full) / (1.0 - p_full + _EPS) * 100.0


def faithfulness(p_full: torch.Tensor, p_out: torch.Tensor) -> torch.Tensor:
    """FF: ``p_c(X) - p_c((1 - M) (.) X)``, the confidence lost when the explanation is removed.

    Example
    -------
    >>> faithfulness(torch.tensor([0.9]), torch.tensor([0.2]))
    tensor([0.7000])
    """
    return p_full - p_out


def input_fidelity(pred_full: torch.Tensor, pred_in: torch.Tensor) -> torch.Tensor:
    """Fid-In: ``1[argmax f(M (.) X) = argmax f(X)]``, given the two predicted indices.

    Example
    -------
    >>> input_fidelity(torch.tensor([3, 1]), torch.tensor([3, 2]))
    tensor([1., 0.])
    """
    return (pred_full == pred_in).float()


def sparseness(mask: torch.Tensor) -> torch.Tensor:
    """SPS: Gini index of ``|M|`` over all its bins (Chalasani et al. 2020), in [0, 1].

    With ``a`` the ``n`` values sorted ascending (plus ``1e-7``, as Quantus does, so an
    all-zero mask is defined): ``G = sum_i (2 i - n - 1) a_i / (n sum_i a_i)``, ``i = 1..n``.
    Higher means a sparser, more concentrated mask.

    Example
    -------
    >>> sparseness(torch.tensor([[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    tensor([0.7500, 0.0000])
    """
    # sorting in float32 gives the same order as in float64, at half the cost; on the CPU NumPy's
    # vectorised sort is several times faster than torch.sort (the metric's whole cost). The
    # 1e-7 offset adds 1e-7 * sum(2 i - n - 1) = 0 to the numerator, so only the denominator holds it.
    values = mask.detach().abs().flatten(1).float()
    n = values.shape[1]
    if values.device.type == "cpu":
        a = np.sort(values.numpy(), axis=1)
        weights = 2 * np.arange(1, n + 1, dtype=np.float64) - n - 1
        gini = (a.astype(np.float64) @ weights) / (n * (a.sum(1, dtype=np.float64) + n * 1e-7))
        return torch.from_numpy(gini).float()
    a = torch.sort(values, dim=1).values.double()
    weights = 2 * torch.arange(1, n + 1, dtype=a.dtype, device=a.device) - n - 1
    return ((a @ weights) / (n * (a.sum(1) + n * 1e-7))).float()


def complexity(mask: torch.Tensor) -> torch.Tensor:
    """COMP: entropy (nats) of ``|M|`` normalised to a distribution (Bhatt et al. 2020).

    ``p_i = |a_i| / sum_j |a_j|``, ``COMP = -sum_i p_i log p_i``; lower is simpler. An
    all-zero mask counts as uniform (``log n``) instead of NaN.

    Example
    -------
    >>> complexity(torch.tensor([[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    tensor([0.0000, 1.3863])
    """
    # -sum p log p = log(sum a) - sum(a log a) / sum a: no normalised copy, sums in float64
    a = mask.detach().abs().flatten(1).float()
    total = a.sum(1, dtype=torch.float64)
    ent = total.log() - torch.special.xlogy(a, a).sum(1, dtype=torch.float64) / total
    uniform = torch.full_like(ent, math.log(a.shape[1]))
    return (torch.where(total > 0, ent, uniform) + 0.0).float()  # + 0.0 turns -0.0 into 0.0


def _target_probability(adapter, magnitude, mask, target, phase, all_probs=False):
    masked = adapter.frontend.apply_mask(magnitude, mask)
    logits = adapter(masked, phase=phase)
    # float64: probabilities near 1 round to exactly 1.0 in float32, which flips AI and AG
    probs = adapter.probabilities(logits.double())
    picked = probs.gather(1, target[:, None]).squeeze(1)
    return (picked, logits, probs) if all_probs else (picked, logits)


def _rank_curve(adapter, magnitude, saliency, target, steps, insert, phase):
    """Probability of ``target`` as the most salient bins are removed (or inserted)."""
    flat = saliency.detach().flatten(1)
    # order[b, k] is the rank of bin k (0 = most salient); ties broken by index
    order = torch.argsort(torch.argsort(flat, dim=1, descending=True, stable=True), dim=1)
    n = flat.shape[1]
    probs = []
    for s in range(steps + 1):
        k = round(n * s / steps)
        top = (order < k).float().view_as(saliency)
        keep = top if insert else 1.0 - top
        probs.append(_target_probability(adapter, magnitude, keep, target, phase)[0])
    curve = torch.stack(probs, dim=1)  # (batch, steps + 1)
    return torch.trapezoid(curve, dx=1.0 / steps, dim=1)


@torch.no_grad()
def deletion_auc(adapter, magnitude, saliency, target=None, steps: int = 20, phase=None):
    """Deletion AUC: area under ``p_c`` as the most salient bins are zeroed, ``steps`` at a time.

    Removing bins means masking them to 0 in the mask domain; lower is better (the
    explanation found what the classifier needs). ``target`` defaults to the prediction.
    """
    target = _default_target(adapter, magnitude, target, phase)
    return _rank_curve(adapter, magnitude, saliency, target, steps, insert=False, phase=phase)


@torch.no_grad()
def insertion_auc(adapter, magnitude, saliency, target=None, steps: int = 20, phase=None):
    """Insertion AUC: area under ``p_c`` as the most salient bins are restored onto silence.

    Higher is better. ``target`` defaults to the prediction on the full input.
    """
    target = _default_target(adapter, magnitude, target, phase)
    return _rank_curve(adapter, magnitude, saliency, target, steps, insert=True, phase=phase)


def _default_target(adapter, magnitude, target, phase):
    if target is not None:
        return torch.as_tensor(target, device=magnitude.device).long().reshape(-1)
    return adapter(magnitude, phase=phase).argmax(-1)


@torch.no_grad()
def evaluate_mask(adapter, magnitude, mask, target=None, phase=None) -> dict[str, torch.Tensor]:
    """All mask metrics (AI, AD, AD (SB), AG, FF, Fid-In, SPS, COMP) for a batch, per sample.

    Three classifier passes: full input, masked-in ``M (.) X`` and masked-out
    ``(1 - M) (.) X``, all through the adapter's front-end. Probabilities are computed in
    float64. ``AD (SB)`` is :func:`average_drop_speechbrain` (single-label classifiers only;
    NaN for multi-label ones).

    Arguments
    ---------
    adapter : ClassifierAdapter
        The classifier being explained.
    magnitude : torch.Tensor
        ``(batch, frames, freq)`` linear magnitude.
    mask : torch.Tensor
        ``(batch, frames, freq)`` mask in [0, 1].
    target : torch.Tensor, optional
        ``(batch,)`` class indices; defaults to the classifier's prediction on ``X``.

    Returns
    -------
    dict
        ``{name: (batch,) tensor}`` for every name in :data:`METRIC_NAMES`.

    Example
    -------
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> frontend = SpectralFrontEnd(n_fft=64, hop_length=16, mask_domain="magnitude")
    >>> net = torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.Linear(33 * 33, 4))
    >>> adapter = TorchClassifier(net, frontend, input="magnitude")
    >>> mag = frontend(torch.randn(2, 512)).magnitude
    >>> scores = evaluate_mask(adapter, mag, torch.ones_like(mag))
    >>> scores["Fid-In"].tolist(), scores["AD"].tolist()
    ([1.0, 1.0], [0.0, 0.0])
    """
    logits = adapter(magnitude, phase=phase)
    if target is None:
        target = logits.argmax(-1)
    target = torch.as_tensor(target, device=magnitude.device).long().reshape(-1)
    _, logits_in = _target_probability(adapter, magnitude, mask, target, phase)
    _, logits_out = _target_probability(adapter, magnitude, 1.0 - mask, target, phase)
    return scores_from_logits(adapter, logits, logits_in, logits_out, target, mask)


def evaluate_explanation(explanation, adapter) -> dict[str, torch.Tensor]:
    """:func:`evaluate_mask` from what an ``Explanation`` already holds: no classifier pass.

    An Explanation built by hand, without the classifier's logits, is scored by
    :func:`evaluate_mask` (one pass on the masked-in and masked-out inputs).

    ``Interpreter.build_explanation`` keeps the classifier's logits on the input, the
    masked-in and the masked-out spectrogram; the adapter only says how logits become
    probabilities (softmax, or sigmoid if multi-label).

    Example
    -------
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> from speechbrain_interp.interpreters.base import Interpreter
    >>> frontend = SpectralFrontEnd(n_fft=64, hop_length=16, mask_domain="magnitude")
    >>> net = torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.Linear(33 * 33, 4))
    >>> adapter = TorchClassifier(net, frontend, input="magnitude")
    >>> class Half(Interpreter):
    ...     def compute_mask(self, spectrum, target, logits, hidden):
    ...         return torch.full_like(spectrum.magnitude, 0.5)
    >>> e = Half(adapter).explain(torch.randn(2, 512))
    >>> again = evaluate_mask(adapter, e.magnitude, e.mask, target=e.target)
    >>> all(torch.allclose(v, again[k], equal_nan=True) for k, v in evaluate_explanation(e, adapter).items())
    True
    >>> e.logits = None  # as if built by hand: the classifier runs instead
    >>> all(torch.equal(v, again[k]) for k, v in evaluate_explanation(e, adapter).items())
    True
    """
    if explanation.logits is None or explanation.logits_in is None or explanation.logits_out is None:
        # built by hand, without the classifier's outputs: run the classifier
        device = next(adapter.buffers(), torch.empty(0)).device
        return evaluate_mask(adapter, explanation.magnitude.to(device), explanation.mask.to(device),
                             target=explanation.target.to(device))
    return scores_from_logits(adapter, explanation.logits, explanation.logits_in, explanation.logits_out,
                   explanation.target.to(explanation.logits.device), explanation.mask)


def scores_from_logits(adapter, logits, logits_in, logits_out, target, mask) -> dict[str, torch.Tensor]:
    """Every metric of :data:`METRIC_NAMES` from the logits on the input, masked-in and masked-out.

    What :func:`evaluate_mask` and :func:`evaluate_explanation` compute once the classifier has
    run; a training loop that already holds the three outputs calls it directly.

    Example
    -------
    >>> from speechbrain_interp.testing import band_window_classifier
    >>> logits = torch.tensor([[2.0, 0.0]])
    >>> s = scores_from_logits(band_window_classifier(), logits, logits, logits, torch.tensor([0]),
    ...                        torch.ones(1, 3, 4))
    >>> s["AD"].tolist(), s["Fid-In"].tolist()
    ([0.0], [1.0])
    """
    # float64: probabilities near 1 round to exactly 1.0 in float32, which flips AI and AG
    probs, probs_in, probs_out = (adapter.probabilities(x.double()) for x in (logits, logits_in, logits_out))
    pick = target[:, None]
    p_full, p_in = probs.gather(1, pick).squeeze(1), probs_in.gather(1, pick).squeeze(1)
    p_out = probs_out.gather(1, pick).squeeze(1)
    ad_sb = (torch.full_like(p_full, float("nan")) if adapter.multilabel
             else average_drop_speechbrain(probs, probs_in, target))
    return {
        "AI": average_increase(p_full, p_in),
        "AD": average_drop(p_full, p_in),
        "AD (SB)": ad_sb,
        "AG": average_gain(p_full, p_in),
        "FF": faithfulness(p_full, p_out),
        "Fid-In": input_fidelity(logits.argmax(-1), logits_in.argmax(-1)),
        "SPS": sparseness(mask),
        "COMP": complexity(mask),
    }


def summarize(scores: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean of each per-sample metric, as plain floats for tables and JSON.

    Example
    -------
    >>> summarize({"AD": torch.tensor([10.0, 30.0])})
    {'AD': 20.0}
    """
    return {k: float(torch.as_tensor(v, dtype=torch.float32).mean()) for k, v in scores.items()}
