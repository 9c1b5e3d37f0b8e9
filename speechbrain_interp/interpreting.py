"""The file and batch front of every interpreter: ``interpret_batch``, ``interpret_file``, ...

:class:`InterpretingMixin` is the mixin that both the SpeechBrain interfaces
(:mod:`speechbrain_interp.interfaces`) and :class:`~speechbrain_interp.explainer.ClassifierInterface`
inherit: it reads audio files, resamples them to the classifier's rate, groups clips of equal
length, runs the brick (``self.interpreter``) and stitches the per-group explanations back
together in input order. :func:`audio_files` expands files and folders into a list of audio
files. Bricks themselves never read files; this layer does it for them.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

from speechbrain_interp.audio import AudioError, load_audio
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.interpreters.base import Interpreter

__all__ = ["audio_files", "AUDIO_SUFFIXES", "InterpretingMixin", "EACH_LABEL", "file_worker"]


class _Inline:
    """An executor that runs each job at once, in the caller's thread (see :func:`file_worker`)."""

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # raised again by result(), as a worker thread's would be
            future.set_exception(err)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def file_worker():
    """An executor for reading or writing files beside the classifier: one thread when the machine
    has a core that torch's threads leave free, else the caller's own thread.

    On a 2-core CPU with torch on both cores, a third busy thread slows the classifier's kernels
    about as much as it saves (``benchmarks/bench_cli.py``).

    Example
    -------
    >>> with file_worker() as worker:
    ...     worker.submit(sum, [1, 2]).result()
    3
    """
    # the cores this process may run on (a container or taskset can allow fewer than the machine has)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores > torch.get_num_threads():
        return ThreadPoolExecutor(max_workers=1)
    return _Inline()


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
#: ``target=EACH_LABEL`` explains every label each clip is heard as, one mask per label
#: (:func:`speechbrain_interp.per_label.explain_labels`; the CLI's ``--each-label``).
EACH_LABEL = "*each label*"



def _by_duration(paths: list) -> list:
    """``paths`` in order of duration (stable); files whose header cannot be read go last.

    Example
    -------
    >>> _by_duration([Path("missing.wav")])
    [PosixPath('missing.wav')]
    """
    import soundfile as sf

    def duration(path):
        try:
            info = sf.info(str(path))
            return 0, info.frames / info.samplerate
        except Exception:  # noqa: BLE001 (reading it later reports the problem, naming the file)
            return 1, 0.0

    return sorted(paths, key=duration)

def audio_files(inputs: Sequence) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of audio files.

    Example
    -------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.wav", "a.flac", "notes.txt"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> [p.name for p in audio_files([folder])]
    ['a.flac', 'b.wav']
    """
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        else:
            files.append(path)  # a missing file fails later with AudioFileNotFoundError
    return files


def _pad_last(t: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    if t.shape[dim] == size:
        return t
    shape = list(t.shape)
    shape[dim] = size - t.shape[dim]
    return torch.cat([t, t.new_zeros(shape)], dim=dim)


def _concat(parts: list[Explanation], order: list[int], num_samples: int) -> Explanation:
    """One batched Explanation from per-group ones, zero-padded to the longest clip, in input order."""
    frames = max(p.mask.shape[1] for p in parts)
    flat = [p[i] for p in parts for i in range(len(p))]
    flat = [flat[order.index(k)] for k in range(len(order))]
    first = flat[0]

    def cat(name, dim=None, size=None):
        values = [getattr(e, name) for e in flat]
        if values[0] is None:
            return None
        if dim is not None:
            values = [_pad_last(v, size, dim) for v in values]
        return torch.cat(values)

    scores = {k: torch.cat([e.scores[k] for e in flat]) for k in first.scores
              if all(k in e.scores for e in flat)}
    return Explanation(
        method=first.method, sample_rate=first.sample_rate,
        wav=cat("wav", 1, num_samples), magnitude=cat("magnitude", 1, frames),
        mask=cat("mask", 1, frames), interpretation=cat("interpretation", 1, num_samples),
        residual=cat("residual", 1, num_samples), target=cat("target"),
        probability=cat("probability"), probability_in=cat("probability_in"),
        labels=first.labels, probability_out=cat("probability_out"), scores=scores,
        components=[e.components[0] for e in flat] if first.components is not None else None,
        concepts=[e.concepts[0] for e in flat] if first.concepts is not None else None,
        label_masks=[e.label_masks[0] for e in flat] if first.label_masks is not None else None,
        note=first.note, logits=cat("logits"), logits_in=cat("logits_in"), logits_out=cat("logits_out"),
        probabilities=cat("probabilities"),
        sources=[e.sources[0] for e in flat] if first.sources is not None else None,
    )


def _add_note(explanation: Explanation, note: str | None) -> Explanation:
    if note and note not in (explanation.note or ""):
        explanation.note = f"{explanation.note} {note}".strip() if explanation.note else note
    return explanation


class InterpretingMixin:
    """``interpret_batch``/``interpret_file``/``interpret_files`` over ``self.interpreter`` (a brick).

    Example
    -------
    >>> from speechbrain_interp.testing import band_window_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> class Explainer(InterpretingMixin):
    ...     def __init__(self, brick):
    ...         self.interpreter = brick
    >>> explainer = Explainer(Saliency(band_window_classifier()))
    >>> e = explainer.interpret_batch(torch.randn(2, 8000) * 0.1, wav_lens=torch.tensor([1.0, 0.5]))
    >>> e.mask.shape[0], e.wav.shape
    (2, torch.Size([2, 8000]))
    """

    interpreter: Interpreter
    note: str | None = None

    @property
    def sample_rate(self) -> int:
        """Sample rate the classifier expects; files are resampled to it."""
        return self.interpreter.classifier.sample_rate

    @property
    def labels(self):
        """Class names of the explained classifier."""
        return self.interpreter.classifier.labels

    def _device(self):
        return next(self.interpreter.classifier.parameters(), torch.empty(0)).device

    def _explain(self, wavs: torch.Tensor, target, text=None) -> Explanation:
        with torch.enable_grad():  # gradient-based bricks need autograd even under no_grad()
            if isinstance(target, str) and target == EACH_LABEL:
                from speechbrain_interp.per_label import explain_labels

                return explain_labels(self.interpreter, wavs.to(self._device()))
            if text is not None:  # only text-conditioned bricks take it (others say so)
                return self.interpreter.explain(wavs.to(self._device()), target=target, text=text)
            return self.interpreter.explain(wavs.to(self._device()), target=target)

    def interpret_batch(self, wavs, wav_lens=None, target=None, text=None) -> Explanation:
        """Explain a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``(batch, time)`` (or ``(time,)``) audio at :attr:`sample_rate`, zero-padded.
        wav_lens : torch.Tensor, optional
            ``(batch,)`` relative lengths, SpeechBrain style. Clips shorter than the batch are
            explained at their own length (padding would change the prediction), and the
            result is zero-padded back to the batch length.
        target : int, str or list, optional
            Class to explain (default: the prediction).
        text : str or list of str, optional
            A text prompt to explain instead (one for all clips or one per clip), for
            text-conditioned bricks.

        Returns
        -------
        Explanation
        """
        wavs = torch.as_tensor(wavs)
        if wavs.dim() == 1:
            wavs = wavs[None]
        if wav_lens is None or bool((torch.as_tensor(wav_lens) >= 1.0 - 1e-6).all()):
            return _add_note(self._explain(wavs, target, text), self.note)
        total = wavs.shape[-1]
        lengths = (torch.as_tensor(wav_lens, dtype=torch.float64).cpu() * total).round().long()
        lengths = lengths.clamp(1, total).tolist()
        per_clip = isinstance(target, (list, tuple, torch.Tensor))  # else one target (or EACH_LABEL) for all
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(lengths):
            groups.setdefault(n, []).append(i)
        parts, order = [], []
        for n, idx in groups.items():
            group_target = target
            if per_clip:
                group_target = [target[i] for i in idx]
                group_target = None if all(t is None for t in group_target) else group_target
            group_text = [text[i] for i in idx] if isinstance(text, (list, tuple)) else text
            parts.append(self._explain(wavs[idx, :n], group_target, group_text))
            order += idx
        return _add_note(_concat(parts, order, total), self.note)

    def interpret_file(self, path, target=None, text=None) -> Explanation:
        """Explain one audio file (wav, flac, ogg, mp3), resampled to the classifier's rate.

        Raises
        ------
        speechbrain_interp.audio.AudioError
            A specific subclass naming the file and the problem (missing, corrupt, empty, ...).
        """
        wav = load_audio(path, sample_rate=self.sample_rate,
                         min_samples=self.interpreter.frontend.min_samples)
        explanation = self.interpret_batch(wav[None], target=target, text=text)
        explanation.sources = [str(path)]
        return explanation

    def interpret_files(self, paths: Sequence, batch_size: int = 8, progress: bool = True,
                        on_error: Callable | None = None, target=None) -> Iterator:
        """Explain many files in batches; yields ``(paths, Explanation)`` per batch.

        Files are taken in order of duration (read from their headers), so clips of equal length
        share a batch even when the list mixes lengths; batches come out in that order. A file
        that cannot be read raises its :class:`~speechbrain_interp.audio.AudioError`, or is
        passed to ``on_error(path, error)`` and skipped. A tqdm progress bar counts clips when
        ``progress``.
        """
        from tqdm.auto import tqdm

        paths = [Path(p) for p in paths]
        bar = tqdm(total=len(paths), unit="clip", desc="explaining", disable=not progress)
        min_samples = self.interpreter.frontend.min_samples

        def read(chunk):
            """``(path, waveform or AudioError)`` for each file of a batch."""
            items = []
            for path in chunk:
                try:
                    wav = load_audio(path, sample_rate=self.sample_rate, min_samples=min_samples)
                except AudioError as err:
                    wav = err
                items.append((path, wav))
            return items

        ordered = _by_duration(paths)
        chunks = [ordered[start:start + batch_size] for start in range(0, len(ordered), batch_size)]
        # the next batch's files are read (decoded, resampled) in a thread while this one is
        # explained, where a core is free for it
        pool = file_worker()
        try:
            upcoming = pool.submit(read, chunks[0]) if chunks else None
            for k in range(len(chunks)):
                items = upcoming.result()
                upcoming = pool.submit(read, chunks[k + 1]) if k + 1 < len(chunks) else None
                loaded: dict[int, list] = {}
                for path, wav in items:
                    if isinstance(wav, AudioError):
                        if on_error is None:
                            raise wav
                        on_error(path, wav)
                        bar.update(1)
                        continue
                    loaded.setdefault(wav.shape[-1], []).append((path, wav))
                for group in loaded.values():
                    batch = torch.stack([w for _, w in group])
                    explanation = self.interpret_batch(batch, target=target)
                    explanation.sources = [str(p) for p, _ in group]
                    yield [p for p, _ in group], explanation
                    bar.update(len(group))  # after the caller's work too (saving, figures)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
