#!/usr/bin/env python3
"""L-MAC cost against one classifier forward, with Captum IG and SpeechBrain's CNN14PSI_stft.

Prints, in one run (batch 4 x 5 s by default, all ratios to the classifier forward measured
in the same run):

* the compact ESC-50 classifier (the trained one when ``--classifier_source`` or the recipe's
  default folder exists, otherwise random weights of the same size, which cost the same):
  forward, L-MAC mask (forward with hidden layers + decoder), the full ``explain()`` (which
  also resynthesises both WAVs and re-scores them), an L-MAC training step, and the Captum
  baselines (Integrated Gradients with 50 steps, saliency, SmoothGrad, Grad-CAM);
* a CNN14 as in SpeechBrain's L-MAC recipe (80 mel bands, STFT 1024 / 23.2 ms / 11.6 ms,
  random weights): forward, our decoder's mask and training step, and the same two with
  SpeechBrain's ``CNN14PSI_stft`` decoder plugged into the same L-MAC loss code (only the
  decoder differs), when speechbrain provides it.

Usage
-----
    flock /tmp/speechbrain_interp_heavy.lock python benchmarks/bench_lmac.py
    python benchmarks/bench_lmac.py --no-cnn14 --repeat 3      # compact classifier only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import lmac_training_step, machine_note, print_table, time_call  # noqa: E402

from speechbrain_interp.adapters import SpeechBrainClassifier, TorchClassifier  # noqa: E402
from speechbrain_interp.interpreters import baselines  # noqa: E402
from speechbrain_interp.interpreters.lmac import LMAC  # noqa: E402
from speechbrain_interp.spectral import SpectralFrontEnd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / "results" / "ESC50" / "classifier" / "compact" / "inference"
COMPACT_LAYERS = ["embedding_model.conv_block5", "embedding_model.conv_block3", "embedding_model.conv_block2"]
CNN14_LAYERS = ["embedding_model.conv_block6", "embedding_model.conv_block4", "embedding_model.conv_block3"]
PSI_LAYERS = ["embedding_model.conv_block6", "embedding_model.conv_block5", "embedding_model.conv_block4",
              "embedding_model.conv_block3"]


def compact_folder(n_classes: int = 50) -> Path:
    """A random-weight compact classifier folder at the recipe's size (same cost as the trained one)."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_interp.lobes.compact_cnn import inference_hyperparams

    folder = Path(tempfile.mkdtemp(prefix="bench_compact_"))
    text = inference_hyperparams(n_classes)
    hparams = load_hyperpyyaml(text)
    for name in ("embedding_model", "classifier"):
        torch.save(hparams[name].state_dict(), folder / f"{name}.ckpt")
    encoder = hparams["label_encoder"]
    encoder.update_from_iterable([f"class{i}" for i in range(n_classes)])
    encoder.save(folder / "label_encoder.ckpt")
    (folder / "hyperparams.yaml").write_text(text, encoding="utf-8")
    return folder


def lmac_rows(lmac: LMAC, wav: torch.Tensor, repeat: int, warmup: int = 1, prefix: str = "L-MAC"):
    """Timings of the L-MAC mask, the full explain() and one training step."""
    spec = lmac.frontend(wav)
    step = lmac_training_step(lmac, wav)

    return [
        (f"{prefix} mask (forward with hidden layers + decoder)",
         time_call(lambda: lmac.predict_mask(spec.magnitude), repeat, warmup)),
        (f"{prefix} training step (loss, backward, Adam)", time_call(step, repeat, warmup)),
    ]


def bench_compact(args, wav):
    source = Path(args.classifier_source) if args.classifier_source else DEFAULT_SOURCE
    trained = (source / "hyperparams.yaml").exists()
    folder = source if trained else compact_folder()
    adapter = SpeechBrainClassifier.from_hparams(
        str(folder.resolve()), savedir=tempfile.mkdtemp(prefix="bench_link_"),
        interface="EncoderClassifier", layers=COMPACT_LAYERS,
    )
    print(f"\n## Compact ESC-50 classifier ({'trained: ' + str(source) if trained else 'random weights'})")
    torch.manual_seed(0)
    lmac = LMAC(adapter)
    if args.decoder and Path(args.decoder).exists():
        lmac.load_weights(args.decoder)
    params = sum(p.numel() for p in lmac.decoder.parameters())
    clf_params = sum(p.numel() for p in adapter.parameters())
    print(f"classifier parameters: {clf_params / 1e6:.2f}M, L-MAC decoder parameters: {params / 1e6:.3f}M")
    spec = adapter.frontend(wav)
    with torch.no_grad():
        target = adapter(spec.magnitude).argmax(-1)

    with torch.no_grad():
        forward = time_call(lambda: adapter(spec.magnitude), args.repeat, 1)
    rows = [("classifier forward", forward)]
    rows += lmac_rows(lmac, wav, args.repeat)
    rows.append(("L-MAC full explain() (STFT, mask, 2 ISTFTs, 2 re-scoring forwards)",
                 time_call(lambda: lmac.explain(wav), args.repeat, 1)))
    empty, half = {}, max(1, args.repeat // 2)
    for name, interp, reps in (
        ("Captum Integrated Gradients, 50 steps", baselines.IntegratedGradients(adapter, n_steps=50), half),
        ("Captum saliency", baselines.Saliency(adapter), args.repeat),
        ("Captum SmoothGrad, 20 samples", baselines.SmoothGrad(adapter, nt_samples=20), half),
        ("Captum Grad-CAM (conv_block5)", baselines.GradCAM(adapter, COMPACT_LAYERS[0]), args.repeat),
    ):
        rows.append((name, time_call(lambda i=interp: i.compute_mask(spec, target, None, empty), reps, 1)))
    print_table(rows, "classifier forward", forward)


class Cnn14Classifier(nn.Module):
    """Cnn14 embedding + linear head, as SpeechBrain's ESC-50 CNN14 (random weights)."""

    def __init__(self, n_mels: int = 80, emb_dim: int = 2048, n_classes: int = 50):
        super().__init__()
        from speechbrain.lobes.models.Cnn14 import Cnn14

        self.embedding_model = Cnn14(mel_bins=n_mels, emb_dim=emb_dim)
        self.classifier = nn.Linear(emb_dim, n_classes)

    def forward(self, x):
        return self.classifier(self.embedding_model(x).squeeze(1))


class PSIDecoder(nn.Module):
    """SpeechBrain's ``CNN14PSI_stft`` behind the MaskDecoder call signature.

    It returns mask logits for the frames it produces; where it produces fewer frames than
    the input (e.g. 425 of 431), the last one is repeated, where its layer shapes do not line
    up it raises, as it does in SpeechBrain's recipe.
    """

    def __init__(self, layers, dim: int = 2048):
        super().__init__()
        from speechbrain.lobes.models.Cnn14 import CNN14PSI_stft

        self.layers = list(layers)
        self.psi = CNN14PSI_stft(dim=dim, outdim=1)

    def forward(self, hidden, spectrogram):
        out = self.psi([hidden[n] for n in self.layers])[:, 0]
        frames = spectrogram.shape[1]
        if out.shape[1] < frames:
            out = torch.cat([out, out[:, -1:].expand(-1, frames - out.shape[1], -1)], dim=1)
        return out[:, :frames, : spectrogram.shape[2]]


def bench_cnn14(args, wav):
    try:
        from speechbrain.lobes.models.Cnn14 import CNN14PSI_stft  # noqa: F401
    except ImportError:
        print("\nspeechbrain.lobes.models.Cnn14.CNN14PSI_stft is not importable: CNN14 part skipped")
        return
    from speechbrain.processing.features import STFT

    print("\n## CNN14 (SpeechBrain's L-MAC recipe front-end, random weights)")
    stft = STFT(16000, n_fft=1024, hop_length=11.6099, win_length=23.2199)
    frontend = SpectralFrontEnd.from_speechbrain_stft(stft, n_mels=80)
    torch.manual_seed(0)
    model = Cnn14Classifier()
    adapter = TorchClassifier(model, frontend, input=lambda fe, mag, ph: torch.log1p(fe.mel(mag, power=1.0)),
                              layers=PSI_LAYERS)
    spec = frontend(wav)
    print(f"input: {spec.magnitude.shape[1]} frames x {spec.magnitude.shape[2]} bins")
    repeat = args.cnn14_repeat
    with torch.no_grad():
        forward = time_call(lambda: adapter(spec.magnitude), repeat, 1)
    rows = [("classifier forward", forward)]
    ours = LMAC(adapter, layers=CNN14_LAYERS, channels=64)
    print(f"our decoder parameters: {sum(p.numel() for p in ours.decoder.parameters()) / 1e6:.3f}M")
    rows += lmac_rows(ours, wav, repeat, prefix="L-MAC, our decoder")
    psi = LMAC(adapter, layers=PSI_LAYERS, decoder=PSIDecoder(PSI_LAYERS))
    print(f"CNN14PSI_stft parameters: {sum(p.numel() for p in psi.decoder.parameters()) / 1e6:.1f}M")
    rows += lmac_rows(psi, wav, repeat, prefix="L-MAC, SpeechBrain CNN14PSI_stft")
    if args.cnn14_ig:
        ig = baselines.IntegratedGradients(adapter, n_steps=50, internal_batch_size=8)
        with torch.no_grad():
            target = adapter(spec.magnitude).argmax(-1)
        rows.append(("Captum Integrated Gradients, 50 steps",
                     time_call(lambda: ig.compute_mask(spec, target, None, {}), 1, 0)))
    print_table(rows, "classifier forward", forward)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per measurement (median)")
    parser.add_argument("--cnn14-repeat", type=int, default=2)
    parser.add_argument("--classifier_source", default=None, help="compact classifier inference folder")
    parser.add_argument("--decoder", default=None,
                        help="trained L-MAC decoder.ckpt (weights do not change the cost)")
    parser.add_argument("--no-cnn14", action="store_true", help="skip the CNN14 part")
    parser.add_argument("--cnn14-ig", action="store_true", help="also time IG on the CNN14 (slow)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(machine_note())
    print(f"load average before the run: {os.getloadavg()[0]:.2f}; batch {args.batch} x {args.seconds} s")
    wav = 0.1 * torch.randn(args.batch, int(args.seconds * 16000), generator=torch.Generator().manual_seed(0))
    bench_compact(args, wav)
    if not args.no_cnn14:
        bench_cnn14(args, wav)
    print(f"\nload average after the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
