#!/usr/bin/env python3
"""Train an ESC-50 sound classifier that speechbrain_interp's interpreters then explain.

Two hparams files:

* ``hparams/compact.yaml``: a 1.2M-parameter CompactCNN on 64 log-mel bins that trains
  on 2 CPU cores in under 30 minutes (features are computed once and cached; SpecAugment,
  per-clip shifts, mixup, a one-cycle schedule and weight averaging over the last epochs);
* ``hparams/cnn14.yaml``: the L-MAC paper's CNN14 on 80 log-mel bins, for a GPU.

The trained model is exported as a SpeechBrain inference folder
(``<output_folder>/inference``: ``hyperparams.yaml``, ``embedding_model.ckpt``,
``classifier.ckpt``, ``label_encoder.ckpt``) that loads with SpeechBrain's own
``EncoderClassifier.from_hparams`` and with
``speechbrain_interp.adapters.SpeechBrainClassifier.from_hparams``; the interpretation
recipes point their ``classifier_source`` at it.

Usage
-----
    python recipes/ESC50/classifier/train.py recipes/ESC50/classifier/hparams/compact.yaml \
        --data_folder=../shared/data/esc50
    # seconds-long smoke test
    python recipes/ESC50/classifier/train.py recipes/ESC50/classifier/hparams/compact.yaml \
        --data_folder=../shared/data/esc50 --debug
    # two processes with SpeechBrain's DDP (gloo on CPU)
    torchrun --nproc_per_node=2 recipes/ESC50/classifier/train.py \
        recipes/ESC50/classifier/hparams/compact.yaml --data_folder=../shared/data/esc50 \
        --distributed_backend=gloo --device=cpu

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.augment.time_domain import SpeedPerturb
from speechbrain.utils.distributed import if_main_process, run_on_main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from esc50_prepare import esc50_classes, prepare_esc50  # noqa: E402
from recipe_tools import parse_arguments, start_experiment, start_processes  # noqa: E402

from speechbrain_interp.audio import load_audio  # noqa: E402
from speechbrain_interp.lobes.augment import mixup  # noqa: E402
from speechbrain_interp.training import recompute_batchnorm, unwrap  # noqa: E402


class ClassifierBrain(sb.Brain):
    """Cached log-mel features -> augmentation -> embedding model -> linear classifier."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        feats, lens = batch.feats
        targets = F.one_hot(batch.class_idx, self.hparams.n_classes).float()
        if stage == sb.Stage.TRAIN:
            feats = self.hparams.per_clip_shift(feats)
            feats = self.hparams.time_drop(feats)
            feats = self.hparams.freq_drop(feats)
            feats, targets = mixup(feats, targets, self.hparams.mixup_alpha)
        return self.classify(feats, lens), targets

    def classify(self, feats, lens):
        """Logits of the current modules for cached (normalised-on-the-fly) features."""
        feats = self.modules.mean_var_norm(feats, lens)
        emb = self.modules.embedding_model(feats, lens)
        return self.modules.classifier(emb).squeeze(1)

    def compute_objectives(self, predictions, batch, stage):
        logits, targets = predictions
        loss = -(F.log_softmax(logits, dim=-1) * targets).sum(-1).mean()
        if stage != sb.Stage.TRAIN:
            self.correct += (logits.argmax(-1) == batch.class_idx.to(logits.device)).sum().item()
            self.total += logits.shape[0]
        return loss

    def _wrap_distributed(self):
        """Plain DDP on CPU: SpeechBrain's SyncBatchNorm conversion only runs on GPUs."""
        if not (self.distributed_launch and str(self.device).startswith("cpu")):
            return super()._wrap_distributed()
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = torch.nn.parallel.DistributedDataParallel(
                    module, find_unused_parameters=self.find_unused_parameters
                )

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Keep the weights chosen by model selection (SpeechBrain would reload a checkpoint)."""

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        if should_step:
            self.hparams.lr_scheduler.step(self.optimizer)

    def on_stage_start(self, stage, epoch=None):
        self.correct, self.total = 0, 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = {"loss": stage_loss}
        if stage != sb.Stage.TRAIN:
            stats["accuracy"] = _all_reduce_accuracy(self.correct, self.total, self.device)
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            if self.hparams.swa.due(epoch, self.hparams.number_of_epochs):
                self.hparams.swa.update(_weights(self))
        elif stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.training_clock.tick()
            self.hparams.train_logger.log_stats(
                {"epoch": epoch, "lr": lr}, train_stats=self.train_stats, valid_stats=stats
            )
            self.checkpointer.save_and_keep_only(
                meta={"accuracy": stats["accuracy"], "epoch": epoch},
                max_keys=["accuracy"],
                num_to_keep=1,
            )
        else:
            self.hparams.train_logger.log_stats(
                {"Epoch loaded": self.hparams.epoch_counter.current, "model": self.final_model},
                test_stats=stats,
            )
        self.last_stats = stats


def _all_reduce_accuracy(correct, total, device):
    """Accuracy over every DDP process (or this one alone)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        t = torch.tensor([correct, total], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        correct, total = t.tolist()
    return correct / max(total, 1)


def _weights(brain):
    return {name: brain.modules[name] for name in ("embedding_model", "classifier")}


def _recompute_batchnorm(brain, dataset):
    """Re-estimate BatchNorm statistics of averaged weights on un-augmented training features."""
    loader = sb.dataio.dataloader.make_dataloader(dataset, batch_size=64, shuffle=False)

    def run(batch):
        feats, lens = batch.to(brain.device).feats
        brain.classify(feats, lens)

    recompute_batchnorm(run, loader, brain.modules)


def _feature_cache(hparams, manifests, data_folder):
    """Log-mel features of every clip, computed once and cached on disk.

    Training clips also get one version per speed of ``hparams["train_speeds"]``
    (SpeechBrain's ``SpeedPerturb``, cropped or zero-padded back to the clip's length), so
    speed perturbation costs nothing per epoch. The cache is keyed by the feature settings,
    the speeds, the data folder and the clip ids.
    """
    items = {split: json.loads(Path(path).read_text()) for split, path in manifests.items()}
    speeds = [int(s) for s in hparams.get("train_speeds", [])]
    fb = hparams["compute_features"]
    settings = {k: hparams[k] for k in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels")}
    key = json.dumps(
        {"settings": settings, "speeds": speeds, "data": str(Path(data_folder).resolve()),
         "ids": {split: sorted(v) for split, v in items.items()}},
        sort_keys=True,
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    cache_path = Path(hparams["save_folder"]) / f"features_{digest}.pt"

    def build():
        if cache_path.exists():
            return
        perturbers = [SpeedPerturb(orig_freq=hparams["sample_rate"], speeds=[s]) for s in speeds]
        feats = {}
        start = time.time()
        for split, split_items in items.items():
            for uid, item in split_items.items():
                wav = load_audio(item["wav"].replace("{data_root}", str(data_folder)),
                                 sample_rate=hparams["sample_rate"])[None]
                versions = [wav]
                if split == "train":
                    for perturb in perturbers:
                        fast = perturb(wav)[:, : wav.shape[1]]
                        versions.append(torch.nn.functional.pad(fast, (0, wav.shape[1] - fast.shape[1])))
                feats[uid] = fb(torch.cat(versions)).half()
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(feats, cache_path)
        print(f"cached features of {len(feats)} clips in {time.time() - start:.1f}s -> {cache_path}")

    run_on_main(build)
    return torch.load(cache_path, weights_only=True)


def dataio_prep(hparams, manifests, cache):
    """DynamicItemDatasets yielding cached features (a random speed version when training)."""

    def make_pipeline(random_version):
        @sb.utils.data_pipeline.takes("id")
        @sb.utils.data_pipeline.provides("feats")
        def feats_pipeline(uid):
            versions = cache[uid]
            pick = torch.randint(versions.shape[0], ()).item() if random_version else 0
            return versions[pick].float()

        return feats_pipeline

    datasets = {}
    for split, path in manifests.items():
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_json(
            json_path=str(path), replacements={"data_root": hparams["data_folder"]},
            dynamic_items=[make_pipeline(split == "train")],
            output_keys=["id", "feats", "class_idx", "class_string"],
        )
    return datasets


def esc50_label_encoder(data_folder):
    """CategoricalEncoder whose indices are ESC-50's own target ids."""
    encoder = sb.dataio.encoder.CategoricalEncoder()
    encoder.update_from_iterable(esc50_classes(data_folder))
    return encoder


def export_inference(hparams, brain, encoder, results):
    """Write the SpeechBrain inference folder the interpretation recipes load."""
    out = Path(hparams["inference_folder"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "READY").unlink(missing_ok=True)
    text = hparams["inference_hparams"](
        n_classes=hparams["n_classes"], sample_rate=hparams["sample_rate"], n_mels=hparams["n_mels"],
        n_fft=hparams["n_fft"], win_length=hparams["win_length"], hop_length=hparams["hop_length"],
    )
    (out / "hyperparams.yaml").write_text(text)
    for name, module in _weights(brain).items():
        torch.save(unwrap(module).state_dict(), out / f"{name}.ckpt")
    encoder.save(out / "label_encoder.ckpt")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "READY").write_text("trained by recipes/ESC50/classifier/train.py\n")
    print(f"exported inference folder -> {out}")


def main(argv):
    hparams_file, run_opts, overrides = parse_arguments(argv)
    run_opts = start_processes(run_opts)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    hparams = start_experiment(hparams_file, overrides)
    debug = run_opts.get("debug", False)
    manifest_dir = Path(hparams["save_folder"]) / ("manifests_debug" if debug else "manifests")
    run_on_main(
        prepare_esc50,
        kwargs={
            "data_folder": hparams["data_folder"], "save_folder": manifest_dir,
            "train_folds": hparams["train_folds"], "valid_folds": hparams["valid_folds"],
            "test_folds": hparams["test_folds"], "max_per_split": 16 if debug else None,
        },
    )
    manifests = {s: manifest_dir / f"{s}.json" for s in ("train", "valid", "test")}
    encoder = esc50_label_encoder(hparams["data_folder"])
    cache = _feature_cache(hparams, manifests, hparams["data_folder"])
    datasets = dataio_prep(hparams, manifests, cache)
    steps_per_epoch = math.ceil(
        len(datasets["train"]) / world / hparams["train_dataloader_opts"]["batch_size"]
    )
    if debug:
        steps_per_epoch = min(steps_per_epoch, run_opts.get("debug_batches", 2))
    if hparams["lr_scheduler"].total_steps is None:
        hparams["lr_scheduler"].total_steps = steps_per_epoch * hparams["number_of_epochs"]

    if hparams.get("use_pretrained"):
        # e.g. SpeechBrain's ESC-50 CNN14 from the Hub, as in the L-MAC paper (needs network access)
        run_on_main(hparams["pretrainer"].collect_files)
        hparams["pretrainer"].load_collected()

    brain = ClassifierBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts=run_opts, checkpointer=hparams["checkpointer"],
    )
    hparams["training_clock"].restart()  # not the set-up time before fit
    brain.fit(
        hparams["epoch_counter"], datasets["train"], datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    clock = hparams["training_clock"]
    epochs_trained = hparams["epoch_counter"].current

    # Model selection on logged validation accuracy: best checkpoint vs. weight average.
    # The best checkpoint also holds the average as it was at that epoch: keep the final one.
    swa = hparams["swa"]
    final_average = swa.n_averaged, swa.average
    brain.checkpointer.recover_if_possible(max_key="accuracy")
    swa.n_averaged, swa.average = final_average
    candidates = {}
    best = {name: {k: v.clone() for k, v in unwrap(m).state_dict().items()}
            for name, m in _weights(brain).items()}
    candidates["best checkpoint"] = _valid_accuracy(brain, datasets["valid"], hparams)
    if swa.n_averaged > 0:
        swa.load_into(_weights(brain))
        _recompute_batchnorm(brain, datasets["train"])
        candidates[f"weight average of {swa.n_averaged} epochs"] = _valid_accuracy(
            brain, datasets["valid"], hparams
        )
    choice = max(candidates, key=candidates.get)
    if choice == "best checkpoint":
        for name, m in _weights(brain).items():
            unwrap(m).load_state_dict(best[name])
    brain.final_model = choice
    if if_main_process():
        with open(hparams["train_log"], "a", encoding="utf-8") as fh:
            fh.write(f"model selection on valid accuracy: {json.dumps(candidates)} -> {choice}\n")

    brain.evaluate(datasets["test"], min_key=None, max_key=None,
                   test_loader_kwargs=hparams["valid_dataloader_opts"])
    results = {
        "test_accuracy": brain.last_stats["accuracy"],
        "valid_accuracy": candidates[choice],
        "selected": choice,
        "candidates_valid_accuracy": candidates,
        # completed epochs of every run that led here (resumes included), feature caching excluded
        "train_seconds": round(clock.wall_seconds, 1),
        "train_cpu_seconds": round(clock.cpu_seconds, 1),
        "epochs": epochs_trained,
        "folds": {"train": hparams["train_folds"], "valid": hparams["valid_folds"],
                  "test": hparams["test_folds"]},
        "debug": bool(debug),
        "world_size": world,
    }
    if if_main_process():
        export_inference(hparams, brain, encoder, results)
        print(json.dumps(results, indent=2))
    return results


@torch.no_grad()
def _valid_accuracy(brain, dataset, hparams):
    brain.modules.eval()
    brain.on_stage_start(sb.Stage.VALID)
    loader = sb.dataio.dataloader.make_dataloader(dataset, **hparams["valid_dataloader_opts"])
    for batch in loader:
        preds = brain.compute_forward(batch, sb.Stage.VALID)
        brain.compute_objectives(preds, batch, sb.Stage.VALID)
    return _all_reduce_accuracy(brain.correct, brain.total, brain.device)


if __name__ == "__main__":
    main(sys.argv[1:])
