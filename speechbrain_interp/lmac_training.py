"""Train an L-MAC interpreter for a classifier you already have, on your own audio.

:func:`train_lmac` is a small, hand-written training loop (no labels, no recipe): it crops
your files, trains L-MAC's decoder on them (and on mixtures of them), keeps the decoder of
the epoch with the lowest validation loss, and returns a :class:`TrainingResult`. It can
stop after a wall-clock budget, validate on files you choose, resume from a checkpoint and
export the result to a repository folder (checked before training).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from speechbrain_interp.adapters import SpeechBrainClassifier
from speechbrain_interp.audio import load_audio
from speechbrain_interp.checkpointing import RandomState, replace_atomically
from speechbrain_interp.sources import resolve_source

if TYPE_CHECKING:
    from speechbrain_interp.explainer import ClassifierInterface

__all__ = ["train_lmac", "TrainingResult"]


class _Crops(torch.utils.data.Dataset):
    """Fixed-length crops of audio files at the classifier's sample rate (zero-padded if short)."""

    def __init__(self, paths, sample_rate: int, samples: int, min_samples: int, random_crop: bool, seed=0):
        self.paths, self.sample_rate, self.samples = list(paths), sample_rate, samples
        self.min_samples, self.random_crop = min_samples, random_crop
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        wav = load_audio(self.paths[i], sample_rate=self.sample_rate, min_samples=self.min_samples)
        extra = wav.shape[-1] - self.samples
        if extra > 0:
            start = int(torch.randint(extra + 1, (1,), generator=self.generator)) if self.random_crop \
                else extra // 2
            wav = wav[start:start + self.samples]
        elif extra < 0:
            wav = torch.nn.functional.pad(wav, (0, -extra))
        return wav


@dataclass
class TrainingResult:
    """What :func:`train_lmac` returns.

    Attributes
    ----------
    explainer : ClassifierInterface
        The trained L-MAC brick around the classifier, ready to ``interpret_file``.
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``valid_loss`` (None without validation clips),
        ``mask_mean``, ``seconds``; ``selected`` marks the epoch whose decoder was kept.
    folder : Path or None
        The repository folder written when ``out`` was given.
    stopped_early : bool
        Training stopped at the ``max_seconds`` budget, before the last epoch; the best
        decoder so far was kept (an epoch cut short is marked ``partial`` in ``history``).
    """

    explainer: ClassifierInterface
    history: list
    folder: Path | None
    stopped_early: bool = False


def train_lmac(classifier, audio, out=None, epochs: int = 10, batch_size: int = 8, seconds: float = 5.0,
               lr: float = 1e-3, layers=None, valid_fraction: float = 0.1, mixtures: bool = True,
               progress: bool = True, overwrite: bool = False, seed: int = 0, trust_code: bool = False,
               offline=None, device: str = "cpu", classifier_source=None, card=None,
               checkpoint=None, valid=None, max_seconds: float | None = None, allow=(),
               **lmac_options) -> TrainingResult:
    """Train an L-MAC interpreter for a classifier on a folder of your own audio.

    No labels are needed: L-MAC explains the classifier's own predictions. Clips are
    cropped to ``seconds``; with ``mixtures``, half of each batch is mixed with another
    clip or with noise while the loss keeps the clean prediction as its target (the
    L-MAC recipe's robustness trick). A tenth of the files (at least one, when there are
    five or more) is held out, or the files of ``valid`` are used, and the decoder of the
    epoch with the lowest validation loss is kept. With ``max_seconds``, training stops at
    the first batch that ends past the budget (that epoch is validated, so a run overruns by
    at most one batch and one validation pass) and keeps the best decoder so far.

    Arguments
    ---------
    classifier : AudioClassifier, EncoderClassifier, ClassifierAdapter, str or Path
        The classifier (object, folder or Hub id).
    audio : str, Path or list
        Audio files and/or folders (searched recursively).
    out : str or Path, optional
        Also export the trained interpreter to this repository folder. Whether the classifier
        can be exported is checked before training (see
        :func:`~speechbrain_interp.adapter_export.check_exportable`).
    epochs, batch_size, seconds, lr : training settings.
    layers : list of str, optional
        Hidden layers the decoder reads (default: known per architecture).
    valid_fraction : float
        Share of files held out for checkpoint selection (when ``valid`` is not given).
    valid : str, Path or list, optional
        Validation audio files and/or folders, used instead of a held-out share of ``audio``
        (files found in both are validation files only).
    max_seconds : float, optional
        Wall-clock budget of the training loop, in seconds (the result says when it stopped
        early). A checkpointed run stopped early resumes with the next epoch.
    mixtures : bool
        Train on mixtures (recommended).
    progress : bool
        Show a tqdm progress bar.
    overwrite : bool
        Replace an existing ``out`` folder.
    seed : int
        Seed of the split, crops, mixtures and initialisation.
    trust_code, offline : loading options for a classifier given as folder or Hub id.
    allow : iterable of str
        Extra allowed classes or modules for a classifier folder exported with its own classes
        (see :func:`speechbrain_interp.loading.load_classifier`), and for the export's check.
    device : str
        Torch device.
    classifier_source : str or Path, optional
        A SpeechBrain classifier's inference folder, needed for ``out`` when ``classifier`` is
        an object that does not know its folder.
    card : speechbrain_interp.model_card.ModelCardInfo, optional
        Model card text for ``out``.
    checkpoint : str or Path, optional
        File written atomically after every epoch (decoder, optimizer, selection, history and
        every random state); a run that finds it resumes after its last epoch, with the same
        result as an uninterrupted run. Default with ``out``: ``<out>.training.pt`` next to
        ``out``, removed once ``out`` is written.
    **lmac_options
        Passed to :class:`~speechbrain_interp.interpreters.lmac.LMAC` (e.g. ``channels``,
        ``lambda_in``, ``class_conditional=True`` or ``evidence_layer``: the mixtures are then
        also asked about their other clip, and half the clips become two-event scenes asked
        about either event, so the mask learns to follow the class asked for).

    Returns
    -------
    TrainingResult

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> from speechbrain_interp.audio import save_audio
    >>> from speechbrain_interp.synth import demo_clip
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32)
    >>> for i in range(2):
    ...     save_audio(root / "audio" / f"clip{i}.wav", demo_clip(1.0, seed=i), 16000)
    >>> result = train_lmac(folder, root / "audio", epochs=1, batch_size=2, seconds=0.5,
    ...                     progress=False, channels=4)
    >>> result.history[0]["epoch"], result.explainer.interpret_file(root / "audio/clip0.wav").method
    (1, 'L-MAC')
    """
    from tqdm.auto import tqdm

    # lazy: recipes import this module for its schedules; the interpreter stack loads only here
    from speechbrain_interp.explainer import ClassifierInterface
    from speechbrain_interp.interpreters.lmac import LMAC
    from speechbrain_interp.interpreting import audio_files
    from speechbrain_interp.loading import load_classifier_adapter
    from speechbrain_interp.mixtures import conditional_questions, training_mixtures

    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"'{out}' already exists; pass overwrite=True (CLI: --overwrite) to replace "
                              "it, or choose another folder (checked before training)")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds}")
    if checkpoint is None and out is not None:
        checkpoint = Path(out).with_name(Path(out).name + ".training.pt")
    adapter = load_classifier_adapter(classifier, layers=layers, trust_code=trust_code, offline=offline,
                                      allow=allow)
    if isinstance(classifier, (str, Path)) and classifier_source is None and isinstance(
            adapter, SpeechBrainClassifier):  # its inference YAML travels (a resolved Hub id is cached now)
        classifier_source = resolve_source(classifier, offline=offline)
    adapter.to(device)
    if out is not None:
        _check_export(adapter, classifier_source)
    files = audio_files([audio] if isinstance(audio, (str, Path)) else audio)
    if not files:
        raise ValueError(f"no audio files (wav, flac, ogg, mp3) in {audio}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(files), generator=generator).tolist()
    if valid is not None:
        valid_files = audio_files([valid] if isinstance(valid, (str, Path)) else valid)
        if not valid_files:
            raise ValueError(f"no audio files (wav, flac, ogg, mp3) in the validation set {valid}")
        held = {Path(f).resolve() for f in valid_files}
        train_files = [files[i] for i in order if Path(files[i]).resolve() not in held]
        if not train_files:
            raise ValueError(f"every training file of {audio} is also in the validation set {valid}; "
                             "pass other files to train on")
        n_valid = len(valid_files)
    else:
        n_valid = max(1, round(valid_fraction * len(files))) if len(files) >= 5 else 0
        valid_files = [files[i] for i in order[:n_valid]]
        train_files = [files[i] for i in order[n_valid:]]
    samples = int(round(seconds * adapter.sample_rate))
    min_samples = adapter.frontend.min_samples
    train_set = _Crops(train_files, adapter.sample_rate, samples, min_samples, True, seed)
    valid_set = _Crops(valid_files, adapter.sample_rate, samples, min_samples, False, seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed), drop_last=False)
    torch.manual_seed(seed)
    brick = LMAC(adapter, layers=layers, **lmac_options).to(device)
    optimizer = torch.optim.Adam(brick.decoder.parameters(), lr=lr)
    history, best, best_loss = [], None, float("inf")
    random_state = RandomState({"mixtures": generator, "order": loader.generator,
                                "crops": train_set.generator})
    settings = {"files": [str(f) for f in files], "batch_size": batch_size, "seconds": seconds, "lr": lr,
                "seed": seed, "mixtures": mixtures, "layers": list(brick.layers)}
    if valid is not None:  # only then, so that checkpoints written without it still resume
        settings["valid"] = [str(f) for f in valid_files]
    done = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = _read_checkpoint(checkpoint, settings)
        brick.decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        history, best, best_loss, done = state["history"], state["best"], state["best_loss"], state["epoch"]
        random_state.restore(state["random"])
    bar = tqdm(total=epochs * len(loader), initial=done * len(loader), unit="batch", desc="training L-MAC",
               disable=not progress)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    stopped = False
    try:
        for epoch in range(done + 1, epochs + 1):
            if deadline is not None and epoch > done + 1 and time.monotonic() >= deadline:
                stopped = True  # at an epoch boundary: the last epoch is validated and selected
                break
            start, total, count, mask_mean = time.time(), 0.0, 0, 0.0
            brick.train()
            for wav in loader:
                wav = wav.to(device)
                if mixtures:
                    mixed, kind = training_mixtures(wav, generator=generator)
                    target = None
                    if brick.class_conditional:  # questions whose answer depends on the class asked
                        mixed, target = conditional_questions(
                            wav, mixed, kind, brick.clean_target(wav), 0.5, 0.5,
                            (0.2 * seconds, 0.4 * seconds), sample_rate=brick.frontend.sample_rate,
                            generator=generator)
                    loss, stats = brick.loss(mixed, clean_wav=wav, target=target)
                else:
                    loss, stats = brick.loss(wav)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * wav.shape[0]
                count += wav.shape[0]
                mask_mean += float(stats["mask_mean"]) * wav.shape[0]
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{float(loss.detach()):.3f}")
                if deadline is not None and time.monotonic() >= deadline:
                    stopped = True  # at a batch boundary; this epoch is validated below
                    break
            valid_loss = _valid_loss(brick, valid_set, batch_size, seed, mixtures) if n_valid else None
            record = {"epoch": epoch, "train_loss": total / max(count, 1), "valid_loss": valid_loss,
                      "mask_mean": mask_mean / max(count, 1), "seconds": round(time.time() - start, 1)}
            if stopped and count < len(train_set):
                record["partial"] = True
            history.append(record)
            score = valid_loss if valid_loss is not None else record["train_loss"]
            if score < best_loss:
                best_loss = score
                best = {k: v.detach().clone() for k, v in brick.decoder.state_dict().items()}
                for r in history:
                    r["selected"] = r is record
            if checkpoint is not None:
                _write_checkpoint(checkpoint, {
                    "epoch": epoch, "settings": settings, "decoder": brick.decoder.state_dict(),
                    "optimizer": optimizer.state_dict(), "history": history, "best": best,
                    "best_loss": best_loss, "random": random_state.state()})
            if stopped:
                break
    finally:
        bar.close()
    stopped = stopped and (history[-1]["epoch"] < epochs or history[-1].get("partial", False))
    brick.decoder.load_state_dict(best)
    brick.eval()
    folder = None
    if out is not None:
        from speechbrain_interp.export import export_interpreter
        from speechbrain_interp.model_card import ModelCardInfo

        selected = next(r for r in history if r.get("selected"))
        card = card or ModelCardInfo(
            title="L-MAC interpreter trained with speechbrain_interp.inference.train_lmac",
            training_data=f"{len(files)} audio files from {audio}",
            evaluation=[{k: v for k, v in r.items() if k != "selected"} for r in history],
            evaluation_note=f"Training history; the decoder of epoch {selected['epoch']} was kept "
                            "(lowest validation loss)."
                            + (f" Training stopped at its budget of {max_seconds:g} s." if stopped else ""),
        )
        folder = export_interpreter(brick, out, classifier_source=classifier_source, card=card,
                                    overwrite=overwrite, allow=allow)
        if checkpoint is not None:  # the folder holds the result now
            Path(checkpoint).unlink(missing_ok=True)
    return TrainingResult(ClassifierInterface(brick), history, folder, stopped_early=stopped)


def _check_export(adapter, classifier_source) -> None:
    """Fail before training when ``out`` could not be written for this classifier."""
    from speechbrain_interp.adapter_export import check_exportable
    from speechbrain_interp.export import _find_classifier_yaml

    try:
        if isinstance(adapter, SpeechBrainClassifier):
            _find_classifier_yaml(adapter, classifier_source)
        else:
            check_exportable(adapter)
    except (TypeError, ValueError, FileNotFoundError) as err:
        raise type(err)(f"cannot export to out: {err} (checked before training; nothing was trained)") \
            from None


def _write_checkpoint(path, state: dict) -> None:
    """Write to a temporary file, then rename: a kill mid-write leaves the previous checkpoint."""
    replace_atomically(path, lambda tmp: torch.save(state, tmp))


def _read_checkpoint(path, settings: dict) -> dict:
    """A checkpoint of the same training set-up, or a one-line error that says what to do."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"cannot read the training checkpoint '{path}' ({type(err).__name__}); "
                         "delete it to start over") from err
    if state.get("settings") != settings:
        changed = sorted(k for k in settings if state.get("settings", {}).get(k) != settings[k])
        raise ValueError(f"the training checkpoint '{path}' was made with other settings "
                         f"({', '.join(changed)}); use the same ones to resume, or delete it to start over")
    return state


@torch.no_grad()
def _valid_loss(brick, dataset, batch_size, seed, mixtures) -> float:
    """Mean L-MAC loss on held-out crops: clean, plus fixed mixtures when training on mixtures."""
    from speechbrain_interp.interpreters.lmac import training_mixtures

    brick.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    device = next(brick.decoder.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(dataset), batch_size):
        wav = torch.stack([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        wav = wav.to(device)
        inputs = [wav]
        if mixtures:
            inputs.append(training_mixtures(wav, generator=generator)[0])
        for x in inputs:
            loss, _ = brick.loss(x, clean_wav=wav)
            total += float(loss) * wav.shape[0]
            count += wav.shape[0]
    return total / max(count, 1)
