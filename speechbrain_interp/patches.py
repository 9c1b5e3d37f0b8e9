"""Classifiers that cut the clip into fixed-size patches, classify each and average.

Many AudioSet models (VGGish, the patch-based MobileNets and EfficientNets) never see a whole
clip: they classify fixed patches of e.g. 0.96 s (96 frames of 10 ms) and average the patch
outputs. Their hidden layers are shaped ``(batch x patches, ...)``, which no interpreter can
read per clip. :class:`PatchClassifier` does the patching itself, so the model inside is
given patches only, and puts every captured hidden layer back on the clip's own time axis:
patch maps are concatenated along their time axis (averaged where patches overlap), and a
per-patch vector becomes one time step per patch. L-MAC's decoder, Grad-CAM and the layout
probe then see one time axis per clip.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from speechbrain_interp.adapters import TorchClassifier

__all__ = ["PatchClassifier", "patch_starts"]


def _early_share(change: torch.Tensor, axis: int) -> float:
    """How much more of a change lies in the first than in the second half of ``axis`` (-1 to 1)."""
    profile = change.abs().sum([d for d in range(change.dim()) if d != axis])
    half, total = profile.shape[0] // 2, float(profile.sum())
    return float(profile[:half].sum() - profile[-half:].sum()) / total if total > 0 else 0.0


def patch_starts(frames: int, patch_frames: int, hop: int) -> list[int]:
    """First frame of each patch: every ``hop`` frames, plus one patch ending at the clip's end.

    A clip shorter than one patch is one patch (zero-padded). The last patch is aligned with
    the end of the clip rather than padded, so that no silent patch enters the average.

    Example
    -------
    >>> patch_starts(10, 4, 4), patch_starts(8, 4, 4), patch_starts(3, 4, 4)
    ([0, 4, 6], [0, 4], [0])
    """
    if frames <= patch_frames:
        return [0]
    starts = list(range(0, frames - patch_frames + 1, hop))
    if starts[-1] + patch_frames < frames:
        starts.append(frames - patch_frames)
    return starts


class PatchClassifier(TorchClassifier):
    """Adapter for a model that classifies fixed-size patches, whose outputs are averaged per clip.

    The magnitude ``(batch, frames, freq)`` is cut into patches of ``patch_frames`` frames
    every ``patch_hop`` frames (see :func:`patch_starts`); the model gets
    ``(batch * patches, ...)`` inputs built from them as ``input`` says, and its outputs are
    averaged over each clip's patches. Captured hidden layers are returned per clip, with
    the patches put back along time: a ``(batch * patches, channels, t, f)`` map becomes
    ``(batch, channels, T, f)`` with ``T`` the clip's length at that layer's resolution, and
    a ``(batch * patches, channels)`` vector becomes ``(batch, channels, patches)``.

    Each layer's time axis is found once by a probe (loud frames at the start, then at the
    end of a patch: the axis whose response moves with them), or declared with ``time_axes``.

    Arguments
    ---------
    model : nn.Module
        Maps one batch of patch inputs to ``(patches, classes)`` outputs.
    frontend : SpectralFrontEnd
        The STFT (its hop fixes the frame rate: 96 frames of a 10 ms hop are 0.96 s).
    patch_frames : int
        Frames per patch.
    patch_hop : int, optional
        Frames between patch starts (default ``patch_frames``: no overlap).
    input : str or callable
        As for :class:`~speechbrain_interp.adapters.TorchClassifier`, applied to each patch.
    average : str
        ``"logits"`` (mean of the model's outputs) or ``"probabilities"`` (mean of the
        per-patch softmax, or sigmoid when multi-label, returned as logits).
    time_axes : dict, optional
        ``{layer: axis}``: the time axis of a layer's per-patch output (axis 0 is the patches),
        instead of probing.
    model_kwargs : dict, optional
        The model's constructor arguments, for the export.
    **kwargs
        ``layers``, ``labels``, ``multilabel``, ``output``, ``freeze``.

    Example
    -------
    >>> from torch import nn
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> frontend = SpectralFrontEnd(n_fft=256, hop_length=64, n_mels=16)
    >>> net = nn.Sequential(nn.Conv1d(16, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
    ...                     nn.Flatten(1), nn.Linear(8, 3))
    >>> adapter = PatchClassifier(net, frontend, patch_frames=24, layers=["0", "3"],
    ...                           input=lambda fe, mag, ph: fe.log_mel(mag).mT)
    >>> spec = frontend(torch.randn(2, 16000))  # 251 frames: 11 patches of 24
    >>> logits, hidden = adapter.forward_with_hidden(spec.magnitude)
    >>> logits.shape, hidden["0"].shape, hidden["3"].shape
    (torch.Size([2, 3]), torch.Size([2, 8, 251]), torch.Size([2, 8, 11]))
    """

    _AVERAGES = ("logits", "probabilities")

    def __init__(self, model, frontend, patch_frames: int, patch_hop: int | None = None, input="log_mel",
                 average: str = "logits", time_axes: dict | None = None, model_kwargs: dict | None = None,
                 **kwargs):
        if int(patch_frames) < 1 or (patch_hop is not None and int(patch_hop) < 1):
            raise ValueError(f"patch_frames and patch_hop must be positive, got {patch_frames}, {patch_hop}")
        if average not in self._AVERAGES:
            raise ValueError(f"average must be one of {self._AVERAGES}, got '{average}'")
        self.patch_frames = int(patch_frames)
        self.patch_hop = int(patch_hop or patch_frames)
        self.average = average
        self.time_axes = dict(time_axes or {})
        self._geometry = None  # (batch, starts, frames) of the last forward pass
        super().__init__(model, frontend, input=input, model_kwargs=model_kwargs, **kwargs)

    def export_spec(self) -> dict:
        """:meth:`TorchClassifier.export_spec` plus the patching settings."""
        return {**super().export_spec(), "patch_frames": self.patch_frames, "patch_hop": self.patch_hop,
                "average": self.average, "time_axes": {str(k): int(v) for k, v in self.time_axes.items()}}

    # --- patches in, one output per clip out ----------------------------------------------
    def _cut(self, x: torch.Tensor, starts) -> torch.Tensor:
        """``(batch, frames, ...)`` as ``(batch * patches, patch_frames, ...)``, a short clip zero-padded."""
        if x.shape[1] < self.patch_frames:
            x = torch.nn.functional.pad(x, (0, 0, 0, self.patch_frames - x.shape[1]))
        return torch.stack([x[:, s:s + self.patch_frames] for s in starts], 1).flatten(0, 1)

    def compute_logits(self, magnitude, phase=None, lengths=None):
        batch, frames = magnitude.shape[:2]
        starts = patch_starts(frames, self.patch_frames, self.patch_hop)
        self._geometry = (batch, starts, frames)
        patches = self._cut(magnitude, starts)
        out = super().compute_logits(patches, None if phase is None else self._cut(phase, starts))
        out = out.reshape(batch, len(starts), -1)
        if self.average == "logits":
            return out.mean(1)
        if self.output == "probabilities":
            return out.mean(1)
        probs = torch.sigmoid(out) if self.multilabel else torch.softmax(out, dim=-1)
        probs = probs.mean(1).clamp(1e-7, 1 - 1e-7)
        return torch.logit(probs) if self.multilabel else torch.log(probs)

    # --- patch maps back to the clip's time axis ------------------------------------------
    def hidden_view(self, name: str, output) -> torch.Tensor:
        """The output of layer ``name`` per clip (see :meth:`unfold_hidden`); what bricks and probes read."""
        return self.unfold_hidden(name, super().hidden_view(name, output))

    def unfold_hidden(self, name: str, h: torch.Tensor) -> torch.Tensor:
        """A ``(batch * patches, ...)`` output of layer ``name`` in the last forward pass, per clip.

        Also used by Grad-CAM on its per-patch maps and by the layout probe.
        """
        if self._geometry is None:
            raise RuntimeError("unfold_hidden needs a forward pass first")
        batch, starts, frames = self._geometry
        patches = len(starts)
        if h.shape[0] != batch * patches:
            raise ValueError(f"layer '{name}' has a batch axis of {h.shape[0]} for {batch} clip(s) of "
                             f"{patches} patches; it cannot be mapped back to the clips")
        if h.dim() == 2:  # one vector per patch: one time step per patch
            return h.reshape(batch, patches, -1).transpose(1, 2)
        axis = self._time_axis(name, h)
        if axis is None:  # pooled to size 1 everywhere: a vector
            return h.reshape(batch, patches, -1).transpose(1, 2)
        h = h.movedim(axis, -1)
        steps = h.shape[-1]
        rate = steps / self.patch_frames  # the layer's steps per input frame
        offsets = [round(s * rate) for s in starts]
        total = offsets[-1] + steps
        out = h.new_zeros(batch, *h.shape[1:-1], total)
        count = h.new_zeros(total)
        h = h.reshape(batch, patches, *h.shape[1:])
        for p, offset in enumerate(offsets):  # overlapping patches are averaged
            out[..., offset:offset + steps] += h[:, p]
            count[offset:offset + steps] += 1
        out = out / count.clamp_min(1)
        if frames < self.patch_frames:  # a padded short clip: keep its own frames only
            out = out[..., :max(1, round(frames * rate))]
        return out.movedim(-1, axis)

    def _time_axis(self, name: str, h: torch.Tensor) -> int | None:
        """The time axis of a layer's per-patch output (declared, probed once, or None for a vector)."""
        if name in self.time_axes:
            return self.time_axes[name] % h.dim()
        if all(size == 1 for size in h.shape[1:]):
            return None
        axis = self._probe_time_axis(name)
        self.time_axes[name] = axis
        return axis

    @torch.no_grad()
    def _probe_time_axis(self, name: str) -> int:
        """Find the axis whose response follows loud frames from a patch's start to its end."""
        # this runs inside the hooks of the pass being unfolded: every other hook (the adapter's,
        # a layout probe's, Captum's) is set aside, so that none of them sees the probe's outputs
        modules = list(self.model.modules())
        saved = [m._forward_hooks for m in modules]
        for m in modules:
            m._forward_hooks = OrderedDict()
        captured = []
        self.model.get_submodule(name).register_forward_hook(
            lambda m, i, o: captured.append(o[0] if isinstance(o, (tuple, list)) else o))
        device = next(self.buffers(), torch.empty(0)).device
        base = torch.full((1, self.patch_frames, self.frontend.n_freqs), 0.01, device=device)
        quarter = max(1, self.patch_frames // 4)
        early, late = base.clone(), base.clone()
        early[:, :quarter] += 1.0
        late[:, -quarter:] += 1.0
        geometry, was_training = self._geometry, self.model.training
        self.model.eval()
        try:
            for x in (base, early, late):
                TorchClassifier.compute_logits(self, x, torch.zeros_like(x))
        finally:
            for m, hooks in zip(modules, saved):
                m._forward_hooks = hooks
            self._geometry = geometry
            self.model.train(was_training)
        ref, a, b = (t.detach().float() for t in captured[-3:])
        scores = {}
        for axis in range(1, ref.dim()):
            if ref.shape[axis] < 2:
                continue
            scores[axis] = _early_share(a - ref, axis) - _early_share(b - ref, axis)
        best = max(scores, key=scores.get) if scores else None
        if best is None or scores[best] < 0.5:
            raise ValueError(
                f"cannot find the time axis of layer '{name}' (per-patch shape {tuple(ref.shape)}): its "
                "response does not move with the patch's loud frames. Declare it with "
                f"PatchClassifier(..., time_axes={{'{name}': <axis>}}), or read another layer")
        return best
