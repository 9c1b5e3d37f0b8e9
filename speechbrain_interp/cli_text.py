"""``speechbrain-interp explain clip.wav --text "dog barking" --interpreter FOLDER``: ask about a prompt.

The interpreter folder is a text-conditioned L-MAC (:mod:`speechbrain_interp.lmac_text_export`,
e.g. the ``export/`` folder of ``recipes/ESC50/interpret/train_lmac_text.py``). Each file's
explanation (WAVs of the part that matches the prompt and of the rest, the figure) goes to
``--out/<file stem>/`` with a ``summary.json``; one line per file tells the prompt's zero-shot
probability (against the label prompts) on the clip, on the masked-in and on the masked-out audio.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["run_text"]


def _refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_text(args, paths, out: Path) -> int:
    """Explain ``paths`` for ``args.text``; the exit status."""
    from speechbrain_interp.audio import load_audio
    from speechbrain_interp.lmac_text_export import is_text_lmac_folder, load_text_lmac

    prompt = str(args.text).strip()
    if not prompt:
        return _refuse("--text is empty; give the sound to look for, e.g. --text \"dog barking\"")
    for flag in ("classifier", "target", "baseline"):
        if getattr(args, flag, None):
            return _refuse(f"--text asks a text-conditioned interpreter; drop --{flag}")
    if getattr(args, "each_label", False) or getattr(args, "long", False):
        return _refuse("--text explains clips one prompt at a time; drop --each-label / --long")
    folder = getattr(args, "interpreter", None)
    if not folder or not is_text_lmac_folder(folder):
        return _refuse(f"--text needs --interpreter FOLDER of a text-conditioned L-MAC (with "
                       f"text_lmac.json); got {folder!r}. Train one with "
                       "recipes/ESC50/interpret/train_lmac_text.py (it writes <output_folder>/export)")
    brick = load_text_lmac(folder, savedir=getattr(args, "savedir", None)).to(args.device)
    rate = brick.frontend.sample_rate
    figure = "none" if getattr(args, "no_images", False) else getattr(args, "figures", "fast")
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for path in paths:
        wav = load_audio(path, sample_rate=rate, min_samples=brick.frontend.min_samples)
        e = brick.explain(wav[None], text=prompt)
        e.save(out / Path(path).stem, names=[Path(path).stem], figure=figure)
        row = {"file": str(path), "prompt": prompt, **e.to_dict(0), "asked": e.labels[int(e.target[0])]}
        summary.append(row)
        if not args.quiet:
            p_out = row.get("probability_out", float("nan"))
            print(f"{path}: '{prompt}' p={row['probability']:.3f} masked-in {row['probability_in']:.3f} "
                  f"masked-out {p_out:.3f}, mask mean {row['mask_mean']:.3f} -> {out / Path(path).stem}")
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0
