"""Checkpointable training utilities shared by the recipes.

* :class:`OneCycleLR`: a one-cycle learning-rate schedule stepped every batch, which
  SpeechBrain's ``Checkpointer`` saves and restores so an interrupted run resumes on
  the same curve;
* :class:`WeightAveraging`: a uniform average of the weights of the last epochs
  (stochastic weight averaging), also checkpointed;
* :class:`TrainingClock`: wall-clock and CPU seconds of the completed epochs, checkpointed
  so that a resumed run reports its whole training time;
* :func:`train_lmac`: a small, hand-written L-MAC training loop for a classifier you already
  have, on a folder of your own audio (no labels, no recipe), returning a
  :class:`TrainingResult`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from torch import nn

from speechbrain_interp.audio import load_audio
from speechbrain_interp.checkpointing import RandomState, replace_atomically
from speechbrain_interp.sources import resolve_source

if TYPE_CHECKING:
    from speechbrain_interp.explainer import ClassifierInterface

__all__ = ["OneCycleLR", "TrainingClock", "WeightAveraging", "unwrap", "train_lmac", "TrainingResult"]


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel/DataParallel wrapper, or the module itself."""
    return getattr(module, "module", module)


@register_checkpoint_hooks
class OneCycleLR:
    """One-cycle schedule: cosine warm-up to ``max_lr``, then cosine decay, per batch.

    Arguments
    ---------
    max_lr : float
        Peak learning rate.
    pct_start : float
        Fraction of the steps spent warming up.
    div_factor : float
        Initial learning rate is ``max_lr / div_factor``.
    final_div_factor : float
        Final learning rate is ``max_lr / (div_factor * final_div_factor)``.

    Example
    -------
    >>> sched = OneCycleLR(max_lr=1e-2)
    >>> sched.total_steps = 100
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
    >>> lrs = [sched.step(opt) for _ in range(100)]
    >>> lrs.index(max(lrs)), lrs[-1] < 1e-5  # peak after 20% of the steps, then decay
    (20, True)
    """

    def __init__(self, max_lr: float, pct_start: float = 0.2, div_factor: float = 25.0,
                 final_div_factor: float = 1e3):
        self.max_lr, self.pct_start = max_lr, pct_start
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.total_steps: int | None = None
        self.step_count = 0

    def lr_at(self, step: int) -> float:
        """Learning rate after ``step`` steps."""
        if not self.total_steps:
            raise RuntimeError("set OneCycleLR.total_steps before stepping")
        warm = max(1, round(self.total_steps * self.pct_start))
        start = self.max_lr / self.div_factor
        if step < warm:
            return start + (self.max_lr - start) * (1 - math.cos(math.pi * step / warm)) / 2
        end = start / self.final_div_factor
        frac = min(1.0, (step - warm) / max(1, self.total_steps - warm))
        return end + (self.max_lr - end) * (1 + math.cos(math.pi * frac)) / 2

    def step(self, optimizer: torch.optim.Optimizer) -> float:
        """Advance one batch and set the optimizer's learning rate; returns it."""
        lr = self.lr_at(self.step_count)
        for group in optimizer.param_groups:
            group["lr"] = lr
        self.step_count += 1
        return lr

    @mark_as_saver
    def _save(self, path):
        path.write_text(json.dumps({"step_count": self.step_count, "total_steps": self.total_steps}))

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        state = json.loads(path.read_text())
        self.step_count, self.total_steps = state["step_count"], state["total_steps"]


@register_checkpoint_hooks
class WeightAveraging:
    """Uniform running average of model weights (SWA, Izmailov et al. 2018).

    Call :meth:`update` at the end of each epoch to average; :meth:`load_into` copies the
    average into the modules. Recompute BatchNorm statistics afterwards.

    Arguments
    ---------
    fraction : float
        Share of the final epochs to average (0 disables averaging).

    Example
    -------
    >>> avg = WeightAveraging(fraction=0.5)
    >>> net = nn.Linear(2, 1)
    >>> for value in (1.0, 3.0):
    ...     _ = nn.init.constant_(net.weight, value)
    ...     avg.update({"net": net})
    >>> avg.load_into({"net": net})
    >>> net.weight.tolist()
    [[2.0, 2.0]]
    """

    def __init__(self, fraction: float = 0.25):
        self.fraction = fraction
        self.n_averaged = 0
        self.average: dict | None = None

    def due(self, epoch: int, total_epochs: int) -> bool:
        """Whether ``epoch`` (1-based) is among the last ``fraction`` of ``total_epochs``."""
        return self.fraction > 0 and epoch > total_epochs - max(1, round(total_epochs * self.fraction))

    @staticmethod
    def _state(modules: dict) -> dict:
        return {f"{name}.{k}": v for name, m in modules.items()
                for k, v in unwrap(m).state_dict().items()}

    def update(self, modules: dict) -> None:
        """Fold the current weights of ``{name: module}`` into the average."""
        state = self._state(modules)
        if self.average is None or self.n_averaged == 0:
            self.average = {k: v.detach().clone() for k, v in state.items()}
        else:
            for k, v in state.items():
                if v.is_floating_point():
                    self.average[k] += (v.detach() - self.average[k]) / (self.n_averaged + 1)
                else:
                    self.average[k] = v.detach().clone()
        self.n_averaged += 1

    def load_into(self, modules: dict) -> None:
        """Copy the averaged weights into ``{name: module}``."""
        if self.average is None:
            raise RuntimeError("no weights have been averaged yet")
        for name, m in modules.items():
            prefix = f"{name}."
            unwrap(m).load_state_dict(
                {k[len(prefix):]: v for k, v in self.average.items() if k.startswith(prefix)}
            )

    @mark_as_saver
    def _save(self, path):
        torch.save({"n": self.n_averaged, "average": self.average}, path)

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        state = torch.load(path, weights_only=True)
        self.n_averaged, self.average = state["n"], state["average"]


@torch.no_grad()
def recompute_batchnorm(model_fn, batches, modules) -> None:
    """Re-estimate BatchNorm running statistics (e.g. after weight averaging).

    Arguments
    ---------
    model_fn : callable
        Runs the model on one batch.
    batches : iterable
        Un-augmented training batches.
    modules : nn.Module
        Holds the BatchNorm layers; left in eval mode.
    """
    bns = [m for m in modules.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over all batches
    modules.train()
    for batch in batches:
        model_fn(batch)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    modules.eval()


@register_checkpoint_hooks
class TrainingClock:
    """Wall-clock and process CPU seconds spent in completed epochs, across resumes.

    Call :meth:`tick` at the end of every epoch, before the checkpoint is saved: the time
    since the previous tick (or since construction/loading) is added. Time spent in an
    epoch that an interruption cut short is not counted; time between runs never is.
    CPU seconds (all threads of the process) tell how busy the machine was: on a quiet
    machine with ``n`` threads, ``wall ~= cpu / n``.

    Example
    -------
    >>> clock = TrainingClock()
    >>> _ = sum(i * i for i in range(10000))
    >>> clock.tick()
    >>> clock.wall_seconds > 0 and clock.cpu_seconds >= 0
    True
    """

    def __init__(self):
        self.wall_seconds = 0.0
        self.cpu_seconds = 0.0
        self.restart()

    def restart(self) -> None:
        """Start timing from now (e.g. right before ``fit``, leaving out the set-up)."""
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()

    def tick(self) -> None:
        """Add the time since the last tick (one completed epoch)."""
        self.wall_seconds += time.perf_counter() - self._wall0
        self.cpu_seconds += time.process_time() - self._cpu0
        self.restart()

    @mark_as_saver
    def _save(self, path):
        path.write_text(json.dumps({"wall_seconds": self.wall_seconds, "cpu_seconds": self.cpu_seconds}))

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        state = json.loads(path.read_text())
        self.wall_seconds, self.cpu_seconds = state["wall_seconds"], state["cpu_seconds"]
        self.restart()


# --------------------------------------------------------------------------------------
# Training an L-MAC interpreter for an existing classifier
# --------------------------------------------------------------------------------------
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
    """

    explainer: ClassifierInterface
    history: list
    folder: Path | None


def train_lmac(classifier, audio, out=None, epochs: int = 10, batch_size: int = 8, seconds: float = 5.0,
               lr: float = 1e-3, layers=None, valid_fraction: float = 0.1, mixtures: bool = True,
               progress: bool = True, overwrite: bool = False, seed: int = 0, trust_code: bool = False,
               offline=None, device: str = "cpu", classifier_source=None, card=None,
               checkpoint=None, **lmac_options) -> TrainingResult:
    """Train an L-MAC interpreter for a classifier on a folder of your own audio.

    No labels are needed: L-MAC explains the classifier's own predictions. Clips are
    cropped to ``seconds``; with ``mixtures``, half of each batch is mixed with another
    clip or with noise while the loss keeps the clean prediction as its target (the
    L-MAC recipe's robustness trick). A tenth of the files (at least one, when there are
    five or more) is held out, and the decoder of the epoch with the lowest validation
    loss is kept.

    Arguments
    ---------
    classifier : AudioClassifier, EncoderClassifier, ClassifierAdapter, str or Path
        The classifier (object, folder or Hub id).
    audio : str, Path or list
        Audio files and/or folders (searched recursively).
    out : str or Path, optional
        Also export the trained interpreter to this repository folder.
    epochs, batch_size, seconds, lr : training settings.
    layers : list of str, optional
        Hidden layers the decoder reads (default: known per architecture).
    valid_fraction : float
        Share of files held out for checkpoint selection.
    mixtures : bool
        Train on mixtures (recommended).
    progress : bool
        Show a tqdm progress bar.
    overwrite : bool
        Replace an existing ``out`` folder.
    seed : int
        Seed of the split, crops, mixtures and initialisation.
    trust_code, offline : loading options for a classifier given as folder or Hub id.
    device : str
        Torch device.
    classifier_source : str or Path, optional
        The classifier's inference folder, needed for ``out`` when ``classifier`` is an object.
    card : speechbrain_interp.model_card.ModelCardInfo, optional
        Model card text for ``out``.
    checkpoint : str or Path, optional
        File written atomically after every epoch (decoder, optimizer, selection, history and
        every random state); a run that finds it resumes after its last epoch, with the same
        result as an uninterrupted run. Default with ``out``: ``<out>.training.pt`` next to
        ``out``, removed once ``out`` is written.
    **lmac_options
        Passed to :class:`~speechbrain_interp.interpreters.lmac.LMAC` (e.g. ``channels``,
        ``lambda_in``, ``class_conditional=True``: the mixtures are then also asked about their
        other clip, so the mask learns to follow the class asked for).

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
    from speechbrain_interp.mixtures import other_source_targets, training_mixtures

    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"'{out}' already exists; pass overwrite=True (CLI: --overwrite) to replace "
                              "it, or choose another folder (checked before training)")
    if checkpoint is None and out is not None:
        checkpoint = Path(out).with_name(Path(out).name + ".training.pt")
    if isinstance(classifier, (str, Path)) and classifier_source is None:
        classifier_source = resolve_source(classifier, offline=offline)
    adapter = load_classifier_adapter(classifier, layers=layers, trust_code=trust_code, offline=offline)
    adapter.to(device)
    files = audio_files([audio] if isinstance(audio, (str, Path)) else audio)
    if not files:
        raise ValueError(f"no audio files (wav, flac, ogg, mp3) in {audio}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(files), generator=generator).tolist()
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
    done = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = _read_checkpoint(checkpoint, settings)
        brick.decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        history, best, best_loss, done = state["history"], state["best"], state["best_loss"], state["epoch"]
        random_state.restore(state["random"])
    bar = tqdm(total=epochs * len(loader), initial=done * len(loader), unit="batch", desc="training L-MAC",
               disable=not progress)
    try:
        for epoch in range(done + 1, epochs + 1):
            start, total, count, mask_mean = time.time(), 0.0, 0, 0.0
            brick.train()
            for wav in loader:
                wav = wav.to(device)
                if mixtures:
                    mixed, kind = training_mixtures(wav, generator=generator)
                    target = None
                    if brick.class_conditional:  # ask about the other clip of two-clip mixtures too
                        target = other_source_targets(brick.clean_target(wav), kind, 0.5, generator=generator)
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
            valid_loss = _valid_loss(brick, valid_set, batch_size, seed, mixtures) if n_valid else None
            record = {"epoch": epoch, "train_loss": total / max(count, 1), "valid_loss": valid_loss,
                      "mask_mean": mask_mean / max(count, 1), "seconds": round(time.time() - start, 1)}
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
    finally:
        bar.close()
    brick.decoder.load_state_dict(best)
    brick.eval()
    folder = None
    if out is not None:
        from speechbrain_interp.export import export_interpreter
        from speechbrain_interp.model_card import ModelCardInfo

        if classifier_source is None:
            raise ValueError("to export, pass classifier_source=<the classifier's inference folder>")
        selected = next(r for r in history if r.get("selected"))
        card = card or ModelCardInfo(
            title="L-MAC interpreter trained with speechbrain_interp.inference.train_lmac",
            training_data=f"{len(files)} audio files from {audio}",
            evaluation=[{k: v for k, v in r.items() if k != "selected"} for r in history],
            evaluation_note=f"Training history; the decoder of epoch {selected['epoch']} was kept "
                            "(lowest validation loss).",
        )
        folder = export_interpreter(brick, out, classifier_source=classifier_source, card=card,
                                    overwrite=overwrite)
        if checkpoint is not None:  # the folder holds the result now
            Path(checkpoint).unlink(missing_ok=True)
    return TrainingResult(ClassifierInterface(brick), history, folder)


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
