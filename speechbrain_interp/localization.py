"""Ground-truth localization: does a mask point at the sound the classifier heard?

The paper metrics (:mod:`speechbrain_interp.metrics`) measure what the classifier does with
a masked input; a fixed low-pass filter, the same for every clip, nearly satisfies them.
This module judges masks against ground truth made by construction:

* a **foreground** event (an ESC-50 clip cut to its most active 1-2 s) is inserted at a
  random offset into a 5 s **background** (another class, white noise or speech) at a
  chosen SNR, the foreground-to-background energy ratio over the inserted span;
* the ground truth is the inserted **time span** and the **ideal binary mask**
  ``|STFT(foreground)| > |STFT(background)|`` in the classifier's own front-end;
* a mask scores its **time share** (the share of its mass inside the span), the **lift**
  of that share over the span's share of the clip (1 = no localization) and its
  **T-F AUC**, the ROC AUC of the mask against the ideal binary mask; its mean and the
  standard deviation of its frame-mean over time say whether it moves at all.

Every brick is compared with three reference rows made from the same mixtures
(:func:`reference_masks`): the brick's **fixed profile** (its average mask, the same for
every clip), the **energy mask** (the mixture's own normalised log-magnitude) and
**all-ones**. A mask that does not clearly beat the fixed profile and the energy mask does
not localize.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = [
    "LocalizationSet",
    "most_active_segment",
    "make_localization_set",
    "ground_truth",
    "frames_in_spans",
    "snr_gain",
    "time_share",
    "span_frames",
    "event_scores",
    "event_energy",
    "average_ranks",
    "tf_auc",
    "predictions",
    "localization_scores",
    "energy_mask",
    "reference_masks",
    "evaluate_localization",
    "LOCALIZATION_METRICS",
    "nanmean",
]

#: Per-mixture columns of :func:`localization_scores`.
LOCALIZATION_METRICS = ("time share", "lift", "T-F AUC", "mask mean", "time std")
_EPS = 1e-12


@dataclass
class LocalizationSet:
    """Mixtures with their ground truth, all ``(n, time)`` at one sample rate.

    Arguments
    ---------
    mixture : torch.Tensor
        ``foreground + background``, peak-normalised.
    foreground, background : torch.Tensor
        The two parts of each mixture, scaled as they are inside it (they sum to ``mixture``).
    span : torch.Tensor
        ``(n, 2)`` first and one-past-last sample of the inserted event.
    target : torch.Tensor
        ``(n,)`` class of the foreground (the label the classifier should give).
    snr_db : torch.Tensor
        ``(n,)`` foreground-to-background energy ratio over the span, in dB.
    background_kind : list of str
        What each background is (``"clip"``, ``"white_noise"``, ``"speech"``, ...).
    ids : list of str
        A name per mixture, for reports.
    """

    mixture: torch.Tensor
    foreground: torch.Tensor
    background: torch.Tensor
    span: torch.Tensor
    target: torch.Tensor
    snr_db: torch.Tensor
    background_kind: list = field(default_factory=list)
    ids: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.mixture.shape[0])

    def subset(self, keep) -> LocalizationSet:
        """The mixtures selected by a boolean ``(n,)`` tensor or index list."""
        keep = torch.as_tensor(keep)
        idx = keep.nonzero().flatten() if keep.dtype == torch.bool else keep.long()
        pick = idx.tolist()
        return LocalizationSet(
            self.mixture[idx], self.foreground[idx], self.background[idx], self.span[idx],
            self.target[idx], self.snr_db[idx],
            [self.background_kind[i] for i in pick] if self.background_kind else [],
            [self.ids[i] for i in pick] if self.ids else [],
        )


def most_active_segment(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Start sample of the ``length``-sample window of ``(n, time)`` clips with the most energy.

    Example
    -------
    >>> wav = torch.zeros(1, 1000)
    >>> wav[0, 600:700] = 1.0
    >>> int(most_active_segment(wav, 200)[0]) in range(500, 601)
    True
    """
    if wav.dim() == 1:
        wav = wav[None]
    length = min(int(length), wav.shape[-1])
    energy = torch.nn.functional.pad(wav.double().pow(2).cumsum(-1), (1, 0))
    window = energy[:, length:] - energy[:, :-length]
    return window.argmax(-1)


def make_localization_set(foreground_clips, backgrounds, sample_rate: int, snr_db=(10.0, 5.0, 0.0),
                          seconds=(1.0, 2.0), target=None, background_kind=None, ids=None,
                          seed: int = 0, peak: float = 0.9) -> LocalizationSet:
    """Insert each foreground clip's most active segment into a background, once per SNR.

    Arguments
    ---------
    foreground_clips : torch.Tensor
        ``(n, time)`` clips; each is cut to its most active ``U(seconds)`` seconds.
    backgrounds : torch.Tensor
        ``(n, bg_time)`` backgrounds, one per foreground (they set the mixture length).
    sample_rate : int
        Sample rate of both.
    snr_db : sequence of float
        SNRs of the foreground over the background within the inserted span; every
        foreground is inserted once per SNR, at the same offset.
    seconds : tuple of float
        Range of foreground lengths.
    target : torch.Tensor, optional
        ``(n,)`` foreground classes (default ``-1``, unknown).
    background_kind : list of str, optional
        A name per background.
    ids : list of str, optional
        A name per foreground.
    seed : int
        Seed of the lengths and offsets.
    peak : float
        Peak amplitude of every mixture.

    Returns
    -------
    LocalizationSet
        ``n * len(snr_db)`` mixtures, SNR-major.

    Example
    -------
    >>> fg = torch.zeros(2, 16000)
    >>> fg[:, 4000:8000] = torch.randn(2, 4000)
    >>> bench = make_localization_set(fg, 0.1 * torch.randn(2, 32000), 16000, snr_db=(5.0,),
    ...                               seconds=(0.25, 0.25))
    >>> len(bench), tuple(bench.span[0].tolist()) == (int(bench.span[0, 0]), int(bench.span[0, 0]) + 4000)
    (2, True)
    >>> span = slice(*bench.span[0].tolist())
    >>> ratio = bench.foreground[0, span].pow(2).sum() / bench.background[0, span].pow(2).sum()
    >>> round(10 * float(ratio.log10()), 3)
    5.0
    """
    fg_clips, bgs = torch.as_tensor(foreground_clips).float(), torch.as_tensor(backgrounds).float()
    n, total = fg_clips.shape[0], bgs.shape[-1]
    if bgs.shape[0] != n:
        raise ValueError(f"need one background per foreground, got {bgs.shape[0]} for {n}")
    gen = torch.Generator().manual_seed(int(seed))
    lo, hi = (int(s * sample_rate) for s in seconds)
    lengths = torch.randint(lo, hi + 1, (n,), generator=gen).clamp(max=min(total, fg_clips.shape[-1]))
    offsets = (torch.rand(n, generator=gen) * (total - lengths + 1).float()).long()
    target = torch.full((n,), -1) if target is None else torch.as_tensor(target).long()
    kinds = list(background_kind) if background_kind is not None else ["background"] * n
    names = list(ids) if ids is not None else [str(i) for i in range(n)]
    parts = {k: [] for k in ("mix", "fg", "bg", "span", "target", "snr", "kind", "id")}
    for i in range(n):
        length, off = int(lengths[i]), int(offsets[i])
        start = int(most_active_segment(fg_clips[i], length)[0])
        segment = fg_clips[i, start:start + length]
        # short fades so the cut itself is not a click the classifier could key on
        fade = min(length // 4, int(0.01 * sample_rate))
        if fade > 0:
            ramp = torch.linspace(0.0, 1.0, fade)
            segment = segment.clone()
            segment[:fade] *= ramp
            segment[-fade:] *= ramp.flip(0)
        e_fg = segment.double().pow(2).sum()
        e_bg = bgs[i, off:off + length].double().pow(2).sum()
        for snr in snr_db:
            # scale the foreground so that 10 log10(E_fg / E_bg) over the span is `snr`
            gain = snr_gain(e_fg, e_bg, snr)
            fg = torch.zeros(total)
            fg[off:off + length] = gain * segment
            mix = fg + bgs[i]
            scale = peak / mix.abs().max().clamp_min(_EPS)
            parts["mix"].append(mix * scale)
            parts["fg"].append(fg * scale)
            parts["bg"].append(bgs[i] * scale)
            parts["span"].append(torch.tensor([off, off + length]))
            parts["target"].append(target[i])
            parts["snr"].append(torch.tensor(float(snr)))
            parts["kind"].append(kinds[i])
            parts["id"].append(f"{names[i]}@{snr:+g}dB")
    order = sorted(range(len(parts["id"])), key=lambda j: (-float(parts["snr"][j]), j))

    def stack(key):
        return torch.stack([parts[key][j] for j in order])

    return LocalizationSet(stack("mix"), stack("fg"), stack("bg"), stack("span"), stack("target"),
                           stack("snr"), [parts["kind"][j] for j in order], [parts["id"][j] for j in order])


def ground_truth(frontend, bench: LocalizationSet):
    """Frame-level span indicator ``(n, frames)`` and ideal binary mask ``(n, frames, freq)``.

    A frame is inside the span when its centre sample is; the ideal binary mask is
    ``|STFT(foreground)| > |STFT(background)|`` with the classifier's own front-end.
    """
    fg = frontend(bench.foreground).magnitude
    bg = frontend(bench.background).magnitude
    return frames_in_spans(frontend, bench.span, fg.shape[1]), fg > bg


def frames_in_spans(frontend, spans: torch.Tensor, frames: int) -> torch.Tensor:
    """``(n, frames)`` indicator of the frames whose centre sample lies in each ``(n, 2)`` sample span.

    Example
    -------
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> frames_in_spans(SpectralFrontEnd(n_fft=64, hop_length=10), torch.tensor([[20, 40]]), 6).int()
    tensor([[0, 0, 1, 1, 0, 0]], dtype=torch.int32)
    """
    centres = torch.arange(frames) * frontend.hop_length
    if not frontend.center:
        centres = centres + frontend.n_fft // 2
    spans = torch.as_tensor(spans).to(centres.device)
    return (centres[None, :] >= spans[:, :1]) & (centres[None, :] < spans[:, 1:])


def snr_gain(event_energy: torch.Tensor, background_energy: torch.Tensor, snr_db: float):
    """Gain that puts an event of ``event_energy`` at ``snr_db`` over ``background_energy``
    (``10 log10(E_event / E_background)``); 1 over silence.

    Example
    -------
    >>> float(snr_gain(torch.tensor(1.0, dtype=torch.float64), torch.tensor(4.0, dtype=torch.float64), 0.0))
    2.0
    """
    if not background_energy > 0:
        return 1.0
    return torch.sqrt(background_energy / event_energy.clamp_min(_EPS) * 10.0 ** (snr_db / 10.0)).float()


def time_share(mask: torch.Tensor, in_span: torch.Tensor) -> torch.Tensor:
    """Share of each ``(batch, frames, freq)`` mask's mass inside the span frames, ``(batch,)``.

    An all-zero mask counts as spread evenly (its share is the span's share of frames).

    Example
    -------
    >>> mask = torch.zeros(1, 4, 2)
    >>> mask[0, 1] = 1.0
    >>> time_share(mask, torch.tensor([[False, True, True, False]]))
    tensor([1.], dtype=torch.float64)
    """
    per_frame = mask.double().clamp_min(0).sum(-1)
    total = per_frame.sum(-1)
    inside = (per_frame * in_span.double()).sum(-1)
    chance = in_span.double().mean(-1)
    return torch.where(total > 0, inside / total.clamp_min(_EPS), chance)


def span_frames(frames: int, hop_length: int, sample_rate: int, spans) -> torch.Tensor:
    """``(frames,)`` indicator of the frames whose centre falls in any ``(start_s, end_s)`` span.

    The same convention as :func:`ground_truth`, for events annotated in seconds.

    Example
    -------
    >>> span_frames(10, 1600, 16000, [(0.2, 0.5), (0.8, 2.0)]).int().tolist()
    [0, 0, 1, 1, 1, 0, 0, 0, 1, 1]
    """
    centres = torch.arange(frames, dtype=torch.float64) * hop_length / sample_rate
    inside = torch.zeros(frames, dtype=torch.bool)
    for start, end in spans:
        if not end > start >= 0:
            raise ValueError(f"an event span is (start_s, end_s) with 0 <= start < end, got {(start, end)}")
        inside |= (centres >= start) & (centres < end)
    return inside


def event_scores(mask: torch.Tensor, hop_length: int, sample_rate: int, spans) -> dict:
    """Time share and lift of one ``(frames, freq)`` mask for events annotated in seconds.

    For a clip whose events are known (a synthesized scene, a labelled recording), this says
    whether the explanation follows them in time: ``lift`` 1 means the mask is spread as
    evenly as chance, ``1 / event share`` means all of it is inside the events.

    Example
    -------
    >>> mask = torch.zeros(10, 4)
    >>> mask[2:5] = 1.0
    >>> s = event_scores(mask, 1600, 16000, [(0.2, 0.5)])
    >>> s["time share"], s["event share"], s["lift"]
    (1.0, 0.3, 3.333)
    """
    in_span = span_frames(mask.shape[-2], hop_length, sample_rate, spans)
    if not bool(in_span.any()):
        raise ValueError(f"no frame of the clip lies inside the events {list(spans)}")
    share = float(time_share(mask[None], in_span[None])[0])
    chance = float(in_span.double().mean())
    return {"time share": round(share, 3), "event share": round(chance, 3), "lift": round(share / chance, 3)}


def event_energy(original: torch.Tensor, interpretation: torch.Tensor, sample_rate: int, spans) -> dict:
    """Share of the original's energy the interpretation keeps on the events and elsewhere.

    What a listener hears: an interpretation that follows the events keeps much more of
    their energy than of the rest (a fixed filter keeps about the same share of both).

    Example
    -------
    >>> wav = torch.ones(100)
    >>> kept = torch.cat([torch.ones(50), 0.1 * torch.ones(50)])
    >>> event_energy(wav, kept, 100, [(0.0, 0.5)])
    {'kept on the events': 1.0, 'kept elsewhere': 0.01}
    """
    inside = torch.zeros(original.shape[-1], dtype=torch.bool)
    for start, end in spans:
        inside[int(round(start * sample_rate)):int(round(end * sample_rate))] = True
    if bool(inside.all()) or not bool(inside.any()):
        raise ValueError(f"the events {list(spans)} must cover part of the clip, not none or all of it")
    o, i = original.double() ** 2, interpretation[..., : original.shape[-1]].double() ** 2

    def kept(sel):
        return round(float(i[..., sel].sum() / o[..., sel].sum().clamp_min(_EPS)), 3)

    return {"kept on the events": kept(inside), "kept elsewhere": kept(~inside)}


def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """1-based ranks of a 1-D tensor, ties sharing the mean of their ranks.

    Example
    -------
    >>> average_ranks(torch.tensor([0.3, 0.1, 0.3]))
    tensor([2.5000, 1.0000, 2.5000], dtype=torch.float64)
    """
    _, inverse, counts = torch.unique(values, sorted=True, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    return (ends - (counts.double() - 1) / 2)[inverse]


def tf_auc(mask: torch.Tensor, ideal: torch.Tensor) -> torch.Tensor:
    """ROC AUC of each mask's values against a binary ``ideal`` mask, ties counting one half.

    The Mann-Whitney statistic with average ranks; NaN for a clip whose ideal mask is all
    ones or all zeros.

    Example
    -------
    >>> ideal = torch.tensor([[[1, 1, 0, 0]]]).bool()
    >>> tf_auc(torch.tensor([[[0.9, 0.8, 0.1, 0.2]]]), ideal), tf_auc(torch.ones(1, 1, 4), ideal)
    (tensor([1.], dtype=torch.float64), tensor([0.5000], dtype=torch.float64))
    """
    out = []
    for m, y in zip(mask.detach().flatten(1).double(), ideal.flatten(1).bool()):
        pos, n = int(y.sum()), y.numel()
        if pos == 0 or pos == n:
            out.append(torch.tensor(float("nan"), dtype=torch.float64))
            continue
        rank_sum = average_ranks(m)[y].sum()
        out.append((rank_sum - pos * (pos + 1) / 2) / (pos * (n - pos)))
    return torch.stack(out).to(mask.device)


def localization_scores(mask: torch.Tensor, in_span: torch.Tensor, ideal: torch.Tensor) -> dict:
    """Every column of :data:`LOCALIZATION_METRICS` for a batch of masks, per mixture.

    Example
    -------
    >>> in_span = torch.tensor([[False, True, False, False]])
    >>> ideal = torch.zeros(1, 4, 3, dtype=torch.bool)
    >>> ideal[0, 1, :2] = True
    >>> s = localization_scores(ideal.float(), in_span, ideal)
    >>> float(s["time share"][0]), float(s["lift"][0]), float(s["T-F AUC"][0])
    (1.0, 4.0, 1.0)
    >>> float(localization_scores(torch.ones(1, 4, 3), in_span, ideal)["lift"][0])
    1.0
    """
    mask = mask.detach().double()
    share = time_share(mask, in_span)
    chance = in_span.double().mean(-1).clamp_min(_EPS)
    frame_mean = mask.mean(-1)
    return {
        "time share": share,
        "lift": share / chance,
        "T-F AUC": tf_auc(mask, ideal),
        "mask mean": mask.flatten(1).mean(1),
        "time std": frame_mean.std(-1, correction=0),
    }


def energy_mask(frontend, magnitude: torch.Tensor, floor_db: float = 80.0) -> torch.Tensor:
    """The energy reference: each clip's log-magnitude scaled to [0, 1] (``floor_db`` below its peak).

    Example
    -------
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> mag = torch.tensor([[[1.0, 10.0], [100.0, 0.0]]])
    >>> energy_mask(SpectralFrontEnd(n_fft=2), mag, floor_db=40.0)
    tensor([[[0.0000, 0.5000],
             [1.0000, 0.0000]]])
    """
    db = 20.0 * torch.log10(magnitude.clamp_min(1e-10))
    peak = db.flatten(1).amax(1).view(-1, 1, 1)
    return ((db - peak + floor_db) / floor_db).clamp(0.0, 1.0)


def reference_masks(frontend, magnitude: torch.Tensor, brick_masks: torch.Tensor) -> dict:
    """The reference rows for mixtures of one length: fixed profile, energy mask, all-ones.

    ``brick_masks`` are a brick's masks on the same mixtures; their mean over clips is the
    fixed profile, used unchanged for every clip.
    """
    profile = brick_masks.double().mean(0, keepdim=True).expand_as(brick_masks).float()
    return {
        "fixed profile": profile,
        "energy mask": energy_mask(frontend, magnitude),
        "all-ones": torch.ones_like(magnitude),
    }


@torch.no_grad()
def predictions(adapter, wavs: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """The classifier's predicted classes ``(n,)`` for ``(n, time)`` clips, ``batch_size`` at a time."""
    preds = []
    for start in range(0, wavs.shape[0], batch_size):
        spec = adapter.frontend(wavs[start:start + batch_size])
        preds.append(adapter(spec.magnitude, phase=spec.phase).argmax(-1).cpu())
    return torch.cat(preds)


def evaluate_localization(interpreters: dict, bench: LocalizationSet, batch_size: int = 8,
                          keep_correct: bool = True, references_of: str | None = None) -> dict:
    """Localization table of several bricks (and the reference rows) on one mixture set.

    Arguments
    ---------
    interpreters : dict
        ``{row name: Interpreter}``, all explaining the same classifier.
    bench : LocalizationSet
        Mixtures with ground truth (see :func:`make_localization_set`).
    batch_size : int
        Mixtures per ``explain`` call.
    keep_correct : bool
        Keep only the mixtures the classifier labels as the foreground's class.
    references_of : str, optional
        The row whose average mask is the fixed profile (default: the first one).

    Returns
    -------
    dict
        ``{"kept": int, "total": int, "rows": {name: {metric: mean}}, "per_mixture":
        {name: {metric: (n,) tensor}}, "snr_db": (n,) tensor, "background_kind": list}``.
        Masks explain the foreground's class (the prediction, for the kept mixtures).

    Example
    -------
    >>> from speechbrain_interp.testing import band_window_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> adapter = band_window_classifier()
    >>> fg = torch.zeros(4, 8000)
    >>> fg[:, 2000:5000] = torch.sin(torch.arange(3000) * 2 * torch.pi * 2000 / 8000)
    >>> bench = make_localization_set(fg, 0.05 * torch.randn(4, 16000), 8000, snr_db=(10.0,),
    ...                               target=torch.ones(4).long(), seconds=(0.2, 0.3))
    >>> table = evaluate_localization({"Saliency": Saliency(adapter)}, bench)
    >>> table["kept"], sorted(table["rows"])
    (4, ['Saliency', 'all-ones', 'energy mask', 'fixed profile'])
    >>> table["rows"]["all-ones"]["lift"]
    1.0
    """
    if not interpreters:
        raise ValueError("evaluate_localization needs at least one interpreter")
    first = next(iter(interpreters.values()))
    adapter = first.classifier
    total = len(bench)
    if keep_correct:
        preds = predictions(adapter, bench.mixture, batch_size)
        bench = bench.subset(preds == bench.target.cpu())
    result = {"kept": len(bench), "total": total, "rows": {}, "per_mixture": {},
              "snr_db": bench.snr_db, "background_kind": list(bench.background_kind)}
    if len(bench) == 0:
        return result
    frontend = adapter.frontend
    in_span, ideal = ground_truth(frontend, bench)
    masks, magnitude = {}, []
    for name, interp in interpreters.items():
        interp.eval()
        chunks = []
        for start in range(0, len(bench), batch_size):
            wav = bench.mixture[start:start + batch_size]
            target = bench.target[start:start + batch_size] if not keep_correct else None
            if target is not None and (target < 0).any():
                target = None
            e = interp.explain(wav, target=target)
            chunks.append(e.mask.detach().cpu())
            if name == next(iter(interpreters)):
                magnitude.append(e.magnitude.detach().cpu())
        masks[name] = torch.cat(chunks)
    magnitude = torch.cat(magnitude)
    ref = references_of or next(iter(interpreters))
    masks.update(reference_masks(frontend, magnitude, masks[ref]))
    for name, mask in masks.items():
        scores = localization_scores(mask, in_span.cpu(), ideal.cpu())
        result["per_mixture"][name] = scores
        result["rows"][name] = {k: nanmean(v) for k, v in scores.items()}
    return result


def nanmean(values: torch.Tensor) -> float:
    """Mean of the finite values as a float (NaN when there are none).

    Example
    -------
    >>> nanmean(torch.tensor([1.0, float("nan"), 3.0]))
    2.0
    """
    values = values.double()
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if finite.numel() else float("nan")
