"""L-MAC: Listenable Maps for Audio Classifiers (Paissan, Ravanelli and Subakan, ICML 2024).

A decoder reads the hidden representations of a frozen classifier and outputs a mask
``M`` in [0, 1] over the input's magnitude spectrogram ``X``. It is trained so that the
masked-in spectrogram keeps the classifier's decision and the masked-out one loses it:

    ``lambda_in * CE(f(M (.) X), y) - lambda_out * CE(f((1 - M) (.) X), y)
    + lambda_l1 * mean|M| + lambda_tv * TV(M)``

with ``y`` the classifier's own prediction on the clean input and ``(.)`` the masking of
the front-end's mask domain (:meth:`SpectralFrontEnd.apply_mask`, ``expm1(M * log1p|X|)``
by default). For multi-label classifiers ``CE`` becomes the binary cross-entropy of the
predicted set, ``mean_c -log sigmoid(z_c)`` over the classes predicted on the clean input.

Training on mixtures (another clip or white noise added to the input, the loss still
against the clean prediction) teaches the decoder to find the evidence of the clean sound
inside a mixture; that is what makes L-MAC robust out of domain. An optional fine-tuning
stage adds the paper's guidance loss: for clips whose masked-in spectrogram correlates
with the clean one above a threshold, a binary cross-entropy pulls the mask towards a
binarised clean spectrogram (and the sparsity terms are lifted for those clips).

The decoder is :class:`speechbrain_interp.lobes.mask_decoder.MaskDecoder`; the brick
probes the classifier to find each layer's layout, so the same YAML works for a Cnn14,
an ECAPA-TDNN, an Xvector or any module, with only the layer names changing.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from speechbrain_interp.audio import validate_waveform
from speechbrain_interp.class_evidence import EVIDENCE_KEY, SCORES, class_evidence
from speechbrain_interp.interpreters.base import Interpreter, deprecated_alias
from speechbrain_interp.lobes.mask_decoder import MaskDecoder, infer_layouts
from speechbrain_interp.mixtures import (  # noqa: F401 (re-exported: they lived here before)
    _EPS,
    _energy_normalize,
    _peak_normalize,
    add_white_noise,
    insert_events,
    mix_sources,
    total_variation,
    training_mixtures,
)

__all__ = ["LMAC", "total_variation", "mix_sources", "add_white_noise", "insert_events", "training_mixtures"]

class LMAC(Interpreter):
    """Listenable Maps for Audio Classifiers: a trained decoder of hidden representations into masks.

    Every argument below except ``classifier``, ``config``, ``decoder`` and
    ``pretrained_decoder`` can also come from ``config`` (e.g. the brick fragment
    ``hparams/lmac.yaml``); arguments passed explicitly win.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The frozen classifier to explain.
    layers : list of str, optional
        Hidden layers the decoder reads (default: all the adapter's ``layers``). Each must be
        captured by the adapter.
    config : dict, optional
        Default values for the other arguments.
    layouts : dict, optional
        ``{layer: layout}`` to declare instead of infer, see
        :data:`speechbrain_interp.lobes.mask_decoder.LAYOUTS`.
    channels, head_channels, n_convs : int
        Decoder width, channels per frequency cell before the frequency map, convolutions per
        fusion stage (defaults 32, 8, 1).
    guide : bool
        Let the decoder sharpen masks with the input spectrogram (default True).
    profile_bias : bool
        Give the decoder a bias per frequency bin (default False; True is the original
        decoder, which learns one fixed frequency profile, see :class:`MaskDecoder`).
    freq_cells : int, optional
        Frequency cells decoded per frame before interpolation to the STFT bins (default
        32; None decodes every bin).
    class_conditional : bool
        Condition the decoder on the class to explain (default False), so that
        ``explain(wav, target=c)`` returns the mask of class ``c``'s evidence; trained with
        targets that are not always the prediction (e.g. the other source of a mixture).
        Unconditional decoders ignore ``target`` and always mask the prediction's evidence.
        The class is given as a learned per-class modulation (FiLM), unless ``evidence_layer``
        is set.
    evidence_layer : str, optional
        Condition the decoder on the class through the classifier's own evidence for it
        instead: the map of the asked class's evidence on this hidden layer (``evidence_weighting``)
        (:func:`speechbrain_interp.class_evidence.class_evidence`, one more forward and a
        partial backward pass of the classifier per batch), added to every fusion stage.
        Implies ``class_conditional``; default None.
    evidence_weighting : str
        How the evidence map weights the layer's channels: ``"element"`` (default, gradient
        times activation at every place, HiResCAM) or ``"mean"`` (Grad-CAM), see
        :func:`~speechbrain_interp.class_evidence.class_evidence`.
    evidence_score : str
        What the evidence is the gradient of: ``"log_probability"`` (default), the asked class's
        log-softmax, whose evidence discounts places that hold more evidence for competing
        classes (another event of the scene); or ``"logit"``, the raw logit.
    evidence_floor, evidence_gain : float
        Floor and initial gain of the decoder's evidence gate (defaults 0.001 and 1.0, see
        :class:`MaskDecoder`); trained weights carry their own gain.
    lambda_in, lambda_out, lambda_l1, lambda_tv : float
        Loss weights (defaults 4.0, 2.0, 1.5, 0.0). SpeechBrain's CNN14 recipe uses 4.0,
        0.2, 0.4 with ``out_loss="neg_ce"`` and ``area_loss="mask"``.
    out_loss : str
        Masked-out term: ``"not_target"``, ``-log(1 - p_y)`` (default), or ``"neg_ce"``,
        the paper's ``-CE`` (see :meth:`out_class_loss`).
    area_loss : str
        Sparsity term: ``"softplus"``, the mean of ``softplus(logit)`` (default), or
        ``"mask"``, the mean mask.
    temperature : float
        > 0 trains on relaxed-Bernoulli samples of the mask (:meth:`sample_mask`); 0 (default)
        on the mask itself.
    guidance_weight : float
        Weight of the fine-tuning guidance loss; 0 (default) trains without it.
    guidance_threshold : float
        Correlation between the masked-in and the clean spectrogram above which a clip is
        guided (default 0.6).
    binarize_threshold : float
        The guidance target is ``1[Z_clean >= binarize_threshold * max Z_clean]`` in the
        mask domain (default 0.35).
    multilabel_threshold : float
        Sigmoid probability above which a class is in a multi-label prediction (default 0.5).
    probe_seconds : float
        Length of the noise clips used to probe layer layouts (default 2.0).
    decoder : torch.nn.Module, optional
        A ready decoder ``decoder(hidden, spectrogram) -> mask logits``; built otherwise.
    pretrained_decoder : str or Path, optional
        A decoder state dict (``decoder.ckpt`` in a checkpoint folder) to load.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32)
    >>> lmac = LMAC(load_speechbrain_classifier(folder, "compact"))
    >>> wav = torch.randn(2, 16000) * 0.1
    >>> loss, stats = lmac.loss(wav)
    >>> loss.backward()
    >>> e = lmac.explain(wav)
    >>> e.mask.shape == e.magnitude.shape, e.method
    (True, 'L-MAC')
    """

    method = "L-MAC"
    needs_hidden = True
    family, interface = "lmac", "LMACInterface"
    trainable = True
    weights_file = "decoder.ckpt"  # the best decoder the recipe keeps
    OUT_LOSSES = ("neg_ce", "not_target")

    DEFAULTS = {
        "layers": None,
        "layouts": None,
        "channels": 32,
        "head_channels": 8,
        "n_convs": 1,
        "guide": True,
        "profile_bias": False,
        "freq_cells": 32,
        "class_conditional": False,
        "evidence_layer": None,
        "evidence_weighting": "element",
        "evidence_score": "log_probability",
        "evidence_floor": 0.001,
        "evidence_gain": 1.0,
        "lambda_in": 4.0,
        "lambda_out": 2.0,
        "lambda_l1": 1.5,
        "lambda_tv": 0.0,
        "out_loss": "not_target",
        "area_loss": "softplus",
        "temperature": 0.0,
        "guidance_weight": 0.0,
        "guidance_threshold": 0.6,
        "binarize_threshold": 0.35,
        "multilabel_threshold": 0.5,
        "probe_seconds": 2.0,
    }

    def __init__(self, classifier, layers=None, config=None, layouts=None, channels=None,
                 head_channels=None, n_convs=None, guide=None, profile_bias=None, freq_cells=None,
                 class_conditional=None, evidence_layer=None, evidence_weighting=None, evidence_score=None,
                 evidence_floor=None, evidence_gain=None, lambda_in=None, lambda_out=None,
                 lambda_l1=None, lambda_tv=None, guidance_weight=None, guidance_threshold=None,
                 binarize_threshold=None, multilabel_threshold=None, probe_seconds=None,
                 out_loss=None, temperature=None, area_loss=None, decoder=None, pretrained_decoder=None):
        super().__init__(classifier)
        opts = self.resolve_options(
            config, layers=layers, layouts=layouts, channels=channels, head_channels=head_channels,
            n_convs=n_convs, guide=guide, profile_bias=profile_bias, freq_cells=freq_cells,
            class_conditional=class_conditional, evidence_layer=evidence_layer, evidence_score=evidence_score,
            evidence_weighting=evidence_weighting, evidence_floor=evidence_floor,
            evidence_gain=evidence_gain, lambda_in=lambda_in, lambda_out=lambda_out, lambda_l1=lambda_l1,
            lambda_tv=lambda_tv, guidance_weight=guidance_weight, guidance_threshold=guidance_threshold,
            binarize_threshold=binarize_threshold, multilabel_threshold=multilabel_threshold,
            probe_seconds=probe_seconds, out_loss=out_loss, temperature=temperature, area_loss=area_loss)
        self.layers = list(opts["layers"] or classifier.layers)
        if not self.layers:
            raise ValueError("L-MAC needs hidden layers: pass layers=[...] and capture them in the adapter")
        missing = [n for n in self.layers if n not in classifier.layers]
        if missing:
            raise ValueError(
                f"layers {missing} are not captured by the classifier adapter (it captures "
                f"{classifier.layers}); build the adapter with layers=[...] including them"
            )
        for name in ("lambda_in", "lambda_out", "lambda_l1", "lambda_tv", "guidance_weight", "temperature",
                     "guidance_threshold", "binarize_threshold", "multilabel_threshold"):
            setattr(self, name, float(opts[name]))
        if opts["out_loss"] not in self.OUT_LOSSES:
            raise ValueError(f"out_loss must be one of {self.OUT_LOSSES}, got '{opts['out_loss']}'")
        self.out_loss = opts["out_loss"]
        if opts["area_loss"] not in ("mask", "softplus"):
            raise ValueError(f"area_loss must be 'mask' or 'softplus', got '{opts['area_loss']}'")
        self.area_loss = opts["area_loss"]
        self.evidence_layer, self.evidence_weighting = opts["evidence_layer"], opts["evidence_weighting"]
        if opts["evidence_score"] not in SCORES:
            raise ValueError(f"evidence_score must be one of {SCORES}, got '{opts['evidence_score']}'")
        self.evidence_score = opts["evidence_score"]
        if self.evidence_layer is not None:
            self.options.update(class_conditional=True)
            self.evidence_layout = infer_layouts(classifier, [self.evidence_layer], opts["probe_seconds"],
                                                 opts["layouts"])[self.evidence_layer].layout
        if decoder is None:
            specs = infer_layouts(classifier, self.layers, opts["probe_seconds"], opts["layouts"])
            film = opts["class_conditional"] and self.evidence_layer is None
            n_classes = self._count_classes(opts["probe_seconds"]) if film else 0
            decoder = MaskDecoder(specs, classifier.frontend.n_freqs, channels=opts["channels"],
                                  head_channels=opts["head_channels"], n_convs=opts["n_convs"],
                                  guide=opts["guide"], profile_bias=opts["profile_bias"],
                                  freq_cells=opts["freq_cells"], n_classes=n_classes,
                                  evidence=self.evidence_layer is not None,
                                  evidence_floor=float(opts["evidence_floor"]),
                                  evidence_gain=float(opts["evidence_gain"]))
        self.decoder = decoder
        self._register_load_state_dict_pre_hook(self._match_legacy_decoder)
        if pretrained_decoder is not None:
            self.load_weights(pretrained_decoder)

    @property
    def class_conditional(self) -> bool:
        """Whether the mask depends on the class asked for (see ``class_conditional``)."""
        return bool(getattr(self.decoder, "n_classes", 0) or getattr(self.decoder, "evidence", False))

    @torch.no_grad()
    def _count_classes(self, seconds: float) -> int:
        """The classifier's number of classes: from its labels, or from one probe's logits."""
        clf = self.classifier
        if clf.num_classes:
            return int(clf.num_classes)
        fe = clf.frontend
        probe = torch.zeros(1, max(int(seconds * fe.sample_rate), fe.min_samples))
        device = next(clf.buffers(), torch.empty(0)).device
        return int(clf.classify_wav(probe.to(device)).shape[-1])

    def prepare_state(self, state_dict) -> None:
        """Adapt the decoder's shape to a state dict of this brick before it is loaded."""
        self._match_legacy_decoder(state_dict, "")

    def _match_legacy_decoder(self, state_dict, prefix, *args):
        """Rebuild the decoder in the first release's shape when loading its weights.

        Decoders trained before ``profile_bias`` and ``freq_cells`` existed have a bias per
        frequency bin and decode every bin; they still load and behave exactly as before.
        """
        dec = self.decoder
        if f"{prefix}decoder.evidence_proj.0.weight" in state_dict and not getattr(dec, "evidence", False):
            raise ValueError("these decoder weights read the classifier's class evidence: build the brick "
                             "with evidence_layer=<the layer they were trained with>")
        film = state_dict.get(f"{prefix}decoder.film.weight")
        if isinstance(dec, MaskDecoder) and film is not None and dec.n_classes != film.shape[0]:
            # a class-conditional decoder's weights: give the brick the same conditioning
            self.decoder = dec = dec.variant(n_classes=int(film.shape[0]))
            self.options.update(class_conditional=True)
        key = f"{prefix}decoder.to_freq.bias"
        if key not in state_dict or not isinstance(dec, MaskDecoder) or dec.profile_bias:
            return
        weight = state_dict[f"{prefix}decoder.to_freq.weight"]
        if weight.shape[0] != (2 if dec.guide else 1) * dec.n_freq:
            return
        self.decoder = dec.variant(profile_bias=True, freq_cells=None)
        self.options.update(profile_bias=True, freq_cells=None)

    # --- training and persistence --------------------------------------------------------
    def trainable_parameters(self) -> list:
        """The decoder's parameters (the classifier stays frozen)."""
        return list(self.decoder.parameters())

    def load_weights(self, path) -> LMAC:
        """Load decoder weights: a ``decoder.ckpt`` of :meth:`save_weights` or a recipe's
        Checkpointer, or an exported folder's ``interpreter.safetensors``."""
        from speechbrain_interp.safety import load_state_dict

        path = Path(path)
        if path.is_dir():
            path = path / self.weights_file
        if not path.exists():
            raise FileNotFoundError(f"no L-MAC decoder weights at '{path}'")
        state = load_state_dict(path)  # no unpickling, whatever the format
        if any(k.startswith("decoder.") for k in state):  # an exported brick's state dict
            state = {k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")}
        self.load_state_dict({f"decoder.{k}": v for k, v in state.items()}, strict=False)
        self.decoder.load_state_dict(self._warm_start(state))
        return self

    def _warm_start(self, state: dict) -> dict:
        """Decoder weights, plus this decoder's fresh class modulation or evidence parts if they lack them."""
        fresh = self.decoder.state_dict()
        if getattr(self.decoder, "n_classes", 0) and "film.weight" not in state:
            # an unconditional decoder warm-starts a conditional one: the modulation stays at
            # zero, so the conditional brick starts out exactly as the decoder it loaded
            state = {**state, "film.weight": fresh["film.weight"]}
        if getattr(self.decoder, "evidence", False) and "evidence_proj.0.weight" not in state:
            # likewise for the evidence: its projections start at zero, its gate at evidence_gain
            state = {**state, **{k: v for k, v in fresh.items() if k.startswith("evidence")}}
        return state

    def save_weights(self, path) -> Path:
        """Save the decoder's state dict (the only trained part) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.decoder.state_dict(), path)
        return path

    load_decoder = deprecated_alias("load_weights", "load_decoder")
    save_decoder = deprecated_alias("save_weights", "save_decoder")

    # --- masks -------------------------------------------------------------------------
    def decode(self, magnitude: torch.Tensor, hidden: dict, target=None, phase=None) -> torch.Tensor:
        """Mask logits ``(batch, frames, freq)`` from the hidden layers and the input magnitude.

        ``target`` (the class to explain) is read by class-conditional decoders only; a decoder
        of the class evidence computes it here, from ``magnitude`` (and ``phase``).
        """
        domain = self.frontend.to_mask_domain(magnitude)
        layers = {n: hidden[n] for n in self.layers}
        if getattr(self.decoder, "evidence", False):
            if target is None:
                raise ValueError("this decoder is class-conditional: pass the class to explain (target=...)")
            layers[EVIDENCE_KEY] = class_evidence(self.classifier, self.evidence_layer, self.evidence_layout,
                                                  magnitude, target, phase=phase, score=self.evidence_score,
                                                  weighting=self.evidence_weighting)
            return self.decoder(layers, domain)
        if self.class_conditional:
            return self.decoder(layers, domain, target=target)
        return self.decoder(layers, domain)

    def compute_mask(self, spectrum, target, logits, hidden):
        """L-MAC's mask for ``target``; an unconditional decoder masks the prediction's evidence."""
        with torch.no_grad():
            return torch.sigmoid(self.decode(spectrum.magnitude, hidden, target, spectrum.phase))

    @torch.no_grad()
    def predict_mask(self, magnitude: torch.Tensor, phase=None):
        """Masks and classifier logits for a ``(batch, frames, freq)`` magnitude: one forward + decoder.

        Example
        -------
        >>> import tempfile
        >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
        >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "ecapa"),
        ...                                       "ecapa")
        >>> lmac = LMAC(adapter)
        >>> mag = adapter.frontend(torch.randn(1, 12345)).magnitude
        >>> mask, logits = lmac.predict_mask(mag)
        >>> mask.shape == mag.shape, logits.shape
        (True, torch.Size([1, 3]))
        """
        logits, hidden = self.classifier.forward_with_hidden(magnitude, phase=phase)
        target = self.prediction_target(logits) if self.class_conditional else None
        return torch.sigmoid(self.decode(magnitude, hidden, target, phase)), logits

    # --- the objective -------------------------------------------------------------------
    def prediction_target(self, logits: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` predicted classes, or a ``(batch, classes)`` 0/1 predicted set if multi-label.

        An empty multi-label prediction falls back to the most probable class.
        """
        if not self.classifier.multilabel:
            return logits.argmax(-1)
        chosen = (torch.sigmoid(logits) > self.multilabel_threshold).float()
        top = F.one_hot(logits.argmax(-1), logits.shape[-1]).float()
        empty = chosen.sum(-1, keepdim=True) == 0
        return torch.where(empty, top, chosen)

    @torch.no_grad()
    def clean_target(self, wav: torch.Tensor) -> torch.Tensor:
        """:meth:`prediction_target` of the classifier on ``(batch, time)`` clean clips: what a
        mixture made from them is trained to explain.

        Example
        -------
        >>> from speechbrain_interp.testing import band_window_classifier
        >>> t = torch.arange(8000) / 8000
        >>> LMAC(band_window_classifier()).clean_target(torch.stack([torch.sin(2 * torch.pi * 2000 * t),
        ...                                                          0.01 * torch.randn(8000)])).tolist()
        [1, 0]
        """
        spec = self.frontend(wav)
        return self.prediction_target(self.classifier(spec.magnitude, phase=spec.phase))

    def class_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-clip cross-entropy of ``target``; multi-label: ``mean -log sigmoid`` over the predicted set."""
        if not self.classifier.multilabel:
            return F.cross_entropy(logits, target.long(), reduction="none")
        target = target.float()
        if target.dim() == 1:
            target = F.one_hot(target.long(), logits.shape[-1]).float()
        return (F.softplus(-logits) * target).sum(-1) / target.sum(-1).clamp_min(1.0)

    def sample_mask(self, mask_logits: torch.Tensor) -> torch.Tensor:
        """A relaxed-Bernoulli (concrete) sample of the mask, ``sigmoid((logit + logistic noise) / T)``.

        During training the classifier sees these near-binary samples instead of the soft
        mask: every bin is either kept or removed, at random with the mask's probability, so
        the decoder cannot satisfy both loss terms with a mask that hovers around 0.5 and
        differs from it by a pattern the classifier happens to react to. Gradients flow
        through the relaxation.

        Example
        -------
        >>> from speechbrain_interp.testing import band_window_classifier
        >>> lmac = LMAC(band_window_classifier(), temperature=0.1)
        >>> m = lmac.sample_mask(torch.zeros(1, 2000))
        >>> 0.3 < float((m > 0.5).float().mean()) < 0.7, float(((m > 0.05) & (m < 0.95)).float().mean()) < 0.4
        (True, True)
        """
        u = torch.rand_like(mask_logits).clamp(1e-6, 1.0 - 1e-6)
        return torch.sigmoid((mask_logits + torch.log(u) - torch.log1p(-u)) / self.temperature)

    def out_class_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-clip term that rewards the masked-out input for losing ``target``.

        ``"neg_ce"`` is the paper's ``-CE``, unbounded below: the decoder can lower it without
        end by making the masked-out input ever more adversarial, and a uniform mask that
        keeps the decision on both sides costs it almost nothing. ``"not_target"`` is
        ``-log(1 - p_target)``, bounded below by 0 and steep while the masked-out input still
        carries the class, so the only cheap way down is to take the evidence out.

        Example
        -------
        >>> import tempfile
        >>> from speechbrain_interp.testing import band_window_classifier
        >>> lmac = LMAC(band_window_classifier(), out_loss="not_target")
        >>> lmac.out_class_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1])).round(decimals=4)
        tensor([0.6931])
        """
        if self.out_loss == "neg_ce":
            return -self.class_loss(logits, target)
        if self.classifier.multilabel:
            chosen = target.float()
            if chosen.dim() == 1:
                chosen = F.one_hot(target.long(), logits.shape[-1]).float()
            return (F.softplus(logits) * chosen).sum(-1) / chosen.sum(-1).clamp_min(1.0)
        others = logits.scatter(-1, target.long()[:, None], float("-inf"))
        return torch.logsumexp(logits, -1) - torch.logsumexp(others, -1)

    def loss(self, wav: torch.Tensor, clean_wav=None, target=None):
        """The L-MAC training objective for a batch of (possibly mixed) waveforms.

        Arguments
        ---------
        wav : torch.Tensor
            ``(batch, time)`` input the decoder explains: a clean clip or a mixture.
        clean_wav : torch.Tensor, optional
            ``(batch, time)`` clean clips the mixtures were made from; the classifier's
            prediction on them is the target (and the guidance reference). Defaults to ``wav``.
        target : torch.Tensor, optional
            Precomputed target (see :meth:`prediction_target`), e.g. cached clean
            predictions; skips the classifier pass on ``clean_wav``.

        Returns
        -------
        loss : torch.Tensor
            Scalar to minimise.
        stats : dict
            Detached scalars ``loss``, ``ce_in``, ``ce_out``, ``l1``, ``tv``, ``guidance``,
            ``guided`` (fraction of clips guided) and ``mask_mean``, plus the batch tensors
            ``mask``, ``target``, ``magnitude``, ``phase``, ``logits`` (on ``wav``),
            ``logits_in`` and ``logits_out`` (on the masked-in and masked-out inputs).
        """
        fe, clf = self.frontend, self.classifier
        device = next(clf.buffers(), torch.empty(0)).device
        wav = validate_waveform(wav, min_samples=fe.min_samples).to(device)
        spec = fe(wav)
        guided = self.guidance_weight > 0
        clean_spec = None
        if clean_wav is not None and (target is None or guided):
            clean_wav = validate_waveform(clean_wav, min_samples=fe.min_samples).to(device)
            if clean_wav.shape != wav.shape:
                raise ValueError(f"clean_wav {tuple(clean_wav.shape)} and wav {tuple(wav.shape)} differ")
            clean_spec = fe(clean_wav)
        with torch.no_grad():
            logits, hidden = clf.forward_with_hidden(spec.magnitude, phase=spec.phase)
            if target is None:
                clean_logits = logits if clean_spec is None else clf(clean_spec.magnitude,
                                                                     phase=clean_spec.phase)
                target = self.prediction_target(clean_logits)
        target = target.to(device)
        mask_logits = self.decode(spec.magnitude, hidden, target, spec.phase)
        mask = torch.sigmoid(mask_logits)
        mag, phase = spec.magnitude, spec.phase
        # masked-in and masked-out inputs in one batched classifier pass
        shown = self.sample_mask(mask_logits) if self.training and self.temperature > 0 else mask
        both = torch.cat([fe.apply_mask(mag, shown), fe.apply_mask(mag, 1.0 - shown)])
        logits_in, logits_out = clf(both, phase=torch.cat([phase, phase])).chunk(2)
        ce_in = self.class_loss(logits_in, target)
        ce_out = self.class_loss(logits_out, target)
        # softplus(logit) >= mask and its gradient, sigmoid(logit), never vanishes where the
        # mask is saturated at 1: a bin kept without need keeps paying until it is dropped
        l1 = (F.softplus(mask_logits) if self.area_loss == "softplus" else mask).flatten(1).mean(1)
        tv = total_variation(mask) if self.lambda_tv else mask.new_zeros(mask.shape[0])
        guidance = mask.new_zeros(mask.shape[0])
        passed = mask.new_zeros(mask.shape[0])
        if guided:
            guidance, passed = self._guidance(mask_logits, mask, mag, clean_spec)
        regular = (self.lambda_l1 * l1 + self.lambda_tv * tv) * (1.0 - passed)
        out_term = self.out_class_loss(logits_out, target)
        per_clip = (self.lambda_in * ce_in + self.lambda_out * out_term + regular
                    + self.guidance_weight * guidance * passed)
        loss = per_clip.mean()
        stats = {
            "loss": loss.detach(), "ce_in": ce_in.detach().mean(), "ce_out": ce_out.detach().mean(),
            "l1": l1.detach().mean(), "tv": tv.detach().mean(), "guidance": guidance.detach().mean(),
            "guided": passed.mean(), "mask_mean": mask.detach().mean(),
            "mask": mask.detach(), "target": target, "magnitude": mag, "phase": phase,
            "logits": logits, "logits_in": logits_in.detach(), "logits_out": logits_out.detach(),
        }
        return loss, stats

    def _guidance(self, mask_logits, mask, magnitude, clean_spec):
        """Per-clip guidance BCE towards the binarised clean spectrogram, and the 0/1 gate."""
        fe = self.frontend
        z_mix = fe.to_mask_domain(magnitude)
        z_clean = z_mix if clean_spec is None else fe.to_mask_domain(clean_spec.magnitude)
        with torch.no_grad():
            masked_in = (mask * z_mix).flatten(1)
            ref = z_clean.flatten(1)
            corr = (masked_in * ref).sum(1) / (masked_in.norm(dim=1) * ref.norm(dim=1) + _EPS)
            passed = (corr >= self.guidance_threshold).float()
            peak = ref.amax(1).view(-1, 1, 1)
            oracle = ((z_clean >= self.binarize_threshold * peak) & (peak > 0)).float()
        bce = F.binary_cross_entropy_with_logits(mask_logits, oracle, reduction="none")
        return bce.flatten(1).mean(1), passed
