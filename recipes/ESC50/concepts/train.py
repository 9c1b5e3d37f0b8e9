#!/usr/bin/env python3
"""Concept bottleneck on ESC-50: a text-aligned encoder (or LAION-CLAP), then concept representations.

Stages:

1. **Embeddings.** The frozen classifier's pooled embedding (``embedding_layer``) of every clip
   is computed once and cached (``<output_folder>/features.safetensors``).
2. **Text alignment** (``train_projection: True``). A SpeechBrain ``Brain`` trains the
   :class:`~speechbrain_interp.embedders.aligned.TextAlignedEncoder` projection on folds 1-3: CLAP's
   contrastive loss with the text side locked, each clip against a caption of its label made
   with a random template. Validation (fold 4) logs the loss and the zero-shot accuracy with
   the class prompts; the checkpoint with the best ``zero_shot_acc`` is kept. With a LAION-CLAP
   embedder (``hparams/laion_clap.yaml``) nothing is trained and the audio embeddings come from
   CLAP's audio tower.
3. **Evaluation on the test fold (5)**, for each vocabulary: the concept bottleneck's audio mean
   is fitted on the training embeddings; for each target L0, ``lambda`` is chosen on the
   training embeddings (:meth:`~speechbrain_interp.concepts.ConceptBottleneck.set_l0`) and
   the test embeddings are decomposed. Reported side by side:

   * linear probe (:class:`~speechbrain_interp.concept_metrics.LinearProbe` fitted on folds 1-3) on the
     dense embeddings and on the concept weights;
   * zero-shot accuracy (cosine with the mean caption embedding of each class) of the dense
     embeddings and of the recomposed ones;
   * the fine-tuned projector (:class:`~speechbrain_interp.concept_metrics.ConceptProjector`, fitted on
     folds 1-3 labels) before and after the bottleneck;
   * the recomposition cosine and the L0 actually reached on the test fold.

4. **Per-clip explanations** of a few test clips with
   :class:`~speechbrain_interp.interpreters.concept_bottleneck.ConceptInterpreter` (top concepts in
   ``summary.json`` and in each PNG).

Outputs: ``results.json``, ``results.md`` (the tables), ``projection.safetensors`` (the trained
projection), ``embeddings.safetensors`` (``embeddings``: test fold, read by
``benchmarks/bench_concepts.py --embeddings``; ``train``: training folds, for
``ConceptBottleneck.fit_audio_mean``), ``explanations/`` and, for the text-aligned encoder,
``export/``: a pretrained-interpreter folder (vocabulary ``vocabularies[0]``, lambda for
``explain_l0``) that ``ConceptBottleneckInterface.from_hparams`` loads.

Usage
-----
    python recipes/ESC50/concepts/train.py recipes/ESC50/concepts/hparams/text_aligned.yaml \
        --data_folder=../shared/data/esc50
    python recipes/ESC50/concepts/train.py recipes/ESC50/concepts/hparams/laion_clap.yaml \
        --data_folder=../shared/data/esc50 --clap_checkpoint=/path/to/630k-audioset-best.pt \
        --clap_text_encoder=/path/to/roberta-base-folder
    # seconds-long smoke test: random-weight classifier and synthesised clips if needed
    python recipes/ESC50/concepts/train.py recipes/ESC50/concepts/hparams/text_aligned.yaml --debug \
        --text_tower=hashing

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import speechbrain as sb
import torch
import torch.nn.functional as F

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
from speechbrain_interp.concept_metrics import ConceptProjector, LinearProbe, zero_shot_logits  # noqa: E402
from speechbrain_interp.concepts import load  # noqa: E402

logger = logging.getLogger(__name__)


# --- command line ---------------------------------------------------------------------------
def debug_overrides(hparams_file, overrides: dict) -> dict:
    """``--debug``: a random-weight classifier and a synthesised ESC-50 when the real ones are absent."""
    overrides = esc50_debug_overrides(hparams_file, overrides, prefix="concepts_debug_", clips_per_fold=2)
    overrides = random_clap_overrides(hparams_file, overrides)
    if "number_of_epochs" in top_level(hparams_file):
        overrides.setdefault("number_of_epochs", 2)
    overrides.setdefault("target_l0s", [2, 5])
    overrides.setdefault("vocabularies", ["sound_events"])
    overrides.setdefault("n_explained", 1)
    overrides.setdefault("projector_epochs", 20)
    overrides.setdefault("probe_max_iter", 20)
    return overrides


# --- data -----------------------------------------------------------------------------------
def manifests(hparams, debug: bool):
    paths = prepare_esc50(hparams["data_folder"], hparams["manifest_folder"],
                          train_folds=hparams["train_folds"], valid_folds=hparams["valid_folds"],
                          test_folds=hparams["test_folds"],
                          max_per_split=int(hparams.get("debug_clips", 8)) if debug else None)
    return {split: json.loads(Path(p).read_text(encoding="utf-8")) for split, p in paths.items()}


def class_names(splits: dict) -> list[str]:
    """Class labels ordered by ESC-50 target index; each item gets ``label`` (its position)."""
    seen = {}
    for items in splits.values():
        for item in items.values():
            seen[int(item["class_idx"])] = item["class_string"]
    position = {k: i for i, k in enumerate(sorted(seen))}
    for items in splits.values():
        for item in items.values():
            item["label"] = position[int(item["class_idx"])]
    return [seen[k] for k in sorted(seen)]


def audio_dataset(hparams, items: dict):
    """A DynamicItemDataset yielding ``id`` and ``sig`` for manifest entries."""
    root = str(Path(hparams["data_folder"]).resolve())
    sample_rate = int(hparams["sample_rate"])

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(path):
        return load_audio(path, sample_rate=sample_rate)

    data = {k: {**v, "wav": v["wav"].replace("{data_root}", root)} for k, v in items.items()}
    return sb.dataio.dataset.DynamicItemDataset(data, dynamic_items=[audio_pipeline],
                                                output_keys=["id", "sig"])


@torch.no_grad()
def embed_splits(hparams, splits: dict, fn, desc: str) -> dict:
    """``{split: (ids, (N, d) tensor)}`` of ``fn(wavs)`` over each split's clips, in manifest order."""
    out = {}
    for split, items in splits.items():
        loader = sb.dataio.dataloader.make_dataloader(audio_dataset(hparams, items),
                                                      **hparams["eval_dataloader_opts"])
        ids, chunks = [], []
        for batch in loader:
            wavs, _ = batch.sig
            chunks.append(fn(wavs).float().cpu())
            ids.extend(batch.id)
        order = {k: i for i, k in enumerate(ids)}
        emb = torch.cat(chunks)[[order[k] for k in items]]
        out[split] = (list(items), emb)
        logger.info("%s: %s embeddings %s", desc, split, tuple(emb.shape))
    return out


def cached_features(hparams, splits: dict) -> dict:
    """The frozen classifier's pooled embeddings of every clip, computed once."""
    from safetensors.torch import load_file, save_file

    path = Path(hparams["output_folder"]) / "features.safetensors"
    key = json.dumps({s: list(items) for s, items in splits.items()}, sort_keys=True)
    meta = {"clips": key, "classifier": str(hparams["classifier_source"]),
            "layer": str(hparams["embedding_layer"])}
    if path.exists():
        from safetensors import safe_open

        with safe_open(str(path), "pt") as fh:
            if fh.metadata() == meta:
                tensors = load_file(str(path))
                return {s: (list(items), tensors[s]) for s, items in splits.items()}
    embedder = hparams["embedder"]
    feats = embed_splits(hparams, splits, embedder.classifier_embedding, "classifier")
    save_file({s: v[1].contiguous() for s, v in feats.items()}, str(path), metadata=meta)
    return feats


def labels_of(items: dict, ids) -> torch.Tensor:
    return torch.tensor([int(items[k]["label"]) for k in ids])


# --- the Brain: contrastive text alignment on cached features ---------------------------------
class TextAlignBrain(sb.Brain):
    """Trains the projection of a :class:`~speechbrain_interp.embedders.aligned.TextAlignedEncoder`."""

    def compute_forward(self, batch, stage):
        feats = batch.feats.data.to(self.device)
        return self.modules.embedder.project(feats)

    def compute_objectives(self, predictions, batch, stage):
        labels = batch.label.data.reshape(-1).to(self.device)
        embedder = self.modules.embedder
        if stage == sb.Stage.TRAIN:  # one random caption per class and batch (text side locked)
            n_classes, n_templates = self.caption_bank.shape[:2]
            captions = self.caption_bank[torch.arange(n_classes), torch.randint(0, n_templates, (n_classes,))]
        else:
            captions = self.class_text
        loss = embedder.contrastive_loss(predictions, labels, captions.to(predictions))
        if stage != sb.Stage.TRAIN:
            logits = zero_shot_logits(predictions, self.class_text.to(predictions))
            self.correct += int((logits.argmax(-1) == labels).sum())
            self.count += len(labels)
        return loss

    def on_fit_start(self):
        super().on_fit_start()
        embedder = self.modules.embedder
        with torch.no_grad():
            from speechbrain_interp.embedders.text import label_captions

            bank = [embedder.embed_text(label_captions(lab)) for lab in self.class_labels]
            self.caption_bank = torch.stack(bank).cpu()  # (classes, templates, d)
            self.class_text = F.normalize(self.caption_bank.mean(1), dim=-1)

    def on_stage_start(self, stage, epoch=None):
        self.correct = self.count = 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        stats = {"loss": stage_loss, "zero_shot_acc": self.correct / max(self.count, 1)}
        self.last_stats = stats
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch}, train_stats=self.train_stats,
                                                valid_stats=stats)
            self.checkpointer.save_and_keep_only(meta=stats, max_keys=[self.hparams.ckpt_key])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats)


def feature_dataset(ids, feats, items):
    data = {k: {"index": i, "label_idx": int(items[k]["label"])} for i, k in enumerate(ids)}

    @sb.utils.data_pipeline.takes("index", "label_idx")
    @sb.utils.data_pipeline.provides("feats", "label")
    def pipeline(index, label_idx):
        yield feats[index]
        yield torch.tensor([label_idx])

    return sb.dataio.dataset.DynamicItemDataset(data, dynamic_items=[pipeline],
                                                output_keys=["id", "feats", "label"])


def train_projection(hparams, run_opts, splits, feats, labels):
    brain = TextAlignBrain(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
                           run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.class_labels = labels
    sets = {s: feature_dataset(*feats[s], splits[s]) for s in ("train", "valid", "test")}
    start = time.time()
    brain.fit(hparams["epoch_counter"], sets["train"], sets["valid"],
              train_loader_kwargs=hparams["dataloader_opts"],
              valid_loader_kwargs=hparams["eval_dataloader_opts"])
    seconds = time.time() - start
    brain.evaluate(sets["test"], max_key=hparams["ckpt_key"],
                   test_loader_kwargs=hparams["eval_dataloader_opts"])
    return brain, seconds


# --- evaluation -----------------------------------------------------------------------------
def accuracy(logits, y) -> float:
    return float((logits.argmax(-1) == y).float().mean())


def probe_accuracy(x_train, y_train, x_test, y_test, l2, n_classes, max_iter=200) -> float:
    probe = LinearProbe(x_train.shape[1], n_classes, l2=l2).fit(x_train, y_train, max_iter=max_iter)
    return probe.accuracy(x_test, y_test)


def evaluate(hparams, embedder, emb: dict, y: dict, labels: list[str]) -> dict:
    """Dense vs concept representations, the projector, recomposition cosine, per vocabulary and L0."""
    brick = hparams  # the brick settings, as the recipe resolved them
    n_classes = len(labels)
    with torch.no_grad():
        from speechbrain_interp.embedders.text import label_captions

        class_text = torch.stack([F.normalize(embedder.embed_text(label_captions(lab)).mean(0), dim=-1)
                                  for lab in labels]).cpu()
    z_tr, z_te = emb["train"], emb["test"]
    l2, iters = float(brick["probe_l2"]), int(brick["probe_max_iter"])
    projector = ConceptProjector(z_tr.shape[1], temperature=float(brick["projector_temperature"]),
                                 identity_penalty=float(brick["projector_identity_penalty"]))
    projector.fit(z_tr, y["train"], class_text, epochs=int(brick["projector_epochs"]),
                  lr=float(brick["projector_lr"]))
    with torch.no_grad():
        p_tr, p_te = projector(z_tr), projector(z_te)
    dense = {
        "zero_shot": accuracy(zero_shot_logits(z_te, class_text), y["test"]),
        "probe": probe_accuracy(z_tr, y["train"], z_te, y["test"], l2, n_classes, iters),
        "projector_zero_shot": accuracy(zero_shot_logits(p_te, class_text), y["test"]),
        "projector_probe": probe_accuracy(p_tr, y["train"], p_te, y["test"], l2, n_classes, iters),
    }
    rows = []
    tol = float(brick["solver_tol"])
    # lambda is chosen on a fixed random subset of the training embeddings (the solves on the
    # full training set and the test fold then use that lambda)
    n_fit = min(int(brick.get("lambda_fit_clips") or len(z_tr)), len(z_tr))
    subset = torch.randperm(len(z_tr), generator=torch.Generator().manual_seed(0))[:n_fit]
    for vocab in hparams["vocabularies"]:
        start = time.time()
        bottleneck = load(embedder, vocab, cache_dir=hparams["cache_dir"])
        projected = load(embedder, vocab, cache_dir=hparams["cache_dir"])
        bottleneck.fit_audio_mean(z_tr)
        projected.fit_audio_mean(p_tr)
        for target in hparams["target_l0s"]:
            row = {"vocabulary": vocab, "concepts": len(bottleneck.concepts), "target_l0": int(target)}
            for name, b, tr, te in (("", bottleneck, z_tr, z_te), ("projector_", projected, p_tr, p_te)):
                lam = b.set_l0(tr[subset], float(target), tol=tol)
                w_tr = b.decompose(tr, tol=tol)
                w_te, scale = b.decompose(te, return_scale=True, tol=tol)
                row[f"{name}lambda"] = lam
                row[f"{name}l0"] = float((w_te > 0).sum(1).float().mean())
                row[f"{name}zero_shot"] = accuracy(b.zero_shot(w_te, class_text, scale), y["test"])
                row[f"{name}probe"] = probe_accuracy(w_tr, y["train"], w_te, y["test"], l2, n_classes, iters)
                row[f"{name}cosine"] = float(b.recompose_cosine(te, w_te).mean())
            rows.append(row)
            logger.info("%s L0=%s: %s", vocab, target, {k: round(v, 4) if isinstance(v, float) else v
                                                         for k, v in row.items()})
        logger.info("%s evaluated in %.1f s", vocab, time.time() - start)
    return {"dense": dense, "concepts": rows}


def results_markdown(results: dict) -> str:
    """The recipe's two tables (frozen and fine-tuned projector), with ``recipe_tools.markdown_table``."""
    d = results["dense"]
    cols = ["vocabulary", "target L0", "test L0", "zero-shot acc", "linear-probe acc", "recomposition cosine"]

    def fmt(col, value):
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    def table(prefix: str, name: str, dense: str) -> list[str]:
        rows = [(dense, {
            "vocabulary": "-", "target L0": "-", "test L0": f"{results['dim']} (dense)",
            "zero-shot acc": d[prefix + "zero_shot"], "linear-probe acc": d[prefix + "probe"],
            "recomposition cosine": 1})]
        rows += [(f"{name}concepts", {
            "vocabulary": f"{r['vocabulary']} ({r['concepts']})", "target L0": r["target_l0"],
            "test L0": f"{r[prefix + 'l0']:.1f}", "zero-shot acc": r[prefix + "zero_shot"],
            "linear-probe acc": r[prefix + "probe"], "recomposition cosine": r[prefix + "cosine"]})
            for r in results["concepts"]]
        return markdown_table(rows, cols, first="representation", fmt=fmt)

    head = f"Test fold {results['test_folds']} ({results['n_test']} clips), embedder: {results['embedder']}."
    lines = [head, "", *table("", "", "dense embedding"), "",
             "Fine-tuned projector (linear, fitted on the training folds' labels):", "",
             *table("projector_", "projected ", "projected dense")]
    return "\n".join(lines) + "\n"


def explain_examples(hparams, embedder, emb_train, splits, n: int):
    """Concept explanations (top concepts, saliency mask, PNG, WAVs) of the first test clips."""
    from speechbrain_interp.interpreters.concept_bottleneck import ConceptInterpreter

    classifier = getattr(embedder, "classifier", None) or hparams.get("classifier")
    if classifier is None or n <= 0:
        return None, None
    brick = hparams["concept_brick"]
    vocab = hparams["vocabularies"][0]
    brick = {**brick, "explain_l0": hparams["explain_l0"]}
    bottleneck = load(embedder, vocab, cache_dir=hparams["cache_dir"]).fit_audio_mean(emb_train)
    bottleneck.set_l0(emb_train, float(brick["explain_l0"]))
    # the fragment also holds the recipe's settings: hand the brick only its own options
    interpreter = ConceptInterpreter(classifier, bottleneck, embedder=embedder,
                                     config={k: brick[k] for k in ConceptInterpreter.DEFAULTS if k in brick})
    items = splits["test"]
    ids = list(items)[:n]
    root = str(Path(hparams["data_folder"]).resolve())
    wavs = torch.stack([load_audio(items[k]["wav"].replace("{data_root}", root),
                                   sample_rate=int(hparams["sample_rate"])) for k in ids])
    explanation = interpreter.explain(wavs)
    out = Path(hparams["output_folder"]) / "explanations"
    summary = explanation.save(out, names=[f"{k}_{items[k]['class_string']}" for k in ids])
    return interpreter, [{"clip": s["name"], "concepts": s.get("concepts", [])[:5]} for s in summary]


def export(hparams, interpreter) -> Path | None:
    """A pretrained-interpreter folder (``ConceptBottleneckInterface.from_hparams``) for the
    text-aligned encoder: projection, vocabulary embeddings, audio mean and lambda travel; the
    classifier's files are copied from ``classifier_source``."""
    from speechbrain_interp.embedders.aligned import TextAlignedEncoder
    from speechbrain_interp.export import export_interpreter

    if interpreter is None or not isinstance(interpreter.embedder, TextAlignedEncoder):
        return None  # LAION-CLAP interpreters are rebuilt from the checkpoint instead
    folder = Path(hparams["output_folder"]) / "export"
    return export_interpreter(interpreter.eval(), folder, classifier_source=hparams["classifier_source"],
                              overwrite=True)


# --- main -----------------------------------------------------------------------------------
def main(argv):
    hparams_file, run_opts, overrides = parse_arguments(argv)
    debug = bool(run_opts.get("debug", False))
    if debug:
        overrides = debug_overrides(hparams_file, overrides)
    hparams = start_experiment(hparams_file, overrides)
    start = time.time()
    splits = manifests(hparams, debug)
    labels = class_names(splits)
    y = {s: labels_of(items, list(items)) for s, items in splits.items()}
    embedder = hparams["embedder"]
    results = {"embedder": type(embedder).__name__,
               "classifier_source": str(hparams.get("classifier_source")),
               "debug": debug, "test_folds": hparams["test_folds"], "n_test": len(splits["test"])}
    if hparams.get("train_projection", False):
        feats = cached_features(hparams, splits)
        brain, seconds = train_projection(hparams, run_opts, splits, feats, labels)
        results.update(train_seconds=round(seconds, 1), epochs=hparams["epoch_counter"].current,
                       text_align_test=brain.last_stats)
        embedder.eval()
        with torch.no_grad():
            emb = {s: embedder.project(feats[s][1]) for s in feats}
        from speechbrain_interp.safety import save_state_dict

        save_state_dict(embedder.projection.state_dict(),
                        Path(hparams["output_folder"]) / "projection.safetensors")
    else:
        embedder.eval()
        emb = {s: v[1] for s, v in embed_splits(hparams, splits, embedder.embed_audio, "embedder").items()}
    from safetensors.torch import save_file

    save_file({"embeddings": emb["test"].contiguous(), "train": emb["train"].contiguous()},
              str(Path(hparams["output_folder"]) / "embeddings.safetensors"))
    results["dim"] = int(emb["test"].shape[1])
    results.update(evaluate(hparams, embedder, emb, y, labels))
    interpreter, results["explanations"] = explain_examples(hparams, embedder, emb["train"], splits,
                                                            int(hparams["n_explained"]))
    results["total_seconds"] = round(time.time() - start, 1)
    out = Path(hparams["output_folder"])
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "results.md").write_text(results_markdown(results), encoding="utf-8")
    print(results_markdown(results))
    folder = export(hparams, interpreter)  # last: a failure here leaves the results written
    if folder is not None:
        logger.info("pretrained concept interpreter -> %s", folder)
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s - %(message)s")
    main(sys.argv[1:])
