"""SpeechBrain's Cnn14, made loadable by ``EncoderClassifier``.

``EncoderClassifier`` calls ``embedding_model(feats, wav_lens)``, which
``speechbrain.lobes.models.Cnn14.Cnn14`` does not accept. :class:`Cnn14Encoder` is the
same network with the same parameter names (its checkpoints load into a plain Cnn14
and back) whose ``forward`` also takes the lengths.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from speechbrain.lobes.models.Cnn14 import Cnn14

__all__ = ["Cnn14Encoder", "inference_hyperparams"]


class Cnn14Encoder(Cnn14):
    """Cnn14 whose ``forward(x, lengths=None)`` fits SpeechBrain's ``EncoderClassifier``.

    Arguments
    ---------
    mel_bins : int
        Mel bins of the input.
    emb_dim : int
        Embedding size (channels of ``conv_block6``).
    **kwargs
        Passed to ``Cnn14`` (``norm_type``, ``return_reps``, ``l2i``).

    Example
    -------
    >>> import torch
    >>> model = Cnn14Encoder(mel_bins=32, emb_dim=64)
    >>> model(torch.randn(2, 64, 32), torch.ones(2)).shape
    torch.Size([2, 1, 64])
    """

    def forward(self, x, lengths=None):
        """Embed ``(batch, time, mel)`` features; ``lengths`` is accepted, unused (clips share a length)."""
        return super().forward(x)


def inference_hyperparams(n_classes: int, sample_rate: int = 16000, n_mels: int = 80,
                          n_fft: int = 1024, win_length: float = 20, hop_length: float = 10,
                          emb_dim: int = 2048) -> str:
    """Inference ``hyperparams.yaml`` text for a Cnn14Encoder classifier (``EncoderClassifier`` layout).

    Example
    -------
    >>> "Cnn14Encoder" in inference_hyperparams(n_classes=50)
    True
    """
    from speechbrain_interp.lobes.inference_yaml import encoder_classifier_yaml

    return encoder_classifier_yaml(
        "speechbrain_interp.lobes.cnn14.Cnn14Encoder", {"mel_bins": "!ref <n_mels>", "emb_dim": emb_dim},
        emb_dim=emb_dim, n_classes=n_classes, sample_rate=sample_rate, n_fft=n_fft, win_length=win_length,
        hop_length=hop_length, n_mels=n_mels,
    )
