"""Export a trained interpreter to a Hub repository folder, check it loads back, push it.

:func:`export_interpreter` writes the folder described in :mod:`speechbrain_interp.repository`:
the classifier's inference YAML with the brick appended (:mod:`speechbrain_interp.brick_spec`),
safetensors weights, synthesized example clips, ``config.json`` and the model card
(:mod:`speechbrain_interp.model_card`); it then loads the folder back and checks that it
reproduces the brick's mask. :func:`push_to_hub` uploads a checked folder. Turning a
recipe's output folder into a repository folder is :mod:`speechbrain_interp.recipe_export`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import re
import shutil
from io import StringIO
from pathlib import Path

import torch

from speechbrain_interp import synth
from speechbrain_interp.adapter_export import check_exportable, exported_targets, write_classifier
from speechbrain_interp.adapters import SpeechBrainClassifier
from speechbrain_interp.audio import load_audio, save_audio
from speechbrain_interp.brick_spec import brick_spec, render_kwargs
from speechbrain_interp.interfaces import INTERFACES, load
from speechbrain_interp.model_card import ModelCardInfo, model_card
from speechbrain_interp.repository import (
    INTERPRETER_KEYS,
    check_hub_folder,
    classifier_fingerprint,
    shared_prefixes,
)
from speechbrain_interp.safety import save_state_dict
from speechbrain_interp.sources import REPO_ID_PATTERN, resolve_source

__all__ = ["export_interpreter", "push_to_hub"]


def _indent(text: str, spaces: int = 4) -> str:
    return "".join(" " * spaces + line if line.strip() else line for line in text.splitlines(True))


def _classifier_yaml(path: Path) -> tuple[str, list]:
    """The classifier's inference YAML without its pretrainer (and our keys), and its loadables."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = 110
    tree = yaml.load(path.read_text(encoding="utf-8"))
    pretrainer = tree.get("pretrainer")
    loadables = list((pretrainer or {}).get("loadables", {}) or {})
    if "interpreter" in loadables:
        loadables.remove("interpreter")
    for key in INTERPRETER_KEYS:
        tree.pop(key, None)
    stream = StringIO()
    yaml.dump(tree, stream)
    # a classifier taken from an exported folder keeps that folder's interpreter banner as a
    # comment; the export writes its own
    text = re.sub(r"\n*# -{20,}\n# Interpreter \(speechbrain_interp\).*?# -{20,}\n", "\n", stream.getvalue(),
                  flags=re.S)
    return text, loadables


def _family_of(interpreter) -> tuple[str, str]:
    """The family and interface a brick declares (``Interpreter.family`` / ``interface``)."""
    family = getattr(interpreter, "family", "generic")
    interface = getattr(interpreter, "interface", "PretrainedInterface")
    if interface not in INTERFACES:
        raise ValueError(f"{type(interpreter).__name__} declares the interface '{interface}', which is not "
                         f"one of {sorted(INTERFACES)}")
    return family, interface


def export_interpreter(interpreter, out, classifier_source=None, brick=None, brick_yaml=None,
                       card: ModelCardInfo | None = None, examples: bool = True,
                       overwrite: bool = False, verify: bool = True, allow=()) -> Path:
    """Write a Hub repository folder for a trained interpreter and its classifier.

    Arguments
    ---------
    interpreter : speechbrain_interp.interpreters.Interpreter
        The trained brick. A ``SpeechBrainClassifier`` travels as its inference YAML; any other
        adapter as ``classifier.yaml`` built from its ``export_spec()``
        (:mod:`speechbrain_interp.adapter_export`; loading it back may need ``allow=[...]`` for
        your model's package).
    out : str or Path
        The repository folder to write.
    classifier_source : str or Path, optional
        A SpeechBrain classifier's inference folder (its ``hyperparams.yaml`` defines the modules).
        Defaults to the folder the classifier was loaded from, when SpeechBrain kept it.
    brick : tuple, optional
        ``(dotted class name, kwargs)`` rebuilding the brick (default :func:`brick_spec`).
    brick_yaml : str, optional
        Or the YAML body of the ``interpreter: !name:...`` entry, verbatim (for bricks
        whose arguments are modules).
    card : ModelCardInfo, optional
        Model card text.
    examples : bool
        Write synthesized example clips under ``examples/``.
    overwrite : bool
        Replace an existing folder.
    verify : bool
        Load the folder back and check that it gives the same mask (to 1e-6) on an example.
    allow : iterable of str
        Extra allowed module prefixes for that check (bricks defined outside this package; the
        classes of a non-SpeechBrain classifier are allowed for it automatically).

    Returns
    -------
    Path
        The folder.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> from speechbrain_interp.interpreters.baselines import Saliency
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = make_speechbrain_classifier(root / "classifier", "xvector", n_mels=24)
    >>> repo = export_interpreter(Saliency(load_speechbrain_classifier(folder)), root / "repo",
    ...                           classifier_source=folder)
    >>> sorted(p.name for p in repo.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['README.md', 'classifier.safetensors', 'config.json', 'embedding_model.safetensors', 'examples',
     'hyperparams.yaml', 'interpreter.safetensors', 'label_encoder.txt']
    """
    if getattr(interpreter, "family", None) == "lmac_text":  # its own folder format, same load()
        return _export_text_lmac(interpreter, Path(out), classifier_source, overwrite)
    adapter = interpreter.classifier
    speechbrain = isinstance(adapter, SpeechBrainClassifier)
    # checked before anything is written: a classifier that cannot be described fails here
    classifier_yaml = _find_classifier_yaml(adapter, classifier_source) if speechbrain else None
    if not speechbrain:
        check_exportable(adapter)
    out = Path(out)
    if out.exists():
        if not overwrite and any(out.iterdir()):
            raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True)

    family, interface = _family_of(interpreter)
    if brick_yaml is None:
        target, kwargs = brick if brick is not None else brick_spec(interpreter)
        brick_yaml = render_kwargs(kwargs)
    else:
        target = brick[0] if brick is not None else (
            f"{type(interpreter).__module__}.{type(interpreter).__qualname__}")
        brick_yaml = _indent(brick_yaml.strip("\n") + "\n")
    fingerprint = classifier_fingerprint(adapter)
    interpreter_lines = [
        "",
        "# " + "-" * 90,
        "# Interpreter (speechbrain_interp): how it reads the classifier above, and the brick.",
        "# Load with speechbrain_interp.hub.load(<this folder or Hub id>)",
        f"# or speechbrain_interp.inference.{interface}.from_hparams(source=..., savedir=...).",
        "# " + "-" * 90,
        f"interpreter_family: {family}",
        f"classifier_sha256: {fingerprint}",
    ]
    brick_line = f"interpreter: !name:{target}" + ("\n" + brick_yaml.rstrip("\n") if brick_yaml else "")
    if speechbrain:
        lines = _speechbrain_classifier(adapter, classifier_yaml, out, interpreter_lines, brick_line)
        classifier_info = {"embedding_model": type(adapter.model["embedding_model"]).__name__,
                           "layout": adapter.layout}
    else:
        lines = _any_classifier(adapter, out, interpreter_lines, brick_line)
        model = adapter.export_weights()
        classifier_info = {"adapter": type(adapter).__name__,
                           "embedding_model": type(model if model is not None else adapter).__name__}
    (out / "hyperparams.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    shared = shared_prefixes(interpreter)
    brick_state = {k: v for k, v in interpreter.state_dict().items() if not k.startswith(shared)}
    save_state_dict(brick_state, out / "interpreter.safetensors")

    example_files = _write_examples(out, adapter.sample_rate) if examples else []
    config = {
        "speechbrain_interface": interface,
        "interface_module": "speechbrain_interp.inference",
        "family": family,
        "method": getattr(interpreter, "method", type(interpreter).__name__),
        "brick": target,
        "sample_rate": adapter.sample_rate,
        "labels": adapter.labels,
        "multilabel": adapter.multilabel,
        "classifier": {**classifier_info, "layers": list(adapter.layers), "sha256": fingerprint},
        "examples": example_files,
        "speechbrain_interp_version": _version(),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    results = classifier_yaml.parent / "results.json" if speechbrain else None  # recipes/ESC50/classifier
    if results is not None and results.is_file():
        config["classifier"]["results"] = _classifier_results(results)
    (out / "README.md").write_text(model_card(config, card or ModelCardInfo()), encoding="utf-8")
    check_hub_folder(out)
    if verify:
        # the classes of a non-SpeechBrain classifier are the ones running in this process
        own = [] if speechbrain else exported_targets(adapter)
        _verify_round_trip(interpreter, out, example_files, [*allow, *own])
    return out


def _speechbrain_classifier(adapter, classifier_yaml: Path, out: Path, interpreter_lines, brick_line) -> list:
    """hyperparams.yaml lines for a SpeechBrain classifier (its own inference YAML); writes its weights."""
    from speechbrain.dataio.encoder import CategoricalEncoder

    body, loadables = _classifier_yaml(classifier_yaml)
    loadables = [n for n in loadables if n != "label_encoder"]
    missing = [n for n in loadables if n not in adapter.model]
    if missing:
        raise ValueError(f"the classifier YAML loads {missing}, which the adapter does not hold")
    adapter_spec = {"layers": list(adapter.layers), "mask_domain": adapter.frontend.mask_domain,
                    "output": adapter.output, "multilabel": adapter.multilabel}
    has_encoder = "label_encoder:" in body
    # the interface paths written in the banner (and in config.json, the card) are the old homes,
    # re-exported by hub.py and inference.py, so that these files read as they always did
    lines = [body.rstrip("\n"), *interpreter_lines, "adapter:",
             "".join(f"    {k}: {json.dumps(v)}\n" for k, v in adapter_spec.items()).rstrip("\n"), brick_line]
    if not has_encoder and adapter.labels is not None:
        lines.append("label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder")
    lines += ["pretrainer: !new:speechbrain_interp.safety.SafePretrainer", "    loadables:"]
    lines += [f"        {n}: !ref <{n}>" for n in loadables]
    if adapter.labels is not None:
        lines.append("        label_encoder: !ref <label_encoder>")
    lines.append("    deferred: [interpreter]")
    for name in loadables:
        save_state_dict(adapter.model[name].state_dict(), out / f"{name}.safetensors")
    if adapter.labels is not None:
        encoder = CategoricalEncoder()
        encoder.update_from_iterable(adapter.labels)
        encoder.save(out / "label_encoder.txt")
    return lines


def _any_classifier(adapter, out: Path, interpreter_lines, brick_line) -> list:
    """hyperparams.yaml lines for any other adapter (its ``classifier.yaml``); writes it and the weights."""
    body = write_classifier(adapter, out)
    weights = adapter.export_weights() is not None
    lines = [body.rstrip("\n"), *interpreter_lines, brick_line,
             "modules:" + ("\n    classifier: !ref <classifier>" if weights else " {}"),
             "pretrainer: !new:speechbrain_interp.safety.SafePretrainer",
             "    loadables:" + ("\n        classifier: !ref <classifier>" if weights else " {}"),
             "    deferred: [interpreter]"]
    return lines


def _export_text_lmac(brick, out: Path, classifier_source, overwrite: bool) -> Path:
    """A text-conditioned L-MAC over a text-aligned SpeechBrain classifier, as its folder format."""
    from speechbrain_interp.lmac_text_export import export_text_lmac, text_tower_name

    encoder = brick.classifier.embedder
    inner = getattr(encoder, "classifier", None)
    if not isinstance(inner, SpeechBrainClassifier):
        raise TypeError("export writes text-conditioned L-MACs over a TextAlignedEncoder of a SpeechBrain "
                        f"classifier; this one embeds with {type(encoder).__name__}")
    source = _find_classifier_yaml(inner, classifier_source).parent
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True to replace it")
    interface = "EncoderClassifier" if inner.layout == "encoder_classifier" else "AudioClassifier"
    return export_text_lmac(brick, out, source, classifier_interface=interface,
                            text_tower=text_tower_name(encoder.text_encoder))


def _classifier_results(path: Path) -> dict:
    """Scalar results of the classifier's own recipe (accuracies, epochs, folds)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keep = {}
    for key, value in data.items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            keep[key] = value
        elif key == "folds" and isinstance(value, dict):
            keep[key] = value
    return keep


def _find_classifier_yaml(adapter, classifier_source) -> Path:
    if classifier_source is None:
        savedir = getattr(getattr(adapter, "hparams_", None), "savedir", None)
        if savedir is None:
            raise ValueError(
                "cannot tell which folder the classifier was loaded from; pass classifier_source="
                "<the classifier's inference folder>"
            )
        classifier_source = savedir
    path = resolve_source(classifier_source) / "hyperparams.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no hyperparams.yaml in the classifier folder {path.parent}")
    return path


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("speechbrain_interp")
    except Exception:
        return "unknown"


def _write_examples(out: Path, sample_rate: int) -> list:
    (out / "examples").mkdir()
    clips = {  # the demo scene first: its events are known (synth.DEMO_EVENTS)
        "crickets_in_noise.wav": synth.demo_scene(5.0, sample_rate=sample_rate)[0],
        "siren_and_barks.wav": synth.demo_clip(seconds=5.0, sample_rate=sample_rate),
        "barks_in_noise.wav": _barks(sample_rate),
    }
    for name, wav in clips.items():
        save_audio(out / "examples" / name, wav, sample_rate)
    return [f"examples/{name}" for name in clips]


def _barks(sample_rate: int) -> torch.Tensor:
    wav = synth.noise(5.0, sample_rate, amplitude=0.03, seed=7)
    for k, start in enumerate((0.5, 1.6, 3.1, 4.0)):
        b = synth.bark(0.3, sample_rate, pitch=380 + 50 * k, seed=10 + k)
        i = int(start * sample_rate)
        wav[i:i + len(b)] += b[: len(wav) - i]
    return wav / max(1.0, float(wav.abs().max()) / 0.95)


def _verify_round_trip(interpreter, out: Path, example_files, allow=()) -> None:
    sr = interpreter.classifier.sample_rate
    # two seconds of the shipped example (or of the demo clip) are enough to compare masks
    wav = load_audio(out / example_files[0], sample_rate=sr) if example_files else synth.demo_clip(
        2.0, sample_rate=sr)
    wav = wav[: 2 * sr][None]
    loaded = load(out, allow=allow)
    device = next(interpreter.parameters(), torch.empty(0)).device
    was_training = interpreter.training
    interpreter.eval()
    # same random draws on both sides: stochastic bricks (SmoothGrad's noise) must compare too
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            expected = interpreter.explain(wav.to(device)).mask.cpu()
    finally:
        interpreter.train(was_training)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        got = loaded.interpret_batch(wav).mask.cpu()
    err = float((expected - got).abs().max())
    if err > 1e-6:
        raise RuntimeError(
            f"the exported folder {out} does not reproduce the interpreter: mask differs by {err:.2e}"
        )


def push_to_hub(folder, repo_id: str, token=None, private: bool | None = None,
                commit_message: str | None = None, revision: str | None = None):
    """Upload a repository folder to the Hugging Face Hub (creating the repository if needed).

    Arguments
    ---------
    folder : str or Path
        A folder written by :func:`export_interpreter` (checked first).
    repo_id : str
        ``"org/name"``.
    token : str, optional
        Hub token (default: the logged-in user's).
    private : bool, optional
        Create the repository as private.
    commit_message : str, optional
        Defaults to "Upload <family> interpreter".
    revision : str, optional
        Branch to push to.

    Returns
    -------
    huggingface_hub.CommitInfo

    Example
    -------
    >>> push_to_hub("hub/lmac-esc50", "my-org/lmac-esc50")  # doctest: +SKIP
    """
    from huggingface_hub import HfApi

    config = check_hub_folder(folder)
    if not REPO_ID_PATTERN.match(repo_id) or "/" not in repo_id:
        raise ValueError(f"'{repo_id}' is not a Hub repository id of the form org/name")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    return api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), repo_type="model", revision=revision,
        commit_message=commit_message or f"Upload {config.get('method', 'interpreter')} interpreter",
    )
