"""Two events, two questions: does the mask for a class go where that class's sound is?

The localization benchmark (:mod:`speechbrain_interp.localization`) asks about one sound per
mixture. A scene often holds several, and an explanation asked about one of them must point
at that one. Here two events of different classes are inserted into one background at two
separate times (for example a dog at 0.5-1.5 s and a siren at 3-4 s) and each brick is asked
about each class. For each question, the mask's **own share** (its mass inside the asked
event's span), its **other share** (inside the other event's span) and its **own lift** (own
share over the span's share of the clip) are measured.

A mask that ignores the question has the same own share for both questions, so it cannot
reach a high own share for both: the row of a brick that is not conditional on the class
stays near the sum of the two spans' shares divided evenly.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from speechbrain_interp.localization import (
    energy_mask,
    frames_in_spans,
    most_active_segment,
    nanmean,
    snr_gain,
    time_share,
)
from speechbrain_interp.metrics import evaluate_mask

__all__ = ["TwoEventSet", "make_two_event_set", "next_partner_set", "two_event_scores",
           "evaluate_two_events", "two_event_paper_metrics", "TWO_EVENT_METRICS"]

#: Columns of :func:`evaluate_two_events`.
TWO_EVENT_METRICS = ("own share", "other share", "own lift", "own >= 0.7")
_EPS = 1e-12


@dataclass
class TwoEventSet:
    """Scenes with two inserted events each, all ``(n, time)`` at one sample rate.

    Arguments
    ---------
    mixture : torch.Tensor
        ``(n, time)`` scenes, peak-normalised.
    spans : torch.Tensor
        ``(n, 2, 2)`` first and one-past-last sample of each event.
    targets : torch.Tensor
        ``(n, 2)`` class of each event.
    ids : list of str
        A name per scene.
    """

    mixture: torch.Tensor
    spans: torch.Tensor
    targets: torch.Tensor
    ids: list

    def __len__(self) -> int:
        return int(self.mixture.shape[0])

    def subset(self, keep) -> TwoEventSet:
        """The scenes selected by a boolean ``(n,)`` tensor."""
        idx = torch.as_tensor(keep).nonzero().flatten()
        return TwoEventSet(self.mixture[idx], self.spans[idx], self.targets[idx], [self.ids[i] for i in idx])


def make_two_event_set(first, second, backgrounds, sample_rate: int, targets, seconds: float = 1.0,
                       snr_db: float = 5.0, gap: float = 0.5, ids=None, seed: int = 0,
                       peak: float = 0.9) -> TwoEventSet:
    """Insert the most active ``seconds`` of ``first[i]`` and of ``second[i]`` into ``backgrounds[i]``.

    The two events land at random, non-overlapping offsets at least ``gap`` seconds apart,
    in random order, each at ``snr_db`` over the background within its own span.

    Example
    -------
    >>> a, b = torch.zeros(2, 8000), torch.zeros(2, 8000)
    >>> a[:, 1000:3000], b[:, 5000:7000] = torch.randn(2, 2000), torch.randn(2, 2000)
    >>> bench = make_two_event_set(a, b, 0.01 * torch.randn(2, 40000), 8000, [[0, 1], [2, 3]],
    ...                            seconds=0.25)
    >>> bench.mixture.shape, bench.spans.shape, bench.targets.tolist()
    (torch.Size([2, 40000]), torch.Size([2, 2, 2]), [[0, 1], [2, 3]])
    >>> s = bench.spans[0]
    >>> bool(s[0, 1] + 4000 <= s[1, 0] or s[1, 1] + 4000 <= s[0, 0])   # 0.5 s apart at least
    True
    """
    first, second = torch.as_tensor(first).float(), torch.as_tensor(second).float()
    bgs = torch.as_tensor(backgrounds).float()
    n, total = bgs.shape
    length = int(seconds * sample_rate)
    room = total - 2 * length - int(gap * sample_rate)
    if room < 0:
        raise ValueError(f"backgrounds of {total} samples cannot hold two {seconds} s events {gap} s apart")
    gen = torch.Generator().manual_seed(int(seed))
    mixtures, spans = [], []
    for i in range(n):
        # two offsets: a random split of the free room before, between and after the events
        cuts = (torch.rand(2, generator=gen) * (room + 1)).long().sort().values.tolist()
        starts = [cuts[0], cuts[1] + length + int(gap * sample_rate)]
        if bool(torch.rand(1, generator=gen) < 0.5):
            starts.reverse()  # which event comes first is random
        mix = bgs[i].clone()
        for clip, start in zip((first[i], second[i]), starts):
            a = int(most_active_segment(clip, length)[0])
            segment = clip[a:a + length]
            e_fg = segment.double().pow(2).sum()
            e_bg = bgs[i, start:start + length].double().pow(2).sum()
            mix[start:start + length] += snr_gain(e_fg, e_bg, snr_db) * segment
        mixtures.append(mix * (peak / mix.abs().max().clamp_min(_EPS)))
        spans.append(torch.tensor([[starts[0], starts[0] + length], [starts[1], starts[1] + length]]))
    names = list(ids) if ids is not None else [str(i) for i in range(n)]
    return TwoEventSet(torch.stack(mixtures), torch.stack(spans), torch.as_tensor(targets).long(), names)


def next_partner_set(wavs, labels, sample_rate: int, seconds: float, snr_db: float,
                     seed: int = 0) -> TwoEventSet:
    """Clip ``i`` and the next clip of another class (in order, wrapping) in white noise (0.05 std).

    The events last ``seconds`` (at most 0.4 of a clip) and lie ``min(0.5 s, 0.2 clip)`` apart
    at least; a clip without any of another class is paired with itself.

    Example
    -------
    >>> bench = next_partner_set(torch.randn(3, 8000), torch.tensor([0, 0, 1]), 8000, 0.25, 5.0)
    >>> bench.targets.tolist()
    [[0, 1], [0, 1], [1, 0]]
    """
    wavs, labels = torch.as_tensor(wavs), torch.as_tensor(labels).long()
    n = len(labels)
    partner = []
    for i in range(n):
        others = (k % n for k in range(i + 1, i + n) if labels[k % n] != labels[i])
        partner.append(next(others, i))
    clip_s = wavs.shape[1] / sample_rate
    noise = 0.05 * torch.randn(wavs.shape, generator=torch.Generator().manual_seed(seed))
    targets = torch.stack([labels, labels[partner]], 1)
    return make_two_event_set(wavs, wavs[partner], noise, sample_rate, targets,
                              seconds=min(float(seconds), 0.4 * clip_s), gap=min(0.5, 0.2 * clip_s),
                              snr_db=float(snr_db), seed=seed)


def two_event_scores(frontend, masks: torch.Tensor, own: torch.Tensor, other: torch.Tensor) -> dict:
    """Per-scene own share, other share and own lift of ``(n, frames, freq)`` masks.

    Example
    -------
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> fe = SpectralFrontEnd(n_fft=64, hop_length=10)
    >>> mask = torch.zeros(1, 10, 33)
    >>> mask[0, 2:4] = 1.0
    >>> s = two_event_scores(fe, mask, torch.tensor([[20, 40]]), torch.tensor([[60, 80]]))
    >>> [round(float(s[k][0]), 2) for k in ("own share", "other share", "own lift")]
    [1.0, 0.0, 5.0]
    """
    frames = masks.shape[1]
    in_own, in_other = frames_in_spans(frontend, own, frames), frames_in_spans(frontend, other, frames)
    own_share = time_share(masks, in_own)
    return {"own share": own_share, "other share": time_share(masks, in_other),
            "own lift": own_share / in_own.double().mean(1).clamp_min(_EPS),
            "own >= 0.7": (own_share >= 0.7).double()}


@torch.no_grad()
def _top_k(adapter, wavs, k: int, batch_size: int) -> torch.Tensor:
    out = []
    for start in range(0, wavs.shape[0], batch_size):
        probs = adapter.classify_wav(wavs[start:start + batch_size])
        out.append(probs.topk(min(k, probs.shape[-1]), -1).indices.cpu())
    return torch.cat(out)


def evaluate_two_events(interpreters: dict, bench: TwoEventSet, batch_size: int = 8, top_k: int = 5,
                        energy_row: bool = True, profile_of: str | None = None,
                        paper_metrics: bool = False) -> dict:
    """Ask every brick about each of the two events of each scene; mean scores per brick.

    Only scenes where the classifier ranks both events' classes among its ``top_k`` count
    (a question about a class the classifier does not hear has no right answer).

    Returns
    -------
    dict
        ``{"kept": int, "total": int, "rows": {name: {metric: mean over scenes and questions}}}``,
        with an ``"energy mask"`` reference row (the same mask for both questions). With
        ``profile_of`` (an interpreter's name), also a ``"fixed profile"`` row: that brick's
        mean mask over the kept scenes and both questions, the same for every question; the
        profile itself, ``(1, frames, freq)``, is under ``"profile"``. With ``paper_metrics``,
        :func:`two_event_paper_metrics` of the kept scenes under ``"paper"``.
    """
    if not interpreters:
        raise ValueError("evaluate_two_events needs at least one interpreter")
    adapter = next(iter(interpreters.values())).classifier
    ranked = _top_k(adapter, bench.mixture, top_k, batch_size)
    heard = ((ranked[:, None, :] == bench.targets[:, :, None]).any(-1)).all(-1)
    kept = bench.subset(heard)
    rows = {}
    if len(kept) == 0:
        return {"kept": 0, "total": len(bench), "rows": rows}
    fe = adapter.frontend
    result = {"kept": len(kept), "total": len(bench), "rows": rows}
    for name, interp in interpreters.items():
        sums = {m: [] for m in TWO_EVENT_METRICS}
        for q in (0, 1):
            masks = []
            for start in range(0, len(kept), batch_size):
                sl = slice(start, start + batch_size)
                e = interp.explain(kept.mixture[sl], target=kept.targets[sl, q])
                masks.append(e.mask.detach().cpu())
            masks = torch.cat(masks)
            if name == profile_of:  # the sum over both questions' masks, halved below
                result["profile"] = masks.double().mean(0, keepdim=True) + result.get("profile", 0.0)
            scores = two_event_scores(fe, masks, kept.spans[:, q], kept.spans[:, 1 - q])
            for m in TWO_EVENT_METRICS:
                sums[m].append(scores[m])
        rows[name] = {m: nanmean(torch.cat(v)) for m, v in sums.items()}
    if profile_of is not None:
        if "profile" not in result:
            raise ValueError(f"profile_of names no interpreter: {profile_of!r} not in {list(interpreters)}")
        result["profile"] = (result["profile"] / 2).float()
        fixed = result["profile"].expand(len(kept), -1, -1)
        scores = [two_event_scores(fe, fixed, kept.spans[:, q], kept.spans[:, 1 - q]) for q in (0, 1)]
        rows["fixed profile"] = {m: nanmean(torch.cat([s[m] for s in scores])) for m in TWO_EVENT_METRICS}
    if energy_row:
        mag = torch.cat([fe(kept.mixture[s:s + batch_size]).magnitude.cpu()
                         for s in range(0, len(kept), batch_size)])
        masks = energy_mask(fe, mag)
        scores = [two_event_scores(fe, masks, kept.spans[:, q], kept.spans[:, 1 - q]) for q in (0, 1)]
        rows["energy mask"] = {m: nanmean(torch.cat([s[m] for s in scores])) for m in TWO_EVENT_METRICS}
    if paper_metrics:
        result["paper"] = two_event_paper_metrics(interpreters, kept, batch_size, result.get("profile"))
    return result


@torch.no_grad()
def two_event_paper_metrics(interpreters: dict, bench: TwoEventSet, batch_size: int = 8,
                            profile=None) -> dict:
    """AI, AD, AG, FF, Fid-In, SPS and COMP of every brick asked about each event of each scene.

    The explained class is the asked event's (not the prediction), so the metrics say whether
    each question's mask keeps and removes *that* class. An ``"energy mask"`` row, and with
    ``profile`` (e.g. :func:`evaluate_two_events`'s) a ``"fixed profile"`` row, are scored on the
    same questions.

    Returns
    -------
    dict
        ``{name: {metric: mean over scenes and questions}}``.
    """
    adapter = next(iter(interpreters.values())).classifier
    fe = adapter.frontend
    sums: dict = {}
    for q in (0, 1):
        for start in range(0, len(bench), batch_size):
            wav, target = bench.mixture[start:start + batch_size], bench.targets[start:start + batch_size, q]
            magnitude = fe(wav).magnitude
            masks = {name: interp.explain(wav, target=target).mask for name, interp in interpreters.items()}
            masks["energy mask"] = energy_mask(fe, magnitude)
            if profile is not None:
                masks["fixed profile"] = profile.to(magnitude).expand_as(magnitude)
            for name, mask in masks.items():
                for key, value in evaluate_mask(adapter, magnitude, mask, target=target).items():
                    sums.setdefault(name, {}).setdefault(key, []).append(value.double())
    return {name: {k: float(torch.cat(v).nanmean()) for k, v in row.items()} for name, row in sums.items()}
