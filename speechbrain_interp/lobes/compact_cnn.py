"""A compact CNN for log-mel audio classification that trains on a laptop CPU.

It follows ``speechbrain.lobes.models.Cnn14``: the same input layout
``(batch, time, mel)``, per-mel-bin input BatchNorm, ``conv_blockN`` names that
interpreters hook, and a ``(batch, 1, emb_dim)`` embedding from mean + max
pooling over time. It differs where CPU cost dominates: the first blocks are
narrow with a single convolution each, so the full-resolution layers are cheap,
and the last block keeps its resolution instead of pooling to nothing.

Its ``forward(x, lengths=None)`` accepts the relative lengths that
``EncoderClassifier`` passes, so a trained model loads with SpeechBrain's own
``EncoderClassifier.from_hparams``.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvBlock", "CompactCNN", "PassThroughNormalization", "inference_hyperparams"]


class ConvBlock(nn.Module):
    """``n_convs`` x (3x3 conv, BatchNorm, ReLU), then average pooling.

    Arguments
    ---------
    in_channels, out_channels : int
        Channel counts.
    n_convs : int
        Number of convolutions.
    pool : tuple of int
        Average pooling over (time, frequency); ``(1, 1)`` keeps the resolution.

    Example
    -------
    >>> block = ConvBlock(1, 8, n_convs=2, pool=(2, 2))
    >>> block(torch.randn(3, 1, 40, 32)).shape
    torch.Size([3, 8, 20, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, n_convs: int = 2, pool=(2, 2)):
        super().__init__()
        layers = []
        for k in range(n_convs):
            layers += [
                nn.Conv2d(in_channels if k == 0 else out_channels, out_channels, 3, padding=1,
                          bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
        self.convs = nn.Sequential(*layers)
        self.pool = tuple(pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convs(x)
        if self.pool != (1, 1):
            # ceil_mode keeps the last frames of odd lengths instead of dropping them
            x = F.avg_pool2d(x, self.pool, ceil_mode=True)
        return x


class PassThroughNormalization(nn.Module):
    """``mean_var_norm`` stand-in that leaves features unchanged.

    ``EncoderClassifier`` always calls ``mean_var_norm(feats, lengths)``. CompactCNN and
    Cnn14 normalise their input themselves (BatchNorm over mel bins), and removing each
    clip's mean per band would discard the spectral envelope that identifies stationary
    sounds (rain, engines, wind), so the features pass through as they are.

    Example
    -------
    >>> x = torch.randn(2, 10, 4)
    >>> torch.equal(PassThroughNormalization()(x, torch.ones(2)), x)
    True
    """

    def forward(self, x: torch.Tensor, lengths=None, epoch=None) -> torch.Tensor:
        return x


class CompactCNN(nn.Module):
    """Compact VGG-style embedding model for log-mel features.

    Arguments
    ---------
    n_mels : int
        Mel bins of the input.
    channels : sequence of int
        Output channels of ``conv_block1`` ... ``conv_blockN``.
    convs_per_block : sequence of int
        Convolutions in each block.
    dropout : float
        Dropout between blocks while training.
    head_dropout : float
        Dropout on the pooled embedding while training (regularises the linear classifier).

    Example
    -------
    >>> model = CompactCNN(n_mels=64)
    >>> emb = model(torch.randn(2, 251, 64))
    >>> emb.shape
    torch.Size([2, 1, 256])
    >>> sum(p.numel() for p in model.parameters()) < 1_500_000
    True
    """

    def __init__(self, n_mels: int = 64, channels=(16, 32, 64, 128, 256),
                 convs_per_block=(1, 1, 2, 2, 2), dropout: float = 0.1,
                 head_dropout: float = 0.3):
        super().__init__()
        if len(channels) != len(convs_per_block):
            raise ValueError("channels and convs_per_block must have the same length")
        self.norm0 = nn.BatchNorm2d(n_mels)
        self.n_blocks = len(channels)
        in_ch = 1
        for i, (ch, n) in enumerate(zip(channels, convs_per_block), start=1):
            pool = (2, 2) if i < len(channels) else (1, 1)
            self.add_module(f"conv_block{i}", ConvBlock(in_ch, ch, n, pool))
            in_ch = ch
        self.emb_dim = in_ch
        # channels-last convolutions run faster on CPUs (oneDNN); weights keep it on load
        self.to(memory_format=torch.channels_last)
        self.dropout = dropout
        self.head_dropout = head_dropout

    def forward(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        """Embed ``(batch, time, mel)`` features into ``(batch, 1, emb_dim)``.

        ``lengths`` is accepted for ``EncoderClassifier`` compatibility; clips in a batch
        are expected to share a length.
        """
        x = x.unsqueeze(1)  # (B, 1, T, F)
        x = self.norm0(x.transpose(1, 3)).transpose(1, 3)
        x = x.contiguous(memory_format=torch.channels_last)
        for i in range(1, self.n_blocks + 1):
            x = getattr(self, f"conv_block{i}")(x)
            if i < self.n_blocks:
                x = F.dropout(x, self.dropout, self.training)
        x = x.mean(dim=3)  # over frequency
        x = x.amax(dim=2) + x.mean(dim=2)  # over time
        return F.dropout(x, self.head_dropout, self.training).unsqueeze(1)


def inference_hyperparams(n_classes: int, sample_rate: int = 16000, n_mels: int = 64,
                          n_fft: int = 1024, win_length: float = 40, hop_length: float = 20,
                          channels=(16, 32, 64, 128, 256), convs_per_block=(1, 1, 2, 2, 2)) -> str:
    """Inference ``hyperparams.yaml`` text for a CompactCNN classifier folder (``EncoderClassifier`` layout).

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> hp = load_hyperpyyaml(inference_hyperparams(n_classes=5))
    >>> type(hp["embedding_model"]).__name__, hp["classifier"].w.out_features
    ('CompactCNN', 5)
    """
    from speechbrain_interp.lobes.inference_yaml import encoder_classifier_yaml

    kwargs = {"n_mels": "!ref <n_mels>", "channels": list(channels), "convs_per_block": list(convs_per_block)}
    return encoder_classifier_yaml(
        "speechbrain_interp.lobes.compact_cnn.CompactCNN", kwargs, emb_dim=list(channels)[-1],
        n_classes=n_classes, sample_rate=sample_rate, n_fft=n_fft, win_length=win_length,
        hop_length=hop_length, n_mels=n_mels,
    )
