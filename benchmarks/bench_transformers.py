#!/usr/bin/env python3
"""A Hugging Face AST behind ``TransformersClassifier``: adapter and L-MAC costs against the model's forward.

Prints, in one run (random weights, batch 2 by default, clips as long as the model's fixed
input), ratios to the AST's own forward on the features its feature extractor computed
(``model(input_values)``, the baseline):

* the adapter's forward: resynthesis with the original phase, the Kaldi fbank in torch, the model;
* the L-MAC mask: that forward with the hidden layers captured, plus the decoder;
* an L-MAC training step (loss, backward through the frozen classifier, Adam);
* the saliency gradient baseline.

The measurements are interleaved (one call of each per round, medians over the rounds), so a
machine shared with other work slows them alike and the ratios hold.

Two sizes: ``tiny`` (the test suite's model: 2 blocks of width 32, 32 mel bands, 1 s) and
``small`` (4 blocks of width 192, AST's 128 mel bands and 10.24 s input, the patch layout of
the released models: 1212 patches).

Usage
-----
    python benchmarks/bench_transformers.py
    python benchmarks/bench_transformers.py --size small --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import lmac_training_step, machine_note, print_table  # noqa: E402

from speechbrain_interp.interpreters.baselines import Saliency  # noqa: E402
from speechbrain_interp.interpreters.lmac import LMAC  # noqa: E402
from speechbrain_interp.transformers_classifier import TransformersClassifier  # noqa: E402

SMALL = dict(hidden_size=192, num_hidden_layers=4, num_attention_heads=3, intermediate_size=768,
             max_length=1024, num_mel_bins=128)


def build(size: str):
    """The AST and its feature extractor, random weights."""
    if size == "tiny":
        from speechbrain_interp.testing import tiny_transformers_classifier

        return tiny_transformers_classifier("ast")
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    torch.manual_seed(0)
    model = ASTForAudioClassification(ASTConfig(num_labels=50, **SMALL)).eval()
    return model, ASTFeatureExtractor(num_mel_bins=SMALL["num_mel_bins"], max_length=SMALL["max_length"])


def interleaved(calls: dict, rounds: int, warmup: int = 1) -> list:
    """``[(name, median seconds)]``, timing one call of each per round."""
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return [(name, statistics.median(t)) for name, t in times.items()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "small"), default="tiny")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7, help="rounds of timed calls (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_note())

    model, extractor = build(args.size)
    adapter = TransformersClassifier(model, extractor)
    seconds = extractor.max_length / 100  # the model's fixed input: 10 ms Kaldi frames
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(args.batch, int(seconds * extractor.sampling_rate))
    inputs = extractor(list(wav.numpy()), sampling_rate=extractor.sampling_rate, return_tensors="pt")
    spec = adapter.frontend(wav)
    print(f"\n## AST ({args.size}, random weights): batch {args.batch} x {seconds:g} s, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, layers {adapter.layers}")

    torch.manual_seed(0)
    lmac = LMAC(adapter, channels=32, probe_seconds=min(1.0, seconds / 2))
    print(f"L-MAC decoder parameters: {sum(p.numel() for p in lmac.decoder.parameters()) / 1e6:.3f}M")
    step = lmac_training_step(lmac, wav)

    saliency = Saliency(adapter)
    with torch.no_grad():
        target = adapter(spec.magnitude, phase=spec.phase).argmax(-1)

    def no_grad(fn):
        def call():
            with torch.no_grad():
                fn()
        return call

    rows = interleaved({
        "AST forward on its feature extractor's input (baseline)": no_grad(lambda: model(**inputs)),
        "adapter forward (resynthesis, Kaldi fbank in torch, AST)":
            no_grad(lambda: adapter(spec.magnitude, phase=spec.phase)),
        "L-MAC mask (adapter forward with hidden layers + decoder)":
            no_grad(lambda: lmac.predict_mask(spec.magnitude, phase=spec.phase)),
        "L-MAC training step (loss, backward, Adam)": step,
        "saliency gradient baseline": lambda: saliency.compute_mask(spec, target, None, {}),
    }, args.repeat)
    print_table(rows, "AST forward", rows[0][1])


if __name__ == "__main__":
    main()
