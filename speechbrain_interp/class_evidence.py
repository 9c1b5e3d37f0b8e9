"""The evidence a classifier holds for one class, as a map over one of its hidden layers.

A class-conditional interpreter has to know where, in the clip, the classifier sees the
class it is asked about. A learned embedding of the class (FiLM) has to discover that from
the interpreter's loss alone, and on ESC-50 it did not (recipes/ESC50/interpret/README.md,
"asking about one class"). The classifier itself already knows: the gradient of the class's
logit with respect to a hidden map weights that map's channels by how much they count for
the class (Grad-CAM, Selvaraju et al. 2017), or, taken place by place, says where in the map
each channel counts (HiResCAM, Draelos and Carin 2020). :func:`class_evidence` computes that
map, ``relu(sum_k w_k h_k)``, normalised to a peak of 1 per clip, so that a decoder can read it
as one more hidden layer.

Which score the gradient is taken of matters where a scene holds the evidence of several
classes. The gradient of a class's logit is positive wherever a feature raises that logit,
including at another event whose features many classes share. The gradient of the class's
log-probability, ``logit_c - logsumexp(logits)``, subtracts every other class's gradient
weighted by its probability: a place that holds more evidence for a competing class than for
the asked one counts against it, and the ``relu`` removes it (``score="log_probability"``).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from speechbrain_interp.lobes.mask_decoder import EVIDENCE_KEY, _first_tensor, to_canonical

__all__ = ["EVIDENCE_KEY", "SCORES", "class_evidence", "class_score"]

#: What :func:`class_evidence` differentiates (besides a callable).
SCORES = ("logit", "log_probability")


def class_score(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The summed logits of the asked classes: ``(batch,)`` indices or a ``(batch, classes)`` 0/1 set.

    Example
    -------
    >>> class_score(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([1, 0]))
    tensor(5.)
    >>> class_score(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 1.0]]))
    tensor(3.)
    """
    target = torch.as_tensor(target, device=logits.device)
    if target.dim() == 2:
        return (logits * target.to(logits.dtype)).sum()
    return logits.gather(1, target.long().view(-1, 1)).sum()


def _score_of(adapter, score, logits: torch.Tensor, target) -> torch.Tensor:
    if callable(score):
        return score(logits, target)
    if score == "log_probability" and not getattr(adapter, "multilabel", False):
        # a sigmoid output's log-probability only rescales the logit's gradient per clip, which
        # the peak normalisation removes: multi-label classes stay the logit
        logits = torch.log_softmax(logits, dim=-1)
    return class_score(logits, target)


def class_evidence(adapter, layer: str, layout: str, magnitude: torch.Tensor, target,
                   phase=None, weighting: str = "mean", score="logit") -> torch.Tensor:
    """``(batch, 1, time, freq)`` map of where layer ``layer`` holds the evidence for ``target``.

    One forward pass of the classifier with gradients and one backward pass from the asked
    logits down to the layer (not to the input). The map is ``relu`` of the channels weighted
    by their gradient (see ``weighting``), in the canonical ``(batch, channels, time, freq)`` view of the
    layer (:func:`~speechbrain_interp.lobes.mask_decoder.to_canonical`), divided by its
    per-clip peak: 1 where the evidence is strongest, 0 where the layer holds none.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The classifier (its parameters may stay frozen).
    layer : str
        Dotted module name under ``adapter.model``, read through the adapter's ``hidden_view``.
    layout : str
        The layer's layout (one of ``LAYOUTS``; ``"BC"`` has no place and is refused).
    magnitude : torch.Tensor
        ``(batch, frames, freq)`` linear magnitude.
    target : torch.Tensor
        ``(batch,)`` class indices or a ``(batch, classes)`` 0/1 set.
    phase : torch.Tensor, optional
        Phase, for classifiers that resynthesise the waveform.
    weighting : str
        ``"mean"`` (Grad-CAM): each channel weighted by its gradient averaged over the map;
        ``"element"`` (HiResCAM, Draelos and Carin 2020): gradient times activation at every
        place, summed over channels, which keeps where in the map a channel counts (an early
        layer whose channels serve every class has a class-specific map only this way).
    score : str or callable
        What is differentiated: ``"logit"`` (default), the asked classes' logits;
        ``"log_probability"``, their log-softmax (single-label classifiers), whose gradient
        discounts the places that hold more evidence for the competing classes (module
        docstring); or a callable ``score(logits, target)`` returning a scalar summed over
        the batch.

    Example
    -------
    >>> from speechbrain_interp.testing import band_class_classifier
    >>> adapter = band_class_classifier()     # class 0: a tone at 500-900 Hz, class 1: 2000-2400 Hz
    >>> t = torch.arange(8000) / 8000
    >>> scene = torch.sin(2 * torch.pi * 700 * t) * (t < 0.4) + torch.sin(2 * torch.pi * 2200 * t) * (t > 0.6)
    >>> mag = adapter.frontend(scene[None]).magnitude
    >>> low, high = (class_evidence(adapter, "features", "BCTF", mag, torch.tensor([c]), weighting="element")
    ...              for c in (0, 1))
    >>> low.shape[:2], float(low.amax())
    (torch.Size([1, 1]), 1.0)
    >>> half = low.shape[2] // 2   # each class's evidence lies in the half where its tone is
    >>> first = lambda ev: float(ev[..., :half, :].sum() / ev.sum())
    >>> first(low) > 0.5, first(high) < 0.5
    (True, True)
    >>> contrast = class_evidence(adapter, "features", "BCTF", mag, torch.tensor([0]), weighting="element",
    ...                           score="log_probability")
    >>> first(contrast) >= first(low)   # the other tone's half counts against class 0
    True
    """
    if layout == "BC":
        raise ValueError(f"layer '{layer}' has no time axis (a pooled vector): the class evidence needs "
                         "a map; name a layer before the model pools over time")
    if weighting not in ("mean", "element"):
        raise ValueError(f"weighting must be 'mean' or 'element', got '{weighting}'")
    if not callable(score) and score not in SCORES:
        raise ValueError(f"score must be one of {SCORES} or a callable, got '{score}'")
    outputs = []
    handle = adapter.model.get_submodule(layer).register_forward_hook(
        lambda module, inputs, output: outputs.append(_first_tensor(output)))
    try:
        with torch.enable_grad():
            # a frozen classifier builds no graph unless its input asks for one
            mag = magnitude.detach().requires_grad_(True)
            logits = adapter(mag, phase=phase)
            acts = outputs[-1]
            grads = torch.autograd.grad(_score_of(adapter, score, logits, target), acts)[0]
    finally:
        handle.remove()
    view = getattr(adapter, "hidden_view", lambda name, output: output)
    acts = to_canonical(view(layer, acts.detach()), layout)
    grads = to_canonical(view(layer, grads), layout)
    weights = grads.mean(dim=(2, 3), keepdim=True) if weighting == "mean" else grads
    cam = F.relu((weights * acts).sum(1, keepdim=True))
    peak = cam.flatten(1).amax(1).view(-1, 1, 1, 1)
    return torch.where(peak > 0, cam / peak.clamp_min(1e-12), torch.zeros_like(cam))
