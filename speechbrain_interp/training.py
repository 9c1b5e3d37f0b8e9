"""Checkpointable training utilities shared by the recipes.

* :class:`OneCycleLR`: a one-cycle learning-rate schedule stepped every batch, which
  SpeechBrain's ``Checkpointer`` saves and restores so an interrupted run resumes on
  the same curve;
* :class:`WeightAveraging`: a uniform average of the weights of the last epochs
  (stochastic weight averaging), also checkpointed;
* :class:`TrainingClock`: wall-clock and CPU seconds of the completed epochs, checkpointed
  so that a resumed run reports its whole training time;
* :func:`train_lmac` and :class:`TrainingResult`, re-exported from
  :mod:`speechbrain_interp.lmac_training` (a small L-MAC training loop for a classifier you
  already have, on your own audio).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import math
import time

import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from torch import nn

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


# train_lmac has its own module; it is still imported from here
from speechbrain_interp.lmac_training import TrainingResult, train_lmac  # noqa: E402
