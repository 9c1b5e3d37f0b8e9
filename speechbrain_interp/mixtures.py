"""Training mixtures for robust interpreters: sources mixed, noise added, events inserted.

L-MAC (and any brick trained on mixtures) learns to find the evidence of the clean sound
inside a mixture when it is trained on these, against the prediction on the clean clip;
:func:`total_variation` is the smoothness penalty on masks.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch

from speechbrain_interp.localization import most_active_segment
from speechbrain_interp.two_events import make_two_event_set

__all__ = ["total_variation", "mix_sources", "add_white_noise", "insert_events", "training_mixtures",
           "other_source_targets", "two_event_scenes", "conditional_questions"]

_EPS = 1e-8


def total_variation(mask: torch.Tensor) -> torch.Tensor:
    """Per-clip total variation ``mean (dM/dt)^2 + mean (dM/df)^2`` of ``(batch, frames, freq)`` masks.

    Squared differences, as in SpeechBrain's L-MAC recipe, but averaged instead of summed,
    so the weight does not depend on the clip length or the STFT size.

    Example
    -------
    >>> total_variation(torch.tensor([[[0.0, 1.0], [0.0, 1.0]]]))
    tensor([1.])
    """
    dt = (mask[:, 1:, :] - mask[:, :-1, :]).pow(2)
    df = (mask[:, :, 1:] - mask[:, :, :-1]).pow(2)
    zero = mask.new_zeros(mask.shape[0])
    tv_t = dt.flatten(1).mean(1) if dt.numel() else zero
    tv_f = df.flatten(1).mean(1) if df.numel() else zero
    return tv_t + tv_f


def _energy_normalize(wav: torch.Tensor) -> torch.Tensor:
    norm = wav.pow(2).sum(-1, keepdim=True).sqrt()
    return torch.where(norm > 0, wav / norm.clamp_min(_EPS), torch.zeros_like(wav))


def _peak_normalize(wav: torch.Tensor) -> torch.Tensor:
    peak = wav.abs().amax(-1, keepdim=True)
    return torch.where(peak > 0, wav / peak.clamp_min(_EPS), wav)


def mix_sources(s1: torch.Tensor, s2: torch.Tensor, w1=0.8, w2=0.2) -> torch.Tensor:
    """``w1 * s1 + w2 * s2`` of energy-normalised ``(batch, time)`` sources, then peak-normalised.

    This is the L-MAC paper's out-of-domain mixture (``0.8 s1 + 0.2 s2``); ``w1`` and
    ``w2`` may be floats or ``(batch,)`` tensors. Silent sources stay silent (no NaN).

    Example
    -------
    >>> s1, s2 = torch.randn(3, 1600), torch.randn(3, 1600)
    >>> mix = mix_sources(s1, s2)
    >>> mix.shape, bool(torch.allclose(mix.abs().amax(-1), torch.ones(3)))
    (torch.Size([3, 1600]), True)
    >>> bool(mix_sources(torch.zeros(1, 100), torch.zeros(1, 100)).isfinite().all())
    True
    """
    if s1.shape != s2.shape:
        raise ValueError(f"sources must have the same shape, got {tuple(s1.shape)} and {tuple(s2.shape)}")
    w1 = torch.as_tensor(w1, dtype=s1.dtype, device=s1.device).reshape(-1, 1)
    w2 = torch.as_tensor(w2, dtype=s1.dtype, device=s1.device).reshape(-1, 1)
    return _peak_normalize(w1 * _energy_normalize(s1) + w2 * _energy_normalize(s2))


def add_white_noise(wav: torch.Tensor, weight=0.5, generator=None) -> torch.Tensor:
    """``s + weight * n`` with ``s`` and white noise ``n`` energy-normalised, then peak-normalised.

    This is the L-MAC paper's white-noise out-of-domain setting (``weight = 0.5``).

    Example
    -------
    >>> noisy = add_white_noise(torch.randn(2, 1600), generator=torch.Generator().manual_seed(0))
    >>> noisy.shape
    torch.Size([2, 1600])
    """
    noise = torch.randn(wav.shape, generator=generator, dtype=wav.dtype).to(wav.device)
    return mix_sources(wav, noise, 1.0, weight)


def insert_events(wav: torch.Tensor, background: torch.Tensor, seconds, sample_rate: int,
                  snr_range=(-5.0, 15.0), generator=None) -> torch.Tensor:
    """Cut each clip's most active segment and insert it into a background at a random offset and SNR.

    Clip ``i``'s loudest ``U(seconds)``-second window goes into ``background[i]`` at a
    uniformly drawn offset, scaled so that its energy over the span is ``U(snr_range)`` dB
    above the background's there; the mixture is peak-normalised. Training on such
    mixtures, against the prediction on the clean clip, teaches a decoder that the evidence
    is the inserted event and nothing around it.

    Example
    -------
    >>> wav = torch.zeros(2, 16000)
    >>> wav[:, 1000:3000] = 1.0
    >>> out = insert_events(wav, 0.01 * torch.randn(2, 16000), (0.1, 0.1), 16000, snr_range=(20, 20),
    ...                     generator=torch.Generator().manual_seed(0))
    >>> out.shape, (out.abs() > 0.5).sum(-1).ge(1590).tolist()   # the 0.1 s event, loud
    (torch.Size([2, 16000]), [True, True])
    """
    batch, total = wav.shape
    lo, hi = (max(1, min(total, int(s * sample_rate))) for s in seconds)
    lengths = torch.randint(lo, hi + 1, (batch,), generator=generator)
    u_off = torch.rand(batch, generator=generator)
    snr = snr_range[0] + (snr_range[1] - snr_range[0]) * torch.rand(batch, generator=generator)
    out = []
    for i in range(batch):
        length = int(lengths[i])
        start = int(most_active_segment(wav[i], length)[0])
        off = int(u_off[i] * (total - length + 1))
        seg = wav[i, start:start + length]
        e_fg = seg.pow(2).sum()
        e_bg = background[i, off:off + length].pow(2).sum()
        gain = torch.sqrt(e_bg / e_fg.clamp_min(_EPS) * 10.0 ** (float(snr[i]) / 10.0))
        gain = torch.where((e_bg > 0) & (e_fg > 0), gain, torch.ones_like(gain))
        mix = background[i].clone()
        mix[off:off + length] += gain * seg
        out.append(mix)
    return _peak_normalize(torch.stack(out))


def training_mixtures(wav: torch.Tensor, p_clip: float = 0.5, p_noise: float = 0.25,
                      weight_range=(0.1, 0.4), generator=None, p_insert: float = 0.0,
                      insert_seconds=(0.5, 2.0), snr_range=(-5.0, 15.0), sample_rate: int = 16000):
    """Randomly turn clips of a batch into mixtures, for training robust interpreters.

    Each clip independently becomes, with probability ``p_clip``, a mixture
    ``(1 - w) s + w s'`` with the next clip of the batch (rolled by one), with probability
    ``p_noise`` a mixture with white noise, with probability ``p_insert`` its most active
    ``insert_seconds`` inserted into the next clip of the batch (or into white noise, for one
    clip in four) at a random offset and an SNR in ``snr_range`` (:func:`insert_events`),
    and otherwise stays as it is; ``w ~ U(weight_range)``. Sources are energy-normalised and
    mixtures peak-normalised, as in :func:`mix_sources`.

    Returns
    -------
    mixed : torch.Tensor
        ``(batch, time)`` waveforms.
    kind : torch.Tensor
        ``(batch,)``: 0 clean, 1 mixed with another clip, 2 mixed with noise, 3 event inserted
        into another clip, 4 event inserted into noise. With 1 and 3 the batch's next clip
        (``wav.roll(1, 0)``) is a second source of the mixture.

    Example
    -------
    >>> mixed, kind = training_mixtures(torch.randn(8, 1600), p_insert=0.2,
    ...                                 generator=torch.Generator().manual_seed(0))
    >>> mixed.shape, set(kind.tolist()) <= {0, 1, 2, 3, 4}
    (torch.Size([8, 1600]), True)
    """
    batch = wav.shape[0]
    u = torch.rand(batch, generator=generator)
    lo, hi = weight_range
    w = lo + (hi - lo) * torch.rand(batch, generator=generator)
    if batch < 2:  # a batch of one has no other clip
        p_clip = 0.0
    kind = torch.where(u < p_clip, 1, torch.where(u < p_clip + p_noise, 2,
                       torch.where(u < p_clip + p_noise + p_insert, 3, 0))).to(wav.device)
    w = w.to(wav.device, wav.dtype)
    noise = torch.randn(wav.shape, generator=generator, dtype=wav.dtype).to(wav.device)
    other = torch.where((kind == 1)[:, None], wav.roll(1, 0), noise)
    mixed = mix_sources(wav, other, 1.0 - w, w)
    if p_insert > 0:
        into_noise = (torch.rand(batch, generator=generator) < 0.25).to(wav.device) | (batch < 2)
        scale = wav.abs().amax(-1, keepdim=True).clamp_min(_EPS)
        background = torch.where(into_noise[:, None], 0.1 * scale * noise, wav.roll(1, 0))
        inserted = insert_events(wav, background, insert_seconds, sample_rate, snr_range, generator)
        mixed = torch.where((kind == 3)[:, None], inserted, mixed)
        kind = torch.where((kind == 3) & into_noise, 4, kind)
    return torch.where((kind == 0)[:, None], wav, mixed), kind


def other_source_targets(target: torch.Tensor, kind: torch.Tensor, p_other: float,
                         generator=None) -> torch.Tensor:
    """Targets that, with probability ``p_other``, ask a two-clip mixture about its other clip.

    ``kind`` comes from :func:`training_mixtures`: mixtures of kind 1 and 3 hold the batch's
    next clip (``roll(1, 0)``) as a second source, whose target is ``target.roll(1, 0)``. A
    class-conditional interpreter trained on such targets learns from one mixture asked two
    questions that the answer depends on the question.

    Example
    -------
    >>> kind = torch.tensor([0, 1, 3, 2])
    >>> other_source_targets(torch.tensor([5, 6, 7, 8]), kind, 1.0).tolist()
    [5, 5, 6, 8]
    """
    two_sources = ((kind == 1) | (kind == 3)).cpu()
    swap = two_sources & (torch.rand(kind.shape[0], generator=generator) < p_other)
    swap = swap.to(target.device).view(-1, *([1] * (target.dim() - 1)))
    return torch.where(swap, target.roll(1, 0), target)


def two_event_scenes(wav: torch.Tensor, target: torch.Tensor, p: float, seconds=(0.5, 2.0),
                     snr_range=(0.0, 15.0), sample_rate: int = 16000, gap: float = 0.5, generator=None):
    """Turn clips, with probability ``p``, into two-event scenes asked about either event.

    Clip ``i``'s and the batch's next clip's (``roll(1, 0)``) most active seconds go into white
    noise at two separate times (:func:`~speechbrain_interp.two_events.make_two_event_set`,
    one length and SNR per batch, drawn from ``seconds`` and ``snr_range``), and the scene
    is asked, at random, about one of them. A class-conditional interpreter trained on such
    scenes cannot answer both questions with one mask: the two events are apart in time.

    Returns
    -------
    scenes : torch.Tensor
        ``(batch, time)``: the scenes where ``chosen``, the clips elsewhere.
    target : torch.Tensor
        The asked event's target where ``chosen``, ``target`` elsewhere.
    chosen : torch.Tensor
        ``(batch,)`` boolean.

    Example
    -------
    >>> wav, target = torch.randn(4, 16000), torch.tensor([0, 1, 2, 3])
    >>> scenes, asked, chosen = two_event_scenes(wav, target, 1.0, seconds=(0.3, 0.3), sample_rate=4000,
    ...                                          generator=torch.Generator().manual_seed(0))
    >>> scenes.shape, bool(chosen.all()), all(a in (t, (t - 1) % 4) for a, t in zip(asked.tolist(), range(4)))
    (torch.Size([4, 16000]), True, True)
    """
    batch, total = wav.shape
    chosen = torch.rand(batch, generator=generator) < p
    if batch < 2 or not bool(chosen.any()):
        return wav, target, torch.zeros(batch, dtype=torch.bool, device=wav.device)
    clip_s = total / sample_rate
    gap = min(gap, 0.2 * clip_s)
    longest = 0.99 * (clip_s - gap) / 2
    length = min(longest, seconds[0] + (seconds[1] - seconds[0]) * float(torch.rand(1, generator=generator)))
    snr = snr_range[0] + (snr_range[1] - snr_range[0]) * float(torch.rand(1, generator=generator))
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    ask_other = torch.rand(batch, generator=generator) < 0.5
    noise = torch.randn(wav.shape, generator=generator, dtype=wav.dtype)
    idx = chosen.nonzero().flatten()
    source = wav.detach().cpu()
    scale = source.abs().amax(-1, keepdim=True).clamp_min(_EPS)
    other_target = target.roll(1, 0)
    background = 0.1 * scale[idx] * noise[idx]
    bench = make_two_event_set(source[idx], source.roll(1, 0)[idx], background, sample_rate,
                               torch.stack([target.cpu(), other_target.cpu()], -1)[idx], seconds=length,
                               snr_db=snr, gap=gap, seed=seed)
    scenes = wav.clone()
    scenes[idx.to(wav.device)] = bench.mixture.to(wav.device, wav.dtype)
    swap = (chosen & ask_other).to(target.device).view(-1, *([1] * (target.dim() - 1)))
    return scenes, torch.where(swap, other_target, target), chosen.to(wav.device)


def conditional_questions(wav, mixed, kind, target, p_other: float, p_two: float, seconds=(0.5, 2.0),
                          snr_range=(0.0, 15.0), sample_rate: int = 16000, generator=None):
    """Inputs and targets that ask a class-conditional interpreter questions with several answers.

    ``mixed`` and ``kind`` come from :func:`training_mixtures` on the clean clips ``wav`` whose
    targets are ``target``. With probability ``p_two`` a clip becomes a two-event scene asked
    about either event (:func:`two_event_scenes`, ``seconds`` and ``snr_range``); with
    probability ``p_other`` a remaining two-clip mixture is asked about its other clip
    (:func:`other_source_targets`).

    Returns
    -------
    mixed, target : torch.Tensor
        The inputs and the class each is asked about.

    Example
    -------
    >>> gen = torch.Generator().manual_seed(0)
    >>> wav, target = torch.randn(4, 16000), torch.tensor([0, 1, 2, 3])
    >>> mixed, kind = training_mixtures(wav, generator=gen)
    >>> inputs, asked = conditional_questions(wav, mixed, kind, target, 0.5, 1.0, (0.3, 0.3),
    ...                                       sample_rate=4000, generator=gen)
    >>> inputs.shape, all(a in (t, (t - 1) % 4) for a, t in zip(asked.tolist(), range(4)))
    (torch.Size([4, 16000]), True)
    """
    chosen = None
    if p_two > 0:
        # two events apart in time, asked about either: one mask cannot answer both
        scenes, asked, chosen = two_event_scenes(wav, target, p_two, tuple(seconds), tuple(snr_range),
                                                 sample_rate, generator=generator)
        mixed = torch.where(chosen[:, None], scenes, mixed)
        kind = torch.where(chosen, -1, kind)  # not a two-clip mixture any more
    if p_other > 0:
        target = other_source_targets(target, kind, p_other, generator=generator)
    if chosen is not None:
        target = torch.where(chosen.view(-1, *([1] * (target.dim() - 1))), asked, target)
    return mixed, target
