#!/usr/bin/env python3
"""Export a class-conditional L-MAC that reads the classifier's evidence for the asked class.

The brick is a trained L-MAC decoder (by default the bundled one) gated by the class evidence
of one hidden layer (:mod:`speechbrain_interp.class_evidence`): ``explain(wav, target=c)``
masks class ``c``'s evidence. ``--decoder`` may also be a decoder that ``train_lmac.py
--evidence_layer=...`` trained further. The folder is a Hub repository (hyperparams.yaml,
safetensors, model card), checked by loading it back; ``--evaluation`` puts a results.md of
``eval.py`` in its card.

Usage
-----
    python recipes/ESC50/interpret/export_conditional.py \
        --out speechbrain_interp/pretrained/lmac-esc50-compact-conditional \
        --evaluation results/ESC50/interpret/cond_lp/two_events_15s/results.md --overwrite

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from speechbrain_interp.export import export_interpreter
from speechbrain_interp.interpreters import LMAC
from speechbrain_interp.loading import load_classifier_adapter
from speechbrain_interp.model_card import ModelCardInfo
from speechbrain_interp.sources import bundled_interpreter

LAYERS = ["embedding_model.conv_block5", "embedding_model.conv_block3", "embedding_model.conv_block2",
          "classifier"]

NOTES = (
    "Ask it about a class: `explain(wav, target=\"dog\")` (CLI: `--target dog`) returns the mask of that "
    "class's evidence; without a target it explains the prediction. The decoder is the bundled L-MAC "
    "decoder, and its mask logits are gated by the time profile of the asked class's evidence on "
    "`embedding_model.conv_block5` (gradient times activation of that class's log-probability, which "
    "discounts places that hold more evidence for competing classes; speechbrain_interp.class_evidence): "
    "`logit + g log(p + 0.001)`, with g = 1 as initialised (a larger "
    "g follows the evidence more closely and keeps less of the decision). Further training on the L-MAC "
    "objective lowered the two-event own share (recipes/ESC50/interpret/README.md), so the decoder ships "
    "as the bundled one. Each explanation costs one more forward and a partial backward pass of the "
    "classifier."
)


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="repository folder to write")
    parser.add_argument("--classifier_source", default=str(bundled_interpreter()),
                        help="the classifier's SpeechBrain inference folder (default: the bundled one)")
    parser.add_argument("--decoder", default=str(bundled_interpreter() / "interpreter.safetensors"),
                        help="L-MAC decoder weights (default: the bundled decoder)")
    parser.add_argument("--evidence_layer", default="embedding_model.conv_block5")
    parser.add_argument("--evidence_gain", type=float, default=1.0,
                        help="gain of the evidence gate, when the decoder's weights hold none (default 1)")
    parser.add_argument("--evidence_score", default="log_probability", choices=["log_probability", "logit"],
                        help="what the class evidence is the gradient of (default: the log-probability)")
    parser.add_argument("--evaluation", help="a results.md of eval.py for the model card")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    args = parser.parse_args(argv)
    if Path(args.out).exists() and not args.overwrite:
        parser.error(f"'{args.out}' exists: pass --overwrite to replace it, or another --out")
    with tempfile.TemporaryDirectory() as savedir:
        adapter = load_classifier_adapter(source=args.classifier_source, layers=LAYERS, savedir=savedir)
        brick = LMAC(adapter, layers=LAYERS, evidence_layer=args.evidence_layer,
                     evidence_gain=args.evidence_gain, evidence_score=args.evidence_score,
                     pretrained_decoder=args.decoder).eval()
        return _export(brick, args)


def _export(brick, args) -> Path:
    evaluation = Path(args.evaluation).read_text(encoding="utf-8") if args.evaluation else ""
    card = ModelCardInfo(
        title="Class-conditional L-MAC interpreter for the compact ESC-50 classifier",
        classifier=("A CompactCNN (five convolution blocks, about 1.2 M parameters) on 64 log-mel bins, "
                    "trained on ESC-50 folds 1-3 by recipes/ESC50/classifier (test accuracy on fold 5: "
                    "0.7775), the classifier of the bundled lmac-esc50-compact interpreter."),
        training_data="ESC-50", training_data_url="https://github.com/karolpiczak/ESC-50",
        training_data_license="CC BY-NC 3.0 for the dataset as a whole (CC BY 3.0 for the ESC-10 subset)",
        license="cc-by-nc-3.0", evaluation=evaluation,
        evaluation_note=("Two events, two questions: each fold-5 clip's and a partner clip's most active "
                         "1.5 s inserted into white noise at separate times, 10 dB over it; a scene counts "
                         "when the classifier ranks both classes in its top 10, and each brick is asked "
                         "about each event (recipes/ESC50/interpret/README.md has the commands and more "
                         "tables)."),
        notes=NOTES, tags=["class-conditional"])
    out = export_interpreter(brick, args.out, classifier_source=args.classifier_source, card=card,
                             overwrite=args.overwrite)
    print(f"exported to {out}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
