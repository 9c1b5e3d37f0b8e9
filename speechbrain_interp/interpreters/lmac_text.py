"""Text-conditioned L-MAC (LMAC-ZS): the mask of the part of a sound that matches a text prompt.

For an audio-text embedder (:mod:`speechbrain_interp.embedders`), read as a zero-shot
classifier over label prompts (:class:`~speechbrain_interp.embedders.zero_shot.ZeroShotAdapter`),
an L-MAC decoder reads the embedder's hidden layers and is FiLM-conditioned on the prompt's
text embedding (:class:`~speechbrain_interp.lobes.mask_decoder.MaskDecoder` with ``cond_dim``).
It is trained so that, for a prompt ``t`` naming class ``y`` with audio embedding ``z``,

    ``lambda_in * CE(s(M (.) X), y) + lambda_out * -log(1 - p_y(s((1 - M) (.) X)))
    + lambda_cos * (relu(cos(z, t) - cos(z_in, t)) + relu(cos(z_out, t) - cos(z_0, t)))
    + lambda_l1 * area(M) + lambda_tv * TV(M)``

where ``s`` is the zero-shot softmax over the label prompts and ``z_0`` the embedding of
silence (the fully masked-out input): the masked-in audio keeps its
similarity to the prompt (and its zero-shot class), the masked-out audio loses it. Prompts
are random caption templates of the class (:func:`~speechbrain_interp.embedders.text.label_captions`),
clips are sometimes two-clip mixtures whose prompt names one source, and sometimes the
prompt names a class that is absent, where only ``lambda_absent * mean(M)`` is asked: the
mask should then be small. Any text can be asked at explanation time.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
import torch.nn.functional as F

from speechbrain_interp.audio import validate_waveform
from speechbrain_interp.class_evidence import EVIDENCE_KEY, class_evidence
from speechbrain_interp.embedders.text import label_captions
from speechbrain_interp.embedders.zero_shot import ZeroShotAdapter
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.lobes.mask_decoder import MaskDecoder
from speechbrain_interp.mixtures import other_source_targets, total_variation, training_mixtures

__all__ = ["TextLMAC", "text_training_batch"]


def text_training_batch(wav: torch.Tensor, labels: torch.Tensor, n_classes: int, p_mix: float = 0.3,
                        p_absent: float = 0.2, generator=None):
    """Mixtures and prompts for training :class:`TextLMAC` on a labelled batch.

    With probability ``p_mix`` a clip is mixed with the next clip of the batch (weight 0.3-0.5)
    and the prompt names either source; with probability ``p_absent`` the prompt names a class
    that is in neither source.

    Returns
    -------
    mixed : torch.Tensor
        ``(batch, time)`` waveforms.
    target : torch.Tensor
        ``(batch,)`` class each prompt names.
    absent : torch.Tensor
        ``(batch,)`` bool: the prompt's class is not in the clip.

    Example
    -------
    >>> gen = torch.Generator().manual_seed(0)
    >>> mixed, target, absent = text_training_batch(torch.randn(6, 800), torch.tensor([0, 1, 2, 0, 1, 2]),
    ...                                             n_classes=3, p_absent=1.0, generator=gen)
    >>> mixed.shape, bool(absent.all()), bool((target != torch.tensor([0, 1, 2, 0, 1, 2])).all())
    (torch.Size([6, 800]), True, True)
    """
    labels = labels.long()
    mixed, kind = training_mixtures(wav, p_clip=p_mix, p_noise=0.0, weight_range=(0.3, 0.5),
                                    generator=generator)
    target = other_source_targets(labels.cpu(), kind.cpu(), 0.5, generator=generator)
    two = ((kind == 1) | (kind == 3)).cpu()
    second = torch.where(two, labels.roll(1, 0).cpu(), labels.cpu())
    absent = torch.rand(len(labels), generator=generator) < p_absent
    if n_classes <= 2:
        absent &= ~two
    shift = torch.randint(1, max(2, n_classes), (len(labels),), generator=generator)
    other = (labels.cpu() + shift) % n_classes
    for i in torch.nonzero(absent).flatten().tolist():  # not either source's class
        while int(other[i]) in (int(labels[i]), int(second[i])) and n_classes > 2:
            other[i] = (other[i] + 1) % n_classes
        if int(other[i]) in (int(labels[i]), int(second[i])):
            absent[i] = False
    target = torch.where(absent, other, target)
    return mixed, target.to(labels.device), absent.to(labels.device)


class TextLMAC(LMAC):
    """L-MAC conditioned on a text prompt, over an audio-text embedder.

    Arguments
    ---------
    classifier : ZeroShotAdapter
        The embedder read as a zero-shot classifier over its label prompts (or pass
        ``embedder`` and ``labels`` and it is built).
    embedder : AudioTextEmbedder, optional
        The embedder, when ``classifier`` is None.
    labels : list of str, optional
        The label prompts' classes, when ``classifier`` is None.
    config : dict, optional
        Option defaults (e.g. ``hparams/lmac_text.yaml``'s brick); see :class:`LMAC` for the
        decoder and loss options it shares.
    lambda_cos : float
        Weight of the cosine terms (default 1.0).
    lambda_absent : float
        Weight of the mask's mean when the prompt names an absent class (default 2.0).
    similarity_layer : str, optional
        A decoder layer whose frames the embedder pools (for a text-aligned CompactCNN,
        ``classifier.model.embedding_model.conv_block5``): each frame is projected into the joint
        space and its similarity to the prompt is an extra decoder input (:meth:`similarity_track`).
        Default None.
    cond_scale : float
        Gain on the (centred) prompt embedding before the decoder's FiLM map (default 1.0; a larger
        gain makes the map learn faster, e.g. for high-dimensional text towers).
    evidence_layer : str, optional
        (An :class:`LMAC` option.) The decoder also reads the embedder's evidence for the prompt
        on this layer: the gradient of the clip's zero-shot similarity to the prompt times the
        layer's activation (:meth:`prompt_evidence`), which gates the mask as in :class:`LMAC`.
    presence_gate : bool
        With ``evidence_layer``: lower the mask's odds by how much less the clip matches the prompt
        than its best-matching label prompt (the ratio of their zero-shot probabilities; 1 when
        no label matches better), so that a prompt for a sound the clip does not hold gets a
        small mask, not the mask of where it matches best. Default True.
    **kwargs
        Other :class:`LMAC` options.

    Example
    -------
    >>> from speechbrain_interp.testing_text import band_text_embedder
    >>> lmac = TextLMAC(embedder=band_text_embedder(), labels=["low hum", "high whistle"], channels=8)
    >>> t = torch.arange(8000) / 8000
    >>> wav = (torch.sin(2 * torch.pi * 700 * t) + torch.sin(2 * torch.pi * 2200 * t))[None]
    >>> loss, stats = lmac.loss(wav, target=torch.tensor([1]))
    >>> loss.backward()
    >>> e = lmac.explain(wav, text="a bird singing")
    >>> e.mask.shape == e.magnitude.shape, e.labels[e.target.item()], e.method
    (True, 'a bird singing', 'L-MAC (text)')
    """

    method = "L-MAC (text)"
    family, interface = "lmac_text", "TextLMACInterface"
    DEFAULTS = {**LMAC.DEFAULTS, "lambda_cos": 1.0, "lambda_absent": 2.0, "cond_scale": 1.0,
                "similarity_layer": None, "presence_gate": True}
    SIMILARITY = "prompt_similarity"  # the decoder's extra input, see similarity_track()

    def __init__(self, classifier=None, embedder=None, labels=None, config=None, lambda_cos=None,
                 lambda_absent=None, cond_scale=None, similarity_layer=None, presence_gate=None, **kwargs):
        if classifier is None:
            if embedder is None or not labels:
                raise ValueError("TextLMAC needs a ZeroShotAdapter, or an embedder and its labels")
            classifier = ZeroShotAdapter(embedder, labels)
        if not isinstance(classifier, ZeroShotAdapter):
            raise TypeError(f"TextLMAC explains a ZeroShotAdapter, got {type(classifier).__name__}; "
                            "wrap the audio-text embedder: ZeroShotAdapter(embedder, labels)")
        config = dict(config or {})
        if config.get("class_conditional") or kwargs.get("class_conditional"):
            raise ValueError("TextLMAC is conditioned on text, not on classes: drop class_conditional")
        pretrained = kwargs.pop("pretrained_decoder", None)
        super().__init__(classifier, config=config, **kwargs)  # DEFAULTS holds the options below
        for name, given in (("lambda_cos", lambda_cos), ("lambda_absent", lambda_absent),
                            ("cond_scale", cond_scale)):
            if given is not None:
                self.options[name] = given
            setattr(self, name, float(self.options[name]))
        if similarity_layer is not None:
            self.options["similarity_layer"] = similarity_layer
        self.similarity_layer = self.options["similarity_layer"]
        if presence_gate is not None:
            self.options["presence_gate"] = bool(presence_gate)
        self.presence_gate = bool(self.options["presence_gate"])
        if self.evidence_layer is not None:
            self.options["class_conditional"] = False  # conditioned on the prompt's evidence, not classes
        specs = dict(self.decoder.specs)
        if self.similarity_layer:
            self._check_similarity_layer(specs)
            specs[self.SIMILARITY] = ("BTC", 1, 1, specs[self.similarity_layer].frames)
        self.decoder = MaskDecoder(specs, self.decoder.n_freq, **{
            **self.decoder.settings, "cond_dim": int(classifier.prompts.shape[-1]),
            "cond_scale": float(self.options["cond_scale"])})
        # what all label prompts share says nothing about which sound to mask: conditioned on
        # the prompt minus the label prompts' mean (fixed here, so free text is centred alike)
        self.register_buffer("prompt_mean", classifier.prompts.mean(0).clone())
        self._captions: dict[int, list[str]] = {}
        if pretrained is not None:
            self.load_weights(pretrained)

    @property
    def class_conditional(self) -> bool:
        return True  # the mask depends on the prompt asked about

    def load_weights(self, path) -> TextLMAC:
        """Load decoder weights (a ``decoder.ckpt``, or an exported ``interpreter.safetensors``)."""
        from speechbrain_interp.safety import load_state_dict

        path = Path(path)
        if path.is_dir():
            path = path / self.weights_file
        if not path.exists():
            raise FileNotFoundError(f"no text-conditioned L-MAC decoder weights at '{path}'; train one with "
                                    "recipes/ESC50/interpret/train_lmac_text.py")
        state = load_state_dict(path)
        if any(k.startswith("decoder.") for k in state):
            state = {k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")}
        if "film_map.weight" not in state:
            raise ValueError(f"'{path}' holds no text-conditioned decoder (no film_map weights); "
                             "is it a plain L-MAC decoder? Load it with LMAC instead")
        self.decoder.load_state_dict(self._warm_start(state))
        return self

    def _check_similarity_layer(self, specs) -> None:
        name, embedder = self.similarity_layer, self.classifier.embedder
        if name not in self.layers:
            raise ValueError(f"similarity_layer '{name}' must be among the decoder's layers {self.layers}")
        if not hasattr(embedder, "project") or specs[name].layout != "BCTF":
            raise ValueError("similarity_layer needs an embedder with project() (a TextAlignedEncoder) and a "
                             f"(batch, channels, time, freq) map; '{name}' is {specs[name].layout}")
        if specs[name].channels != getattr(embedder, "in_dim", None):
            raise ValueError(f"similarity_layer '{name}' has {specs[name].channels} channels, the encoder "
                             f"projects {getattr(embedder, 'in_dim', None)}: pick the map it pools")

    def similarity_track(self, hidden: dict, prompts: torch.Tensor) -> torch.Tensor:
        """``(batch, frames', 1)``: each frame of ``similarity_layer``, pooled over frequency and
        projected into the joint space, compared (cosine, times the zero-shot scale) with the prompt.

        Where the embedding pools a map (a text-aligned encoder pools its classifier's last
        convolutions), the frames whose features are close to the prompt are where its sound is:
        the decoder is given that directly instead of having to learn it through FiLM.
        """
        feats = hidden[self.similarity_layer].float().mean(-1).transpose(1, 2)  # (B, T', C)
        frames = self.classifier.embedder.project(2.0 * feats)  # CompactCNN pools max + mean over time
        sim = (frames * F.normalize(prompts.float(), dim=-1)[:, None, :]).sum(-1)
        return (self.classifier.scale * (sim - sim.mean(1, keepdim=True)))[..., None]

    def prompt_evidence(self, magnitude: torch.Tensor, prompts: torch.Tensor, phase=None) -> torch.Tensor:
        """``(batch, 1, time, freq)``: where ``evidence_layer`` holds each clip's similarity to its prompt.

        The evidence of :func:`~speechbrain_interp.class_evidence.class_evidence` for a zero-shot
        classifier whose classes are, for the time of the call, the batch's own prompts (clip ``i``
        asked about prompt ``i``) followed by the label prompts, so that any text, not only a
        label, has a map. With ``evidence_score="log_probability"`` the score is the prompt's
        logit against the label prompts' (``logit_i - logsumexp(label logits)``): where the clip
        matches a label better than the prompt counts against the prompt.
        """
        return self._evidence_and_presence(magnitude, prompts, phase)[0]

    def _evidence_and_presence(self, magnitude, prompts, phase=None):
        """:meth:`prompt_evidence` and ``(batch,)`` log presence: the prompt's zero-shot logit
        minus the largest of it and the label prompts' (0 when no label matches the clip better)."""
        clf, n = self.classifier, len(prompts)
        saved, presence = clf.prompts, []
        clf.prompts = torch.cat([F.normalize(prompts.float(), dim=-1).to(saved), saved])
        own = torch.arange(n, device=magnitude.device)

        def score(logits, target):
            chosen = logits.gather(1, target.view(-1, 1)).squeeze(1)
            presence.append((chosen - torch.maximum(chosen, logits[:, n:].amax(-1))).detach())
            if self.evidence_score == "log_probability":
                chosen = chosen - torch.logsumexp(logits[:, n:], dim=-1)
            return chosen.sum()
        try:
            evidence = class_evidence(clf, self.evidence_layer, self.evidence_layout, magnitude, own,
                                      phase=phase, weighting=self.evidence_weighting, score=score)
        finally:
            clf.prompts = saved
        return evidence, presence[0]

    def _decode(self, domain, hidden: dict, prompts: torch.Tensor, magnitude=None,
                phase=None, gate: bool = True) -> torch.Tensor:
        layers = {n: hidden[n] for n in self.layers}
        if self.similarity_layer:
            layers[self.SIMILARITY] = self.similarity_track(hidden, prompts)
        if not self.decoder.evidence:
            return self.decoder(layers, domain, target=self.condition(prompts))
        layers[EVIDENCE_KEY], presence = self._evidence_and_presence(magnitude, prompts, phase)
        logits = self.decoder(layers, domain, target=self.condition(prompts))
        # a prompt the clip matches less than some label gets its odds lowered by that ratio
        # (not while training: the objective teaches where; the gate says whether)
        return logits + presence[:, None, None] if self.presence_gate and gate else logits

    # --- conditioning ------------------------------------------------------------------
    def prompts_of(self, target) -> torch.Tensor:
        """``(batch, d)`` prompt embeddings: given as such, or the label prompts of class indices."""
        clf = self.classifier
        target = torch.as_tensor(target, device=clf.prompts.device)
        if target.is_floating_point() and target.dim() == 2:
            return F.normalize(target.float(), dim=-1)
        return clf.prompts[target.long().reshape(-1)]

    def condition(self, target) -> torch.Tensor:
        """``(batch, d)`` decoder conditioning: the prompts (:meth:`prompts_of`) minus the label
        prompts' mean."""
        prompts = self.prompts_of(target)
        return prompts - self.prompt_mean.to(prompts)

    def caption_prompts(self, target: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """``(batch, d)`` embeddings of a random caption template of each target class."""
        labels = self.classifier.labels
        texts = [rng.choice(label_captions(labels[int(t)])) for t in target.tolist()]
        return self.classifier.embed_text(texts)

    def decode(self, magnitude: torch.Tensor, hidden: dict, target=None, phase=None) -> torch.Tensor:
        """Mask logits for the prompt ``target`` (class indices or ``(batch, d)`` prompt embeddings);
        ``phase`` is not read (the prompt, not the classifier's gradients, conditions the mask)."""
        if target is None:
            raise ValueError("TextLMAC needs a prompt: explain(wav, text='...') or a class target")
        return self._decode(self.frontend.to_mask_domain(magnitude), hidden, self.prompts_of(target),
                            magnitude, phase)

    def prompted(self, texts):
        """Free-text prompts join the label prompts for one call; yields their class indices.

        ``explain(wav, text=...)`` (the one :class:`Interpreter` template) asks about them: the
        explanation's labels are the label prompts plus the free text asked, and its
        probabilities the zero-shot softmax over them, so a prompt that is not a label gets its
        own probability against the labels.
        """
        return self.classifier.with_prompts(texts)

    # --- the objective -----------------------------------------------------------------
    def loss(self, wav: torch.Tensor, target=None, clean_wav=None, prompts=None, absent=None, rng=None):
        """The text-conditioned objective (module docstring) on a batch of (mixed) waveforms.

        Arguments
        ---------
        wav : torch.Tensor
            ``(batch, time)`` clips or mixtures.
        target : torch.Tensor, optional
            ``(batch,)`` class each prompt names; default the zero-shot prediction on
            ``clean_wav`` (or ``wav``).
        clean_wav : torch.Tensor, optional
            The clean clips, for the default target.
        prompts : torch.Tensor, optional
            ``(batch, d)`` prompt embeddings; default a random caption of the target class
            while training, its label prompt otherwise.
        absent : torch.Tensor, optional
            ``(batch,)`` bool: the prompt names a class the clip does not hold.
        rng : random.Random, optional
            Picks the caption templates.

        Returns
        -------
        loss : torch.Tensor
        stats : dict
            As :meth:`LMAC.loss` (``mask``, ``target``, ``logits_in``...), plus ``cos_in``,
            ``cos_out`` and ``absent_mask`` (mean mask where the prompt was absent).
        """
        fe, clf = self.frontend, self.classifier
        device = clf.prompts.device
        wav = validate_waveform(wav, min_samples=fe.min_samples).to(device)
        spec = fe(wav)
        with torch.no_grad():
            logits, hidden = clf.forward_with_hidden(spec.magnitude, phase=spec.phase)
            z = clf.embed(spec.magnitude, spec.phase)
            if target is None:
                ref = logits if clean_wav is None else clf.classify_wav(clean_wav.to(device))
                target = ref.argmax(-1)
        target = torch.as_tensor(target, device=device).long()
        if prompts is None:
            prompts = (self.caption_prompts(target, rng or random.Random()) if self.training
                       else clf.prompts[target])
        prompts = F.normalize(prompts.to(device).float(), dim=-1)
        absent = (torch.zeros_like(target, dtype=torch.bool) if absent is None
                  else torch.as_tensor(absent, device=device).bool())
        mask_logits = self._decode(fe.to_mask_domain(spec.magnitude), hidden, prompts, spec.magnitude,
                                   spec.phase, gate=False)
        mask = torch.sigmoid(mask_logits)
        shown = self.sample_mask(mask_logits) if self.training and self.temperature > 0 else mask
        mag, phase = spec.magnitude, spec.phase
        both = torch.cat([fe.apply_mask(mag, shown), fe.apply_mask(mag, 1.0 - shown)])
        z_in, z_out = clf.embed(both, torch.cat([phase, phase])).chunk(2)
        logits_in, logits_out = clf.zero_shot(z_in), clf.zero_shot(z_out)
        with torch.no_grad():  # silence's similarity: as low as the masked-out audio can go
            z_empty = clf.embed(torch.zeros_like(mag[:1]), torch.zeros_like(phase[:1]))
        cos_full, cos_empty = (z * prompts).sum(-1), (z_empty * prompts).sum(-1)
        cos_in, cos_out = (z_in * prompts).sum(-1), (z_out * prompts).sum(-1)
        present = (self.lambda_in * self.class_loss(logits_in, target)
                   + self.lambda_out * self.out_class_loss(logits_out, target)
                   + self.lambda_cos * (F.relu(cos_full - cos_in) + F.relu(cos_out - cos_empty)))
        area = mask.flatten(1).mean(1)
        l1 = (F.softplus(mask_logits) if self.area_loss == "softplus" else mask).flatten(1).mean(1)
        tv = total_variation(mask) if self.lambda_tv else mask.new_zeros(mask.shape[0])
        per_clip = (torch.where(absent, self.lambda_absent * area, present)
                    + self.lambda_l1 * l1 + self.lambda_tv * tv)
        loss = per_clip.mean()
        n_absent = absent.float().sum().clamp_min(1.0)
        stats = {
            "loss": loss.detach(), "ce_in": self.class_loss(logits_in, target).detach().mean(),
            "ce_out": self.class_loss(logits_out, target).detach().mean(),
            "cos_in": cos_in.detach().mean(), "cos_out": cos_out.detach().mean(),
            "l1": l1.detach().mean(), "tv": tv.detach().mean(), "mask_mean": mask.detach().mean(),
            "absent_mask": (area.detach() * absent).sum() / n_absent,
            "mask": mask.detach(), "target": target, "magnitude": mag, "phase": phase, "logits": logits,
            "logits_in": logits_in.detach(), "logits_out": logits_out.detach(),
        }
        return loss, stats
