"""Timing helpers shared by the benchmark scripts: medians of repeated calls, ratios to a baseline.

Benchmarks print ratios against a baseline measured in the same run (classifier forward,
Captum IG, sklearn, SpeechBrain's own lobes), so numbers from different machines compare.
"""

from __future__ import annotations

import statistics
import time

import torch


def time_call(fn, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def print_table(rows, baseline_name: str, baseline_seconds: float) -> None:
    """Print ``name | seconds | ratio to baseline`` rows as a Markdown table."""
    print(f"| measurement | seconds | ratio to {baseline_name} |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} | {seconds / baseline_seconds:.2f}x |")


def machine_note() -> str:
    """One line naming the device and thread count, printed with every benchmark."""
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return f"device: {dev}, torch threads: {torch.get_num_threads()}, torch {torch.__version__}"


def lmac_training_step(lmac, wav: torch.Tensor):
    """One L-MAC training step on ``wav`` (loss, backward through the frozen classifier, Adam), as a
    callable to time; the optimiser is built once, outside the timed call."""
    opt = torch.optim.Adam([p for p in lmac.decoder.parameters() if p.requires_grad], lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss, _ = lmac.loss(wav)
        loss.backward()
        opt.step()

    return step
