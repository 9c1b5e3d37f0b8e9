"""The model card (``README.md``) of an interpreter repository folder.

:func:`model_card` renders the Hub metadata block and the card body from the folder's
``config.json`` and a :class:`ModelCardInfo` (what the folder itself cannot know: the
classifier's story, the training data and its licence, the evaluation table).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import StringIO

__all__ = ["ModelCardInfo", "model_card"]


@dataclass
class ModelCardInfo:
    """What the model card says beyond what the folder itself knows.

    Arguments
    ---------
    title : str
        Heading of the card.
    classifier : str
        One paragraph on the explained classifier (architecture, accuracy, where it comes from).
    training_data : str
        Name of the data the interpreter and classifier were trained on.
    training_data_url : str
        Where that data is documented.
    training_data_license : str
        Its licence, e.g. ``"CC BY-NC 3.0"``.
    license : str
        Hub licence id of the weights, e.g. ``"cc-by-nc-3.0"`` (weights trained on
        non-commercial data inherit that restriction).
    evaluation : str or list of dict
        The recipe's evaluation table: markdown text, or rows (``{column: value}``).
    evaluation_note : str
        How the table was produced (command, data split, settings).
    repo_id : str
        Hub id used in the usage code.
    notes : str
        Anything else (limitations, intended use).
    tags : list of str
        Extra Hub tags.

    Example
    -------
    >>> info = ModelCardInfo(training_data="ESC-50", training_data_license="CC BY-NC 3.0",
    ...                      license="cc-by-nc-3.0", repo_id="my-org/lmac-esc50")
    >>> info.license, info.evaluation is None
    ('cc-by-nc-3.0', True)
    """

    title: str = "Audio classifier interpreter"
    classifier: str = ""
    training_data: str = "unknown"
    training_data_url: str = ""
    training_data_license: str = "unknown"
    license: str = "other"
    evaluation: object = None
    evaluation_note: str = ""
    repo_id: str = "<your-org>/<this-repo>"
    notes: str = ""
    tags: list = field(default_factory=list)


def _yaml_dump(data, flow=None) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.width = 4096
    stream = StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _evaluation_markdown(evaluation) -> str:
    if evaluation is None:
        return "_No evaluation table was provided with this export._"
    if isinstance(evaluation, str):
        return evaluation.strip()
    rows = list(evaluation)
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def fmt(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _fmt_result(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "; ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def model_card(config: dict, info: ModelCardInfo) -> str:
    """The ``README.md`` of a repository folder: Hub metadata and the card body.

    Example
    -------
    >>> from huggingface_hub import ModelCard
    >>> config = {"speechbrain_interface": "LMACInterface", "family": "lmac", "method": "L-MAC",
    ...           "sample_rate": 16000, "labels": ["dog", "siren"],
    ...           "classifier": {"embedding_model": "CompactCNN", "layers": ["embedding_model.conv_block5"]},
    ...           "examples": ["examples/siren_and_barks.wav"]}
    >>> card = ModelCard(model_card(config, ModelCardInfo(license="cc-by-nc-3.0")))
    >>> card.data.library_name, card.data.license
    ('speechbrain', 'cc-by-nc-3.0')
    """
    tags = ["audio-classification", "interpretability", "explainability", "speechbrain",
            "speechbrain_interp", config.get("family", "interpreter")] + list(info.tags)
    meta = {
        "library_name": "speechbrain",
        "license": info.license,
        "pipeline_tag": "audio-classification",
        "tags": list(dict.fromkeys(tags)),
        "metrics": ["average_increase", "average_drop", "average_gain", "faithfulness"],
    }
    if info.training_data and info.training_data != "unknown":
        meta["datasets"] = [info.training_data]
    interface = config.get("speechbrain_interface", "PretrainedInterface")
    labels = config.get("labels") or []
    clf = config.get("classifier", {})
    example = (config.get("examples") or ["examples/siren_and_barks.wav"])[0]
    label_text = ", ".join(labels[:12]) + (f", ... ({len(labels)} classes)" if len(labels) > 12 else "")
    data_line = info.training_data + (f" (<{info.training_data_url}>)" if info.training_data_url else "")
    layers = ", ".join(f"`{x}`" for x in clf.get("layers", []))
    results = clf.get("results") or {}
    results_text = ("\nResults of the classifier's training recipe: "
                    + ", ".join(f"{k} = {_fmt_result(v)}" for k, v in results.items()) + ".\n"
                    if results else "")
    derived = " (they derive from the training data above)" if info.license != "other" else ""
    return f"""---
{_yaml_dump(meta, flow=False).rstrip()}
---

# {info.title}

A pretrained **{config.get('method', 'interpreter')}** interpreter ({config.get('family', '')} family) for an
audio classifier, packaged for `speechbrain_interp`, a SpeechBrain plugin that explains audio classifiers.
It explains the classifier's decision with a mask over the spectrogram that you can **listen to**: the
interpretation (masked-in audio) is the part of the sound that drove the decision, the residual is the rest.

## Classifier

{info.classifier or 'The classifier whose modules are in `hyperparams.yaml`.'}
{results_text}
- embedding model: `{clf.get('embedding_model', '?')}`, read at layers {layers}
- sample rate: {config.get('sample_rate')} Hz
- classes: {label_text or 'unknown'}
- weights fingerprint (SHA-256 of embedding model + classifier): `{clf.get('sha256', '?')}`

## Training data and licence

- training data: {data_line}
- licence of the training data: {info.training_data_license}
- licence of these weights: `{info.license}`{derived}
- example clips in `examples/` are synthesized by `speechbrain_interp.synth` and free to use.

## Evaluation

{_evaluation_markdown(info.evaluation)}

{info.evaluation_note}

AI: average increase, AD: average drop, AG: average gain (in %), FF: faithfulness, Fid-In: input
fidelity, SPS: sparseness, COMP: complexity, as in Paissan et al., "Listenable Maps for Audio
Classifiers" (ICML 2024).

## Usage

With `speechbrain_interp` installed:

```bash
speechbrain-interp explain {example} --interpreter {info.repo_id} --out explanations/
```

```python
from speechbrain_interp.inference import {interface}

interpreter = {interface}.from_hparams(source="{info.repo_id}", savedir="pretrained_models/interpreter")
explanation = interpreter.interpret_file("{example}")
print(explanation.predicted_labels, explanation.probability_in)
explanation.save("explanations/")   # original, interpretation and residual WAVs, PNG, summary.json
```

Loading checks `hyperparams.yaml` against an allow-list before building anything, and reads weights from
safetensors only. Once downloaded, the repository loads offline from the Hugging Face cache.

{info.notes}
"""
