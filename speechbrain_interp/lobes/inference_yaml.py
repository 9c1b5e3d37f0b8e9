"""Inference ``hyperparams.yaml`` for classifiers trained by the ESC-50 recipe.

The layout is SpeechBrain's ``EncoderClassifier`` (``compute_features`` = ``Fbank``,
``mean_var_norm`` = pass-through since the networks normalise their own input,
``embedding_model``, ``classifier`` = linear, ``label_encoder``, ``pretrainer``), so the
exported folder loads with SpeechBrain's own ``EncoderClassifier.from_hparams`` as well as
with ``SpeechBrainClassifier.from_hparams``.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

__all__ = ["encoder_classifier_yaml"]

_TEMPLATE = """# Inference hyperparameters written by speechbrain_interp's ESC-50 classifier recipe.
# Load with speechbrain.inference.classifiers.EncoderClassifier.from_hparams(source=<this folder>)
sample_rate: {sample_rate}
n_mels: {n_mels}
n_classes: {n_classes}
compute_features: !new:speechbrain.lobes.features.Fbank
    sample_rate: !ref <sample_rate>
    n_fft: {n_fft}
    win_length: {win_length}
    hop_length: {hop_length}
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain_interp.lobes.compact_cnn.PassThroughNormalization
embedding_model: !new:{embedding_class}
{embedding_args}
classifier: !new:speechbrain.nnet.linear.Linear
    input_size: {emb_dim}
    n_neurons: !ref <n_classes>
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
"""


def encoder_classifier_yaml(embedding_class: str, embedding_kwargs: dict, emb_dim: int, n_classes: int,
                            sample_rate: int = 16000, n_fft: int = 1024, win_length: float = 40,
                            hop_length: float = 20, n_mels: int = 64) -> str:
    """YAML text of an ``EncoderClassifier`` folder around ``embedding_class``.

    Arguments
    ---------
    embedding_class : str
        Dotted path of the embedding model, e.g. ``speechbrain_interp.lobes.cnn14.Cnn14Encoder``.
    embedding_kwargs : dict
        Its constructor arguments (plain YAML values).
    emb_dim : int
        Size of the embedding the linear classifier reads.
    n_classes : int
        Number of classes.
    sample_rate, n_fft, win_length, hop_length, n_mels
        Fbank settings (``win_length`` and ``hop_length`` in ms, as SpeechBrain takes them).

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> text = encoder_classifier_yaml("torch.nn.Identity", {}, emb_dim=64, n_classes=3)
    >>> load_hyperpyyaml(text)["classifier"].w.out_features
    3
    """
    args = "\n".join(
        f"    {k}: {list(v) if isinstance(v, tuple) else v}" for k, v in embedding_kwargs.items()
    )
    return _TEMPLATE.format(
        sample_rate=sample_rate, n_mels=n_mels, n_classes=n_classes, n_fft=n_fft, win_length=win_length,
        hop_length=hop_length, embedding_class=embedding_class, embedding_args=args, emb_dim=emb_dim,
    )
