"""Per-fold JSON manifests for ESC-50, from either of its two layouts.

* the upstream download: ``audio/*.wav`` (44.1 kHz) and ``meta/esc50.csv``;
* the 16 kHz FLAC copy, whose CSV still names ``.wav`` files.

Each manifest maps a clip id to ``{"wav": "{data_root}/audio/<file>", "class_string",
"class_idx", "fold", "esc10"}``; ``{data_root}`` is replaced when the dataset is
loaded (``DynamicItemDataset.from_json(..., replacements={"data_root": ...})``), so
manifests stay valid when the data moves. Audio is resampled on loading, so both
layouts feed the same recipes.

Usage
-----
>>> from esc50_prepare import prepare_esc50                        # doctest: +SKIP
>>> prepare_esc50("../shared/data/esc50", "results/manifests")     # doctest: +SKIP

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def find_audio(audio_dir: Path, name_in_csv: str) -> Path | None:
    """The clip's file, accepting ``.wav`` or ``.flac`` whatever the CSV says."""
    stem = Path(name_in_csv).stem
    for ext in (".wav", ".flac", ".ogg", ".mp3"):
        candidate = audio_dir / f"{stem}{ext}"
        if candidate.exists():
            return candidate
    return None


def esc50_classes(data_folder) -> list[str]:
    """ESC-50 class names ordered by their ``target`` index, read from ``meta/esc50.csv``."""
    csv_path = Path(data_folder) / "meta" / "esc50.csv"
    if not csv_path.exists():
        raise FileNotFoundError(f"'{data_folder}' is not an ESC-50 folder: {csv_path} is missing")
    with open(csv_path, newline="", encoding="utf-8") as fh:
        names = {int(r["target"]): r["category"] for r in csv.DictReader(fh)}
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{csv_path}: targets are not 0..{len(names) - 1}")
    return [names[i] for i in range(len(names))]


def prepare_esc50(data_folder, save_folder, train_folds=(1, 2, 3), valid_folds=(4,),
                  test_folds=(5,), esc10_only: bool = False, max_per_split: int | None = None):
    """Write ``train.json``, ``valid.json`` and ``test.json`` into ``save_folder``.

    Arguments
    ---------
    data_folder : str or Path
        ESC-50 root holding ``meta/esc50.csv`` and ``audio/``.
    save_folder : str or Path
        Where manifests are written; they are reused when the options are unchanged.
    train_folds, valid_folds, test_folds : sequence of int
        Folds of each split (ESC-50 has folds 1 to 5). They must not overlap.
    esc10_only : bool
        Keep only the ESC-10 subset.
    max_per_split : int, optional
        Keep the first N clips of each split, stratified over classes (debug runs).

    Returns
    -------
    dict
        ``{split: path of its manifest}``.
    """
    data_folder, save_folder = Path(data_folder), Path(save_folder)
    csv_path = data_folder / "meta" / "esc50.csv"
    audio_dir = data_folder / "audio"
    if not csv_path.exists() or not audio_dir.is_dir():
        raise FileNotFoundError(
            f"'{data_folder}' is not an ESC-50 folder: expected meta/esc50.csv and audio/ "
            "(download https://github.com/karolpiczak/ESC-50 or pass --data_folder)"
        )
    folds = {"train": list(train_folds), "valid": list(valid_folds), "test": list(test_folds)}
    seen = [f for split in SPLITS for f in folds[split]]
    if len(seen) != len(set(seen)):
        raise ValueError(f"folds overlap between splits: {folds}")
    opts = {"folds": folds, "esc10_only": esc10_only, "max_per_split": max_per_split,
            "data_folder": str(data_folder.resolve())}
    paths = {split: save_folder / f"{split}.json" for split in SPLITS}
    opts_path = save_folder / "prepare_opts.json"
    if all(p.exists() for p in paths.values()) and opts_path.exists():
        if json.loads(opts_path.read_text()) == opts:
            logger.info("ESC-50 manifests in %s are up to date", save_folder)
            return paths

    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    needed = {"filename", "fold", "target", "category"}
    if not rows or not needed.issubset(rows[0]):
        raise ValueError(f"{csv_path} lacks the columns {sorted(needed)}")
    manifests = {split: {} for split in SPLITS}
    missing = []
    for row in rows:
        if esc10_only and row.get("esc10", "False") != "True":
            continue
        fold = int(row["fold"])
        split = next((s for s in SPLITS if fold in folds[s]), None)
        if split is None:
            continue
        path = find_audio(audio_dir, row["filename"])
        if path is None:
            missing.append(row["filename"])
            continue
        manifests[split][Path(row["filename"]).stem] = {
            "wav": "{data_root}/audio/" + path.name,
            "class_string": row["category"],
            "class_idx": int(row["target"]),
            "fold": fold,
            "esc10": row.get("esc10", "False") == "True",
        }
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} clips listed in {csv_path} are missing from {audio_dir}, "
            f"e.g. {missing[:3]}"
        )
    save_folder.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        items = manifests[split]
        if max_per_split is not None:
            items = _stratified_head(items, max_per_split)
        _write_atomically(paths[split], json.dumps(items, indent=1))
        logger.info("%s: %d clips -> %s", split, len(items), paths[split])
    _write_atomically(opts_path, json.dumps(opts))
    return paths


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and rename it: processes that prepare the same folder at
    once (every rank of a torchrun job) never let another read a half-written manifest."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _stratified_head(items: dict, n: int) -> dict:
    """First ``n`` clips taking one per class in turn, so small debug splits cover many classes."""
    by_class: dict[int, list] = {}
    for key, item in sorted(items.items()):
        by_class.setdefault(item["class_idx"], []).append(key)
    order = []
    while len(order) < min(n, len(items)):
        for keys in by_class.values():
            if keys and len(order) < n:
                order.append(keys.pop(0))
    return {k: items[k] for k in order}
