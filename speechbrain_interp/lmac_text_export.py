"""A trained text-conditioned L-MAC over a text-aligned encoder, to a folder and back.

The folder holds ``text_lmac.json`` (how to rebuild the brick: the classifier's interface and
layers, the text tower, the labels, the zero-shot scale, the brick's options),
``decoder.safetensors``, ``projection.safetensors`` (the text-aligned projection) and
``classifier/``, a copy of the classifier's inference folder, so the folder is complete
and weights load without unpickling.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from speechbrain_interp.embedders.aligned import TextAlignedEncoder
from speechbrain_interp.embedders.text import HashingTextEncoder
from speechbrain_interp.interpreters.lmac_text import TextLMAC
from speechbrain_interp.text_interface import CONFIG, TextLMACInterface, is_text_lmac_folder, load_text_lmac

__all__ = ["export_text_lmac", "load_text_lmac", "is_text_lmac_folder", "text_tower_name"]



def export_text_lmac(brick: TextLMAC, folder, classifier_source,
                     classifier_interface: str = "EncoderClassifier", text_tower: str = "minilm",
                     embedding_layer: str | None = None) -> Path:
    """Write ``brick`` (over a :class:`TextAlignedEncoder` of a SpeechBrain classifier) to ``folder``.

    Arguments
    ---------
    brick : TextLMAC
        The trained brick; its classifier wraps a :class:`TextAlignedEncoder`.
    folder : str or Path
        Where to write (created; files in it are replaced).
    classifier_source : str or Path
        The classifier's inference folder (copied into ``folder/classifier``).
    classifier_interface : str
        Its SpeechBrain interface (``EncoderClassifier`` or ``AudioClassifier``).
    text_tower : str
        ``"minilm"``, ``"hashing"`` or a sentence-transformers folder (see :func:`text_encoder`).
    embedding_layer : str, optional
        The encoder's embedded layer (default: the encoder's ``layer``).

    Example
    -------
    >>> import tempfile, torch
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.embedders.text import text_encoder
    >>> from speechbrain_interp.embedders.zero_shot import ZeroShotAdapter
    >>> src = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32, labels=["dog", "rain"])
    >>> adapter = load_speechbrain_classifier(src, "compact",
    ...                                       layers=["embedding_model", "embedding_model.conv_block3"])
    >>> enc = TextAlignedEncoder(adapter, text_encoder("hashing", dim=16), layer="embedding_model")
    >>> brick = TextLMAC(ZeroShotAdapter(enc, ["dog", "rain"]), channels=8,
    ...                  layers=["classifier.model.embedding_model.conv_block3"])
    >>> out = export_text_lmac(brick, tempfile.mkdtemp(), src, text_tower="hashing")
    >>> again = load_text_lmac(out)
    >>> wav = torch.randn(1, 16000) * 0.1
    >>> mask = brick.explain(wav, text="dog").mask
    >>> bool(torch.allclose(again.explain(wav, text="dog").mask, mask, atol=1e-5))
    True
    """
    from safetensors.torch import save_file

    zs = brick.classifier
    encoder = zs.embedder
    if not isinstance(encoder, TextAlignedEncoder):
        raise TypeError("export_text_lmac writes bricks over a TextAlignedEncoder, got "
                        f"{type(encoder).__name__}")
    if encoder.projection.__class__.__name__ != "Linear":
        raise ValueError("export_text_lmac writes a linear projection only (hidden_dim=None)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = Path(classifier_source)
    if not (source / "hyperparams.yaml").is_file():
        raise FileNotFoundError(f"'{source}' is not a classifier inference folder (no hyperparams.yaml)")
    shutil.copytree(source, folder / "classifier", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("examples", "interpreter.safetensors", "*.wav", "*.png"))
    text = encoder.text_encoder
    config = {
        "family": "lmac_text",
        "classifier_interface": classifier_interface,
        "adapter_layers": list(encoder.classifier.layers),
        "embedding_layer": embedding_layer or encoder.layer,
        "text_tower": text_tower,
        "text_dim": int(encoder.embed_dim) if isinstance(text, HashingTextEncoder) else None,
        "in_dim": int(encoder.in_dim),
        "labels": list(zs.labels),
        "scale": zs.scale,
        "layers": list(brick.layers),
        "options": {k: v for k, v in brick.options.items() if k != "layers"},
    }
    (folder / CONFIG).write_text(json.dumps(config, indent=1), encoding="utf-8")
    # config.json: what speechbrain_interp.load() reads to pick the interface
    card = {"family": brick.family, "speechbrain_interface": TextLMACInterface.__name__,
            "method": brick.method, "labels": list(zs.labels)}
    (folder / "config.json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    save_file({k: v.detach().contiguous() for k, v in brick.decoder.state_dict().items()},
              str(folder / "decoder.safetensors"))
    projection = {f"projection.{k}": v.detach().contiguous()
                  for k, v in encoder.projection.state_dict().items()}
    projection["logit_scale"] = encoder.logit_scale.detach().reshape(1)
    save_file(projection, str(folder / "projection.safetensors"))
    return folder


def text_tower_name(text) -> str:
    """The name :func:`~speechbrain_interp.embedders.text.text_encoder` rebuilds a text tower from.

    Example
    -------
    >>> text_tower_name(HashingTextEncoder(dim=16))
    'hashing'
    """
    if isinstance(text, HashingTextEncoder):
        return "hashing"
    name = getattr(text, "name", None)
    if name is None:
        raise TypeError(f"cannot export a text tower of type {type(text).__name__}: use the hashing tower "
                        "or a sentence-transformers model (text_encoder('minilm' or a folder))")
    return "minilm" if name == "all-MiniLM-L6-v2" else str(name)
