"""Front-end round trip and adapter forward against SpeechBrain's own lobes, measured in one run.

Prints the time of the compact ESC-50 classifier's forward pass (the baseline every other
benchmark divides by) and, as ratios: our STFT analysis, our round trip (STFT + ISTFT with the
original phase), SpeechBrain's ``STFT``/``ISTFT`` lobes doing the same round trip, and our
adapter's spectrogram -> logits pass against SpeechBrain's ``EncoderClassifier.classify_batch``.

    python benchmarks/bench_foundation.py            # batch 4 x 5 s, CPU
    python benchmarks/bench_foundation.py --classifier results/ESC50/classifier/compact/inference
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from speechbrain.inference.classifiers import EncoderClassifier
from speechbrain.processing.features import ISTFT, STFT

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import machine_note, print_table, time_call  # noqa: E402

from speechbrain_interp.adapters import SpeechBrainClassifier  # noqa: E402
from speechbrain_interp.testing import make_speechbrain_classifier  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--classifier", help="SpeechBrain classifier folder (default: random-weight "
                        "CompactCNN of the ESC-50 recipe's size)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp())
    source = args.classifier
    if source is None:
        from speechbrain_interp.lobes.compact_cnn import inference_hyperparams

        folder = make_speechbrain_classifier(tmp / "compact", "compact", labels=[f"c{i}" for i in range(50)],
                                             n_mels=64)
        # full-size CompactCNN, as trained by recipes/ESC50/classifier/hparams/compact.yaml
        (folder / "hyperparams.yaml").write_text(inference_hyperparams(n_classes=50))
        from hyperpyyaml import load_hyperpyyaml

        hp = load_hyperpyyaml((folder / "hyperparams.yaml").read_text())
        torch.save(hp["embedding_model"].state_dict(), folder / "embedding_model.ckpt")
        torch.save(hp["classifier"].state_dict(), folder / "classifier.ckpt")
        source = folder
    adapter = SpeechBrainClassifier.from_hparams(source=str(Path(source).resolve()), savedir=str(tmp / "a"),
                                                 interface="EncoderClassifier")
    sb_model = EncoderClassifier.from_hparams(source=str(Path(source).resolve()), savedir=str(tmp / "b"))
    fe = adapter.frontend
    wav = torch.randn(args.batch, int(args.seconds * fe.sample_rate)) * 0.1
    spec = fe(wav)

    sb_stft = sb_model.mods.compute_features.compute_STFT
    sb_istft = ISTFT(sample_rate=fe.sample_rate, n_fft=fe.n_fft,
                     win_length=1000 * fe.win_length / fe.sample_rate,
                     hop_length=1000 * fe.hop_length / fe.sample_rate)
    assert isinstance(sb_stft, STFT)

    with torch.no_grad():
        forward = time_call(lambda: adapter(spec.magnitude), args.repeat)
        rows = [
            ("classifier forward (adapter, spectrogram -> logits)", forward),
            ("SpeechBrain EncoderClassifier.classify_batch (wav -> logits)",
             time_call(lambda: sb_model.classify_batch(wav), args.repeat)),
            ("our STFT analysis (magnitude + phase)", time_call(lambda: fe(wav), args.repeat)),
            ("our round trip (STFT + ISTFT, original phase)",
             time_call(lambda: fe.istft(*(lambda s: (s.magnitude, s.phase, s.num_samples))(fe(wav))),
                       args.repeat)),
            ("SpeechBrain STFT + ISTFT lobes round trip",
             time_call(lambda: sb_istft(sb_stft(wav), sig_length=wav.shape[-1]), args.repeat)),
        ]
    print(machine_note())
    print(f"batch {args.batch} x {args.seconds:g} s at {fe.sample_rate} Hz, median of {args.repeat}")
    print_table(rows, "classifier forward", forward)
    ours, theirs = rows[3][1], rows[4][1]
    print(f"\nour round trip / SpeechBrain's lobes: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
