#!/usr/bin/env python3
"""End-to-end cost of explaining a folder against the brick's own ``explain()``, in one run.

On the same clips (``--clips`` synthesized 5 s scenes written as WAV files), with the bundled
L-MAC interpreter, it prints seconds per clip and the ratio to the brick's time for:

* the brick: ``interpret_batch`` on clips already in memory (the explanation itself:
  classifier, decoder, resynthesis, the classifier on the interpretation and residual);
* the command line's path (``speechbrain_interp.report.explain_to_report``): read the files,
  explain, score, write the WAVs, the images, ``summary.json`` and ``report.html``;
* the same without images (``--no-images``);
* the same with the detailed matplotlib figure per clip (``--figures detailed``).

Usage
-----
    python benchmarks/bench_cli.py               # 20 clips
    python benchmarks/bench_cli.py --clips 8 --repeat 1
    python benchmarks/bench_cli.py --clips 20 --repeat 9   # the documented run
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import machine_note  # noqa: E402

from speechbrain_interp import pretrained_default  # noqa: E402
from speechbrain_interp.audio import load_audio, save_audio  # noqa: E402
from speechbrain_interp.interfaces import load  # noqa: E402
from speechbrain_interp.report import explain_to_report  # noqa: E402
from speechbrain_interp.synth import demo_scene  # noqa: E402


def timed_rounds(fns: dict, repeat: int) -> dict:
    """Wall-clock seconds of each ``fn()`` in each of ``repeat`` rounds, after one warm-up call.

    The measurements take turns within each round, so a change of load on the machine hits
    them alike instead of one of them; a ratio is then taken within each round.
    """
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(torch.get_num_threads())
    root = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    try:
        paths = []
        for i in range(args.clips):
            wav, _ = demo_scene(seed=i)
            paths.append(root / "clips" / f"scene{i:03d}.wav")
            save_audio(paths[-1], wav, 16000)
        interface = load(pretrained_default(), savedir=root / "savedir")
        wavs = torch.stack([load_audio(p, sample_rate=16000) for p in paths])

        def brick():
            for start in range(0, len(wavs), args.batch_size):
                interface.interpret_batch(wavs[start:start + args.batch_size])

        def cli(**options):
            def run():
                out = root / "out"
                shutil.rmtree(out, ignore_errors=True)
                explain_to_report(interface, paths, out, batch_size=args.batch_size, progress=False,
                                  **options)
            return run

        times = timed_rounds({
            "brick: interpret_batch (in memory)": brick,
            "CLI path: WAVs, images, metrics, report": cli(),
            "CLI path without images": cli(figures="none"),
            "CLI path with detailed figures": cli(figures="detailed"),
        }, args.repeat)
        base = times["brick: interpret_batch (in memory)"]
        print(machine_note())
        print(f"{args.clips} clips of 5 s, batch {args.batch_size}, {args.repeat} rounds")
        print("| measurement | seconds per clip (best) | ratio to the brick (median of the rounds' ratios) |"
              " rounds' ratios, lowest-highest |")
        print("|---|---:|---:|---:|")
        for name, seconds in times.items():
            ratios = sorted(s / b for s, b in zip(seconds, base))
            print(f"| {name} | {min(seconds) / args.clips:.4f} | {statistics.median(ratios):.2f}x | "
                  f"{ratios[0]:.2f}-{ratios[-1]:.2f}x |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
