#!/usr/bin/env python3
"""NMF speed and parity: speechbrain_interp's batched torch multiplicative updates vs scikit-learn.

Both factorise the same spectrograms (log1p STFT magnitudes of ESC-50 clips with the compact
classifier's front-end: n_fft 1024, 40 ms windows, 20 ms hop; synthesised clips when the
data set is absent) with the same algorithm (multiplicative updates, NNDSVDa start, a
fixed number of iterations, no early stop). Printed in one run: the seconds of each fit,
their ratio to scikit-learn on the same data, and each fit's reconstruction error, so that
the speed-up is read next to the parity (the errors agree within 5 %).

Usage
-----
    flock /tmp/speechbrain_interp_heavy.lock python benchmarks/bench_nmf.py
    python benchmarks/bench_nmf.py --clips 8 --iterations 20 --repeat 1   # quick look

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import machine_note, time_call  # noqa: E402

from speechbrain_interp.audio import load_audio  # noqa: E402
from speechbrain_interp.solvers.nmf import multiplicative_update, reconstruction_error  # noqa: E402
from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary  # noqa: E402
from speechbrain_interp.spectral import SpectralFrontEnd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def spectrograms(n_clips: int, data_folder: Path):
    """``(clips, frames, 513)`` log1p magnitudes and a description of where they came from."""
    frontend = SpectralFrontEnd(sample_rate=16000, n_fft=1024, win_length=640, hop_length=320)
    csv = data_folder / "meta" / "esc50.csv"
    if csv.exists():
        rows = [line.split(",") for line in csv.read_text().splitlines()[1:]]
        names = [r[0] for r in rows if r[1] == "1"][:n_clips]  # fold 1
        wavs = []
        for name in names:
            stem = Path(name).stem
            path = next(p for p in (data_folder / "audio").glob(f"{stem}.*"))
            wavs.append(load_audio(path, sample_rate=16000))
        source = f"{len(wavs)} ESC-50 clips (fold 1) from {data_folder}"
    else:
        from speechbrain_interp import synth

        wavs = [synth.demo_clip(seconds=5.0, seed=i) for i in range(n_clips)]
        source = f"{n_clips} synthesised 5 s clips (ESC-50 not found at {data_folder})"
    length = min(w.shape[0] for w in wavs)
    batch = torch.stack([w[:length] for w in wavs])
    return frontend.to_mask_domain(frontend(batch).magnitude), source


SK32 = "scikit-learn NMF(solver='mu'), float32"
SK64 = "scikit-learn NMF(solver='mu'), float64"
OURS = "speechbrain_interp multiplicative_update, float32, batched"


def bench_beta(beta, x, flat32, args) -> dict:
    """Time and score the fits for one beta; prints its table rows and returns the numbers."""
    from sklearn.decomposition import NMF

    errors, models = {}, {}

    def sklearn_fit(data, key):
        model = NMF(args.components, solver="mu", beta_loss=beta, init="nndsvda",
                    max_iter=args.iterations, tol=0)
        model.fit(data)
        errors[key], models[key] = model.reconstruction_err_, model

    def torch_fit(data, key):
        errors[key] = multiplicative_update(data, args.components, beta=beta, n_iter=args.iterations,
                                            tol=0, init="nndsvda")[2]["error"]

    seconds = {
        SK32: time_call(lambda: sklearn_fit(flat32, SK32), repeat=args.repeat, warmup=0),
        SK64: time_call(lambda: sklearn_fit(flat32.astype("float64"), SK64), repeat=args.repeat, warmup=0),
        OURS: time_call(lambda: torch_fit(x, OURS), repeat=args.repeat, warmup=1),
    }
    if torch.cuda.is_available():
        name = f"speechbrain_interp multiplicative_update, float32, {torch.cuda.get_device_name(0)}"
        xg = x.cuda()
        seconds[name] = time_call(lambda: torch_fit(xg, name), repeat=args.repeat, warmup=1)
    base = seconds[SK32]
    out = {}
    for name, sec in seconds.items():
        print(f"| {beta} | {name} | {sec:.3f} | {sec / base:.2f}x | {errors[name]:.2f} |")
        out[name] = {"seconds": sec, "ratio": sec / base, "error": errors[name]}
    out["speedup"] = base / seconds[OURS]
    out["error_ratio"] = errors[OURS] / errors[SK32]
    print(f"| {beta} | **fit speed-up: scikit-learn seconds / batched torch seconds** | | "
          f"**{out['speedup']:.2f}** | error ratio {out['error_ratio']:.4f} |")

    # activations of the same frames for the fixed dictionary (what L2I and inference need)
    model = models[SK32]
    nmf = NMFDictionary(args.components, flat32.shape[1], beta=beta, domain="log1p_magnitude",
                        W=torch.from_numpy(model.components_).T.float())
    t_sk = time_call(lambda: model.transform(flat32), repeat=args.repeat, warmup=0)
    t_ours = time_call(lambda: nmf.transform(x, n_iter=args.iterations, tol=0), repeat=args.repeat, warmup=1)
    approx = torch.from_numpy(model.transform(flat32) @ model.components_).double()
    err_sk = reconstruction_error(torch.from_numpy(flat32).double(), approx, beta)
    err_ours = nmf.error(x, H=nmf.transform(x, n_iter=args.iterations, tol=0))
    print(f"| {beta} | transform, scikit-learn float32 | {t_sk:.3f} | 1.00x | {err_sk:.2f} |")
    print(f"| {beta} | transform, speechbrain_interp NMFDictionary.transform | {t_ours:.3f} | "
          f"{t_ours / t_sk:.2f}x | {err_ours:.2f} |")
    print(f"| {beta} | **transform speed-up: scikit-learn seconds / batched torch seconds** | | "
          f"**{t_sk / t_ours:.2f}** | error ratio {err_ours / err_sk:.4f} |")
    out["transform"] = {"sklearn_seconds": t_sk, "seconds": t_ours, "speedup": t_sk / t_ours,
                        "error_ratio": err_ours / err_sk}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--components", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--betas", nargs="+", default=["frobenius", "kullback-leibler"])
    parser.add_argument("--data_folder", type=Path, default=REPO.parent / "shared" / "data" / "esc50")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for torch and for scikit-learn's BLAS alike (default 1: steady "
                             "timings on shared cores)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)

    x, source = spectrograms(args.clips, args.data_folder)
    flat32 = x.reshape(-1, x.shape[-1]).numpy()
    print(f"# NMF: {source}; X is {flat32.shape[0]} frames x {flat32.shape[1]} bins, "
          f"K={args.components}, {args.iterations} multiplicative updates, NNDSVDa start, tol=0")
    print(f"# {machine_note()}, BLAS threads for scikit-learn: {args.threads}")
    record = {"source": source, "frames": flat32.shape[0], "bins": flat32.shape[1],
              "components": args.components, "iterations": args.iterations,
              "machine": f"{machine_note()}, BLAS threads: {args.threads}",
              "results": {}}
    print("| beta | fit | seconds | ratio to scikit-learn float32 | reconstruction error |")
    print("|---|---|---:|---:|---:|")
    for beta in args.betas:
        record["results"][beta] = bench_beta(beta, x, flat32, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
