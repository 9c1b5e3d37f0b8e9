#!/usr/bin/env python3
"""Train a text-conditioned L-MAC (LMAC-ZS) for the text-aligned ESC-50 encoder, on CPU.

The text-aligned encoder (the compact classifier's embedding projected into all-MiniLM-L6-v2's
space by ``recipes/ESC50/concepts``) is read as a zero-shot classifier over the 50 label
prompts (:class:`speechbrain_interp.embedders.zero_shot.ZeroShotAdapter`). Only the decoder of
:class:`speechbrain_interp.interpreters.lmac_text.TextLMAC` trains: each clip is asked about a
random caption of its own label, two-clip mixtures about either source, and some clips about a
class they do not hold (:func:`~speechbrain_interp.interpreters.lmac_text.text_training_batch`).

Each epoch ends with the two-event benchmark on fold-4 scenes (two clips of different classes
inserted into white noise, each event asked about with its label prompt); the checkpoint with
the best own-span share is kept, evaluated on fold-5 scenes (label prompts, and caption prompts
given as free text) and exported to ``<output_folder>/export`` (``speechbrain-interp explain
clip.wav --text "dog barking" --interpreter <that folder>``).

``hparams/lmac_text_clap.yaml`` is the same over LAION-CLAP (``--clap_checkpoint``; with
``--debug`` and none, a random-weight LAION-CLAP of the same architecture).

Usage
-----
    python recipes/ESC50/interpret/train_lmac_text.py recipes/ESC50/interpret/hparams/lmac_text.yaml \
        --data_folder=../shared/data/esc50
    # seconds-long smoke test: random-weight classifier, hashing text tower, synthesised ESC-50
    python recipes/ESC50/interpret/train_lmac_text.py recipes/ESC50/interpret/hparams/lmac_text.yaml --debug
    python recipes/ESC50/interpret/train_lmac_text.py \
        recipes/ESC50/interpret/hparams/lmac_text_clap.yaml --debug

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from esc50_prepare import prepare_esc50  # noqa: E402
from recipe_tools import (  # noqa: E402
    esc50_debug_overrides,
    markdown_table,
    parse_arguments,
    random_clap_overrides,
    start_experiment,
    top_level,
)

from speechbrain_interp.audio import load_audio  # noqa: E402
from speechbrain_interp.checkpointing import AtomicCheckpointer, RandomState  # noqa: E402
from speechbrain_interp.embedders.zero_shot import ZeroShotAdapter  # noqa: E402
from speechbrain_interp.interpreters.lmac_text import TextLMAC, text_training_batch  # noqa: E402
from speechbrain_interp.lmac_text_export import export_text_lmac  # noqa: E402
from speechbrain_interp.safety import load_state_dict  # noqa: E402
from speechbrain_interp.two_events import (  # noqa: E402
    TWO_EVENT_METRICS,
    evaluate_two_events,
    next_partner_set,
    two_event_paper_metrics,
)

logger = logging.getLogger(__name__)


class CaptionPrompts(torch.nn.Module):
    """Asks a :class:`TextLMAC` about classes through free text that is not one of the training caption
    templates ("we can hear <label> in this clip"), so it is scored as a new prompt, not as the label."""

    def __init__(self, brick: TextLMAC, template: str = "we can hear {} in this clip"):
        super().__init__()
        self.brick, self.template = brick, template
        self.classifier = brick.classifier

    def explain(self, wav, target):
        labels = self.classifier.labels
        texts = [self.template.format(labels[int(t)].replace("_", " ")) for t in torch.as_tensor(target)]
        return self.brick.explain(wav, text=texts)


def load_split(manifest: Path, data_root: str, labels: list, limit=None, seed: int = 0):
    """``[(wav path, class index)]`` of a manifest, every class in turn when ``limit`` keeps fewer."""
    items = json.loads(Path(manifest).read_text(encoding="utf-8"))
    rows = [(v["wav"].replace("{data_root}", data_root), labels.index(v["class_string"]))
            for v in items.values() if v["class_string"] in labels]
    if limit and len(rows) > limit:
        random.Random(seed).shuffle(rows)
        rank, seen = [], {}
        for _, c in rows:  # the k-th clip of each class before any class's (k+1)-th
            rank.append(seen.get(c, 0))
            seen[c] = rank[-1] + 1
        rows = [r for _, r in sorted(zip(rank, rows), key=lambda x: x[0])][:int(limit)]
    return rows


def load_wavs(rows, sample_rate: int) -> torch.Tensor:
    wavs = [load_audio(path, sample_rate=sample_rate) for path, _ in rows]
    length = min(w.shape[-1] for w in wavs)
    return torch.stack([w[:length] for w in wavs])


def two_event_bench(rows, sample_rate: int, hparams, seed: int):
    """Clip ``i`` and the next clip of another class, inserted into white noise."""
    return next_partner_set(load_wavs(rows, sample_rate), torch.tensor([c for _, c in rows]), sample_rate,
                            hparams["two_event_seconds"], hparams["two_event_snr_db"], seed=seed)


def absent_mask_means(brick: TextLMAC, bench, batch_size: int) -> dict:
    """Mean mask when asked about an event of the scene, and about a class in neither event."""
    n_classes = len(brick.classifier.labels)
    own, absent = [], []
    for s in range(0, len(bench), batch_size):
        wav, targets = bench.mixture[s:s + batch_size], bench.targets[s:s + batch_size]
        other = (targets[:, 0] + 1) % n_classes
        for _ in range(n_classes):
            clash = (other == targets[:, 0]) | (other == targets[:, 1])
            other = torch.where(clash, (other + 1) % n_classes, other)
        own.append(brick.explain(wav, target=targets[:, 0]).mask.mean((1, 2)))
        absent.append(brick.explain(wav, target=other).mask.mean((1, 2)))
    return {"mask mean (own prompt)": float(torch.cat(own).mean()),
            "mask mean (absent prompt)": float(torch.cat(absent).mean())}


def build(hparams, labels=None) -> TextLMAC:
    """The brick over the recipe's embedder: the text-aligned encoder, its projection loaded from
    ``projection_file``, or LAION-CLAP; ``labels`` are the zero-shot classes (default the
    text-aligned encoder's classifier's)."""
    embedder = hparams["embedder"]
    if hparams.get("projection_file"):
        path = Path(hparams["projection_file"])
        if not path.exists():
            raise FileNotFoundError(f"no projection at '{path}': train the text-aligned encoder first "
                                    "(recipes/ESC50/concepts/train.py hparams/text_aligned.yaml)")
        state = load_state_dict(path)
        if "logit_scale" in state:  # an exported interpreter's projection.safetensors
            embedder.logit_scale.data.copy_(state.pop("logit_scale").reshape(()))
            state = {k.removeprefix("projection."): v for k, v in state.items()}
        embedder.projection.load_state_dict(state)
    prefix = hparams.get("layer_prefix", "classifier.model.")
    layers = [f"{prefix}{name}" for name in hparams["decoder_layers"]]
    evidence = hparams.get("evidence_layer")
    evidence = f"{prefix}{evidence}" if evidence else None
    inner = getattr(embedder, "classifier", None)  # a text-aligned encoder captures through its classifier
    adapter = ZeroShotAdapter(embedder, labels or inner.labels, scale=hparams.get("zero_shot_scale"),
                              layers=None if inner is not None else layers + ([evidence] if evidence else []))
    brick = TextLMAC(adapter, layers=layers, config=hparams["brick"], evidence_layer=evidence,
                     evidence_score=hparams.get("evidence_score", "log_probability"),
                     presence_gate=hparams.get("presence_gate", True),
                     pretrained_decoder=hparams.get("pretrained_decoder"))
    gain = hparams.get("evidence_gain")
    if gain is not None and brick.decoder.evidence:  # over the initial or the loaded gain
        brick.decoder.evidence_gain.data.fill_(float(gain))
    return brick


def dataset_labels(manifest: Path) -> list:
    """The class names of an ESC-50 manifest, in the data set's class order."""
    items = json.loads(Path(manifest).read_text(encoding="utf-8")).values()
    return [name for _, name in sorted({(v["class_idx"], v["class_string"]) for v in items})]


def train_epoch(brick, opt, rows, hparams, gen, rng, epoch: int) -> dict:
    brick.train()
    order = torch.randperm(len(rows), generator=gen).tolist()
    bs, sums, n = int(hparams["batch_size"]), {}, 0
    n_classes = len(brick.classifier.labels)
    for b, start in enumerate(range(0, len(order) - bs + 1 if len(order) >= bs else 1, bs)):
        batch = [rows[i] for i in order[start:start + bs]]
        wavs = load_wavs(batch, int(hparams["sample_rate"]))
        labels = torch.tensor([c for _, c in batch])
        mixed, target, absent = text_training_batch(wavs, labels, n_classes, float(hparams["mix_prob"]),
                                                    float(hparams["absent_prob"]), generator=gen)
        loss, stats = brick.loss(mixed, target=target, absent=absent, rng=rng)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for key in ("loss", "ce_in", "ce_out", "cos_in", "cos_out", "mask_mean", "absent_mask"):
            sums[key] = sums.get(key, 0.0) + float(stats[key]) * len(batch)
        n += len(batch)
        if b % 10 == 0:
            logger.info("epoch %d batch %d: loss %.3f mask %.3f", epoch, b, float(stats["loss"]),
                        float(stats["mask_mean"]))
    return {k: v / max(1, n) for k, v in sums.items()}


def two_event_rows(bricks: dict, bench, hparams, profile_of: str | None = None) -> dict:
    with torch.no_grad():
        return evaluate_two_events(bricks, bench, int(hparams["batch_size"]),
                                   top_k=int(hparams["two_event_top_k"]), profile_of=profile_of)


def debug_overrides(hparams_file, overrides: dict) -> dict:
    """``--debug``: synthesised ESC-50 when the real one is absent, and a random-weight stand-in
    for the embedder (the compact classifier in a hashing text tower, or LAION-CLAP); one short
    epoch, and every scene counts (a random ranking)."""
    clap = "clap_checkpoint" in top_level(hparams_file)
    overrides = esc50_debug_overrides(hparams_file, overrides, prefix="lmac_text_debug_", classifier=not clap)
    overrides = random_clap_overrides(hparams_file, overrides)
    defaults = {"number_of_epochs": 1, "valid_clips": 4, "test_clips": 4, "batch_size": 4,
                "max_train_clips": 8, "two_event_top_k": 1000}
    if not clap:
        defaults.update(text_tower="hashing", projection_file=None)  # an untrained projection
    return {**defaults, **overrides}


def main(argv):
    hparams_file, run_opts, overrides = parse_arguments(argv)
    debug = bool(run_opts.get("debug", False))
    if debug:
        overrides = debug_overrides(hparams_file, overrides)
    hparams = start_experiment(hparams_file, overrides)
    started = time.time()
    data_root = str(Path(hparams["data_folder"]).resolve())
    manifests = prepare_esc50(hparams["data_folder"], hparams["manifest_folder"], hparams["train_folds"],
                              hparams["valid_folds"], hparams["test_folds"])
    clap = "clap_checkpoint" in hparams
    brick = build(hparams, hparams.get("labels") or (dataset_labels(manifests["train"]) if clap else None))
    labels = list(brick.classifier.labels)
    seed = int(hparams["seed"])
    train_rows = load_split(manifests["train"], data_root, labels, hparams.get("max_train_clips"), seed)
    valid_rows = load_split(manifests["valid"], data_root, labels, hparams["valid_clips"], seed)
    test_rows = load_split(manifests["test"], data_root, labels, hparams["test_clips"], seed)
    sr = int(hparams["sample_rate"])
    valid_bench = two_event_bench(valid_rows, sr, hparams, seed)

    opt = torch.optim.Adam(brick.trainable_parameters(), lr=float(hparams["lr"]))
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)
    counter = hparams["epoch_counter"]
    checkpointer = AtomicCheckpointer(hparams["save_folder"], recoverables={
        "decoder": brick.decoder, "optimizer": opt, "counter": counter,
        "random_state": RandomState({"mixtures": gen})})
    resumed = checkpointer.recover_if_possible()
    log = Path(hparams["train_log"])
    budget = hparams.get("max_minutes")

    def validate(epoch: int, t0: float, train_stats: dict) -> None:
        """Fold-4 two-event own share, logged; the checkpoint kept on it."""
        table = two_event_rows({"LMAC-ZS": brick}, valid_bench, hparams)
        valid = {f"valid {k}": v for k, v in table["rows"].get("LMAC-ZS", {}).items()}
        line = {"epoch": epoch, "minutes": round((time.time() - t0) / 60, 2), **train_stats, **valid,
                "valid kept": table["kept"]}
        with log.open("a", encoding="utf-8") as fout:
            fout.write(", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                                 for k, v in line.items()) + "\n")
        logger.info("%s", line)
        checkpointer.save_and_keep_only(meta={"own_share": valid.get("valid own share", 0.0)},
                                        max_keys=["own_share"])

    if resumed is None and hparams.get("pretrained_decoder") and int(hparams["number_of_epochs"]) > 0:
        validate(0, time.time(), {})  # the decoder it starts from competes with the trained epochs
    for epoch in counter:
        t0 = time.time()
        validate(epoch, t0, train_epoch(brick, opt, train_rows, hparams, gen, rng, epoch))
        if budget and (time.time() - started) / 60 > float(budget):
            logger.info("time budget of %s min spent after epoch %d", budget, epoch)
            break

    checkpointer.recover_if_possible(max_key="own_share")
    brick.eval()
    test_bench = two_event_bench(test_rows, sr, hparams, seed + 1)
    bs = int(hparams["batch_size"])
    kept = test_bench.subset(((test_bench.targets[:, :, None] ==
                               _top(brick.classifier, test_bench, hparams)[:, None, :]).any(-1)).all(-1))
    bricks = {"LMAC-ZS (label prompts)": brick, "LMAC-ZS (caption prompts)": CaptionPrompts(brick)}
    table = two_event_rows(bricks, test_bench, hparams, profile_of="LMAC-ZS (label prompts)")
    extra = absent_mask_means(brick, kept, bs) if len(kept) else {}
    paper = {}
    if len(kept):
        paper = two_event_paper_metrics({"LMAC-ZS (label prompts)": brick}, kept, bs, table["profile"])
    out = Path(hparams["output_folder"])
    results = {"kept": table["kept"], "total": table["total"], "rows": table["rows"], "paper_metrics": paper,
               **extra, "target_own_share": hparams["target_own_share"],
               "minutes": (time.time() - started) / 60}
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    md = [f"Two-event scenes of fold(s) {hparams['test_folds']}: {table['kept']} of {table['total']} "
          f"kept (both classes in the zero-shot top {hparams['two_event_top_k']}).", ""]
    md += markdown_table(table["rows"], list(TWO_EVENT_METRICS))
    md += ["", *(f"- {k}: {v:.3f}" for k, v in extra.items())]
    if paper:
        md += ["", "Paper metrics on the same scenes, each event's label prompt asked (probability: the "
               "zero-shot softmax over the label prompts):", ""]
        md += markdown_table(paper, list(next(iter(paper.values()))))
    (out / "results.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    brick.save_weights(out / "decoder.ckpt")
    if clap:  # the export folder bundles a text-aligned encoder; CLAP's decoder loads from decoder.ckpt
        logger.info("results in %s; decoder in %s", out / "results.md", out / "decoder.ckpt")
        return results
    export_text_lmac(brick, out / "export", classifier_source=hparams["classifier_source"],
                     classifier_interface=hparams["classifier_interface"], text_tower=hparams["text_tower"],
                     embedding_layer=hparams["embedding_layer"])
    logger.info("results in %s; interpreter exported to %s", out / "results.md", out / "export")
    return results


def _top(adapter, bench, hparams) -> torch.Tensor:
    k, bs = int(hparams["two_event_top_k"]), int(hparams["batch_size"])
    with torch.no_grad():
        return torch.cat([adapter.classify_wav(bench.mixture[s:s + bs]).topk(min(k, len(adapter.labels)), -1)
                          .indices.cpu() for s in range(0, len(bench), bs)])


if __name__ == "__main__":
    main(sys.argv[1:])
