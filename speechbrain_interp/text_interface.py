"""A pretrained text-conditioned L-MAC, loaded like the other interpreters: :class:`TextLMACInterface`.

The folder (written by :func:`speechbrain_interp.lmac_text_export.export_text_lmac`, or by
``export_interpreter`` for a :class:`~speechbrain_interp.interpreters.lmac_text.TextLMAC`) holds
``text_lmac.json`` (how to rebuild the brick: the classifier's interface and layers, the text
tower, the labels, the zero-shot scale, the brick's options), ``decoder.safetensors``,
``projection.safetensors`` (the text-aligned projection) and ``classifier/``, a copy of the
classifier's inference folder. :func:`load_text_lmac` rebuilds the brick from it, loading
weights without unpickling; :class:`TextLMACInterface` adds the file helpers and ``text=``.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from speechbrain_interp.embedders.aligned import TextAlignedEncoder
from speechbrain_interp.embedders.text import text_encoder
from speechbrain_interp.embedders.zero_shot import ZeroShotAdapter
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.interpreters.lmac_text import TextLMAC
from speechbrain_interp.interpreting import InterpretingMixin
from speechbrain_interp.loading import load_classifier_adapter
from speechbrain_interp.safety import load_state_dict
from speechbrain_interp.sources import bundled_folder, resolve_source

__all__ = ["TextLMACInterface", "load_text_lmac", "is_text_lmac_folder", "CONFIG"]

CONFIG = "text_lmac.json"


def _local(folder) -> Path:
    """``folder``, or the bundled interpreter it names (e.g. ``"lmac-zs-esc50-compact"``)."""
    path = Path(folder)
    return path if path.exists() else (bundled_folder(str(folder)) or path)


def is_text_lmac_folder(folder) -> bool:
    """Whether ``folder`` is a text-conditioned L-MAC folder (it holds ``text_lmac.json``), or the
    name of one bundled with the package.

    Example
    -------
    >>> is_text_lmac_folder("no/such/folder"), is_text_lmac_folder("lmac-zs-esc50-compact")
    (False, True)
    """
    return (_local(folder) / CONFIG).is_file()


def load_text_lmac(folder, savedir=None, run_opts=None) -> TextLMAC:
    """Rebuild the :class:`TextLMAC` of a text-conditioned L-MAC folder (weights without unpickling).

    Example
    -------
    >>> load_text_lmac("no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: 'no/such/folder' has no text_lmac.json: ...
    """
    folder = _local(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"'{folder}' has no {CONFIG}: it is not a text-conditioned L-MAC folder; "
                                "make one with recipes/ESC50/interpret/train_lmac_text.py (its export/)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"'{path}' is not valid JSON ({err}); export the interpreter again") from err
    adapter = load_classifier_adapter(str(folder / "classifier"), savedir=savedir,
                                      interface=config["classifier_interface"],
                                      layers=config["adapter_layers"], run_opts=run_opts)
    tower = config["text_tower"]
    text = text_encoder(tower, dim=config["text_dim"]) if tower == "hashing" else text_encoder(tower)
    encoder = TextAlignedEncoder(adapter, text, layer=config["embedding_layer"], in_dim=config["in_dim"])
    state = load_state_dict(folder / "projection.safetensors")
    encoder.logit_scale.data.copy_(state.pop("logit_scale").reshape(()))
    encoder.projection.load_state_dict({k[len("projection."):]: v for k, v in state.items()})
    zs = ZeroShotAdapter(encoder, config["labels"], scale=config["scale"])
    brick = TextLMAC(zs, layers=config["layers"], config=config["options"])
    brick.load_weights(folder / "decoder.safetensors")
    return brick.eval()


class TextLMACInterface(InterpretingMixin, torch.nn.Module):
    """A pretrained text-conditioned L-MAC: ``interpret_file(path, text="dog barking")``.

    Arguments
    ---------
    interpreter : TextLMAC
        The brick.

    Example
    -------
    >>> from speechbrain_interp.testing_text import band_text_embedder
    >>> brick = TextLMAC(embedder=band_text_embedder(), labels=["low hum", "high whistle"], channels=8)
    >>> e = TextLMACInterface(brick).interpret_batch(torch.randn(1, 8000) * 0.1, text="a low hum")
    >>> e.labels[e.target.item()]
    'a low hum'
    """

    def __init__(self, interpreter: TextLMAC):
        super().__init__()
        self.interpreter = interpreter

    @classmethod
    def from_hparams(cls, source, savedir=None, run_opts=None, trust_code: bool = False, allow=(),
                     revision=None, offline=None, **kwargs) -> TextLMACInterface:
        """Load a folder or Hub id (``trust_code``/``allow`` have nothing to allow: no code is built)."""
        folder = resolve_source(source, revision=revision, offline=offline)
        brick = load_text_lmac(folder, savedir=savedir, run_opts=run_opts)
        device = (run_opts or {}).get("device") if isinstance(run_opts, dict) else None
        return cls(brick.to(device) if device else brick)

    def forward(self, wavs, wav_lens=None, target=None, text=None) -> Explanation:
        """Same as :meth:`interpret_batch`."""
        return self.interpret_batch(wavs, wav_lens, target=target, text=text)
