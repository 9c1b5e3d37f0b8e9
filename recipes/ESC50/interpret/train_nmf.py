#!/usr/bin/env python3
"""Learn the NMF dictionary L2I explains with, in the classifier front-end's mask domain.

During the first ``dictionary_epochs`` epochs, each training batch moves the dictionary
by one online multiplicative update
(:meth:`speechbrain_interp.solvers.nmf_dictionary.NMFDictionary.partial_fit`: activations
fitted with the dictionary fixed, then running sums of the update's numerator and
denominator); every batch trains the amortised encoder
(:class:`~speechbrain_interp.solvers.nmf_dictionary.NMFEncoder`) by gradient descent against
the current dictionary, which stays fixed in the remaining epochs. Validation logs the
relative reconstruction error ``||X - W H|| / ||X||`` of both (``error``: multiplicative
updates with the dictionary fixed; ``encoder_error``: one encoder pass) and their mean
``mean_error``; the checkpoint with the lowest ``mean_error`` is kept, evaluated on the
test fold, normalised (unit-norm components ordered by spectral centroid) and exported:

* ``<output_folder>/nmf_dictionary.safetensors``, read by ``train_l2i.py``;
* ``<output_folder>/nmf_encoder.safetensors``;
* ``<output_folder>/results.json``.

Usage
-----
    python recipes/ESC50/interpret/train_nmf.py recipes/ESC50/interpret/hparams/nmf.yaml \
        --data_folder=../shared/data/esc50
    # seconds-long smoke test: random-weight classifier and synthesised clips if needed
    python recipes/ESC50/interpret/train_nmf.py recipes/ESC50/interpret/hparams/nmf.yaml --debug

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
    RunningMeans,
    parse_arguments,
    start_experiment,
)
from recipe_tools import esc50_datasets as dataio_prep  # noqa: E402
from recipe_tools import esc50_debug_overrides as prepare_debug  # noqa: E402

logger = logging.getLogger(__name__)


# the debug set-up, data sets and running means are shared with train_l2i.py: recipe_tools.py
# --- the Brain ----------------------------------------------------------------------------
class NMFBrain(sb.Brain):
    """Online multiplicative updates of the dictionary and gradient steps of the encoder."""

    def spectra(self, batch):
        wavs, _ = batch.sig
        frontend = self.hparams.classifier.frontend
        spectrum = frontend(wavs.to(self.device))
        return frontend.to_mask_domain(spectrum.magnitude)

    def compute_forward(self, batch, stage):
        x = self.spectra(batch)
        dictionary = self.modules.dictionary
        epoch = self.hparams.epoch_counter.current
        if stage == sb.Stage.TRAIN and epoch <= int(self.hparams.dictionary_epochs):
            dictionary.partial_fit(x, n_inner=int(self.hparams.inner_iterations),
                                   forget_factor=float(self.hparams.forget_factor))
        return x, self.modules.encoder(x)

    def compute_objectives(self, predictions, batch, stage):
        x, H = predictions
        dictionary = self.modules.dictionary
        loss = dictionary.divergence(x, H, reduction="mean")
        if self.hparams.encoder_l1:
            loss = loss + float(self.hparams.encoder_l1) * H.mean()
        n = x.shape[0]
        stats = {"loss": float(loss.detach())}
        if stage != sb.Stage.TRAIN:
            with torch.no_grad():
                energy = float(x.pow(2).sum())
                fitted = dictionary.transform(x, n_iter=int(self.hparams.transform_iterations))
                self.energy += energy
                self.err_mu += float((dictionary.reconstruct(fitted) - x).pow(2).sum())
                self.err_enc += float((dictionary.reconstruct(H) - x).pow(2).sum())
        self.running.update(stats, n)
        return loss

    def on_stage_start(self, stage, epoch=None):
        self.running = RunningMeans()
        self.energy = self.err_mu = self.err_enc = 0.0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = self.running.means()
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats["error"] = math.sqrt(self.err_mu / max(self.energy, 1e-30))
        stats["encoder_error"] = math.sqrt(self.err_enc / max(self.energy, 1e-30))
        stats["mean_error"] = 0.5 * (stats["error"] + stats["encoder_error"])
        self.last_stats = stats
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch}, train_stats=self.train_stats, valid_stats=stats
            )
            self.checkpointer.save_and_keep_only(meta=stats, min_keys=[self.hparams.ckpt_key])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats
            )


def export(hparams, brain, results: dict):
    """Normalise the dictionary (the encoder follows) and write both with the results."""
    dictionary, encoder = brain.modules.dictionary, brain.modules.encoder
    encoder.absorb_normalization_(*dictionary.normalization())
    dictionary.normalize_()
    fe = hparams["classifier"].frontend
    dictionary.save(hparams["dictionary_file"], sample_rate=fe.sample_rate, n_fft=fe.n_fft,
                    win_length=fe.win_length, hop_length=fe.hop_length,
                    classifier_source=str(hparams["classifier_source"]))
    encoder.save(hparams["encoder_file"])
    out = Path(hparams["output_folder"])
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    logger.info("dictionary -> %s", hparams["dictionary_file"])


def main(argv):
    hparams_file, run_opts, overrides = parse_arguments(argv)
    debug = bool(run_opts.get("debug", False))
    if debug:
        overrides = prepare_debug(hparams_file, overrides)
        overrides.setdefault("n_components", 16)
        overrides.setdefault("inner_iterations", 10)
        overrides.setdefault("transform_iterations", 10)
    hparams = start_experiment(hparams_file, overrides)
    datasets = dataio_prep(hparams, debug)
    brain = NMFBrain(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
                     run_opts=run_opts, checkpointer=hparams["checkpointer"])
    start = time.time()
    brain.fit(hparams["epoch_counter"], datasets["train"], datasets["valid"],
              train_loader_kwargs=hparams["dataloader_opts"],
              valid_loader_kwargs=hparams["eval_dataloader_opts"])
    train_seconds = time.time() - start
    epochs_trained = hparams["epoch_counter"].current  # before the best checkpoint is loaded
    brain.evaluate(datasets["test"], min_key=hparams["ckpt_key"],
                   test_loader_kwargs=hparams["eval_dataloader_opts"])
    results = {
        "test_relative_error": brain.last_stats["error"],
        "test_encoder_relative_error": brain.last_stats["encoder_error"],
        "n_components": hparams["n_components"], "beta": hparams["beta"],
        "train_seconds": round(train_seconds, 1), "epochs": epochs_trained,
        "best_epoch": hparams["epoch_counter"].current,
        "classifier_source": str(hparams["classifier_source"]), "debug": debug,
    }
    export(hparams, brain, results)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s - %(message)s")
    main(sys.argv[1:])
