"""Hugging Face transformers audio classifiers (AST, wav2vec2, HuBERT, WavLM, Whisper) as adapters.

Tiny random-weight models of each family (``testing.tiny_transformers_classifier``), saved
with ``save_pretrained``, go through the same checks: the adapter's logits are the model's own
on the same audio (its feature extractor, then the model), gradients reach the magnitude, every
brick that applies explains them, and folders are found by the loaders and the CLI.
"""

from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from speechbrain_interp.audio import save_audio  # noqa: E402
from speechbrain_interp.explainer import explain_classifier, gradient_baseline  # noqa: E402
from speechbrain_interp.loading import load_classifier_adapter  # noqa: E402
from speechbrain_interp.testing import tiny_transformers_classifier  # noqa: E402
from speechbrain_interp.transformers_classifier import FAMILIES, TransformersClassifier  # noqa: E402

FAMILY_NAMES = ["ast", "wav2vec2", "hubert", "wavlm", "whisper"]
MORE_FAMILIES = ["data2vec-audio", "unispeech-sat"]  # rows of the table checked for their logits only


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    for family in FAMILY_NAMES:
        tiny_transformers_classifier(family, root / family)
    return {family: root / family for family in FAMILY_NAMES}


@pytest.fixture(scope="module")
def adapters(folders):
    return {family: load_classifier_adapter(folders[family]) for family in FAMILY_NAMES}


def _clip(seconds: float, seed: int = 0) -> torch.Tensor:
    """A tone in noise, a whole number of 10 ms hops long (the adapter resynthesises whole hops)."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * 16000)) / 16000
    return 0.3 * torch.sin(2 * torch.pi * (300 + 400 * seed) * t) + 0.05 * torch.randn(len(t), generator=gen)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_logits_are_the_models_own_and_gradients_reach_the_magnitude(family, folders, adapters):
    adapter = adapters[family]
    assert isinstance(adapter, TransformersClassifier) and adapter.labels == ["dog_bark", "siren", "rain"]
    model, extractor = adapter.model, adapter.feature_extractor
    # shorter and longer than the fixed input of AST (1 s) and Whisper (1 s chunks)
    for seconds, seed in ((0.6, 1), (1.5, 2)):
        wav = _clip(seconds, seed)
        with torch.no_grad():
            inputs = extractor(wav.numpy(), sampling_rate=16000, return_tensors="pt")
            reference = model(**inputs).logits
        spec = adapter.frontend(wav[None])
        magnitude = spec.magnitude.clone().requires_grad_()
        logits = adapter(magnitude, phase=spec.phase)
        assert torch.allclose(logits, reference, atol=1e-4), (family, seconds, logits, reference)
        logits[0, logits[0].argmax()].backward()
        assert torch.isfinite(magnitude.grad).all() and magnitude.grad.abs().sum() > 0


def test_the_other_rows_of_the_table_give_the_models_logits():
    for family in MORE_FAMILIES:
        adapter = TransformersClassifier(*tiny_transformers_classifier(family))
        wav = _clip(0.5, 1)
        with torch.no_grad():
            inputs = adapter.feature_extractor(wav.numpy(), sampling_rate=16000, return_tensors="pt")
            reference = adapter.model(**inputs).logits
        spec = adapter.frontend(wav[None])
        assert adapter.family == family
        assert torch.allclose(adapter(spec.magnitude, phase=spec.phase), reference, atol=1e-4), family


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_brick_that_applies_explains_it(family, adapters):
    from speechbrain_interp.interpreters.l2i import L2I
    from speechbrain_interp.interpreters.lmac import LMAC
    from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary

    adapter = adapters[family]
    fe = adapter.frontend
    wav = torch.stack([_clip(0.8, 1), _clip(0.8, 2)])
    bricks = {
        "lmac": LMAC(adapter, channels=8, probe_seconds=0.5),
        "l2i": L2I(adapter, NMFDictionary(6, fe.n_freqs, domain=fe.mask_domain), channels=8, n_blocks=1,
                   top_k=2),
        "saliency": gradient_baseline(adapter, "saliency"),
        "gradcam": gradient_baseline(adapter, "gradcam"),  # on the last block's token view
    }
    assert bricks["gradcam"].layer == adapter.layers[0]
    for name, brick in bricks.items():
        e = brick.eval().explain(wav, target=1)
        assert e.mask.shape == e.magnitude.shape == (2, fe.num_frames(wav.shape[1]), fe.n_freqs), name
        assert torch.isfinite(e.mask).all() and e.interpretation.shape == wav.shape, name


def test_hidden_maps_follow_the_clip_length(adapters):
    from speechbrain_interp.lobes.mask_decoder import infer_layouts

    ast, whisper = adapters["ast"], adapters["whisper"]
    specs = infer_layouts(ast, ast.layers)
    assert {s.layout for s in specs.values()} == {"BCTF"} and {s.freq for s in specs.values()} == {2}
    assert {s.layout for s in infer_layouts(whisper, whisper.layers).values()} == {"BCT"}
    for seconds, patches in ((0.5, 5), (1.0, 10), (3.0, 30)):  # past max_length: zero columns
        spec = ast.frontend(_clip(seconds)[None])
        _, hidden = ast.forward_with_hidden(spec.magnitude, phase=spec.phase)
        grid = hidden[ast.layers[0]]
        assert grid.shape == (1, 32, patches, 2)
    assert grid[:, :, 10:].abs().sum() == 0


def test_family_table_defaults_and_labels(folders):
    model, extractor = tiny_transformers_classifier("ast", multilabel=True, labels=("a", "b"))
    adapter = TransformersClassifier(model, extractor)
    assert adapter.multilabel and adapter.labels == ["a", "b"]
    assert adapter.family == "audio-spectrogram-transformer"
    assert adapter.layers == [f"audio_spectrogram_transformer.layers.{i}" for i in (1, 0)]
    custom = TransformersClassifier.from_pretrained(folders["hubert"], layers=["hubert.encoder.layers.-2"])
    assert custom.layers == ["hubert.encoder.layers.0"]
    assert custom.construction == {"source": str(folders["hubert"]), "family": "hubert",
                                   "layers": ["hubert.encoder.layers.0"], "mask_domain": "log1p_magnitude",
                                   "multilabel": False, "trust_remote_code": False}
    rebuilt = TransformersClassifier.from_pretrained(**custom.construction)  # plain values rebuild it
    assert rebuilt.layers == custom.layers and rebuilt.family == "hubert"
    assert set(FAMILIES) >= {"audio-spectrogram-transformer", "wav2vec2", "hubert", "wavlm", "whisper"}


def test_unsupported_models_and_missing_extractors_are_named():
    bert = transformers.BertForSequenceClassification(transformers.BertConfig(
        hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8, vocab_size=10))
    with pytest.raises(ValueError, match="not a supported family.*FAMILIES"):
        TransformersClassifier(bert, feature_extractor=object())
    model, _ = tiny_transformers_classifier("wav2vec2")
    with pytest.raises(ValueError, match="pass feature_extractor="):
        TransformersClassifier(model)


def test_explain_classifier_takes_the_model_object(adapters):
    model, extractor = tiny_transformers_classifier("wav2vec2")
    explainer = explain_classifier(model, feature_extractor=extractor, baseline="smoothgrad", nt_samples=2)
    e = explainer.interpret_batch(_clip(0.5)[None])
    assert e.method == "SmoothGrad (gradient baseline)" and "gradient baseline" in e.note


def test_loading_errors_name_the_model_and_what_to_do(tmp_path):
    missing = tmp_path / "not_here"
    with pytest.raises(FileNotFoundError, match=r"could not load the transformers classifier '.*not_here'.*"
                                                r"save_pretrained"):
        TransformersClassifier.from_pretrained(missing)
    with pytest.raises(OSError, match=r"could not load the transformers classifier 'sbi-test/not-cached'.*"
                                      r"Check the id"):
        TransformersClassifier.from_pretrained("sbi-test/not-cached", offline=True)
    # pickled weights only: not loaded (unpickling can run code)
    model, extractor = tiny_transformers_classifier("hubert")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps(model.config.to_dict()))
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(OSError, match="could not load the transformers classifier"):
        TransformersClassifier.from_pretrained(pickled)


def test_localization_benchmark_runs_on_a_transformers_adapter(adapters):
    from speechbrain_interp.interpreters.baselines import Saliency
    from speechbrain_interp.localization import evaluate_localization, make_localization_set

    fg = torch.stack([_clip(0.5, 1), _clip(0.5, 2)])
    bench = make_localization_set(fg, 0.05 * torch.randn(2, 16000), 16000, snr_db=(10.0,), seconds=(0.2, 0.3))
    table = evaluate_localization({"Saliency": Saliency(adapters["ast"])}, bench, keep_correct=False)
    assert table["kept"] == 2 and "Saliency" in table["rows"]


def test_the_cli_explains_a_clip_with_a_saved_model_folder(folders, tmp_path, capsys):
    from speechbrain_interp.cli import main

    clip = tmp_path / "tone.wav"
    save_audio(clip, _clip(1.0, 1)[None], 16000)
    out = tmp_path / "out"
    code = main(["explain", str(clip), "--classifier", str(folders["ast"]), "--out", str(out), "--no-images"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "saliency gradient baseline" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary[0]["label"] in ("dog_bark", "siren", "rain")
    assert main(["explain", str(clip), "--classifier", str(tmp_path / "no_model"), "--out", str(out)]) == 1
    assert "no_model" in capsys.readouterr().err


def test_gradcam_on_the_view_is_captums_gradcam_where_the_view_changes_nothing(adapters):
    from speechbrain_interp.interpreters.baselines import GradCAM

    adapter = adapters["wav2vec2"]
    cam = GradCAM(adapter, layer="wav2vec2.feature_extractor.conv_layers.2")  # (batch, dim, time): as is
    spec = adapter.frontend(torch.stack([_clip(0.5, 1), _clip(0.5, 2)]))
    z = adapter.frontend.to_mask_domain(spec.magnitude).requires_grad_()
    target = torch.tensor([0, 2])
    ours = cam.attribute(z, target, spec.phase).detach()
    adapter.gradcam_on_view = False  # captum's LayerGradCam on the module output
    try:
        captums = cam.attribute(z, target, spec.phase).detach()
    finally:
        del adapter.gradcam_on_view
    assert ours.abs().sum() > 0 and torch.allclose(ours, captums, atol=1e-6 * float(captums.abs().max()))
