"""One mask per label: explain every class a clip is heard as, or a chosen set.

A multi-label classifier hears a dog *and* a siren in one clip; a single explanation of its
top class says nothing about the other. :func:`explain_labels` asks the brick about each label
in turn (one classifier analysis, one mask per label) and returns the usual
:class:`~speechbrain_interp.explanation.Explanation` of the top label, with
``label_masks``: per clip, a :class:`~speechbrain_interp.explanation.LabelMask` for each
label, holding its mask, the label's probability on the input and on its masked-in input, and
its listenable interpretation. The masks differ per label for bricks whose mask depends on the
class (gradient baselines, class-conditional L-MAC); an unconditional decoder gives the same
mask for every label.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch

from speechbrain_interp.explanation import LabelMask

__all__ = ["predicted_labels", "explain_labels"]


def predicted_labels(adapter, probabilities: torch.Tensor, threshold: float = 0.5, top_k: int = 1) -> list:
    """Per clip, the classes it is heard as: above ``threshold`` for a multi-label classifier
    (at least its top class), its ``top_k`` classes otherwise.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> multi = SimpleNamespace(multilabel=True)
    >>> predicted_labels(multi, torch.tensor([[0.9, 0.2, 0.7], [0.1, 0.3, 0.2]]))
    [[0, 2], [1]]
    """
    out = []
    for probs in probabilities:
        if adapter.multilabel:
            chosen = (probs > threshold).nonzero().flatten()
            chosen = chosen[probs[chosen].argsort(descending=True)].tolist() or [int(probs.argmax())]
        else:
            chosen = probs.topk(min(top_k, probs.numel())).indices.tolist()
        out.append(chosen)
    return out


def explain_labels(interpreter, wav, labels=None, threshold: float = 0.5, top_k: int = 1):
    """Explain each label of each clip; the :class:`Explanation` of the top label, with ``label_masks``.

    Arguments
    ---------
    interpreter : speechbrain_interp.interpreters.base.Interpreter
        Any brick.
    wav : torch.Tensor
        ``(batch, time)`` audio.
    labels : list of (str or int), optional
        The labels to explain for every clip; default: each clip's predicted labels
        (:func:`predicted_labels` with ``threshold`` and ``top_k``).

    Example
    -------
    >>> from speechbrain_interp.testing import band_class_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> adapter = band_class_classifier(multilabel=True)
    >>> t = torch.arange(8000) / 8000
    >>> both = torch.sin(2 * torch.pi * 700 * t) + torch.sin(2 * torch.pi * 2200 * t)
    >>> e = explain_labels(Saliency(adapter), both[None])
    >>> [m.label for m in e.label_masks[0]], e.label_masks[0][0].mask.shape == e.mask[0].shape
    (['low', 'high'], True)
    """
    clf, fe = interpreter.classifier, interpreter.frontend
    wav, spectrum, logits, hidden = interpreter.analyse(wav)
    probs = clf.probabilities(logits)
    if labels is None:
        chosen = predicted_labels(clf, probs, threshold, top_k)
    else:
        indices = [int(interpreter.resolve_target(logits[:1], [c])) for c in labels]  # checks names
        chosen = [list(indices) for _ in range(wav.shape[0])]
    batch = wav.shape[0]
    masks = {}
    for c in sorted({c for cs in chosen for c in cs}):
        target = torch.full((batch,), c, dtype=torch.long, device=logits.device)
        masks[c] = interpreter.compute_mask(spectrum, target, logits, hidden).detach().clamp(0.0, 1.0)
    label_masks = []
    with torch.no_grad():
        per_class = {}
        for c, mask in masks.items():
            masked = fe.apply_mask(spectrum.magnitude, mask)
            p_in = clf.probabilities(clf(masked, phase=spectrum.phase))[:, c]
            per_class[c] = (p_in, fe.istft(masked, spectrum.phase, spectrum.num_samples))
        for i, cs in enumerate(chosen):
            label_masks.append([
                LabelMask(clf.label_of(c), masks[c][i].cpu(), float(probs[i, c]), float(per_class[c][0][i]),
                          per_class[c][1][i].cpu())
                for c in cs])
    top = torch.tensor([cs[0] for cs in chosen], device=logits.device)
    mask = torch.stack([masks[cs[0]][i] for i, cs in enumerate(chosen)])
    explanation = interpreter.build_explanation(wav, spectrum, mask, top, logits)
    explanation.label_masks = label_masks
    return explanation
