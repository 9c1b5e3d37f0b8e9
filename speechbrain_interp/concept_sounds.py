"""Concepts you can listen to: which concept, where.

The concept bottleneck says *what* a clip is made of (``dog 0.31, barking 0.22``), never
*where*. :func:`listen_to_concepts` asks a text-conditioned interpreter (any brick whose
``explain`` takes ``text=``, such as the text-conditioned L-MAC) for the mask of each of a clip's
top concepts, with the concept as the prompt, and attaches to the explanation, per clip, a
:class:`~speechbrain_interp.explanation.ConceptSound` per concept: its mask, its listenable
interpretation and the share of the clip's energy it keeps. :meth:`Explanation.save` then
writes one WAV and one mask thumbnail per concept, and the report shows each concept's bar next
to its mask, with a player.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch

from speechbrain_interp.explanation import ConceptSound, Explanation

__all__ = ["listen_to_concepts", "energy_share"]


def energy_share(magnitude: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Share of the spectral energy a mask keeps: ``sum (M X)^2 / sum X^2`` per clip.

    Example
    -------
    >>> mag = torch.ones(1, 4, 3)
    >>> mask = torch.zeros(1, 4, 3); mask[:, :2] = 1.0
    >>> energy_share(mag, mask)
    tensor([0.5000])
    """
    power = magnitude.detach().float().pow(2).flatten(1)
    kept = (mask.detach().float().flatten(1) ** 2 * power).sum(1)
    return kept / power.sum(1).clamp_min(1e-12)


def _resample(wav: torch.Tensor, source: int, target: int) -> torch.Tensor:
    if source == target:
        return wav
    import torchaudio.functional as AF

    return AF.resample(wav, source, target)


def listen_to_concepts(explanation: Explanation, text_interpreter, top_k: int = 3,
                       min_weight: float = 0.0) -> Explanation:
    """Give each clip's top concepts a mask and a sound, from a text-conditioned interpreter.

    Arguments
    ---------
    explanation : Explanation
        An explanation with ``concepts`` (from the concept interpreter).
    text_interpreter : Interpreter or interface
        Anything with ``explain(wav, text=prompt)`` returning an :class:`Explanation` (the
        text-conditioned L-MAC); its sample rate is read from its front-end, and the audio is
        resampled to it and back when the rates differ.
    top_k : int
        Concepts per clip.
    min_weight : float
        Concepts of at most this weight are left out.

    Returns
    -------
    Explanation
        The same explanation, with ``concept_sounds`` set.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> frontend = SpectralFrontEnd(n_fft=64, hop_length=16)
    >>> class LowOrHigh:  # a stand-in text interpreter: "low ..." keeps the lower half of the bins
    ...     frontend = frontend
    ...     def explain(self, wav, text):
    ...         spec = frontend(wav)
    ...         mask = torch.zeros_like(spec.magnitude)
    ...         half = mask.shape[-1] // 2
    ...         mask[..., :half] = 1.0 if text.startswith("low") else 0.0
    ...         mask[..., half:] = 0.0 if text.startswith("low") else 1.0
    ...         return SimpleNamespace(mask=mask, magnitude=spec.magnitude,
    ...                                interpretation=frontend.istft(spec.magnitude * mask, spec.phase,
    ...                                                              wav.shape[-1]))
    >>> wav = torch.randn(1, 800)
    >>> e = Explanation("concepts", 16000, wav, torch.ones(1, 51, 33), torch.ones(1, 51, 33), wav, wav,
    ...                 torch.tensor([0]), torch.tensor([0.9]), torch.tensor([0.8]),
    ...                 concepts=[[("low hum", 0.6), ("high hiss", 0.3), ("speech", 0.0)]])
    >>> sounds = listen_to_concepts(e, LowOrHigh()).concept_sounds[0]
    >>> [s.concept for s in sounds], sounds[0].mask[:, :16].mean().item()
    (['low hum', 'high hiss'], 1.0)
    """
    if explanation.concepts is None:
        raise ValueError("the explanation has no concepts: explain with a concept interpreter first")
    frontend = getattr(text_interpreter, "frontend", None) or text_interpreter.interpreter.frontend
    rate = frontend.sample_rate
    sounds = []
    for i, concepts in enumerate(explanation.concepts):
        chosen = [(str(c), float(w)) for c, w in concepts if float(w) > min_weight][:top_k]
        wav = _resample(explanation.wav[i : i + 1].detach(), explanation.sample_rate, rate)
        clip = []
        for concept, weight in chosen:
            asked = text_interpreter.explain(wav, text=concept)
            audio = _resample(asked.interpretation[0].detach(), rate, explanation.sample_rate)
            audio = audio[..., : explanation.wav.shape[-1]]
            clip.append(ConceptSound(concept=concept, weight=weight, mask=asked.mask[0].detach().cpu(),
                                     interpretation=audio.cpu(),
                                     energy_share=float(energy_share(asked.magnitude[:1], asked.mask[:1]))))
        sounds.append(clip)
    explanation.concept_sounds = sounds
    return explanation
