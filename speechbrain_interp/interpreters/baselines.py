"""Gradient baselines through Captum: saliency, Integrated Gradients, SmoothGrad and Grad-CAM.

They explain any classifier adapter without training, so they are both the comparison
rows of the L-MAC evaluation table and the fallback when a classifier has no trained
interpreter yet. To compare them fairly with L-MAC, every baseline

1. attributes in the **mask domain**: the input is ``Z = frontend.to_mask_domain(|X|)``
   (``log1p|X|`` by default) and the classifier sees ``frontend.from_mask_domain(Z)``, so
   attributions live on the same ``(frames, freq)`` grid and in the same domain in which
   masks are applied;
2. explains the adapter's **logit** of the target class (for SpeechBrain classifiers, the
   log-probability they output);
3. turns attributions into a mask with the same normalisation,
   :func:`attributions_to_mask`: keep the positive evidence (``|grad|`` for saliency and
   SmoothGrad, the positive part for Integrated Gradients and Grad-CAM), divide by its
   per-clip maximum (or by a per-clip quantile, then clip to 1), so the mask is in [0, 1];
   an all-zero attribution (e.g. silent audio) gives an all-zero mask, never NaN.

Grad-CAM attributes to a named layer; its map is interpolated back to the input grid:
linearly in time, and in frequency on the classifier's feature scale (``"mel"``, the
HTK mel scale SpeechBrain's filterbanks use, or ``"linear"``), so a map over mel bands
lands on the right linear-frequency bins.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.lobes.mask_decoder import _first_tensor, infer_layouts

__all__ = [
    "attributions_to_mask",
    "layer_map_to_spectrogram",
    "GradientBaseline",
    "Saliency",
    "IntegratedGradients",
    "SmoothGrad",
    "GradCAM",
]


def attributions_to_mask(attributions: torch.Tensor, absolute: bool = False,
                         quantile: float | None = None) -> torch.Tensor:
    """The baselines' shared normalisation: positive evidence scaled per clip into [0, 1].

    Arguments
    ---------
    attributions : torch.Tensor
        ``(batch, frames, freq)`` attributions.
    absolute : bool
        Use ``|a|`` (saliency-style); otherwise the positive part ``max(a, 0)``.
    quantile : float, optional
        Divide by this per-clip quantile of the evidence and clip to 1, instead of by the maximum.

    Example
    -------
    >>> attributions_to_mask(torch.tensor([[[-1.0, 0.5, 2.0]]]))
    tensor([[[0.0000, 0.2500, 1.0000]]])
    >>> attributions_to_mask(torch.zeros(1, 2, 2)).sum()
    tensor(0.)
    """
    a = torch.nan_to_num(attributions.detach().float(), nan=0.0, posinf=0.0, neginf=0.0)
    a = a.abs() if absolute else a.clamp_min(0.0)
    flat = a.flatten(1)
    if quantile is None:
        scale = flat.amax(1)
    else:
        scale = torch.quantile(flat, float(quantile), dim=1)
        scale = torch.where(scale > 0, scale, flat.amax(1))
    scale = scale.view(-1, *([1] * (a.dim() - 1)))
    mask = torch.where(scale > 0, a / scale.clamp_min(1e-30), torch.zeros_like(a))
    return mask.clamp(0.0, 1.0)


def _hz_to_mel(f):
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def layer_map_to_spectrogram(cam: torch.Tensor, frames: int, n_freq: int, sample_rate: int,
                             freq_scale: str = "mel", f_min: float = 0.0,
                             f_max: float | None = None) -> torch.Tensor:
    """Interpolate ``(batch, T', F')`` layer maps onto the ``(batch, frames, n_freq)`` STFT grid.

    Time is interpolated linearly. The ``F'`` cells are taken to tile ``[f_min, f_max]``
    evenly on ``freq_scale`` (``"mel"`` or ``"linear"``); each linear STFT bin reads the
    map at its own position on that scale. ``F' = 1`` maps are constant over frequency.

    Example
    -------
    >>> cam = torch.tensor([[[0.0, 1.0]]])  # one frame, low band 0, high band 1
    >>> out = layer_map_to_spectrogram(cam, frames=3, n_freq=5, sample_rate=16000)
    >>> out.shape, out[0, 0, 0].item(), out[0, 0, -1].item()
    (torch.Size([1, 3, 5]), 0.0, 1.0)
    """
    if freq_scale not in ("mel", "linear"):
        raise ValueError(f"freq_scale must be 'mel' or 'linear', got '{freq_scale}'")
    cam = cam.float()
    batch, _, cells = cam.shape
    cam = F.interpolate(cam.transpose(1, 2), size=frames, mode="linear", align_corners=False)
    cam = cam.transpose(1, 2)  # (B, frames, F')
    if cells == 1:
        return cam.expand(batch, frames, n_freq).contiguous()
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0.0, sample_rate / 2, n_freq, device=cam.device)
    warp = _hz_to_mel if freq_scale == "mel" else (lambda f: f)
    lo, hi = warp(torch.tensor(float(f_min))), warp(torch.tensor(float(f_max)))
    u = ((warp(freqs) - lo) / (hi - lo)).clamp(0.0, 1.0)  # position on the feature axis
    pos = (u * cells - 0.5).clamp(0.0, cells - 1.0)  # in cell-centre coordinates
    left = pos.floor().long().clamp(max=cells - 2)
    frac = pos - left
    return cam[..., left] * (1 - frac) + cam[..., left + 1] * frac


class GradientBaseline(Interpreter):
    """Base of the Captum baselines: attribute in the mask domain, normalise with
    :func:`attributions_to_mask`.

    Subclasses implement :meth:`attribute`.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier to explain.
    quantile : float, optional
        Normalise by this per-clip quantile instead of the maximum (see :func:`attributions_to_mask`).

    Example
    -------
    A new baseline only says how to attribute (here: gradient times input, by hand):

    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> class GradientTimesInput(GradientBaseline):
    ...     method = "gradient x input"
    ...     def attribute(self, z, target, phase):
    ...         logit = self._forward(z, phase).gather(1, target[:, None]).sum()
    ...         return z * torch.autograd.grad(logit, z)[0]
    >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector"))
    >>> e = GradientTimesInput(adapter).explain(torch.randn(2, 8000))
    >>> e.mask.shape == e.magnitude.shape, bool(((e.mask >= 0) & (e.mask <= 1)).all())
    (True, True)
    """

    absolute = False
    needs_hidden = False
    DEFAULTS = {"quantile": None}

    def __init__(self, classifier, quantile: float | None = None, config=None):
        super().__init__(classifier)
        self.quantile = self.resolve_options(config, quantile=quantile)["quantile"]

    def _forward(self, z, phase=None):
        """Classifier logits as a function of the mask-domain input ``z``."""
        return self.classifier(self.frontend.from_mask_domain(z), phase=phase)

    def attribute(self, z: torch.Tensor, target: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, freq)`` attributions of ``target`` with respect to ``z``."""
        raise NotImplementedError(f"{type(self).__name__} must implement attribute")

    def compute_mask(self, spectrum, target, logits, hidden):
        with torch.enable_grad():
            z = self.frontend.to_mask_domain(spectrum.magnitude).detach().requires_grad_()
            attributions = self.attribute(z, target, spectrum.phase.detach())
        return attributions_to_mask(attributions, absolute=self.absolute, quantile=self.quantile)


class Saliency(GradientBaseline):
    """Saliency (Simonyan et al. 2014): ``|d logit_c / dZ|`` via ``captum.attr.Saliency``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector"))
    >>> e = Saliency(adapter).explain(torch.randn(2, 8000))
    >>> e.mask.shape == e.magnitude.shape, float(e.mask.amax()) == 1.0
    (True, True)
    """

    method = "saliency (gradient baseline)"
    absolute = True

    def attribute(self, z, target, phase):
        from captum.attr import Saliency as _Saliency

        return _Saliency(self._forward).attribute(z, target=target, abs=True,
                                                  additional_forward_args=(phase,))


class IntegratedGradients(GradientBaseline):
    """Integrated Gradients (Sundararajan et al. 2017) from silence (``Z = 0``), via Captum.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier to explain.
    n_steps : int
        Integration steps (50, the common setting).
    internal_batch_size : int, optional
        Inputs per classifier pass while integrating (bounds memory).
    quantile : float, optional
        See :class:`GradientBaseline`.
    config : dict, optional
        Default values for the other arguments (explicit ones win).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector"))
    >>> e = IntegratedGradients(adapter, n_steps=8).explain(torch.randn(1, 8000))
    >>> bool(e.mask.min() >= 0 and e.mask.max() <= 1)
    True
    """

    method = "Integrated Gradients (gradient baseline)"
    DEFAULTS = {"n_steps": 50, "internal_batch_size": 64, "quantile": None}

    def __init__(self, classifier, n_steps: int | None = None, internal_batch_size: int | None = None,
                 quantile: float | None = None, config=None):
        Interpreter.__init__(self, classifier)
        opts = self.resolve_options(config, n_steps=n_steps, internal_batch_size=internal_batch_size,
                                    quantile=quantile)
        self.quantile = opts["quantile"]
        self.n_steps = int(opts["n_steps"])
        self.internal_batch_size = opts["internal_batch_size"]

    def attribute(self, z, target, phase):
        from captum.attr import IntegratedGradients as _IG

        return _IG(self._forward).attribute(
            z, baselines=torch.zeros_like(z), target=target, additional_forward_args=(phase,),
            n_steps=self.n_steps, internal_batch_size=self.internal_batch_size,
        )


class SmoothGrad(GradientBaseline):
    """SmoothGrad (Smilkov et al. 2017): saliency averaged over noisy copies, via Captum's NoiseTunnel.

    The noise standard deviation is ``noise_level`` times each clip's range of ``Z``.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier to explain.
    nt_samples : int
        Noisy copies per clip.
    noise_level : float
        Noise standard deviation as a fraction of the clip's ``max Z - min Z``.
    nt_samples_batch_size : int, optional
        Noisy copies per classifier pass.
    quantile : float, optional
        See :class:`GradientBaseline`.
    config : dict, optional
        Default values for the other arguments (explicit ones win).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> adapter = load_speechbrain_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector"))
    >>> e = SmoothGrad(adapter, nt_samples=4).explain(torch.randn(2, 8000))
    >>> e.mask.shape == e.magnitude.shape
    True
    """

    method = "SmoothGrad (gradient baseline)"
    absolute = True
    DEFAULTS = {"nt_samples": 20, "noise_level": 0.15, "nt_samples_batch_size": 8, "quantile": None}

    def __init__(self, classifier, nt_samples: int | None = None, noise_level: float | None = None,
                 nt_samples_batch_size: int | None = None, quantile: float | None = None, config=None):
        Interpreter.__init__(self, classifier)
        opts = self.resolve_options(config, nt_samples=nt_samples, noise_level=noise_level,
                                    nt_samples_batch_size=nt_samples_batch_size, quantile=quantile)
        self.quantile = opts["quantile"]
        self.nt_samples = int(opts["nt_samples"])
        self.noise_level = float(opts["noise_level"])
        self.nt_samples_batch_size = opts["nt_samples_batch_size"]

    def _scaled_forward(self, z_unit, phase, scale):
        return self._forward(z_unit * scale, phase)

    def attribute(self, z, target, phase):
        from captum.attr import NoiseTunnel
        from captum.attr import Saliency as _Saliency

        # per-clip noise scale: attribute w.r.t. Z / range (a positive per-clip factor,
        # which the per-clip normalisation of the mask removes again)
        dims = tuple(range(1, z.dim()))
        scale = (z.amax(dims, keepdim=True) - z.amin(dims, keepdim=True)).clamp_min(1e-6)
        tunnel = NoiseTunnel(_Saliency(self._scaled_forward))
        return tunnel.attribute(
            z / scale, nt_type="smoothgrad", nt_samples=self.nt_samples,
            nt_samples_batch_size=self.nt_samples_batch_size, stdevs=self.noise_level,
            target=target, additional_forward_args=(phase, scale), abs=True,
        )


class GradCAM(GradientBaseline):
    """Grad-CAM (Selvaraju et al. 2017) on a named channels-first layer, via ``captum.attr.LayerGradCam``.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier to explain.
    layer : str
        Dotted module name under the adapter's model, e.g. ``"embedding_model.conv_block5"``.
        Its output must be channels-first: ``(B, C, T, F)``, ``(B, C, F, T)`` or ``(B, C, T)``;
        for channels-last TDNN blocks name their inner convolution (e.g. ``blocks.9.conv``).
        Adapters with ``gradcam_on_view = True`` (transformers) are read through their
        ``hidden_view``: a block's tokens as the map the adapter makes of them.
    layout : str, optional
        Declare the layer's layout instead of probing it.
    freq_scale : str
        Frequency scale of the layer's frequency axis: ``"mel"`` (default) or ``"linear"``.
    f_min, f_max : float
        Band limits of that axis in Hz (default 0 to Nyquist, SpeechBrain's Fbank defaults).
    quantile : float, optional
        See :class:`GradientBaseline`.
    config : dict, optional
        Default values for the other arguments (explicit ones win).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32)
    >>> cam = GradCAM(load_speechbrain_classifier(folder, "compact"), "embedding_model.conv_block4")
    >>> e = cam.explain(torch.randn(2, 16000))
    >>> e.mask.shape == e.magnitude.shape
    True
    """

    method = "Grad-CAM (gradient baseline)"
    DEFAULTS = {"layer": None, "layout": None, "freq_scale": "mel", "f_min": 0.0, "f_max": None,
                "quantile": None}

    def __init__(self, classifier, layer: str | None = None, layout: str | None = None,
                 freq_scale: str | None = None, f_min: float | None = None, f_max: float | None = None,
                 quantile: float | None = None, config=None):
        Interpreter.__init__(self, classifier)
        opts = self.resolve_options(config, layer=layer, layout=layout, freq_scale=freq_scale, f_min=f_min,
                                    f_max=f_max, quantile=quantile)
        layer, layout, freq_scale = opts["layer"], opts["layout"], opts["freq_scale"]
        f_min, f_max, self.quantile = opts["f_min"], opts["f_max"], opts["quantile"]
        if layer is None:
            raise TypeError("GradCAM needs the name of a layer (layer='...')")
        self.layer = layer
        self.module = classifier.model.get_submodule(layer)
        spec = infer_layouts(classifier, [layer], layouts={layer: layout} if layout else None)[layer]
        if spec.layout == "BTC":
            raise ValueError(
                f"Grad-CAM needs a channels-first layer with a time axis; '{layer}' is channels-last "
                "(batch, time, channels). For TDNN blocks, name their inner convolution (e.g. "
                "'blocks.9.conv')"
            )
        if spec.layout not in ("BCTF", "BCFT", "BCT"):
            raise ValueError(
                f"Grad-CAM needs a layer with a time axis; the output of '{layer}' has none (its size does "
                "not follow the clip's length: a pooled vector, or a patch model's layer). Name a layer "
                "before the model pools over time; for a model that classifies fixed-size patches, wrap it "
                "in speechbrain_interp.patches.PatchClassifier"
            )
        self.layout = spec.layout
        if freq_scale not in ("mel", "linear"):
            raise ValueError(f"freq_scale must be 'mel' or 'linear', got '{freq_scale}'")
        self.freq_scale, self.f_min, self.f_max = freq_scale, f_min, f_max

    def attribute(self, z, target, phase):
        if getattr(self.classifier, "gradcam_on_view", False):
            cam = self._cam_on_view(z, target, phase)
        else:
            from captum.attr import LayerGradCam

            cam = LayerGradCam(self._forward, self.module).attribute(
                z, target=target, additional_forward_args=(phase,), relu_attributions=True,
            )
            unfold = getattr(self.classifier, "unfold_hidden", None)
            if unfold is not None:  # a patch classifier's per-patch maps, back on the clip's time axis
                cam = unfold(self.layer, cam)
        cam = cam[:, 0]  # channels summed: (B, T', F'), (B, F', T') or (B, T')
        if self.layout == "BCFT":
            cam = cam.transpose(1, 2)
        elif self.layout == "BCT":
            cam = cam.unsqueeze(-1)
        _, frames, n_freq = z.shape
        return layer_map_to_spectrogram(cam, frames, n_freq, self.frontend.sample_rate,
                                        self.freq_scale, self.f_min, self.f_max)

    def _cam_on_view(self, z, target, phase):
        """LayerGradCam's formula on the adapter's ``hidden_view`` of the layer (e.g. transformer
        tokens folded to a patch grid): a rearrangement, so the view of the gradients is the
        gradient of the view."""
        outputs = []
        handle = self.module.register_forward_hook(lambda module, inputs, output: outputs.append(output))
        try:
            logits = self._forward(z, phase)
        finally:
            handle.remove()
        acts = _first_tensor(outputs[-1])
        grads = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), acts)[0]
        view = self.classifier.hidden_view
        acts, grads = view(self.layer, acts), view(self.layer, grads)
        weights = grads.mean(dim=tuple(range(2, grads.dim())), keepdim=True)
        return F.relu((weights * acts).sum(1, keepdim=True))

