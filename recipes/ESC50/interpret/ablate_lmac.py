#!/usr/bin/env python3
"""Why do L-MAC masks collapse to one fixed filter? Short, equal-budget training runs that tell.

Each variant trains a fresh L-MAC decoder for the same classifier, on the same ESC-50
training folds, for the same number of steps and batches, changing one thing at a time
(the masked-out loss, the mask domain, the loss weights, the training mixtures). After
training, every decoder is scored on the same held-out localization mixtures (fold 4
foregrounds inserted into fold 4 backgrounds of other classes, +5 dB; see
:mod:`speechbrain_interp.localization`) and with the paper metrics on those mixtures.
The table goes to ``<out>/ablation.md`` and ``ablation.json``.

``--free_masks`` asks a different question: what is the best a mask can do for this
classifier and this loss, with no decoder at all? It optimises one free mask per
mixture (Adam on the mask's logits, the same classifier terms and area weight), at full
resolution, at a coarse resolution (8 frames x 16 bins per cell, bilinearly upsampled) and
coarse with the decoder's spectrogram-guided gain, on the first kept +10 dB mixtures, and
writes ``<out>/free_masks.md``.

Usage
-----
    python recipes/ESC50/interpret/ablate_lmac.py --data_folder ../shared/data/esc50 \
        --steps 200 --out results/ESC50/interpret/ablation
    python recipes/ESC50/interpret/ablate_lmac.py --free_masks --out results/ESC50/interpret/ablation

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from esc50_prepare import find_audio  # noqa: E402
from recipe_tools import markdown_table  # noqa: E402

from speechbrain_interp import localization as L  # noqa: E402
from speechbrain_interp import metrics as M  # noqa: E402
from speechbrain_interp.audio import load_audio  # noqa: E402
from speechbrain_interp.interfaces import load  # noqa: E402
from speechbrain_interp.interpreters.lmac import LMAC, training_mixtures  # noqa: E402
from speechbrain_interp.sources import bundled_interpreter  # noqa: E402

#: name -> (LMAC options, training-mixture options, mask domain)
BOUNDED = {"out_loss": "not_target", "lambda_out": 2.0}
CONCRETE = {**BOUNDED, "temperature": 0.2}
INSERT = {"p_clip": 0.2, "p_noise": 0.1, "p_insert": 0.5}
COARSE = {**BOUNDED, "profile_bias": False, "freq_cells": 32, "lambda_l1": 1.5, "area_loss": "softplus"}
VARIANTS = {
    "paper loss (bundled settings)": ({}, {}, "log1p_magnitude"),
    "bounded out-loss": (BOUNDED, {}, "log1p_magnitude"),
    "bounded + concrete masks": (CONCRETE, {}, "log1p_magnitude"),
    "bounded + concrete + inserted events": (CONCRETE, INSERT, "log1p_magnitude"),
    "bounded + concrete + inserted, magnitude domain": (CONCRETE, INSERT, "magnitude"),
    "coarse decoder, no profile bias, stronger area term": (COARSE, {}, "log1p_magnitude"),
    "coarse decoder + inserted events": (COARSE, INSERT, "log1p_magnitude"),
}


def load_folds(data_folder, folds, sample_rate, per_class=None):
    """``(wavs, labels, ids)`` of the ESC-50 clips in ``folds`` (``per_class`` clips per class)."""
    root = Path(data_folder)
    rows = list(csv.DictReader(open(root / "meta" / "esc50.csv", encoding="utf-8")))
    rows = [r for r in rows if int(r["fold"]) in folds]
    rows.sort(key=lambda r: r["filename"])
    if per_class:
        seen, kept = {}, []
        for r in rows:
            if seen.get(r["target"], 0) < per_class:
                seen[r["target"]] = seen.get(r["target"], 0) + 1
                kept.append(r)
        rows = kept
    wavs = torch.stack([load_audio(find_audio(root / "audio", r["filename"]), sample_rate=sample_rate)
                        for r in rows])
    return wavs, torch.tensor([int(r["target"]) for r in rows]), [Path(r["filename"]).stem for r in rows]


def localization_bench(wavs, labels, ids, sample_rate, snr_db=(10.0, 5.0), seed=0):
    """Each clip inserted into the clip of another class that follows it in a fixed shuffle."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(ids), generator=gen)
    partner = perm.roll(1)
    order = torch.empty_like(perm)
    order[perm] = partner
    for i in range(len(ids)):  # another class for every background
        j = int(order[i])
        while labels[j] == labels[i]:
            j = (j + 1) % len(ids)
        order[i] = j
    return L.make_localization_set(wavs, wavs[order], sample_rate, snr_db=snr_db, target=labels,
                                   background_kind=["clip"] * len(ids), ids=ids, seed=seed)


def train_variant(adapter, lmac_opts, mix_opts, wavs, targets, steps, batch_size, lr, seed):
    torch.manual_seed(seed)
    brick = LMAC(adapter, **lmac_opts)
    opt = torch.optim.Adam([p for p in brick.parameters() if p.requires_grad], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    log = []
    for step in range(steps):
        idx = torch.randint(0, wavs.shape[0], (batch_size,), generator=gen)
        mixed, _ = training_mixtures(wavs[idx], generator=gen, sample_rate=adapter.sample_rate, **mix_opts)
        loss, stats = brick.loss(mixed, clean_wav=wavs[idx], target=targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            log.append({"step": step, "loss": float(loss.detach()), "ce_in": float(stats["ce_in"]),
                        "ce_out": float(stats["ce_out"]), "mask_mean": float(stats["mask_mean"])})
            print(f"  step {step}: {log[-1]}", flush=True)
    return brick.eval(), log


@torch.no_grad()
def paper_metrics(brick, bench, batch_size=16):
    sums = {}
    for s in range(0, len(bench), batch_size):
        e = brick.explain(bench.mixture[s:s + batch_size])
        scores = M.evaluate_mask(brick.classifier, e.magnitude, e.mask, target=e.target)
        for k, v in scores.items():
            sums.setdefault(k, []).append(v.double())
    return {k: float(torch.cat(v).mean()) for k, v in sums.items()}


def free_masks(adapter, bench, steps=150, lambda_out=2.0, lambda_l1=2.0, clips=12):
    """Localization of per-mixture optimised masks: full resolution, coarse, coarse + guide."""
    import torch.nn.functional as F

    from speechbrain_interp.lobes.mask_decoder import standardize

    with torch.no_grad():
        pred = adapter.classify_wav(bench.mixture).argmax(-1)
    bench = bench.subset((pred == bench.target).nonzero().flatten()[:clips])
    spec = adapter.frontend(bench.mixture)
    mag, target = spec.magnitude, bench.target
    z = standardize(adapter.frontend.to_mask_domain(mag))
    scorer = LMAC(adapter, out_loss="not_target")
    in_span, ideal = L.ground_truth(adapter.frontend, bench)
    rows = {}
    for name, cells, guided in (("free, full resolution", None, False), ("free, coarse 8x16", (8, 16), False),
                                ("free, coarse 8x16 + guide", (8, 16), True)):
        torch.manual_seed(0)
        shape = mag.shape if cells is None else (mag.shape[0], 2 if guided else 1,
                                                  mag.shape[1] // cells[0] + 1, mag.shape[2] // cells[1] + 1)
        params = torch.zeros(shape, requires_grad=True)
        opt = torch.optim.Adam([params], lr=0.1)

        def logits_of(p, cells=cells, guided=guided):
            if cells is None:
                return p
            up = F.interpolate(p, size=mag.shape[1:], mode="bilinear", align_corners=False)
            return up[:, 0] + up[:, 1] * z if guided else up[:, 0]

        for _ in range(steps):
            m = torch.sigmoid(logits_of(params))
            both = torch.cat([adapter.frontend.apply_mask(mag, m), adapter.frontend.apply_mask(mag, 1 - m)])
            li, lo = adapter(both).chunk(2)
            loss = (F.cross_entropy(li, target, reduction="none")
                    + lambda_out * scorer.out_class_loss(lo, target)
                    + lambda_l1 * m.flatten(1).mean(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        m = torch.sigmoid(logits_of(params)).detach()
        rows[name] = {k: L.nanmean(v) for k, v in L.localization_scores(m, in_span, ideal).items()}
        with torch.no_grad():
            for key, mm in (("p_in", m), ("p_out", 1 - m)):
                p = adapter.probabilities(adapter(adapter.frontend.apply_mask(mag, mm)).double())
                rows[name][key] = float(p.gather(1, target[:, None]).mean())
        print(name, rows[name], flush=True)
    energy = L.energy_mask(adapter.frontend, mag)
    rows["energy mask"] = {k: L.nanmean(v) for k, v in L.localization_scores(energy, in_span, ideal).items()}
    return rows, len(bench)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_folder", default="../shared/data/esc50")
    parser.add_argument("--out", default="results/ESC50/interpret/ablation")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--free_masks", action="store_true", help="per-mixture optimised masks instead")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = load(bundled_interpreter())
    bundled = bundle.interpreter
    sr = bundled.classifier.sample_rate
    t0 = time.time()
    wavs, _, _ = load_folds(args.data_folder, (1, 2, 3), sr)
    vwavs, vlabels, vids = load_folds(args.data_folder, (4,), sr, per_class=4)
    print(f"loaded {wavs.shape[0]} training clips, {vwavs.shape[0]} validation clips "
          f"in {time.time() - t0:.0f} s", flush=True)
    bench = localization_bench(vwavs, vlabels, vids, sr)
    if args.free_masks:
        rows, n = free_masks(bundled.classifier, localization_bench(vwavs, vlabels, vids, sr, snr_db=(10.0,)))
        cols = ["lift", "T-F AUC", "time share", "mask mean", "p_in", "p_out"]
        lines = [f"Per-mixture optimised masks, {n} kept fold-4 mixtures at +10 dB", "",
                 *markdown_table(rows, cols, first="mask")]
        (out / "free_masks.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
        return
    results = {"steps": args.steps, "batch_size": args.batch_size, "rows": {}}
    if (out / "ablation.json").exists():  # runs of other variants, same settings: one table
        previous = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
        if (previous["steps"], previous["batch_size"]) == (args.steps, args.batch_size):
            results = previous
    for domain in ("log1p_magnitude", "magnitude"):
        adapter = bundled.classifier
        adapter.frontend.mask_domain = domain
        with torch.no_grad():
            targets = torch.cat([adapter.classify_wav(wavs[s:s + 32]).argmax(-1)
                                 for s in range(0, len(wavs), 32)])
        for name in args.variants:
            lmac_opts, mix_opts, var_domain = VARIANTS[name]
            if var_domain != domain:
                continue
            print(f"== {name}", flush=True)
            t = time.time()
            brick, log = train_variant(adapter, lmac_opts, mix_opts, wavs, targets, args.steps,
                                       args.batch_size, args.lr, args.seed)
            train_s = time.time() - t
            table = L.evaluate_localization({name: brick}, bench, batch_size=16)
            row = {**table["rows"][name], **paper_metrics(brick, bench), "train s": train_s}
            row["kept"] = table["kept"]
            results["rows"][name] = row
            results["rows"][f"{name} / fixed profile"] = table["rows"]["fixed profile"]
            if "energy mask" not in results["rows"]:
                results["rows"]["energy mask"] = table["rows"]["energy mask"]
            results.setdefault("logs", {})[name] = log
            print(json.dumps(row, indent=1), flush=True)
            (out / "ablation.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    adapter.frontend.mask_domain = "log1p_magnitude"
    table = L.evaluate_localization({"bundled decoder": bundled}, bench, batch_size=16)
    results["rows"]["bundled decoder"] = {**table["rows"]["bundled decoder"], **paper_metrics(bundled, bench)}
    results["rows"]["bundled decoder / fixed profile"] = table["rows"]["fixed profile"]
    (out / "ablation.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    cols = ["lift", "T-F AUC", "time share", "mask mean", "time std", "AI", "AD", "AG", "FF", "Fid-In", "SPS"]
    lines = [f"{args.steps} steps of {args.batch_size} clips per variant; localization on "
             f"{table['kept']}/{table['total']} kept fold-4 mixtures at +10 and +5 dB", "",
             *markdown_table(results["rows"], cols, first="row")]
    (out / "ablation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
