"""A cheap, length-agnostic mask decoder that reads a classifier's hidden representations.

L-MAC's decoder turns the hidden representations of a frozen classifier into a mask
over the input's magnitude spectrogram. SpeechBrain's ``CNN14PSI_stft`` does it with a
stack of wide transposed convolutions that is tied to Cnn14's four feature maps, costs
many times a classifier forward and only produces full-resolution masks for some frame
counts. :class:`MaskDecoder` instead

* projects each named layer to a few channels with 1x1 convolutions, whatever its layout:
  4-D convolutional maps ``(batch, channels, time, freq)``, 1-D maps channels-first
  ``(batch, channels, time)`` (ECAPA-TDNN) or channels-last ``(batch, time, channels)``
  (Xvector's TDNN blocks), and pooled vectors ``(batch, channels)``, which condition
  every frame;
* fuses them coarse-to-fine (upsample, add, one 3x3 convolution per stage) at the
  layers' own, low resolution, so its cost is a small fraction of the classifier's;
* maps each fused frame to the full linear-frequency axis with one linear layer, and
  interpolates in time to exactly the input's frame count, so any clip length works;
* optionally conditions every fusion stage on the class to explain (FiLM: a per-class
  scale and shift of the channels), so one decoder gives a different mask for each class
  of a clip that holds several sounds;
* or conditions it on a map of where the classifier holds the evidence for the class
  (:mod:`speechbrain_interp.class_evidence`), added to every fusion stage, which makes the
  mask class-specific from the first step;
* optionally sharpens the mask with the input spectrogram itself: the mask logit is
  ``offset + gain * z`` where ``offset`` and ``gain`` come from the classifier's
  representations and ``z`` is the per-clip standardised spectrogram, so the mask can
  follow time-frequency detail finer than the hidden layers resolve, at the cost of a few
  element-wise operations.

:func:`infer_layouts` finds each layer's time axis by running the classifier on two clip
lengths and seeing which axis grows, so no layout has to be written by hand (it can be,
with ``layouts``).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LAYOUTS", "EVIDENCE_KEY", "LayerSpec", "infer_layouts", "to_canonical", "MaskDecoder"]

#: Key of the class-evidence map (:mod:`speechbrain_interp.class_evidence`) among the hidden
#: layers of a decoder built with ``evidence=True``.
EVIDENCE_KEY = "class_evidence"

#: Hidden-representation layouts: B batch, C channels, T time, F frequency.
#: ``"BC"`` has no time axis (a pooled vector, or any tensor whose size does not follow time).
LAYOUTS = ("BCTF", "BCFT", "BCT", "BTC", "BC")

LayerSpec = namedtuple("LayerSpec", ["layout", "channels", "freq", "frames"])
LayerSpec.__doc__ = """Shape facts of one hidden layer.

Arguments
---------
layout : str
    One of :data:`LAYOUTS`.
channels : int
    Channels after :func:`to_canonical` (for ``"BC"``, the flattened size).
freq : int
    Frequency bins of the map (1 for 1-D maps and vectors).
frames : int
    Time steps seen when probing (orders layers from coarse to fine; informative only).
"""


def _first_tensor(output):
    while isinstance(output, (tuple, list)):
        output = output[0]
    return output


def _layout_from_shapes(short: tuple, long: tuple) -> str:
    """Layout of a tensor from its shapes on a short and a longer input."""
    if len(short) != len(long):
        raise ValueError(f"the layer changed rank between inputs: {short} vs {long}")
    grown = [i for i in range(1, len(short)) if long[i] != short[i]]
    if len(grown) > 1:
        raise ValueError(f"more than one axis follows the input length: {short} vs {long}")
    if not grown:
        return "BC"
    axis = grown[0]
    if len(short) == 4 and axis in (2, 3):
        return "BCTF" if axis == 2 else "BCFT"
    if len(short) == 3 and axis in (1, 2):
        return "BTC" if axis == 1 else "BCT"
    raise ValueError(f"cannot place the time axis {axis} of a tensor shaped {short}")


def to_canonical(h: torch.Tensor, layout: str) -> torch.Tensor:
    """``(batch, channels, time, freq)`` view of a hidden tensor, or ``(batch, channels)`` for ``"BC"``.

    Example
    -------
    >>> to_canonical(torch.zeros(2, 50, 16), "BTC").shape
    torch.Size([2, 16, 50, 1])
    >>> to_canonical(torch.zeros(2, 8, 4, 50), "BCFT").shape
    torch.Size([2, 8, 50, 4])
    """
    if layout == "BCTF":
        return h
    if layout == "BCFT":
        return h.transpose(2, 3)
    if layout == "BCT":
        return h.unsqueeze(-1)
    if layout == "BTC":
        return h.transpose(1, 2).unsqueeze(-1)
    if layout == "BC":
        return h.flatten(1)
    raise ValueError(f"layout must be one of {LAYOUTS}, got '{layout}'")


@torch.no_grad()
def infer_layouts(adapter, layers, seconds: float = 2.0, layouts=None) -> dict:
    """Probe a classifier adapter for the layout and size of hidden layers.

    The classifier runs on low-level noise of ``seconds`` and ``2 * seconds`` (and
    ``8 * seconds`` for layers that did not change, in case pooling hid it); the axis whose
    size changes is time, and a layer with no such axis is a vector (``"BC"``). Layers are
    hooked here for the probe only, so they need not be among the adapter's ``layers``.

    Arguments
    ---------
    adapter : speechbrain_interp.adapters.ClassifierAdapter
        The classifier.
    layers : sequence of str
        Dotted module names under ``adapter.model``.
    seconds : float
        Length of the shorter probe.
    layouts : dict, optional
        ``{layer: layout}`` to declare instead of infer (one of :data:`LAYOUTS`).

    Returns
    -------
    dict
        ``{layer: LayerSpec}``.

    Example
    -------
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> net = nn.Sequential(nn.Conv1d(16, 8, 3, padding=1), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool1d(1), nn.Flatten(1), nn.Linear(8, 3))
    >>> adapter = TorchClassifier(net, SpectralFrontEnd(n_fft=256, hop_length=128, n_mels=16),
    ...                           input=lambda fe, mag, ph: fe.log_mel(mag).mT)
    >>> spec = infer_layouts(adapter, ["0", "3"])
    >>> spec["0"].layout, spec["0"].channels, spec["3"].layout
    ('BCT', 8, 'BC')
    """
    layouts = dict(layouts or {})
    fe = adapter.frontend
    n = max(int(seconds * fe.sample_rate), 4 * fe.win_length)
    shapes = _probe_shapes(adapter, layers, (n, 2 * n))
    # a deep layer may pool short probes down to one step: look again with a much longer one
    undecided = [name for name in layers if name not in layouts
                 and _layout_from_shapes(shapes[name][0], shapes[name][1]) == "BC"]
    if undecided:
        longer = _probe_shapes(adapter, undecided, (8 * n,))
        for name in undecided:
            shapes[name] = [shapes[name][0], longer[name][0]]
    specs = {}
    for name in layers:
        short, long = shapes[name]
        if short[0] != 1 or long[0] != 1:
            # e.g. a patch-based model that folds fixed-length patches into the batch axis: one
            # mask per patch would come back for one clip, silently
            raise ValueError(
                f"layer '{name}' has a batch axis of {short[0]} for one clip ({tuple(short)}): the model "
                "folds patches (or frames) into the batch, which cannot be mapped back to the clip. "
                "For a model that classifies fixed-size patches and averages them, give it the patches "
                "instead: wrap it in speechbrain_interp.patches.PatchClassifier(model, frontend, "
                "patch_frames=...), which puts each layer back on the clip's time axis")
        layout = layouts.get(name) or _layout_from_shapes(short, long)
        if layout not in LAYOUTS:
            raise ValueError(f"layout of '{name}' must be one of {LAYOUTS}, got '{layout}'")
        canon = to_canonical(torch.empty(short), layout).shape
        if layout == "BC":
            specs[name] = LayerSpec("BC", int(canon[1]), 1, 1)
        else:
            specs[name] = LayerSpec(layout, int(canon[1]), int(canon[3]), int(canon[2]))
    return specs


@torch.no_grad()
def _probe_shapes(adapter, layers, lengths) -> dict:
    """``{layer: [shape for each length]}`` from forward passes on low-level noise."""
    captured: dict[str, list] = {name: [] for name in layers}
    view = getattr(adapter, "hidden_view", lambda name, output: _first_tensor(output))
    handles = [
        adapter.model.get_submodule(name).register_forward_hook(
            lambda m, i, o, name=name: captured[name].append(tuple(view(name, o).shape)))
        for name in layers
    ]
    fe = adapter.frontend
    device = next(adapter.buffers(), torch.empty(0)).device
    gen = torch.Generator().manual_seed(0)
    was_training = adapter.training
    adapter.eval()
    try:
        for length in lengths:
            captured_before = {name: len(v) for name, v in captured.items()}
            spec = fe((0.01 * torch.randn(1, length, generator=gen)).to(device))
            adapter(spec.magnitude, phase=spec.phase)
            for name in layers:
                if len(captured[name]) == captured_before[name]:
                    raise RuntimeError(f"layer '{name}' was not called during the classifier's forward pass")
                # keep the last call of this pass (a module called twice keeps its final output)
                del captured[name][captured_before[name]:-1]
    finally:
        for h in handles:
            h.remove()
        adapter.train(was_training)
    return captured


def standardize(values: torch.Tensor, floor: float = 1e-3) -> torch.Tensor:
    """Per-clip zero-mean, unit-variance ``(batch, ...)`` values; silence stays 0, never NaN.

    Example
    -------
    >>> standardize(torch.zeros(1, 3, 4)).abs().max()
    tensor(0.)
    """
    dims = tuple(range(1, values.dim()))
    std, mean = torch.std_mean(values, dims, correction=0, keepdim=True)
    return (values - mean) / std.clamp_min(floor)


class MaskDecoder(nn.Module):
    """Decode hidden representations into mask logits at full ``(frames, freq)`` resolution.

    Arguments
    ---------
    layers : dict
        ``{layer name: LayerSpec or (layout, channels, freq[, frames])}``, e.g. from
        :func:`infer_layouts`. Layers are fused from the coarsest time resolution to the finest.
    n_freq : int
        Frequency bins of the output (the STFT's ``n_fft // 2 + 1``).
    channels : int
        Width of the fusion path.
    head_channels : int
        Channels per frequency cell before the linear map to ``n_freq`` bins.
    n_convs : int
        3x3 convolutions per fusion stage.
    guide : bool
        Add the spectrogram-guided term ``gain * z`` to the mask logits.
    profile_bias : bool
        Give the map to frequency bins a bias per bin (the original design). That bias is a
        mask the decoder can output for every clip whatever the classifier's layers say: a
        fixed frequency profile that L-MAC's loss rewards on its own. Without it (False)
        one learned scalar sets the default logit, and every shape in time and frequency has
        to come from the hidden layers or the input.
    freq_cells : int, optional
        Frequency resolution of the decoded offset and gain: ``freq_cells`` values per frame,
        linearly interpolated to the ``n_freq`` bins. None (the original design) decodes every
        bin separately, which lets the mask carry bin-to-bin patterns finer than any sound
        event, patterns a classifier can react to without them pointing at anything.
    n_classes : int
        > 0 makes the decoder class-conditional: :meth:`forward` then takes the class to
        explain, which scales and shifts the channels of every fusion stage (FiLM, Perez et
        al. 2018). The modulation starts at zero, so a new conditional decoder begins as its
        unconditional twin and loads that twin's weights (default 0: unconditional).
    cond_dim : int
        > 0 conditions the decoder on a vector instead (e.g. a text prompt's embedding): the
        FiLM scales and shifts are a linear map of ``target``, a ``(batch, cond_dim)`` tensor,
        also zero at the start and bounded by tanh (default 0; exclusive with ``n_classes``).
    cond_scale : float
        The conditioning vector is multiplied by it before the linear map (default 1.0).
    evidence : bool
        Read a ``(batch, 1, time, freq)`` class-evidence map under ``hidden[EVIDENCE_KEY]``
        (:func:`speechbrain_interp.class_evidence.class_evidence`): a 1x1 convolution of it,
        resized to each fusion stage, is added to that stage's input (starting at zero), and
        ``log(p + evidence_floor)``, with ``p`` its time profile (mean over frequency, peak 1),
        times a learned gain starting at ``evidence_gain``, to the mask logits: the decoder starts
        out gating its twin's mask by where the class's evidence is, and learns how much to
        (default False).
    evidence_floor : float
        The gate's floor: where the class has no evidence, the mask's odds are multiplied by
        ``evidence_floor / (1 + evidence_floor)`` at the start (default 0.001).
    evidence_gain : float
        Initial gain of the gate (default 1.0; higher: the mask follows the evidence more closely).

    Example
    -------
    >>> dec = MaskDecoder({"deep": ("BCTF", 64, 4), "vec": ("BC", 32, 1), "tdnn": ("BTC", 16, 1)},
    ...                   n_freq=257)
    >>> hidden = {"deep": torch.randn(2, 64, 13, 4), "vec": torch.randn(2, 32),
    ...           "tdnn": torch.randn(2, 51, 16)}
    >>> dec(hidden, torch.rand(2, 101, 257)).shape
    torch.Size([2, 101, 257])
    >>> conditional = MaskDecoder({"deep": ("BCTF", 64, 4)}, n_freq=257, n_classes=3)
    >>> conditional({"deep": torch.randn(2, 64, 13, 4)}, torch.rand(2, 101, 257),
    ...             target=torch.tensor([0, 2])).shape
    torch.Size([2, 101, 257])
    >>> evidence = MaskDecoder({"deep": ("BCTF", 64, 4)}, n_freq=257, evidence=True)
    >>> evidence({"deep": torch.randn(2, 64, 13, 4), EVIDENCE_KEY: torch.rand(2, 1, 13, 4)},
    ...          torch.rand(2, 101, 257)).shape
    torch.Size([2, 101, 257])
    >>> prompted = MaskDecoder({"deep": ("BCTF", 64, 4)}, n_freq=257, cond_dim=16)
    >>> prompted({"deep": torch.randn(2, 64, 13, 4)}, torch.rand(2, 101, 257),
    ...          target=torch.randn(2, 16)).shape
    torch.Size([2, 101, 257])
    """

    def __init__(self, layers: dict, n_freq: int, channels: int = 32, head_channels: int = 8,
                 n_convs: int = 1, guide: bool = True, profile_bias: bool = True,
                 freq_cells: int | None = None, n_classes: int = 0, cond_dim: int = 0,
                 cond_scale: float = 1.0, evidence: bool = False, evidence_floor: float = 0.001,
                 evidence_gain: float = 1.0):
        super().__init__()
        if not layers:
            raise ValueError("MaskDecoder needs at least one hidden layer")
        specs = {}
        for name, spec in layers.items():
            spec = tuple(spec)
            layout, ch, freq = spec[:3]
            if layout not in LAYOUTS:
                raise ValueError(f"layout of '{name}' must be one of {LAYOUTS}, got '{layout}'")
            freq = 1 if layout in ("BC", "BCT", "BTC") else int(freq)
            specs[name] = LayerSpec(layout, int(ch), freq, int(spec[3]) if len(spec) > 3 else 0)
        self.specs = specs
        # the constructor's settings, so that a variant of this decoder can be rebuilt (variant())
        self.settings = {"channels": channels, "head_channels": head_channels, "n_convs": n_convs,
                         "guide": guide, "profile_bias": profile_bias, "freq_cells": freq_cells,
                         "n_classes": n_classes}
        if cond_dim:  # only when set, so that older decoders' settings stay as they were
            if n_classes:
                raise ValueError("a decoder is conditioned on classes (n_classes) or on vectors "
                                 "(cond_dim), not both")
            self.settings.update(cond_dim=cond_dim, cond_scale=cond_scale)
        if evidence:
            self.settings.update(evidence=True, evidence_floor=evidence_floor, evidence_gain=evidence_gain)
        self.n_freq = int(n_freq)
        self.guide = bool(guide)
        maps = [n for n, s in specs.items() if s.layout != "BC"]
        # coarse to fine: fewest frames first, then fewest frequency cells
        self.map_names = sorted(maps, key=lambda n: (specs[n].frames, specs[n].freq))
        self.vector_names = [n for n, s in specs.items() if s.layout == "BC"]
        key = self._key
        self.proj = nn.ModuleDict({
            key(n): nn.Conv2d(specs[n].channels, channels, 1) for n in self.map_names
        })
        self.vec_proj = nn.ModuleDict({
            key(n): nn.Linear(specs[n].channels, channels) for n in self.vector_names
        })
        n_stages = max(1, len(self.map_names))
        self.stages = nn.ModuleList([
            nn.Sequential(*[m for _ in range(n_convs) for m in
                            (nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())])
            for _ in range(n_stages)
        ])
        # the fused map takes the frequency size of the finest-in-time layer
        self.out_freq_cells = specs[self.map_names[-1]].freq if self.map_names else 1
        self.head = nn.Conv2d(channels, head_channels, 1)
        self.freq_cells = int(freq_cells) if freq_cells else self.n_freq
        n_out = 2 * self.freq_cells if self.guide else self.freq_cells
        self.profile_bias = bool(profile_bias)
        self.to_freq = nn.Linear(head_channels * self.out_freq_cells, n_out, bias=self.profile_bias)
        if self.profile_bias:
            nn.init.zeros_(self.to_freq.bias)  # start from a mask of 0.5 everywhere
        else:
            self.logit_bias = nn.Parameter(torch.zeros(1))
        self.n_classes = int(n_classes or 0)
        if self.n_classes:
            # a scale and a shift per channel for each stage and for the head's input
            self.film = nn.Embedding(self.n_classes, 2 * channels * (n_stages + 1))
            nn.init.zeros_(self.film.weight)
        self.evidence, self.evidence_floor = bool(evidence), float(evidence_floor)
        if self.evidence:
            self.evidence_proj = nn.ModuleList([nn.Conv2d(1, channels, 1) for _ in range(n_stages)])
            for conv in self.evidence_proj:  # start as the decoder without evidence
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
            # a direct path from the evidence's time profile to the logits, a gate from the start:
            # a zero gain would take many small steps to matter (Adam moves it ~lr per step)
            self.evidence_gain = nn.Parameter(torch.full((1,), float(evidence_gain)))
        self.cond_dim, self.cond_scale = int(cond_dim or 0), float(cond_scale)
        if self.cond_dim:
            self.film_map = nn.Linear(self.cond_dim, 2 * channels * (n_stages + 1))
            nn.init.zeros_(self.film_map.weight)
            nn.init.zeros_(self.film_map.bias)

    def variant(self, **changes) -> MaskDecoder:
        """A new, untrained decoder for the same layers with some settings changed.

        Example
        -------
        >>> dec = MaskDecoder({"deep": ("BCTF", 64, 4)}, n_freq=257, channels=8)
        >>> wider = dec.variant(n_classes=3)
        >>> wider.n_classes, wider.head.in_channels
        (3, 8)
        """
        return MaskDecoder(self.specs, self.n_freq, **{**self.settings, **changes})

    def modulation(self, target, batch: int, device) -> list:
        """``[(scale, shift)]`` per stage and for the head, each ``(batch, channels, 1, 1)``.

        ``target`` is ``(batch,)`` class indices, or a ``(batch, classes)`` 0/1 set (multi-label),
        which is explained by the mean of its classes' modulations; with ``cond_dim``, a
        ``(batch, cond_dim)`` conditioning vector.
        """
        if target is None:
            raise ValueError("this decoder is class-conditional: pass the class to explain (target=...)")
        target = torch.as_tensor(target, device=device)
        if self.cond_dim:
            if target.dim() != 2 or tuple(target.shape) != (batch, self.cond_dim):
                raise ValueError(f"this decoder is conditioned on ({batch}, {self.cond_dim}) vectors, "
                                 f"got target of shape {tuple(target.shape)}")
            # unit-norm embeddings have entries ~ 1/sqrt(d): cond_scale sets how fast the map learns
            codes = self.film_map(target.float() * self.cond_scale)
        elif target.dim() == 1:
            if target.numel() != batch:
                raise ValueError(f"got {target.numel()} targets for a batch of {batch}")
            codes = self.film(target.long())
        else:
            weights = target.float()
            codes = weights @ self.film.weight / weights.sum(-1, keepdim=True).clamp_min(1.0)
        parts = codes.view(batch, -1, 2, self.head.in_channels, 1, 1).unbind(1)
        if self.cond_dim:  # bounded: a free vector (any text) must not blow the channels up
            return [(1.0 + torch.tanh(p[:, 0]), torch.tanh(p[:, 1])) for p in parts]
        return [(1.0 + p[:, 0], p[:, 1]) for p in parts]

    def _evidence(self, evidence: torch.Tensor, size, stage: int) -> torch.Tensor:
        """The evidence map, resized to a stage's ``(time, freq)`` size and projected to its channels."""
        if evidence.dim() != 4 or evidence.shape[1] != 1:
            raise ValueError(f"the class evidence must be (batch, 1, time, freq), got "
                             f"{tuple(evidence.shape)}")
        evidence = F.interpolate(evidence, size=tuple(size), mode="bilinear", align_corners=False)
        return self.evidence_proj[stage](evidence)

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    def forward(self, hidden: dict, spectrogram: torch.Tensor, target=None) -> torch.Tensor:
        """Mask logits ``(batch, frames, n_freq)``.

        Arguments
        ---------
        hidden : dict
            ``{layer: tensor}`` as the classifier's modules output them.
        spectrogram : torch.Tensor
            ``(batch, frames, n_freq)`` input in the mask domain; fixes the output's frame
            count and feeds the guide term.
        target : torch.Tensor, optional
            The class to explain, for a class-conditional decoder (see :meth:`modulation`);
            ignored otherwise.
        """
        batch, frames, n_freq = spectrogram.shape
        if n_freq != self.n_freq:
            raise ValueError(f"spectrogram has {n_freq} bins, the decoder was built for {self.n_freq}")
        missing = [n for n in self.specs if n not in hidden]
        if self.evidence and EVIDENCE_KEY not in hidden:
            missing.append(EVIDENCE_KEY)
        if missing:
            raise KeyError(f"hidden representations {missing} are missing; got {sorted(hidden)}")
        wrong = {n: tuple(hidden[n].shape) for n in self.specs if hidden[n].shape[0] != batch}
        if wrong:
            raise ValueError(f"hidden layers {wrong} do not have the input's batch size {batch}: "
                             "a model that folds patches into the batch axis cannot be decoded per clip; "
                             "wrap it in speechbrain_interp.patches.PatchClassifier")
        conditional = self.n_classes or self.cond_dim
        films = self.modulation(target, batch, spectrogram.device) if conditional else None
        x = None
        for i, (name, stage) in enumerate(zip(self.map_names, self.stages)):
            h = self.proj[self._key(name)](to_canonical(hidden[name], self.specs[name].layout))
            if x is not None:
                h = h + F.interpolate(x, size=h.shape[-2:], mode="bilinear", align_corners=False)
            if self.evidence:
                h = h + self._evidence(hidden[EVIDENCE_KEY], h.shape[-2:], i)
            if films is not None:
                h = h * films[i][0] + films[i][1]
            x = stage(h)
        channels = self.head.in_channels
        if x is None:
            x = spectrogram.new_zeros(batch, channels, 1, 1)
        for name in self.vector_names:
            vec = to_canonical(hidden[name], "BC")
            x = x + self.vec_proj[self._key(name)](vec)[:, :, None, None]
        if not self.map_names:
            if self.evidence:
                x = x + self._evidence(hidden[EVIDENCE_KEY], (1, 1), 0)
            x = self.stages[0](x if films is None else x * films[0][0] + films[0][1])
        if films is not None:
            x = x * films[-1][0] + films[-1][1]
        y = self.head(x)  # (B, K, T', F')
        if y.shape[-1] != self.out_freq_cells:
            raise ValueError(
                f"fused map has {y.shape[-1]} frequency cells, the decoder was built for "
                f"{self.out_freq_cells}; was it built for another classifier?"
            )
        y = self.to_freq(y.permute(0, 2, 1, 3).flatten(2))  # (B, T', n_out)
        if self.freq_cells != self.n_freq:  # (B, T', parts * cells) -> (B, T', parts * n_freq)
            parts = y.shape[-1] // self.freq_cells
            y = F.interpolate(y.reshape(-1, parts, self.freq_cells), size=self.n_freq, mode="linear",
                              align_corners=True).reshape(batch, -1, parts * self.n_freq)
        y = F.interpolate(y.transpose(1, 2), size=frames, mode="linear", align_corners=False)
        y = y.transpose(1, 2)  # (B, frames, n_out)
        if self.evidence:
            profile = hidden[EVIDENCE_KEY].mean(-1)  # (B, 1, T')
            profile = profile / profile.amax(-1, keepdim=True).clamp_min(1e-12)
            profile = F.interpolate(profile, size=frames, mode="linear", align_corners=False)
            gate = torch.log(profile.transpose(1, 2) + self.evidence_floor)  # (B, frames, 1)
            offset = self.evidence_gain * gate
            y = torch.cat([y[..., :self.n_freq] + offset, y[..., self.n_freq:]], -1)
        if not self.guide:
            return y if self.profile_bias else y + self.logit_bias
        offset, gain = y.split(self.n_freq, dim=-1)
        if not self.profile_bias:
            offset = offset + self.logit_bias
        return torch.addcmul(offset, gain, standardize(spectrogram))
