#!/usr/bin/env python3
"""Faithfulness table of interpreters on the ESC-50 test fold, in domain and out of domain.

Rows are the interpreters listed under ``interpreters`` in the hparams file: any
:class:`speechbrain_interp.interpreters.Interpreter` (L-MAC, the gradient baselines, L2I,
...), so a new brick is evaluated by adding a YAML entry. Columns are the L-MAC paper's
metrics from :func:`speechbrain_interp.metrics.evaluate_mask` (AI, AD, AG, FF, Fid-In,
SPS, COMP), then the mean of every per-clip number an interpreter puts in
``Explanation.scores``, then the explanation time per clip.

Settings (all on the same test clips, batched):

* ``in_domain``: the clean clips;
* ``mixture``: ``0.8 s1 + 0.2 s2``, ``s2`` another test clip of a different class;
* ``white_noise``: ``s + 0.5 n``;
* ``speech``: ``0.8 s + 0.2 speech``, speech synthesised with espeak-ng (skipped, and said
  so in the outputs, when espeak-ng is not installed).

Sources are energy-normalised and mixtures peak-normalised
(:func:`speechbrain_interp.interpreters.lmac.mix_sources`). Metrics use the classifier's
prediction on the (contaminated) input as the explained class. Outputs:
``<output_folder>/results.md`` (one table per setting) and ``results.json``.

Usage
-----
    python recipes/ESC50/interpret/eval.py recipes/ESC50/interpret/hparams/eval.yaml \
        --data_folder=../shared/data/esc50
    python recipes/ESC50/interpret/eval.py recipes/ESC50/interpret/hparams/eval.yaml --debug

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from esc50_prepare import prepare_esc50  # noqa: E402
from recipe_tools import debug_scratch, markdown_table, parse_arguments, peek, synthesize_clips  # noqa: E402

from speechbrain_interp import localization, sanity, two_events  # noqa: E402
from speechbrain_interp.audio import load_audio  # noqa: E402
from speechbrain_interp.interpreters.lmac import add_white_noise, mix_sources  # noqa: E402
from speechbrain_interp.metrics import METRIC_NAMES, evaluate_explanation, evaluate_mask  # noqa: E402

logger = logging.getLogger(__name__)

SETTINGS = ("in_domain", "mixture", "white_noise", "speech", "localization", "sanity", "two_events")
#: Reference rows that every table carries beside the bricks (see speechbrain_interp.localization).
REFERENCE_ROWS = ("fixed profile", "energy mask", "all-ones")

# Sentences for the speech setting, spoken by espeak-ng with several voices.
SENTENCES = (
    "The morning train was late again, so we walked along the river instead.",
    "Please put the blue folder on the second shelf before you leave.",
    "Seven small boats drifted slowly past the old stone harbour.",
    "He said the meeting would start at half past ten on Thursday.",
    "A warm wind came down from the hills and the fields turned gold.",
    "Could you tell me where the nearest library is, please?",
    "The recipe needs two eggs, a cup of flour and a pinch of salt.",
    "Nobody expected the quiet student to win the chess tournament.",
    "Turn left at the bakery, then keep going until you see the bridge.",
    "Our neighbours painted their front door a bright shade of green.",
    "The radio played an old song while the kettle began to whistle.",
    "Every evening the lighthouse keeper wrote a few lines in his journal.",
)


def load_clips(manifest, data_root, sample_rate: int, max_clips=None):
    """All clips of a manifest as one ``(n, time)`` tensor, with ids and class indices (or None)."""
    items = json.loads(Path(manifest).read_text(encoding="utf-8"))
    keys = sorted(items)[:max_clips] if max_clips else sorted(items)
    wavs = [load_audio(items[k]["wav"].replace("{data_root}", str(data_root)), sample_rate=sample_rate)
            for k in keys]
    length = max(w.shape[0] for w in wavs)
    batch = torch.zeros(len(wavs), length)
    for i, w in enumerate(wavs):
        batch[i, : w.shape[0]] = w
    labels = None
    if all("class_idx" in items[k] for k in keys):
        labels = torch.tensor([int(items[k]["class_idx"]) for k in keys])
    return keys, batch, labels


def partner_indices(n: int, labels=None, seed: int = 0) -> torch.Tensor:
    """A fixed random partner for each clip: never itself and, when labels are known, another class.

    Example
    -------
    >>> p = partner_indices(6, torch.tensor([0, 0, 1, 1, 2, 2]))
    >>> bool((p != torch.arange(6)).all())
    True
    """
    gen = torch.Generator().manual_seed(seed)
    idx = torch.arange(n)
    perm = torch.randperm(n, generator=gen)
    for _ in range(100):
        bad = perm == idx
        if labels is not None:
            bad = bad | (labels[perm] == labels)
        if not bad.any() or n < 2:
            break
        # re-draw the partners of clashing clips among all clips
        perm[bad] = torch.randint(0, n, (int(bad.sum()),), generator=gen)
    return torch.where(perm == idx, (idx + 1) % max(n, 1), perm)


def synthesize_speech(folder, voices, sample_rate: int):
    """One long stream of speech per voice (all :data:`SENTENCES`), synthesised with espeak-ng.

    Returns a ``(voices, time)`` tensor, or None when espeak-ng is not installed. Files are
    cached in ``folder``.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pause = torch.zeros(int(0.25 * sample_rate))
    streams = []
    for v, voice in enumerate(voices):
        parts = []
        for s, text in enumerate(SENTENCES):
            path = folder / f"{voice.replace('+', '_')}_{s:02d}.wav"
            if not path.exists():
                speed = str(140 + 10 * ((v + s) % 4))
                subprocess.run([exe, "-v", voice, "-s", speed, "-w", str(path), text], check=True,
                               capture_output=True)
            parts += [load_audio(path, sample_rate=sample_rate), pause]
        streams.append(torch.cat(parts))
    length = min(s.shape[0] for s in streams)
    return torch.stack([s[:length] for s in streams])


def speech_for_clips(streams: torch.Tensor, n: int, length: int, seed: int = 0) -> torch.Tensor:
    """``(n, length)`` speech excerpts: clip ``i`` reads voice ``i % voices`` from a random offset.

    Streams shorter than ``length`` are tiled.
    """
    voices, total = streams.shape
    if total < length + 1:
        streams = streams.repeat(1, length // total + 2)
        total = streams.shape[1]
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.randint(0, total - length, (n,), generator=gen)
    cols = offsets[:, None] + torch.arange(length)[None, :]
    return streams[torch.arange(n) % voices][torch.arange(n)[:, None], cols]


def contaminate(setting: str, wavs, hparams, labels=None, speech=None):
    """The whole test set for one setting, batched."""
    seed = int(hparams["seed"])
    if setting == "in_domain":
        return wavs
    if setting == "mixture":
        w1, w2 = hparams["mixture_weights"]
        return mix_sources(wavs, wavs[partner_indices(wavs.shape[0], labels, seed)], w1, w2)
    if setting == "white_noise":
        return add_white_noise(wavs, hparams["noise_weight"], generator=torch.Generator().manual_seed(seed))
    if setting == "speech":
        w1, w2 = hparams["speech_weights"]
        return mix_sources(wavs, speech_for_clips(speech, wavs.shape[0], wavs.shape[1], seed), w1, w2)
    raise ValueError(f"unknown setting '{setting}'; choose from {SETTINGS}")


def _accumulate(sums, counts, scores):
    for key, values in scores.items():
        values = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
        finite = values[torch.isfinite(values)]
        sums[key] = sums.get(key, 0.0) + float(finite.sum())
        counts[key] = counts.get(key, 0) + int(finite.numel())


def evaluate_setting(interpreters: dict, wavs: torch.Tensor, batch_size: int, references=True) -> dict:
    """Mean metrics, mean extra scores and seconds per clip of every interpreter on ``wavs``.

    With ``references``, the rows of :data:`REFERENCE_ROWS` follow: the first brick's mean
    mask used for every clip, the clip's normalised log-magnitude, and all-ones.
    """
    rows, profile_sum = {}, None
    for index, (name, interp) in enumerate(interpreters.items()):
        interp.eval()
        sums, counts, seconds = {}, {}, 0.0
        for start in range(0, wavs.shape[0], batch_size):
            batch = wavs[start : start + batch_size]
            t0 = time.perf_counter()
            e = interp.explain(batch)
            seconds += time.perf_counter() - t0
            with torch.no_grad():  # the explanation carries the classifier's logits: no new pass
                scores = evaluate_explanation(e, interp.classifier)
            scores.update(e.scores)
            _accumulate(sums, counts, scores)
            if index == 0 and references:
                total = e.mask.double().sum(0)
                profile_sum = total if profile_sum is None else profile_sum + total
        row = {k: sums[k] / counts[k] if counts[k] else float("nan") for k in sums}
        row["s/clip"] = seconds / wavs.shape[0]
        rows[name] = row
        logger.info("%s: %s", name, {k: round(v, 4) for k, v in row.items()})
    if references and profile_sum is not None:
        adapter = next(iter(interpreters.values())).classifier
        profile = (profile_sum / wavs.shape[0]).float()
        ref_sums = {name: ({}, {}) for name in REFERENCE_ROWS}
        for start in range(0, wavs.shape[0], batch_size):
            spec = adapter.frontend(wavs[start : start + batch_size])
            masks = localization.reference_masks(adapter.frontend, spec.magnitude, spec.magnitude)
            masks["fixed profile"] = profile.expand_as(spec.magnitude)
            with torch.no_grad():
                for name in REFERENCE_ROWS:
                    _accumulate(*ref_sums[name], evaluate_mask(adapter, spec.magnitude, masks[name],
                                                               phase=spec.phase))
        for name, (sums, counts) in ref_sums.items():
            rows[name] = {k: sums[k] / counts[k] if counts[k] else float("nan") for k in sums}
    return rows


def localization_backgrounds(kind: str, wavs, labels, hparams, speech=None):
    """``(n, time)`` backgrounds of one kind for ``wavs``: ``clip``, ``white_noise`` or ``speech``."""
    seed = int(hparams["seed"])
    if kind == "clip":
        return wavs[partner_indices(wavs.shape[0], labels, seed)]
    if kind == "white_noise":
        gen = torch.Generator().manual_seed(seed)
        return 0.05 * torch.randn(wavs.shape, generator=gen)
    if kind == "speech":
        return speech_for_clips(speech, wavs.shape[0], wavs.shape[1], seed)
    raise ValueError(f"unknown localization background '{kind}'; use clip, white_noise or speech")


def evaluate_localization_setting(interpreters: dict, wavs, labels, hparams, speech=None) -> dict:
    """Ground-truth localization of every brick, per SNR and per background kind.

    Each test clip's most active 1-2 s go into each background kind at every SNR of
    ``localization_snr_db``; only mixtures the classifier labels as the foreground's class
    are kept (the foreground's class is its ESC-50 label, or the classifier's prediction on
    the clean clip when labels are unknown).
    """
    adapter = next(iter(interpreters.values())).classifier
    if labels is None:
        labels = localization.predictions(adapter, wavs, int(hparams["batch_size"]))
    kinds = [k for k in hparams["localization_backgrounds"] if k != "speech" or speech is not None]
    sets = [localization.make_localization_set(
        wavs, localization_backgrounds(kind, wavs, labels, hparams, speech), hparams["sample_rate"],
        snr_db=tuple(hparams["localization_snr_db"]), seconds=tuple(hparams["localization_seconds"]),
        target=labels, background_kind=[kind] * wavs.shape[0], seed=int(hparams["seed"]) + k)
        for k, kind in enumerate(kinds)]
    bench = localization.LocalizationSet(
        *(torch.cat([getattr(b, f) for b in sets]) for f in
          ("mixture", "foreground", "background", "span", "target", "snr_db")),
        [k for b in sets for k in b.background_kind], [i for b in sets for i in b.ids])
    table = localization.evaluate_localization(interpreters, bench, int(hparams["batch_size"]))
    block = {"clips": wavs.shape[0], "kept": table["kept"], "total": table["total"],
             "backgrounds": kinds, "rows": table["rows"], "by_snr": {}, "by_background": {}}
    groups = [("by_snr", f"{float(v):+g} dB", table["snr_db"] == v) for v in table["snr_db"].unique()]
    kind_of = table["background_kind"]
    groups += [("by_background", kind, torch.tensor([k == kind for k in kind_of])) for kind in kinds]
    for key, label, select in groups:
        if not bool(select.any()):
            continue
        block[key][label] = {"kept": int(select.sum()), "rows": {
            name: {m: localization.nanmean(v[select]) for m, v in scores.items()}
            for name, scores in table["per_mixture"].items()}}
    return block


def evaluate_two_events_setting(interpreters: dict, wavs, labels, hparams) -> dict:
    """Two events of different classes per scene, each brick asked about each (see ``two_events``).

    Clip ``i`` and its partner (another class) are inserted, ``two_event_seconds`` each, into
    white noise at ``two_event_snr_db``; scenes count when the classifier ranks both classes
    among its ``two_event_top_k``. The fixed-profile row is the mean mask of the brick named by
    ``two_event_profile_of`` (when it is evaluated); with ``two_event_paper_metrics``, the paper
    metrics of every brick asked about each event.
    """
    adapter = next(iter(interpreters.values())).classifier
    if labels is None or (adapter.num_classes and int(labels.max()) >= adapter.num_classes):
        # unlabelled clips, or labels the classifier does not have (--debug's random classifier)
        labels = localization.predictions(adapter, wavs, int(hparams["batch_size"]))
    seed = int(hparams["seed"])
    partner = partner_indices(wavs.shape[0], labels, seed)
    gen = torch.Generator().manual_seed(seed)
    clip_s = wavs.shape[1] / hparams["sample_rate"]
    seconds = min(float(hparams["two_event_seconds"]), 0.4 * clip_s)  # short (debug) clips: shorter events
    bench = two_events.make_two_event_set(
        wavs, wavs[partner], 0.05 * torch.randn(wavs.shape, generator=gen), hparams["sample_rate"],
        torch.stack([labels, labels[partner]], 1), seconds=seconds, gap=min(0.5, 0.2 * clip_s),
        snr_db=float(hparams["two_event_snr_db"]), seed=seed)
    profile_of = hparams.get("two_event_profile_of")
    table = two_events.evaluate_two_events(interpreters, bench, int(hparams["batch_size"]),
                                           top_k=int(hparams["two_event_top_k"]),
                                           profile_of=profile_of if profile_of in interpreters else None,
                                           paper_metrics=bool(hparams.get("two_event_paper_metrics", True)))
    table.pop("profile", None)  # a tensor: the fixed-profile rows hold what it scores
    return {"clips": wavs.shape[0], **table}


def _fmt(key: str, value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if key in ("AI", "AD", "AD (SB)", "AG"):
        return f"{value:.2f}"
    if key == "s/clip":
        return f"{value:.4f}"
    return f"{value:.3f}"


def _table(rows: dict, cols) -> list:
    full = {name: {c: row.get(c, float("nan")) for c in cols} for name, row in rows.items()}
    return markdown_table(full, cols, fmt=_fmt) + [""]


def markdown_tables(results: dict) -> str:
    """One Markdown table per setting: metrics first, then extra scores, then seconds per clip."""
    out = []
    for setting, block in results["settings"].items():
        out.append(f"### {setting} ({block['clips']} clips)\n")
        if block.get("skipped"):
            out.append(f"Skipped: {block['skipped']}\n")
            continue
        if setting == "localization":
            cols = list(localization.LOCALIZATION_METRICS)
            out.append(f"{block['kept']} of {block['total']} mixtures kept (labelled as the "
                       f"foreground's class); backgrounds: {', '.join(block['backgrounds'])}.\n")
            out += _table(block["rows"], cols)
            for key in ("by_snr", "by_background"):
                for label, sub in block[key].items():
                    out.append(f"#### {label} ({sub['kept']} mixtures)\n")
                    out += _table(sub["rows"], cols)
            continue
        if setting == "sanity":
            cols = sorted({k for row in block["rows"].values() for k in row})
            out += _table(block["rows"], cols)
            continue
        if setting == "two_events":
            out.append(f"{block['kept']} of {block['total']} two-event scenes kept (both classes in the "
                       "classifier's top k); each brick is asked about each event.\n")
            out += _table(block["rows"], list(two_events.TWO_EVENT_METRICS))
            if block.get("paper"):
                out.append("\nPaper metrics, each brick asked about each event (the explained class is the "
                           "asked event's):\n")
                out += _table(block["paper"], list(METRIC_NAMES))
            continue
        extra = sorted({k for row in block["rows"].values() for k in row}
                       - set(METRIC_NAMES) - {"s/clip"})
        out += _table(block["rows"], list(METRIC_NAMES) + extra + ["s/clip"])
    return "\n".join(out) + "\n"


def select_rows(interpreters: dict, rows=None) -> dict:
    """The interpreters named in ``rows`` (all when ``rows`` is empty), in the order given.

    >>> select_rows({"a": 1, "b": 2, "c": 3}, ["c", "a"])
    {'c': 3, 'a': 1}
    """
    if not rows:
        return dict(interpreters)
    unknown = [r for r in rows if r not in interpreters]
    if unknown:
        raise SystemExit(f"error: rows {unknown} are not in `interpreters` ({', '.join(interpreters)}); "
                         "fix --rows")
    return {r: interpreters[r] for r in rows}


def prepare_debug(hparams_file, overrides: dict):
    """Random-weight classifier, synthesised clips and untrained decoders when nothing trained exists."""
    from speechbrain_interp.testing import make_speechbrain_classifier

    overrides = dict(overrides)
    scratch = debug_scratch("lmac_eval_debug_")
    source = peek(hparams_file, overrides, "classifier_source")
    if not source or not (Path(str(source)) / "hyperparams.yaml").exists():
        overrides["classifier_source"] = str(make_speechbrain_classifier(
            scratch / "classifier", "compact", n_mels=32, labels=["dog", "siren", "rain", "engine"]))
        overrides["classifier_interface"] = "EncoderClassifier"
    for key in ("lmac_decoder", "lmac_ft_decoder", "lmac_cond_decoder"):
        path = peek(hparams_file, overrides, key)
        if path and not Path(str(path)).exists():
            overrides[key] = None  # untrained decoder: a smoke test, not a result
    overrides.setdefault("max_clips", 4)
    overrides.setdefault("batch_size", 2)
    overrides.setdefault("ig_steps", 4)
    overrides.setdefault("smoothgrad_samples", 2)
    if "output_folder" not in overrides:
        overrides["output_folder"] = str(scratch / "eval")
    manifest = None
    data_folder = peek(hparams_file, overrides, "data_folder")
    if not data_folder or not (Path(str(data_folder)) / "meta" / "esc50.csv").exists():
        manifest = synthesize_clips(scratch / "data", n_per_split=4)["test"]
    return overrides, manifest


def main(argv):
    hparams_file, run_opts, overrides = parse_arguments(argv)
    debug = bool(run_opts.get("debug", False))
    manifest = None
    if debug:
        overrides, manifest = prepare_debug(hparams_file, overrides)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    torch.manual_seed(int(hparams["seed"]))
    out = Path(hparams["output_folder"])
    out.mkdir(parents=True, exist_ok=True)
    data_root = hparams["data_folder"]
    if manifest is None:
        # max_clips: a subset stratified over classes (one clip per class in turn)
        manifest = prepare_esc50(data_root, hparams["manifest_folder"], train_folds=(),
                                 valid_folds=(), test_folds=hparams["test_folds"],
                                 max_per_split=hparams["max_clips"])["test"]
    ids, wavs, labels = load_clips(manifest, data_root, hparams["sample_rate"], hparams["max_clips"])
    logger.info("evaluating %d clips from %s", len(ids), manifest)

    interpreters = select_rows(hparams["interpreters"], hparams.get("rows"))
    results = {"classifier_source": str(hparams["classifier_source"]), "debug": debug,
               "manifest": str(manifest), "settings": {}}
    speech = None
    for setting in hparams["settings"]:
        needs_speech = setting == "speech" or (
            setting == "localization" and "speech" in hparams["localization_backgrounds"])
        if needs_speech and speech is None:
            speech = synthesize_speech(hparams["speech_folder"], hparams["speech_voices"],
                                       hparams["sample_rate"])
        if setting == "localization":
            if speech is None and "speech" in hparams["localization_backgrounds"]:
                logger.warning("espeak-ng not found: localization runs without speech backgrounds")
            block = evaluate_localization_setting(interpreters, wavs, labels, hparams, speech)
            results["settings"][setting] = block
            (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
            continue
        if setting == "two_events":
            results["settings"][setting] = evaluate_two_events_setting(interpreters, wavs, labels, hparams)
            (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
            continue
        if setting == "sanity":
            n = min(int(hparams["sanity_clips"]), wavs.shape[0])
            rows = sanity.sanity_checks(interpreters, wavs[:n],
                                        counts=tuple(hparams["sanity_randomize"]),
                                        batch_size=int(hparams["batch_size"]), seed=int(hparams["seed"]))
            results["settings"][setting] = {"clips": n, "rows": rows}
            (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
            continue
        if setting == "speech":
            if speech is None:
                logger.warning("espeak-ng not found: the speech setting is skipped")
                results["settings"][setting] = {"clips": 0, "rows": {},
                                                "skipped": "espeak-ng is not installed"}
                continue
        noisy = contaminate(setting, wavs, hparams, labels, speech)
        rows = evaluate_setting(interpreters, noisy, int(hparams["batch_size"]))
        results["settings"][setting] = {"clips": len(ids), "rows": rows}
        (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "results.md").write_text(markdown_tables(results), encoding="utf-8")
    print(markdown_tables(results))
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s - %(message)s")
    main(sys.argv[1:])
