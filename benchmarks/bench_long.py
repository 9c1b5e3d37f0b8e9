#!/usr/bin/env python3
"""Long recordings: time and peak memory of ``explain_long`` for 1, 10 and 60 minutes of audio.

Each length runs in a fresh process (peak RSS is the process's own), with the bundled L-MAC
interpreter on a synthesized recording (noise with chirp bursts), 5 s windows, 50 % overlap.
Time should grow linearly with length and memory should not grow at all; the ratio column is
the time per minute of audio relative to the 1-minute run.

Usage
-----
    python benchmarks/bench_long.py                 # 1, 10, 60 minutes
    python benchmarks/bench_long.py --minutes 1 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import soundfile as sf
import torch
from speechbrain_interp import pretrained_default
from speechbrain_interp.interfaces import load
from speechbrain_interp.long_audio import explain_long
from speechbrain_interp.synth import demo_scene

minutes, root = float(sys.argv[1]), Path(sys.argv[2])
path = root / f"long_{minutes:g}min.wav"
scene, _ = demo_scene(seed=0)
with sf.SoundFile(str(path), "w", samplerate=16000, channels=1, subtype="PCM_16") as fh:
    for k in range(int(minutes * 12)):  # 5 s scenes, written one by one
        fh.write((0.8 * scene).numpy())
interface = load(pretrained_default(), savedir=root / "savedir")
start = time.perf_counter()
result = explain_long(interface, path, root / "out", window_s=5.0, overlap=0.5, batch_size=8)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"minutes": minutes, "seconds": seconds, "peak_mib": peak,
                  "windows": len(result["windows"])}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_long_") as root:
        for minutes in args.minutes:
            proc = subprocess.run([sys.executable, "-c", CHILD, str(minutes), root], capture_output=True,
                                  text=True, check=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            for f in Path(root).glob("long_*.wav"):
                f.unlink()
    base = rows[0]["seconds"] / rows[0]["minutes"]
    print("| audio | windows | seconds | peak RSS (MiB) | time per minute, relative to the first |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['minutes']:g} min | {r['windows']} | {r['seconds']:.1f} | {r['peak_mib']:.0f} | "
              f"{r['seconds'] / r['minutes'] / base:.2f}x |")


if __name__ == "__main__":
    main()
