"""L2I, Listen to Interpret (Parekh, Parekh, Essid, Richard, NeurIPS 2022): explanations as audio objects.

The classifier's hidden representations are decoded (Psi) into the activations
``H`` of a fixed NMF dictionary ``W`` (:class:`~speechbrain_interp.solvers.nmf_dictionary.NMFDictionary`),
and a linear classifier on pooled activations (Theta) is trained to reproduce the
classifier's output. Because Theta is linear, each class logit splits into one
contribution per component: the components with the largest contributions to the
explained class are the explanation, and each of them is a sound you can listen to.

Training loss, on spectra ``X`` in the front-end's mask domain, with ``f`` the frozen
classifier and ``p = softmax(f(X) / T)`` (``sigmoid`` for multi-label classifiers):

* reconstruction ``D_beta(X | W H)`` (the dictionary's beta-divergence, mean per bin);
* sparsity ``mean(H)`` (L1, ``H >= 0``);
* fidelity ``CE(p, softmax(Theta(H)))`` (``BCE(p, sigmoid(Theta(H)))`` for multi-label);
* optional masked-in fidelity ``CE(f(M (.) X), argmax f(X))`` with the soft version of
  the interpretation mask ``M`` below (``lambda_in``). This is not in the L2I paper: it
  asks the relevant components to carry what the classifier needs, which is what the
  input-fidelity metric (Fid-In) measures;
* optional mask size ``mean(M)`` (``lambda_mask``), also not in the paper, which keeps
  the masked-in term from selecting everything.

Interpretation of a clip for class ``c`` (the prediction unless requested):

1. relevance ``r_k``: the contribution of component ``k`` to Theta's logit of ``c``
   (or to its log-probability, ``relevance="log_probability"``), divided by
   ``max_k |r_k|``;
2. selected components ``L = {k : r_k > threshold}``;
3. soft mask ``M = W_L H_L / (W H + eps)`` in [0, 1], applied in the mask domain, and
   ISTFT with the original phase (the interpretation wav);
4. the ``top_k`` most relevant components, each resynthesised alone with its own ratio
   mask ``W_k H_k / (W H + eps)``: L2I's audio objects, in ``Explanation.components``.

Everything is batched: no per-clip Python loop runs tensors.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import torch.nn.functional as F

from speechbrain_interp.explanation import Component
from speechbrain_interp.interpreters.base import Interpreter, deprecated_alias
from speechbrain_interp.lobes.l2i import ActivationDecoder, ComponentClassifier
from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary

__all__ = ["L2I"]

logger = logging.getLogger(__name__)
_RELEVANCE = ("logit", "log_probability")
_FORMAT = "speechbrain_interp.l2i/1"
# options that define the trained networks: a weights file brings its own
_ARCHITECTURE = ("layers", "channels", "n_blocks", "kernel_size", "pooling")


class L2I(Interpreter):
    """Listen-to-Interpret brick: NMF activations decoded from a classifier's hidden layers.

    Every argument except ``classifier``, ``dictionary``, ``config`` and ``weights`` can
    also come from ``config`` (e.g. the brick fragment ``hparams/l2i.yaml``); explicit
    arguments win.

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier to explain; it must capture ``layers``.
    dictionary : NMFDictionary or str, optional
        The NMF dictionary (or the path of one saved with ``NMFDictionary.save``), learned
        in the classifier front-end's mask domain and frequency resolution. Defaults to
        the one stored in ``weights``; without either, an untrained random dictionary of
        ``n_components`` (a smoke test, and a logged warning).
    layers : sequence of str, optional
        Hidden layers Psi reads (default: every layer the adapter captures).
    config : dict, optional
        Options, as below.
    weights : str, optional
        A trained L2I saved by :meth:`save_weights` (Psi, Theta and the dictionary), loaded at
        construction. It also brings the layers and network sizes it was trained with
        (``config`` values are replaced; explicit arguments must agree).
    channels, n_blocks, kernel_size, dropout :
        Size of Psi, see :class:`~speechbrain_interp.lobes.l2i.ActivationDecoder`.
    pooling : str
        Theta's pooling over time: ``"mean"``, ``"max"`` or ``"mean_max"``.
    relevance : str
        ``"logit"`` (the paper: contribution to Theta's class logit) or
        ``"log_probability"`` (contribution to its log-softmax, which discounts components
        that raise every class alike); multi-label classifiers always use ``"logit"``.
    threshold : float
        Components whose normalised relevance exceeds it make the interpretation mask.
    top_k : int
        Components returned as listenable audio objects per clip.
    lambda_rec, lambda_l1, lambda_fid, lambda_in, lambda_mask : float
        Weights of the reconstruction, sparsity, fidelity, masked-in fidelity and mask-size
        terms.
    temperature : float
        Temperature of the classifier's output used as the fidelity target.
    selection_temperature : float
        Softness of the component selection inside the masked-in term.
    eps : float
        Stabiliser of the ratio masks.
    probe_seconds : tuple of float
        Two clip lengths used once to find each hidden layer's layout and time axis.
    n_components : int
        Size of the untrained dictionary made when none is given.

    Example
    -------
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary
    >>> frontend = SpectralFrontEnd(n_fft=256, hop_length=128, n_mels=16)
    >>> net = torch.nn.Sequential(torch.nn.Conv1d(16, 8, 3), torch.nn.ReLU(),
    ...                           torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(1),
    ...                           torch.nn.Linear(8, 3))
    >>> adapter = TorchClassifier(net, frontend, input=lambda fe, m, p: fe.log_mel(m).mT,
    ...                           layers=["1"], labels=["dog", "rain", "siren"])
    >>> l2i = L2I(adapter, NMFDictionary(n_components=8, n_freqs=129), channels=16, top_k=2)
    >>> wav = torch.randn(2, 8000)
    >>> loss, stats = l2i.loss(wav)
    >>> loss.backward()
    >>> e = l2i.explain(wav)
    >>> e.mask.shape, len(e.components[0]), e.components[0][0].wav.shape
    (torch.Size([2, 63, 129]), 2, torch.Size([8000]))
    >>> sorted(e.scores)
    ['fidelity_top1', 'n_selected', 'theta_probability']
    """

    method = "L2I"
    needs_hidden = True
    family, interface = "l2i", "L2IInterface"
    trainable = True
    explains_in_eval = True  # Psi has dropout: explanations must not depend on the training mode

    DEFAULTS = {
        "layers": None,
        "channels": 128,
        "n_blocks": 3,
        "kernel_size": 5,
        "dropout": 0.1,
        "pooling": "mean_max",
        "relevance": "logit",
        "threshold": 0.2,
        "top_k": 3,
        "lambda_rec": 10.0,
        "lambda_l1": 0.05,
        "lambda_fid": 1.0,
        "lambda_in": 0.0,
        "lambda_mask": 0.0,
        "temperature": 1.0,
        "selection_temperature": 0.05,
        "eps": 1e-6,
        "probe_seconds": (2.0, 2.5),
        "n_components": 100,
    }

    def __init__(self, classifier, dictionary=None, layers=None, config=None, weights=None,
                 channels=None, n_blocks=None, kernel_size=None, dropout=None, pooling=None,
                 relevance=None, threshold=None, top_k=None, lambda_rec=None, lambda_l1=None,
                 lambda_fid=None, lambda_in=None, lambda_mask=None, temperature=None,
                 selection_temperature=None, eps=None, probe_seconds=None, n_components=None):
        super().__init__(classifier)
        given = dict(layers=None if layers is None else list(layers), channels=channels, n_blocks=n_blocks,
                     kernel_size=kernel_size, dropout=dropout, pooling=pooling, relevance=relevance,
                     threshold=threshold, top_k=top_k, lambda_rec=lambda_rec, lambda_l1=lambda_l1,
                     lambda_fid=lambda_fid, lambda_in=lambda_in, lambda_mask=lambda_mask,
                     temperature=temperature, selection_temperature=selection_temperature, eps=eps,
                     probe_seconds=probe_seconds, n_components=n_components)
        opts = self.resolve_options(config, **given)
        if weights is not None:
            opts.update(self._architecture_of(weights, {k: v for k, v in given.items() if v is not None}))
        dictionary = self._resolve_dictionary(dictionary, weights, int(opts["n_components"]))
        fe = self.frontend
        if dictionary.n_freqs != fe.n_freqs:
            raise ValueError(
                f"the NMF dictionary has {dictionary.n_freqs} frequency bins but the classifier's "
                f"front-end has {fe.n_freqs} (n_fft={fe.n_fft}); learn the dictionary with this front-end"
            )
        if dictionary.domain != fe.mask_domain:
            raise ValueError(
                f"the NMF dictionary models '{dictionary.domain}' spectra but masks act on "
                f"'{fe.mask_domain}'; learn it in the front-end's mask domain"
            )
        if opts["relevance"] not in _RELEVANCE:
            raise ValueError(f"relevance must be one of {_RELEVANCE}, got '{opts['relevance']}'")
        self.layers = list(opts["layers"]) if opts["layers"] else list(classifier.layers)
        missing = [name for name in self.layers if name not in classifier.layers]
        if not self.layers or missing:
            raise ValueError(
                f"L2I reads layers {self.layers} but the adapter captures {classifier.layers}; "
                "build the adapter with layers=[...] naming them"
            )
        self.dictionary = dictionary
        self.relevance, self.threshold = opts["relevance"], float(opts["threshold"])
        self.top_k = int(opts["top_k"])
        for name in ("lambda_rec", "lambda_l1", "lambda_fid", "lambda_in", "lambda_mask", "temperature",
                     "selection_temperature", "eps"):
            setattr(self, name, float(opts[name]))
        layouts, n_classes = self._probe(opts["probe_seconds"])
        self.layouts = layouts
        self.config = {
            "layers": self.layers, "n_components": dictionary.n_components, "n_classes": n_classes,
            "channels": int(opts["channels"]), "n_blocks": int(opts["n_blocks"]),
            "kernel_size": int(opts["kernel_size"]), "pooling": opts["pooling"], "layouts": layouts,
        }
        self.psi = ActivationDecoder([layouts[n]["features"] for n in self.layers], dictionary.n_components,
                                     time_dims=[layouts[n]["time_dim"] for n in self.layers],
                                     channels=int(opts["channels"]), n_blocks=int(opts["n_blocks"]),
                                     kernel_size=int(opts["kernel_size"]), dropout=float(opts["dropout"]))
        self.theta = ComponentClassifier(dictionary.n_components, n_classes, pooling=opts["pooling"])
        self.to(next(classifier.buffers(), torch.empty(0)).device)
        if weights is not None:
            self.load_weights(weights)

    @staticmethod
    def _architecture_of(weights, given: dict) -> dict:
        """Layers and network sizes a weights file was trained with; explicit arguments must agree."""
        saved = json.loads(_read_weights(weights)[1].get("config", "{}"))
        arch = {k: saved[k] for k in _ARCHITECTURE if k in saved}
        for key, value in arch.items():
            if key in given and given[key] != value and not (key == "layers" and list(given[key]) == value):
                raise ValueError(f"'{weights}' was trained with {key}={value!r}, not {given[key]!r}")
        return arch

    def _resolve_dictionary(self, dictionary, weights, n_components: int) -> NMFDictionary:
        """The given dictionary, else the one saved with ``weights``, else an untrained one."""
        if isinstance(dictionary, (str, Path)):
            dictionary = NMFDictionary.load(dictionary)
        if dictionary is not None and not isinstance(dictionary, NMFDictionary):
            raise TypeError(f"dictionary must be an NMFDictionary or a path, got {type(dictionary).__name__}")
        if weights is not None:
            saved, meta = _read_weights(weights)
            if "dictionary.W" in saved:
                meta = json.loads(meta.get("dictionary", "{}"))
                stored = NMFDictionary(saved["dictionary.W"].shape[1], saved["dictionary.W"].shape[0],
                                       beta=meta.get("beta", 2.0), domain=meta.get("domain", "magnitude"),
                                       W=saved["dictionary.W"])
                if dictionary is not None and not torch.allclose(dictionary.W.cpu(), stored.W, atol=1e-6):
                    raise ValueError(f"'{weights}' was trained with another NMF dictionary "
                                     "than the one given")
                return dictionary if dictionary is not None else stored
        if dictionary is None:
            fe = self.frontend
            logger.warning("L2I has no NMF dictionary: using an untrained random one (%d components); "
                           "train one with recipes/ESC50/interpret/train_nmf.py", n_components)
            dictionary = NMFDictionary(n_components, fe.n_freqs, domain=fe.mask_domain)
        return dictionary

    # --- set-up ---------------------------------------------------------------------------
    @torch.no_grad()
    def _probe(self, seconds):
        """Run two silent-ish clips of different lengths to find each layer's time axis."""
        fe, clf = self.frontend, self.classifier
        device = next(clf.buffers(), torch.empty(0)).device
        g = torch.Generator().manual_seed(0)
        shapes, n_classes = [], None
        for s in seconds:
            n = max(int(s * fe.sample_rate), fe.min_samples)
            wav = 1e-2 * torch.randn(1, n, generator=g)
            spec = fe(wav.to(device))
            logits, hidden = clf.forward_with_hidden(spec.magnitude, phase=spec.phase)
            shapes.append({name: tuple(hidden[name].shape) for name in self.layers})
            n_classes = logits.shape[-1]
        layouts = {}
        for name in self.layers:
            first, second = shapes[0][name], shapes[1][name]
            changed = [d for d in range(1, len(first)) if first[d] != second[d]]
            if len(changed) > 1:
                raise ValueError(f"layer '{name}' changes along several axes with the clip length: "
                                 f"{first} vs {second}")
            time_dim = changed[0] if changed else None
            numel = 1
            for d in range(1, len(first)):
                if d != time_dim:
                    numel *= first[d]
            layouts[name] = {"time_dim": time_dim, "features": numel, "shape": list(first)}
        return layouts, n_classes

    def trainable_parameters(self):
        """Parameters of Psi and Theta (the classifier and dictionary stay fixed)."""
        return list(self.psi.parameters()) + list(self.theta.parameters())

    # --- the model ------------------------------------------------------------------------
    def activations(self, hidden: dict, frames: int) -> torch.Tensor:
        """Psi: NMF activations ``(batch, K, frames)`` from the adapter's hidden representations."""
        return self.psi([hidden[name] for name in self.layers], frames)

    def component_relevance(self, H: torch.Tensor, theta_logits: torch.Tensor, target: torch.Tensor,
                            detach_weights: bool = False) -> torch.Tensor:
        """Relevance of each component for ``target``, ``(batch, K)``, normalised by ``max_k |r_k|``.

        Example
        -------
        >>> theta_parts = torch.tensor([[[1.0, -2.0, 4.0]]])  # (batch, classes, K)
        >>> r = theta_parts[:, 0]
        >>> r / r.abs().amax(-1, keepdim=True)
        tensor([[ 0.2500, -0.5000,  1.0000]])
        """
        parts = self.theta.contributions(H, detach_weights=detach_weights)  # (B, C, K)
        r = parts.gather(1, target[:, None, None].expand(-1, 1, parts.shape[-1])).squeeze(1)
        if self.relevance == "log_probability" and not self.classifier.multilabel:
            p = torch.softmax(theta_logits, dim=-1)
            r = r - torch.einsum("bc,bck->bk", p, parts)
        return r / r.abs().amax(-1, keepdim=True).clamp_min(1e-12)

    def select(self, relevance: torch.Tensor) -> torch.Tensor:
        """0/1 weights ``(batch, K)`` of the components above the threshold (the top one at least)."""
        chosen = relevance > self.threshold
        top = F.one_hot(relevance.argmax(-1), relevance.shape[-1]).bool() & (relevance > 0)
        return (chosen | top).float()

    def ratio_mask(self, H: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``W (w . H) / (W H + eps)``, ``(batch, frames, freq)`` in [0, 1], for weights ``(batch, K)``."""
        whole = self.dictionary.reconstruct(H)
        part = self.dictionary.reconstruct(weights[:, :, None] * H)
        return (part / (whole + self.eps)).clamp(0.0, 1.0)

    def decompose(self, spectrum, target: torch.Tensor, hidden: dict) -> dict:
        """Activations, Theta's output, relevance, selection and mask for a batch."""
        frames = spectrum.magnitude.shape[1]
        H = self.activations(hidden, frames)
        theta_logits = self.theta(H)
        relevance = self.component_relevance(H, theta_logits, target)
        selected = self.select(relevance)
        return {"H": H, "theta_logits": theta_logits, "relevance": relevance, "selected": selected,
                "mask": self.ratio_mask(H, selected)}

    def compute_mask(self, spectrum, target, logits, hidden):
        """The interpretation mask ``W_L H_L / (W H + eps)`` (see :meth:`decompose`)."""
        with torch.no_grad():
            return self.decompose(spectrum, target, hidden)["mask"]

    # --- explanation ----------------------------------------------------------------------
    @torch.no_grad()
    def component_wavs(self, spectrum, H: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Each chosen component alone, ``(batch, n, time)``, for component ids ``index`` ``(batch, n)``.

        A component's ratio mask ``W_k H_k / (W H + eps)`` is applied to the input in the mask
        domain and inverted with the original phase; all clips and components in one ISTFT.
        """
        fe = self.frontend
        b, n = index.shape
        whole = self.dictionary.reconstruct(H)[:, None]  # (B, 1, T, F)
        masks = (self.dictionary.components_spectra(H, index) / (whole + self.eps)).clamp(0.0, 1.0)
        mag = fe.apply_mask(spectrum.magnitude[:, None], masks)  # (B, n, T, F)
        phase = spectrum.phase[:, None].expand_as(mag)
        wavs = fe.istft(mag.reshape(b * n, *mag.shape[2:]), phase.reshape(b * n, *mag.shape[2:]),
                        spectrum.num_samples)
        return wavs.view(b, n, -1)

    def compute_explanation(self, spectrum, target, logits, hidden):
        """The mask from the relevant components, plus L2I's audio objects and Theta's fidelity.

        ``components[i]`` lists clip ``i``'s ``top_k`` components, most relevant first, each
        with its normalised relevance and its own wav; ``scores`` holds ``fidelity_top1`` (1
        when Theta's top class is the classifier's), ``theta_probability`` (Theta's
        probability of the explained class) and ``n_selected`` (components in the mask).
        """
        with torch.no_grad():
            out = self.decompose(spectrum, target, hidden)
            k = min(self.top_k, self.dictionary.n_components)
            top = out["relevance"].topk(k, dim=-1)
            wavs = self.component_wavs(spectrum, out["H"], top.indices) if k else None
            theta_probs = self.classifier.probabilities(out["theta_logits"])
            scores = {
                "fidelity_top1": (out["theta_logits"].argmax(-1) == logits.argmax(-1)).float(),
                "theta_probability": theta_probs.gather(1, target[:, None]).squeeze(1),
                "n_selected": out["selected"].sum(-1),
            }
        ids, rel = top.indices.tolist(), top.values.tolist()
        components = [
            [Component(ids[b][j], rel[b][j], wavs[b, j]) for j in range(k)] for b in range(len(ids))
        ]
        return out["mask"], {"components": components, "scores": scores}

    # --- training -------------------------------------------------------------------------
    def fidelity_loss(self, theta_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Theta against the classifier: soft-target CE (softmax) or BCE (sigmoid, multi-label)."""
        if self.classifier.multilabel:
            target = torch.sigmoid(logits / self.temperature)
            return F.binary_cross_entropy_with_logits(theta_logits, target)
        target = torch.softmax(logits / self.temperature, dim=-1)
        return -(target * F.log_softmax(theta_logits, dim=-1)).sum(-1).mean()

    def loss(self, wav, lengths=None):
        """Training loss on a batch of waveforms: ``(loss, stats)``.

        ``stats`` holds detached per-term values (``rec_loss``, ``l1_loss``, ``fid_loss`` and,
        when ``lambda_in > 0``, ``in_loss``), ``fidelity_top1`` (the batch share where Theta's
        top class is the classifier's) and, with ``lambda_in > 0``, ``masked_in_agreement``
        (the share where the classifier keeps its top class on the soft-masked input) and
        ``mask_mean`` (the soft mask's mean).
        """
        spectrum = self.frontend(wav)
        with torch.no_grad():
            logits, hidden = self.classifier.forward_with_hidden(
                spectrum.magnitude, phase=spectrum.phase, lengths=lengths
            )
        return self.loss_from_hidden(spectrum.magnitude, logits, hidden, phase=spectrum.phase)

    def loss_from_hidden(self, magnitude, logits, hidden, phase=None):
        """:meth:`loss` given the classifier's (possibly cached) logits and hidden layers."""
        fe = self.frontend
        x = fe.to_mask_domain(magnitude)
        H = self.activations(hidden, magnitude.shape[1])
        theta_logits = self.theta(H)
        rec = self.dictionary.divergence(x, H, reduction="mean")
        l1 = H.mean()
        fid = self.fidelity_loss(theta_logits, logits)
        loss = self.lambda_rec * rec + self.lambda_l1 * l1 + self.lambda_fid * fid
        predicted = logits.argmax(-1)
        stats = {"rec_loss": rec.detach(), "l1_loss": l1.detach(), "fid_loss": fid.detach(),
                 "fidelity_top1": (theta_logits.argmax(-1) == predicted).float().mean()}
        if self.lambda_in > 0 or self.lambda_mask > 0:
            relevance = self.component_relevance(H, theta_logits, predicted, detach_weights=True)
            weights = torch.sigmoid((relevance - self.threshold) / self.selection_temperature)
            mask = self.ratio_mask(H, weights)
            stats["mask_mean"] = mask.detach().mean()
            if self.lambda_mask > 0:
                loss = loss + self.lambda_mask * mask.mean()
        if self.lambda_in > 0:
            masked_logits = self.classifier(fe.apply_mask(magnitude, mask), phase=phase)
            picked = masked_logits.gather(1, predicted[:, None]).squeeze(1)
            if self.classifier.multilabel:
                fid_in = F.softplus(-picked).mean()  # -log sigmoid
            else:
                fid_in = F.cross_entropy(masked_logits, predicted)
            loss = loss + self.lambda_in * fid_in
            stats["in_loss"] = fid_in.detach()
            stats["masked_in_agreement"] = (masked_logits.argmax(-1) == predicted).float().mean()
        return loss, stats

    # --- persistence ---------------------------------------------------------------------
    def save_weights(self, path) -> Path:
        """Write Psi, Theta and the dictionary to one ``.safetensors`` file with their configuration.

        Example
        -------
        >>> import tempfile, os
        >>> from speechbrain_interp.adapters import TorchClassifier
        >>> from speechbrain_interp.spectral import SpectralFrontEnd
        >>> fe = SpectralFrontEnd(n_fft=64, hop_length=32, mask_domain="magnitude")
        >>> net = torch.nn.Sequential(torch.nn.Conv1d(33, 4, 3), torch.nn.AdaptiveMaxPool1d(1),
        ...                           torch.nn.Flatten(1))
        >>> adapter = TorchClassifier(net, fe, input=lambda fe, m, p: m.mT, layers=["0"])
        >>> nmf = NMFDictionary(n_components=5, n_freqs=33, domain="magnitude")
        >>> l2i = L2I(adapter, nmf, channels=8)
        >>> path = l2i.save_weights(os.path.join(tempfile.mkdtemp(), "l2i.safetensors"))
        >>> again = L2I(adapter, channels=8, weights=path)  # the dictionary comes with the weights
        >>> bool(torch.equal(again.theta.linear.weight, l2i.theta.linear.weight))
        True
        """
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {f"psi.{k}": v for k, v in self.psi.state_dict().items()}
        state.update({f"theta.{k}": v for k, v in self.theta.state_dict().items()})
        state["dictionary.W"] = self.dictionary.W
        state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        dictionary = {"beta": self.dictionary.beta, "domain": self.dictionary.domain}
        save_file(state, str(path), metadata={"format": _FORMAT, "config": json.dumps(self.config),
                                              "dictionary": json.dumps(dictionary)})
        return path

    save = deprecated_alias("save_weights", "save")

    def load_weights(self, path) -> L2I:
        """Load Psi and Theta weights written by :meth:`save_weights`; returns ``self``."""
        state, meta = _read_weights(path)
        saved = json.loads(meta.get("config", "{}"))
        for key in ("layers", "n_components", "n_classes", "channels", "n_blocks", "kernel_size", "pooling"):
            if key in saved and saved[key] != self.config[key]:
                raise ValueError(f"'{path}' was trained with {key}={saved[key]!r}, "
                                 f"this L2I has {self.config[key]!r}")
        self.psi.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("psi.")})
        self.theta.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("theta.")})
        return self


def _read_weights(path):
    """Tensors and metadata of an L2I weights file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"L2I weights '{path}' do not exist; train them with "
                                "recipes/ESC50/interpret/train_l2i.py")
    with safe_open(str(path), framework="pt", device="cpu") as fh:
        meta = fh.metadata() or {}
        if meta.get("format") != _FORMAT:
            raise ValueError(f"'{path}' is not a speechbrain_interp L2I weights file")
        return {k: fh.get_tensor(k) for k in fh.keys()}, meta
