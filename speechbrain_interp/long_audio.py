"""Explain recordings of any length in bounded memory: windows, cross-faded stitching, a timeline.

A classifier trained on 5 s clips explains an hour of audio one window at a time.
:func:`explain_long` reads the file block by block (``soundfile``), explains windows of
``window_s`` seconds with ``overlap``, and overlap-adds each window's interpretation and residual
with a Hann cross-fade, normalised by the summed weights, into WAV files written as it goes.
Memory holds one batch of windows, whatever the recording's length, and the outputs have
exactly the input's number of samples. The result is a timeline: per window, the top classes
and their probabilities; per class, the spans where it was the top class.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch
from tqdm.auto import tqdm

from speechbrain_interp.checkpointing import replace_atomically

__all__ = ["explain_long", "class_spans"]


def _windows(path, window: int, hop: int, sample_rate: int):
    """``(start, window samples, total samples)`` for each window of a mono, resampled file,
    read block by block; the last window is zero-padded."""
    import soundfile as sf
    import torchaudio.functional as AF

    with sf.SoundFile(str(path)) as fh:
        rate, frames = fh.samplerate, fh.frames
        scale = rate / sample_rate
        total = int(round(frames / scale))
        start = 0
        while total:
            fh.seek(min(int(start * scale), frames))
            block = torch.as_tensor(fh.read(int(math.ceil(window * scale)), dtype="float32", always_2d=True))
            block = block.mean(1)
            if rate != sample_rate:
                block = AF.resample(block, rate, sample_rate)
            chunk = torch.zeros(window)
            chunk[: min(window, block.shape[0])] = block[:window]
            yield start, chunk, total
            if start + window >= total:
                break
            start += hop


def class_spans(timeline: list, threshold: float = 0.5) -> dict:
    """``{class: [[start_s, end_s], ...]}``: where each class was the top class with ``p > threshold``.

    Consecutive or overlapping windows of one class merge into one span.

    Example
    -------
    >>> t = [{"start_s": 0.0, "end_s": 5.0, "top": [["dog", 0.9]]},
    ...      {"start_s": 2.5, "end_s": 7.5, "top": [["dog", 0.8]]},
    ...      {"start_s": 5.0, "end_s": 10.0, "top": [["rain", 0.4]]}]
    >>> class_spans(t)
    {'dog': [[0.0, 7.5]]}
    """
    spans: dict[str, list] = {}
    for w in timeline:
        label, p = w["top"][0]
        if p <= threshold:
            continue
        runs = spans.setdefault(label, [])
        if runs and w["start_s"] <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], w["end_s"])
        else:
            runs.append([w["start_s"], w["end_s"]])
    return spans


def explain_long(interpreter, path, out, window_s: float | None = 5.0, overlap: float = 0.5,
                 batch_size: int = 4, top_k: int = 3, progress: bool = False, images: bool = False) -> dict:
    """Explain a recording of any length window by window; write stitched WAVs and a timeline.

    Arguments
    ---------
    interpreter : Interpreter or an interface with ``.interpreter``
        Any brick (or a loaded interface).
    path : str or Path
        The recording (wav, flac, ogg, mp3; any rate, mixed to mono).
    out : str or Path
        Output folder: ``<stem>_interpretation.wav``, ``<stem>_residual.wav`` and
        ``<stem>_timeline.json``.
    window_s : float
        Window length in seconds (the classifier's training length, 5 s for ESC-50).
    overlap : float
        Share of a window that overlaps the next (0.5: a window every 2.5 s).
    batch_size : int
        Windows explained together (what memory holds at a time).
    top_k : int
        Classes listed per window.
    progress : bool
        Show a tqdm progress bar over the windows.
    images : bool
        Also write each window's image (spectrogram, mask, masked-in spectrogram) into
        ``<stem>_windows/``, for the timeline page
        (:func:`speechbrain_interp.timeline_page.write_timeline_report`).

    Returns
    -------
    dict
        ``{"windows": [...], "classes": {class: spans}, "files": {...}, "samples": n, "source": path}``;
        each window has ``start_s``, ``end_s``, ``top`` ([class, probability] pairs), ``label``
        (the explained class), ``probability_in`` and, with ``images``, ``image``.

    Example
    -------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from speechbrain_interp.audio import save_audio
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> from speechbrain_interp.testing import band_window_classifier
    >>> root = Path(tempfile.mkdtemp())
    >>> save_audio(root / "long.wav", 0.1 * torch.randn(8000 * 7 + 123), 8000)
    >>> result = explain_long(Saliency(band_window_classifier()), root / "long.wav", root / "out",
    ...                       window_s=2.0)
    >>> result["samples"], len(result["windows"]), sorted(result["files"])
    (56123, 7, ['interpretation', 'residual', 'timeline'])
    """
    import soundfile as sf

    brick = getattr(interpreter, "interpreter", interpreter)
    clf = brick.classifier
    sr = clf.sample_rate
    window = int(round(window_s * sr))
    hop = max(1, int(round(window * (1.0 - overlap))))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(path).stem
    files = {"interpretation": f"{stem}_interpretation.wav", "residual": f"{stem}_residual.wav",
             "timeline": f"{stem}_timeline.json"}
    # a Hann cross-fade with a floor: every sample has weight, so the edges are exact too
    fade = torch.hann_window(window, periodic=False).clamp_min(1e-3)
    device = next(clf.buffers(), torch.empty(0)).device
    timeline, total = [], 0
    # window images go to a scratch folder that replaces the old one only when the run succeeds
    image_dir = out / f"{stem}_windows"
    scratch = out / f".{stem}_windows.partial" if images else None
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
    bar = tqdm(desc=f"windows of {Path(path).name}", unit="window", disable=not progress, leave=False)

    def stream(targets: dict):
        """Explain every window, writing the stitched audio to ``targets`` as it goes."""
        nonlocal total
        writers = {k: sf.SoundFile(str(p), "w", samplerate=sr, channels=1, format="WAV", subtype="PCM_16")
                   for k, p in targets.items()}
        acc = {k: torch.zeros(0) for k in writers}
        weight = torch.zeros(0)
        flushed = 0  # samples already written

        def flush(upto):
            nonlocal weight, flushed
            n = upto - flushed
            if n <= 0:
                return
            for k, w in writers.items():
                w.write((acc[k][:n] / weight[:n]).clamp(-1.0, 1.0).numpy())
                acc[k] = acc[k][n:]
            weight = weight[n:]
            flushed = upto

        def add(start, parts):
            nonlocal weight
            need = start + window - flushed
            if weight.shape[0] < need:
                grow = need - weight.shape[0]
                weight = torch.cat([weight, torch.zeros(grow)])
                for k in acc:
                    acc[k] = torch.cat([acc[k], torch.zeros(grow)])
            lo = start - flushed
            weight[lo:lo + window] += fade
            for k in acc:
                acc[k][lo:lo + window] += fade * parts[k]

        def explain(batch):
            _process(brick, batch, add, timeline, sr, window, top_k, device, scratch)
            bar.update(len(batch))

        try:
            batch = []
            for item in _windows(path, window, hop, sr):
                batch.append(item)
                total = item[2]
                if len(batch) == batch_size:
                    explain(batch)
                    flush(min(batch[-1][0] + hop, total))
                    batch = []
            if batch:
                explain(batch)
            flush(total)
        finally:
            for w in writers.values():
                w.close()

    # the WAVs are renamed into place only once both are whole: a failed run leaves earlier
    # results as they were
    def both(interpretation):
        replace_atomically(out / files["residual"],
                           lambda residual: stream({"interpretation": interpretation, "residual": residual}))

    try:
        replace_atomically(out / files["interpretation"], both)
    finally:
        bar.close()
        if scratch is not None and not (out / files["interpretation"]).exists():
            shutil.rmtree(scratch, ignore_errors=True)
    if scratch is not None:
        for w in timeline:
            w["image"] = f"{image_dir.name}/{w['image']}"
        shutil.rmtree(image_dir, ignore_errors=True)
        scratch.rename(image_dir)
    result = {"samples": int(total), "sample_rate": sr, "window_s": window / sr, "hop_s": hop / sr,
              "windows": timeline, "classes": class_spans(timeline), "files": files, "source": str(path)}
    text = json.dumps(result, indent=2)
    replace_atomically(out / files["timeline"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return result


def _process(brick, batch, add, timeline, sr, window, top_k, device, image_dir=None):
    """Explain one batch of windows and overlap-add their interpretations and residuals."""
    wavs = torch.stack([chunk for _, chunk, _ in batch]).to(device)
    e = brick.explain(wavs)
    probs = e.probabilities
    for i, (start, _, total) in enumerate(batch):
        add(start, {"interpretation": e.interpretation[i].detach().cpu(),
                    "residual": e.residual[i].detach().cpu()})
        top = []
        if probs is not None:
            values, indices = probs[i].topk(min(top_k, probs.shape[-1]))
            top = [[brick.classifier.label_of(int(c)), round(float(v), 4)] for v, c in zip(values, indices)]
        entry = {"start_s": round(start / sr, 3), "end_s": round(min(start + window, total) / sr, 3),
                 "top": top, "label": e.predicted_labels[i],
                 "probability_in": round(float(e.probability_in[i]), 4)}
        if image_dir is not None:
            from speechbrain_interp.figures import fast_image

            entry["image"] = f"w{len(timeline):05d}.png"
            fast_image(e, i, image_dir / entry["image"])
        timeline.append(entry)
