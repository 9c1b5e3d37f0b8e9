#!/usr/bin/env python3
"""Train an L-MAC interpreter for an ESC-50 classifier.

The classifier named by ``classifier_source`` (a SpeechBrain inference folder, by default
the compact CNN trained by ``recipes/ESC50/classifier``) stays frozen; only the L-MAC
decoder (:class:`speechbrain_interp.interpreters.LMAC`) trains. Each training clip is
turned, at random, into a mixture with another clip or with white noise, and the loss is
computed against the classifier's prediction on the clean clip (predictions are cached
per clip). Validation logs the loss and the faithfulness metrics (AI, AD, AG, FF, Fid-In,
SPS, COMP) on the clean validation fold and on ``0.8 s1 + 0.2 s2`` mixtures (prefix
``mix_``); the checkpoint with the best ``ckpt_key`` is kept, evaluated on the test fold
and exported as ``<output_folder>/decoder.ckpt``.

Usage
-----
    python recipes/ESC50/interpret/train_lmac.py recipes/ESC50/interpret/hparams/lmac.yaml \
        --data_folder=../shared/data/esc50
    # fine-tuning stage with the guidance loss
    python recipes/ESC50/interpret/train_lmac.py recipes/ESC50/interpret/hparams/lmac.yaml \
        --data_folder=../shared/data/esc50 --guidance_weight=4.0 --number_of_epochs=5 \
        --pretrained_decoder=results/ESC50/interpret/lmac/1234/decoder.ckpt --experiment_name=lmac_ft
    # seconds-long smoke test: without a trained classifier it builds a random-weight one,
    # without ESC-50 it synthesises a handful of clips
    python recipes/ESC50/interpret/train_lmac.py recipes/ESC50/interpret/hparams/lmac.yaml --debug

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import speechbrain as sb
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from esc50_prepare import prepare_esc50  # noqa: E402
from recipe_tools import (  # noqa: E402
    AveragedGradients,
    debug_scratch,
    parse_arguments,
    peek,
    start_experiment,
    start_processes,
    synthesize_clips,
)

from speechbrain_interp import localization  # noqa: E402
from speechbrain_interp import metrics as M  # noqa: E402
from speechbrain_interp.audio import load_audio  # noqa: E402
from speechbrain_interp.checkpointing import RandomState  # noqa: E402
from speechbrain_interp.mixtures import conditional_questions, mix_sources, training_mixtures  # noqa: E402
from speechbrain_interp.two_events import evaluate_two_events, next_partner_set  # noqa: E402

logger = logging.getLogger(__name__)

SCALAR_STATS = ("loss", "ce_in", "ce_out", "l1", "tv", "guidance", "guided", "mask_mean")


class LMACBrain(AveragedGradients, sb.Brain):
    """Trains the decoder of an :class:`LMAC` brick; the classifier stays frozen."""

    def init_optimizers(self):
        """One optimizer over the trainable parameters only (the decoder's)."""
        params = [p for p in self.modules.parameters() if p.requires_grad]
        self.optimizer = self.opt_class(params)
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def on_fit_start(self):
        self._targets = {}
        self._generator = torch.Generator().manual_seed(int(self.hparams.seed))
        if self.checkpointer is not None:  # registered before the recovery in on_fit_start
            self.checkpointer.add_recoverable("random_state", RandomState({"mixtures": self._generator}),
                                              optional_load=True)  # checkpoints from before it
        super().on_fit_start()

    def clean_targets(self, ids, wavs):
        """The classifier's predictions on the clean clips, computed once per clip and cached."""
        interp = self.modules.interpreter
        if any(i not in self._targets for i in ids):
            self._targets.update({i: t for i, t in zip(ids, interp.clean_target(wavs))})
        return torch.stack([self._targets[i] for i in ids]).to(wavs.device)

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, _ = batch.sig
        interp = self.modules.interpreter
        hp = self.hparams
        if stage == sb.Stage.TRAIN:
            target = self.clean_targets(batch.id, wavs)
            mixed, kind = training_mixtures(
                wavs, hp.mix_clip_prob, hp.mix_noise_prob, tuple(hp.mix_weight_range),
                generator=self._generator, p_insert=getattr(hp, "mix_insert_prob", 0.0),
                insert_seconds=tuple(getattr(hp, "insert_seconds", (0.5, 2.0))),
                snr_range=tuple(getattr(hp, "insert_snr_range", (-5.0, 15.0))),
                sample_rate=interp.frontend.sample_rate)
            if interp.class_conditional:
                mixed, target = conditional_questions(
                    wavs, mixed, kind, target, float(getattr(hp, "other_source_prob", 0.0)),
                    float(getattr(hp, "two_event_prob", 0.0)), getattr(hp, "two_event_seconds", (0.75, 2.0)),
                    getattr(hp, "two_event_snr_range", (0.0, 15.0)), interp.frontend.sample_rate,
                    generator=self._generator)
            return {"": interp.loss(mixed, clean_wav=wavs, target=target)}
        outputs = {"": interp.loss(wavs)}
        if hp.valid_mix_weight > 0:
            w = float(hp.valid_mix_weight)
            mixed = mix_sources(wavs, wavs.roll(1, 0), 1.0 - w, w)
            outputs["mix_"] = interp.loss(mixed, clean_wav=wavs)
        return outputs

    def logged_stats(self):
        """Scalar loss statistics worth logging (terms switched off are left out)."""
        interp = self.modules.interpreter
        skip = set()
        if not interp.lambda_tv:
            skip.add("tv")
        if not interp.guidance_weight:
            skip.update(("guidance", "guided"))
        return [k for k in SCALAR_STATS if k not in skip]

    def compute_objectives(self, predictions, batch, stage):
        adapter = self.modules.interpreter.classifier
        for prefix, (_, stats) in predictions.items():
            n = stats["mask"].shape[0]
            for key in self.logged_stats():
                self._sums[prefix + key] = self._sums.get(prefix + key, 0.0) + float(stats[key]) * n
                self._counts[prefix + key] = self._counts.get(prefix + key, 0) + n
            if stage != sb.Stage.TRAIN:
                scores = mask_metrics(adapter, stats)
                for key, values in scores.items():
                    self._metrics.setdefault(prefix + key, []).append(values.detach().cpu())
        return predictions[""][0]

    def on_stage_start(self, stage, epoch=None):
        self._sums, self._counts, self._metrics = {}, {}, {}

    def summarize(self):
        """Mean of every accumulated statistic and metric of the stage."""
        stats = {k: self._sums[k] / max(1, self._counts[k]) for k in self._sums}
        stats.update({k: float(torch.cat(v).mean()) for k, v in self._metrics.items()})
        return stats

    def localization_stats(self) -> dict:
        """T-F AUC and lift of the decoder on the held-out localization mixtures (if any).

        With no mixture the classifier labels correctly there is no evidence of localization:
        the lift is logged at chance (1.0) and the AUC at 0.5, so that a localization
        ``ckpt_key`` still selects (and a classifier that hears nothing is visible as kept 0).
        """
        bench = getattr(self, "localization_set", None)
        chance = {"loc_auc": 0.5, "loc_lift": 1.0, "loc_kept": 0}
        if bench is None or len(bench) == 0:
            return chance
        table = localization.evaluate_localization({"L-MAC": self.modules.interpreter}, bench,
                                                   batch_size=int(self.hparams.batch_size))
        if table["kept"] == 0:
            logger.warning("no held-out localization mixture is labelled as its foreground: "
                           "loc_lift and loc_auc are logged at chance")
            return chance
        row = table["rows"]["L-MAC"]
        return {"loc_auc": row["T-F AUC"], "loc_lift": row["lift"], "loc_kept": table["kept"]}

    def two_event_stats(self) -> dict:
        """Own and other share of a class-conditional decoder on the held-out two-event scenes."""
        bench = getattr(self, "two_event_set", None)
        interp = self.modules.interpreter
        if bench is None or not interp.class_conditional:
            return {}
        table = evaluate_two_events({"L-MAC": interp}, bench, int(self.hparams.batch_size),
                                    top_k=int(self.hparams.two_event_top_k), energy_row=False)
        if table["kept"] == 0:
            return {"two_own": 0.0, "two_other": 0.0, "two_kept": 0}
        row = table["rows"]["L-MAC"]
        return {"two_own": row["own share"], "two_other": row["other share"], "two_kept": table["kept"]}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        stats = self.summarize()
        hp = self.hparams
        if stage == sb.Stage.VALID:
            stats.update(self.localization_stats())
            stats.update(self.two_event_stats())
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        if stage == sb.Stage.VALID:
            key, mode = hp.ckpt_key, hp.ckpt_mode
            if key not in stats:
                raise KeyError(f"ckpt_key '{key}' is not logged; logged keys: {sorted(stats)}")
            old_lr, new_lr = hp.lr_annealing(stats[key] if mode == "min" else -stats[key])
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            hp.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": old_lr},
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            selection = {"min_keys": [key]} if mode == "min" else {"max_keys": [key]}
            self.checkpointer.save_and_keep_only(meta=stats, **selection)
        else:
            hp.train_logger.log_stats(
                stats_meta={"epoch loaded": hp.epoch_counter.current}, test_stats=stats
            )


def mask_metrics(adapter, stats) -> dict:
    """AI, AD, AD (SB), AG, FF, Fid-In, SPS and COMP from the classifier passes the loss already made.

    :func:`speechbrain_interp.metrics.scores_from_logits`, the definitions of ``evaluate_mask``;
    the explained class is the prediction on the, possibly mixed, input, as in eval.py.
    """
    logits = stats["logits"]
    return M.scores_from_logits(adapter, logits, stats["logits_in"], stats["logits_out"],
                                logits.argmax(-1), stats["mask"])


def predicted_clips(adapter, dataset, n: int):
    """The first ``n`` clips of a dataset, cut to the shortest, and the classifier's predictions."""
    with dataset.output_keys_as(["sig"]):
        wavs = [dataset[i]["sig"] for i in range(min(n, len(dataset)))]
    length = min(w.shape[-1] for w in wavs)
    wavs = torch.stack([w[:length] for w in wavs])
    with torch.no_grad():
        return wavs, adapter.classify_wav(wavs).argmax(-1).cpu()


def validation_localization_set(hparams, dataset):
    """Held-out localization mixtures from the validation clips (None when switched off).

    Each validation clip's most active segment goes into the next clip (in manifest order)
    at ``localization_snr_db``; the target is the classifier's prediction on the clean clip,
    and only mixtures the classifier labels that way count (see
    :func:`speechbrain_interp.localization.evaluate_localization`).
    """
    n = int(hparams.get("localization_clips", 0) or 0)
    if n <= 0 or len(dataset) < 2:
        return None
    adapter = hparams["interpreter"].classifier
    wavs, target = predicted_clips(adapter, dataset, n)
    return localization.make_localization_set(
        wavs, wavs.roll(1, 0), adapter.sample_rate, snr_db=tuple(hparams.get("localization_snr_db", [5.0])),
        target=target, seed=int(hparams["seed"]))


def validation_two_event_set(hparams, dataset):
    """Held-out two-event scenes from the validation clips, for a class-conditional decoder.

    Clip ``i`` and the next clip of another predicted class go into white noise
    (``two_event_seconds_valid`` each, at ``two_event_snr_db``); only scenes whose two classes the
    classifier ranks in its ``two_event_top_k`` count (:func:`evaluate_two_events`).
    """
    n = int(hparams.get("two_event_clips", 0) or 0)
    if n <= 0 or len(dataset) < 2 or not hparams["interpreter"].class_conditional:
        return None
    adapter = hparams["interpreter"].classifier
    wavs, labels = predicted_clips(adapter, dataset, n)
    return next_partner_set(wavs, labels, adapter.sample_rate, hparams["two_event_seconds_valid"],
                            hparams["two_event_snr_db"], seed=int(hparams["seed"]))


def dataio_prep(hparams, manifests, data_root):
    """DynamicItemDatasets of ``(id, sig)`` for the train, valid and test manifests."""
    sample_rate = hparams["sample_rate"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return load_audio(wav, sample_rate=sample_rate)

    return {
        split: sb.dataio.dataset.DynamicItemDataset.from_json(
            json_path=str(path), replacements={"data_root": str(data_root)},
            dynamic_items=[audio_pipeline], output_keys=["id", "sig"],
        )
        for split, path in manifests.items()
    }


# --- debug mode: a random-weight classifier and synthesised (or a few ESC-50) clips -------


def prepare_debug(hparams_file, overrides: dict):
    """Overrides that make ``--debug`` self-contained; returns ``(overrides, manifests or None)``."""
    from speechbrain_interp.testing import ARCHITECTURES, make_speechbrain_classifier

    overrides = dict(overrides)
    scratch = debug_scratch("lmac_debug_")
    source = peek(hparams_file, overrides, "classifier_source")
    if not source or not (Path(str(source)) / "hyperparams.yaml").exists():
        arch = peek(hparams_file, overrides, "debug_arch") or "compact"
        folder = make_speechbrain_classifier(scratch / "classifier", arch, n_mels=32,
                                             labels=["dog", "siren", "rain", "engine"])
        logger.info("debug: no classifier at '%s', using a random-weight one in %s", source, folder)
        overrides["classifier_source"] = str(folder)
        overrides["classifier_interface"] = ARCHITECTURES[arch][0]
    if "output_folder" not in overrides and "experiment_name" not in overrides:
        overrides["experiment_name"] = "lmac_debug"
    data_folder = peek(hparams_file, overrides, "data_folder")
    manifests = None
    if not data_folder or not (Path(str(data_folder)) / "meta" / "esc50.csv").exists():
        manifests = synthesize_clips(scratch / "data")
    return overrides, manifests


def main(argv):
    hparams_file, run_opts, overrides = parse_arguments(argv)
    run_opts = start_processes(run_opts)
    manifests = None
    if run_opts.get("debug", False):
        overrides, manifests = prepare_debug(hparams_file, overrides)
    hparams = start_experiment(hparams_file, overrides)
    data_root = hparams["data_folder"]
    if manifests is None:
        sb.utils.distributed.run_on_main(
            prepare_esc50,
            kwargs={
                "data_folder": data_root, "save_folder": hparams["manifest_folder"],
                "train_folds": hparams["train_folds"], "valid_folds": hparams["valid_folds"],
                "test_folds": hparams["test_folds"],
                "max_per_split": 4 if run_opts.get("debug", False) else hparams.get("max_clips_per_split"),
            },
        )
        manifests = {s: Path(hparams["manifest_folder"]) / f"{s}.json" for s in ("train", "valid", "test")}
        n_eval = hparams.get("max_eval_clips")
        if n_eval and not run_opts.get("debug", False):
            # smaller validation and test folds (stratified over classes), full training folds
            subset = Path(hparams["manifest_folder"]) / f"eval_{n_eval}"
            sb.utils.distributed.run_on_main(
                prepare_esc50,
                kwargs={
                    "data_folder": data_root, "save_folder": subset,
                    "train_folds": hparams["train_folds"], "valid_folds": hparams["valid_folds"],
                    "test_folds": hparams["test_folds"], "max_per_split": n_eval,
                },
            )
            manifests.update({s: subset / f"{s}.json" for s in ("valid", "test")})
    datasets = dataio_prep(hparams, manifests, data_root)

    brain = LMACBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts=run_opts, checkpointer=hparams["checkpointer"],
    )
    brain.localization_set = validation_localization_set(hparams, datasets["valid"])
    brain.two_event_set = validation_two_event_set(hparams, datasets["valid"])
    brain.fit(
        brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
        train_loader_kwargs=hparams["dataloader_options"],
        valid_loader_kwargs=hparams["eval_dataloader_options"],
    )
    selection = {"min_key": hparams["ckpt_key"]} if hparams["ckpt_mode"] == "min" else {
        "max_key": hparams["ckpt_key"]}
    brain.evaluate(datasets["test"], test_loader_kwargs=hparams["eval_dataloader_options"], **selection)
    if sb.utils.distributed.if_main_process():
        path = hparams["interpreter"].save_weights(Path(hparams["output_folder"]) / "decoder.ckpt")
        logger.info("best decoder exported to %s", path)
    return brain


if __name__ == "__main__":
    main(sys.argv[1:])
