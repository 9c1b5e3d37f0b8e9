"""Shared fixtures: synthesized audio, tiny classifiers, optional ESC-50 data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from speechbrain_interp.adapters import TorchClassifier
from speechbrain_interp.spectral import SpectralFrontEnd
from speechbrain_interp.synth import demo_clip

REPO = Path(__file__).resolve().parents[1]
ESC50_ROOT = Path(os.environ.get("ESC50_ROOT", REPO.parent / "shared" / "data" / "esc50"))
sys.path.insert(0, str(REPO / "recipes" / "ESC50"))  # esc50_prepare


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def esc50_root():
    """Path of the ESC-50 copy in ../shared/data; skips the test when it is absent."""
    if not (ESC50_ROOT / "meta" / "esc50.csv").exists():
        pytest.skip(f"ESC-50 not found at {ESC50_ROOT}")
    return ESC50_ROOT


@pytest.fixture
def wav_batch():
    """Two one-second synthesized clips at 16 kHz."""
    clip = demo_clip(seconds=1.0)
    return torch.stack([clip, clip.flip(0) * 0.5])


class TinyCNN(nn.Module):
    """Log-mel CNN small enough for unit tests; named layers to hook."""

    def __init__(self, n_mels=32, n_classes=4):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(16, n_classes)

    def forward(self, x):
        h = self.conv2(self.conv1(x.unsqueeze(1)))
        return self.fc(h.mean((2, 3)))


@pytest.fixture
def tiny_frontend():
    return SpectralFrontEnd(sample_rate=16000, n_fft=512, hop_length=160, n_mels=32)


@pytest.fixture
def tiny_adapter(tiny_frontend):
    """A TorchClassifier around TinyCNN on log-mel, hooking conv1 and conv2."""
    torch.manual_seed(0)
    return TorchClassifier(TinyCNN(), tiny_frontend, input="log_mel", layers=["conv1", "conv2"],
                           labels=["dog", "siren", "rain", "engine"])
