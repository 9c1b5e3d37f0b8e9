"""Checkpoints that survive a kill: a recipe resumes from the last whole checkpoint.

SpeechBrain's :class:`~speechbrain.utils.checkpoints.Checkpointer` writes a checkpoint's
``CKPT.yaml`` first and its parameter files after it. A process killed in between leaves a
folder that looks complete, and the next run crashes while loading it (``KeyError`` for a
missing file, ``PytorchStreamReader failed`` for a cut one). :class:`AtomicCheckpointer`
writes ``CKPT.yaml`` last, through a rename, so a checkpoint exists only once every file is
whole; folders that a kill left without it are removed, with a warning, before recovery.

Recipes use it in their hparams YAML::

    checkpointer: !new:speechbrain_interp.checkpointing.AtomicCheckpointer
        checkpoints_dir: !ref <save_folder>
        recoverables: ...

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import (
    CKPT_PREFIX,
    METAFNAME,
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import ddp_barrier

__all__ = ["AtomicCheckpointer", "RandomState", "incomplete_checkpoints", "replace_atomically"]

logger = logging.getLogger(__name__)


def replace_atomically(path, write) -> Path:
    """Call ``write(tmp)`` on a sibling temporary file, then rename it to ``path``.

    A process killed during ``write`` leaves ``path`` as it was (or absent), never half-written;
    a ``write`` that raises leaves no temporary file either.

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "sub" / "notes.txt"
    >>> _ = replace_atomically(path, lambda tmp: tmp.write_text("whole"))
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('whole', ['notes.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a write that failed leaves nothing behind (a kill still may)
        raise
    os.replace(tmp, path)
    return path


def incomplete_checkpoints(checkpoints_dir) -> list[Path]:
    """Checkpoint folders without their ``CKPT.yaml``: left by a kill during a write.

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "CKPT+cut").mkdir(); (root / "CKPT+whole").mkdir()
    >>> _ = (root / "CKPT+whole" / "CKPT.yaml").write_text("end-of-epoch: true")
    >>> [p.name for p in incomplete_checkpoints(root)]
    ['CKPT+cut']
    """
    root = Path(checkpoints_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and p.name.startswith(CKPT_PREFIX) and not (p / METAFNAME).exists())


class AtomicCheckpointer(Checkpointer):
    """A SpeechBrain Checkpointer whose checkpoints count only once they are whole.

    Example
    -------
    >>> import tempfile, torch
    >>> model = torch.nn.Linear(2, 2)
    >>> root = Path(tempfile.mkdtemp())
    >>> ckpt = AtomicCheckpointer(root, recoverables={"model": model})
    >>> _ = ckpt.save_checkpoint(meta={"loss": 1.0})
    >>> (root / "CKPT+cut").mkdir()  # as a kill during the next write would leave it
    >>> AtomicCheckpointer(root, recoverables={"model": model}).recover_if_possible() is not None
    True
    >>> incomplete_checkpoints(root)
    []
    """

    def save_checkpoint(self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO):
        """Save every recoverable, then write ``CKPT.yaml`` through a rename (see the module doc)."""
        self._pending_meta = None
        checkpoint = super().save_checkpoint(meta=meta or {}, end_of_epoch=end_of_epoch, name=name,
                                             verbosity=verbosity)
        if self._pending_meta is not None:  # the main process only
            path, values, epoch_end = self._pending_meta
            replace_atomically(path, lambda tmp: Checkpointer._save_checkpoint_metafile(self, tmp, values,
                                                                                         epoch_end))
            self._pending_meta = None
        # every process must see the whole checkpoint before any lists them: delete_checkpoints
        # decides on each process which to delete, and processes that disagree deadlock there
        ddp_barrier()
        return checkpoint

    def _save_checkpoint_metafile(self, fpath, meta_to_include=None, end_of_epoch=True):
        # called by Checkpointer.save_checkpoint before the parameter files: postponed
        meta_to_include = dict(meta_to_include or {})
        self._pending_meta = (fpath, meta_to_include, end_of_epoch)
        return {"end-of-epoch": end_of_epoch, **meta_to_include}

    def recover_if_possible(self, *args, **kwargs):
        """Remove what a kill left half-written, then recover the best whole checkpoint."""
        for path in incomplete_checkpoints(self.checkpoints_dir):
            logger.warning("removing %s: a checkpoint left incomplete by an interrupted run", path)
            shutil.rmtree(path, ignore_errors=True)
        return super().recover_if_possible(*args, **kwargs)


@register_checkpoint_hooks
class RandomState:
    """A recoverable that saves torch's global random state and named generators.

    SpeechBrain restores the model, optimizer and epoch counter, not the random streams: a
    resumed run then draws other mixtures and masks than an uninterrupted one, and its losses
    drift apart. Registered before recovery, this makes the resumed run continue the same
    streams.

    Example
    -------
    >>> import tempfile
    >>> gen = torch.Generator().manual_seed(0)
    >>> state = RandomState({"mixtures": gen})
    >>> path = Path(tempfile.mkdtemp()) / "random.ckpt"
    >>> state.save(path)
    >>> first = torch.rand(2, generator=gen)
    >>> state.load(path)
    >>> torch.equal(torch.rand(2, generator=gen), first)
    True
    """

    def __init__(self, generators: dict | None = None):
        self.generators = dict(generators or {})

    def state(self) -> dict:
        """The current states, as plain tensors (fit for ``torch.load(weights_only=True)``)."""
        return {"torch": torch.get_rng_state(),
                "generators": {k: g.get_state() for k, g in self.generators.items()}}

    def restore(self, state: dict) -> None:
        """Set the states :meth:`state` returned (generators it does not name keep theirs)."""
        torch.set_rng_state(state["torch"])
        for name, gen in self.generators.items():
            if name in state["generators"]:
                gen.set_state(state["generators"][name])

    @mark_as_saver
    def save(self, path) -> None:
        """Write the states to ``path``."""
        torch.save(self.state(), path)

    @mark_as_loader
    def load(self, path, end_of_epoch: bool = True) -> None:
        """Restore the states written by :meth:`save`."""
        self.restore(torch.load(path, map_location="cpu", weights_only=True))
