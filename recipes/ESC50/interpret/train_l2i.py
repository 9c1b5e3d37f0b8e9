#!/usr/bin/env python3
"""Train L2I (Listen to Interpret) on a frozen ESC-50 classifier.

Psi decodes the classifier's hidden layers into the activations of the NMF dictionary
learned by ``train_nmf.py``; Theta predicts the classifier's output from the pooled
activations. The loss is :meth:`speechbrain_interp.interpreters.L2I.loss`: reconstruction,
L1 sparsity, fidelity to the classifier's softmax and, unless ``--lambda_in=0``, the
masked-in fidelity of the relevant components' soft mask through the frozen classifier.

Validation logs, besides the loss terms, the two numbers L2I is judged on, measured
exactly as at inference (thresholded relevance, ratio mask in the mask domain):

* ``fidelity_top1``: share of clips where Theta's top class is the classifier's;
* ``fid_in``: share of clips where the classifier's top class on the masked-in
  spectrogram is its top class on the input (Fid-In);

and ``score``, their mean, on which the checkpoint is selected. The best checkpoint is
evaluated on the test fold and exported to ``<output_folder>/l2i.safetensors`` (Psi,
Theta and the dictionary), with ``results.json`` and a few explained test clips
(interpretation, residual and the top components as WAVs, plus a figure) in
``<output_folder>/examples``.

The classifier is frozen and clips are not augmented, so its outputs and hidden layers
are computed once per clip and cached in memory (``cache_classifier_outputs``).

Usage
-----
    python recipes/ESC50/interpret/train_l2i.py recipes/ESC50/interpret/hparams/l2i.yaml \
        --data_folder=../shared/data/esc50
    # seconds-long smoke test: random-weight classifier, synthesised clips and an untrained
    # dictionary when the trained ones are missing
    python recipes/ESC50/interpret/train_l2i.py recipes/ESC50/interpret/hparams/l2i.yaml --debug

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path

import speechbrain as sb
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from recipe_tools import (  # noqa: E402
    AveragedGradients,
    RunningMeans,
    parse_arguments,
    start_experiment,
    start_processes,
)
from recipe_tools import esc50_datasets as dataio_prep  # noqa: E402
from recipe_tools import esc50_debug_overrides as prepare_debug  # noqa: E402

logger = logging.getLogger(__name__)


class L2IBrain(AveragedGradients, sb.Brain):
    """Trains Psi and Theta of an :class:`~speechbrain_interp.interpreters.L2I` brick."""

    @property
    def interpreter(self):
        return self.hparams.interpreter

    def init_optimizers(self):
        """Only Psi and Theta learn; the classifier and the dictionary stay fixed."""
        self.optimizer = self.opt_class(self.interpreter.trainable_parameters())
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def classifier_outputs(self, ids, spectrum):
        """Logits and hidden layers of the frozen classifier, cached per clip id."""
        use_cache = self.hparams.cache_classifier_outputs
        if use_cache and all(i in self.cache for i in ids):
            logits = torch.stack([self.cache[i][0] for i in ids]).to(self.device)
            hidden = {name: torch.stack([self.cache[i][1][name] for i in ids]).to(self.device).float()
                      for name in self.interpreter.layers}
            return logits, hidden
        with torch.no_grad():
            logits, hidden = self.interpreter.classifier.forward_with_hidden(
                spectrum.magnitude, phase=spectrum.phase
            )
        if use_cache:
            for b, i in enumerate(ids):
                # half precision halves the memory; Psi reads them back as float32
                layers = {n: hidden[n][b].half().cpu() for n in self.interpreter.layers}
                self.cache[i] = (logits[b].cpu(), layers)
        return logits, hidden

    def compute_forward(self, batch, stage):
        wavs, _ = batch.sig
        interp = self.interpreter
        spectrum = interp.frontend(wavs.to(self.device))
        logits, hidden = self.classifier_outputs(batch.id, spectrum)
        loss, stats = interp.loss_from_hidden(spectrum.magnitude, logits, hidden, phase=spectrum.phase)
        if stage != sb.Stage.TRAIN:
            with torch.no_grad():
                predicted = logits.argmax(-1)
                out = interp.decompose(spectrum, predicted, hidden)
                masked = interp.classifier(interp.frontend.apply_mask(spectrum.magnitude, out["mask"]),
                                           phase=spectrum.phase)
                stats["fid_in"] = (masked.argmax(-1) == predicted).float().mean()
                stats["mask_mean"] = out["mask"].mean()
                stats["n_selected"] = out["selected"].sum(-1).mean()
        return loss, stats

    def compute_objectives(self, predictions, batch, stage):
        loss, stats = predictions
        stats = {"loss": loss.detach(), **stats}
        self.running.update({k: float(v) for k, v in stats.items()}, len(batch.id))
        return loss

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        if should_step:
            self.hparams.lr_scheduler.step(self.optimizer)

    def on_stage_start(self, stage, epoch=None):
        self.running = RunningMeans()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = self.running.means()
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats["score"] = 0.5 * (stats["fidelity_top1"] + stats["fid_in"])
        self.last_stats = stats
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr}, train_stats=self.train_stats, valid_stats=stats
            )
            self.checkpointer.save_and_keep_only(meta=stats, max_keys=[self.hparams.ckpt_key])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats
            )


def save_examples(hparams, interpreter, dataset, n: int):
    """Explain the first ``n`` clips of ``dataset`` and write WAVs, figures and summary.json."""
    if n <= 0:
        return None
    items = [dataset[i] for i in range(min(n, len(dataset)))]
    length = min(item["sig"].shape[0] for item in items)
    wavs = torch.stack([item["sig"][:length] for item in items])
    e = interpreter.explain(wavs)
    return e.save(hparams["examples_folder"], names=[item["id"] for item in items])


def main(argv):
    hparams_file, run_opts, overrides = parse_arguments(argv)
    run_opts = start_processes(run_opts)
    debug = bool(run_opts.get("debug", False))
    if debug:
        overrides = prepare_debug(hparams_file, overrides, extra_none=("nmf_dictionary",))
        overrides.setdefault("channels", 16)
        overrides.setdefault("n_blocks", 1)
        overrides.setdefault("n_examples", 2)
    hparams = start_experiment(hparams_file, overrides)
    datasets = dataio_prep(hparams, debug)
    interpreter = hparams["interpreter"]
    hparams["checkpointer"].add_recoverables({"psi": interpreter.psi, "theta": interpreter.theta})
    steps = math.ceil(len(datasets["train"]) / hparams["dataloader_opts"]["batch_size"])
    if debug:
        steps = min(steps, int(run_opts.get("debug_batches", 2)))
    if hparams["lr_scheduler"].total_steps is None:
        hparams["lr_scheduler"].total_steps = steps * hparams["number_of_epochs"]

    brain = L2IBrain(modules={"interpreter": interpreter}, opt_class=hparams["opt_class"],
                     hparams=hparams, run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.cache = {}
    start = time.time()
    brain.fit(hparams["epoch_counter"], datasets["train"], datasets["valid"],
              train_loader_kwargs=hparams["dataloader_opts"],
              valid_loader_kwargs=hparams["eval_dataloader_opts"])
    train_seconds = time.time() - start
    epochs_trained = hparams["epoch_counter"].current  # before the best checkpoint is loaded
    brain.evaluate(datasets["test"], max_key=hparams["ckpt_key"],
                   test_loader_kwargs=hparams["eval_dataloader_opts"])
    test = brain.last_stats
    interpreter.save_weights(hparams["weights_file"])
    examples = save_examples(hparams, interpreter, datasets["test"], int(hparams["n_examples"]))
    results = {
        "test_fidelity_top1": test["fidelity_top1"], "test_fid_in": test["fid_in"],
        "test_mask_mean": test["mask_mean"], "test_n_selected": test["n_selected"],
        "test_stats": test, "train_seconds": round(train_seconds, 1),
        "epochs": epochs_trained,
        "best_epoch": hparams["epoch_counter"].current, "lambda_in": hparams["lambda_in"],
        "classifier_source": str(hparams["classifier_source"]),
        "nmf_dictionary": None if hparams["nmf_dictionary"] is None else str(hparams["nmf_dictionary"]),
        "weights": str(hparams["weights_file"]), "examples": len(examples or []), "debug": debug,
    }
    (Path(hparams["output_folder"]) / "results.json").write_text(json.dumps(results, indent=2),
                                                                 encoding="utf-8")
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s - %(message)s")
    main(sys.argv[1:])
