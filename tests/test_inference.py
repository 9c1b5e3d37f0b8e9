"""Every public entry point of the inference interfaces and of the existing-classifier path."""

from __future__ import annotations

import warnings

import pytest
import torch
from speechbrain.inference.classifiers import AudioClassifier, EncoderClassifier

from speechbrain_interp import hub
from speechbrain_interp.audio import AudioFileNotFoundError, CorruptAudioError, load_audio, save_audio
from speechbrain_interp.explanation import Explanation
from speechbrain_interp.inference import (
    ClassifierInterface,
    ConceptBottleneckInterface,
    L2IInterface,
    LMACInterface,
    PretrainedInterface,
    audio_files,
    explain_classifier,
    train_lmac,
)
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.synth import demo_clip
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

LABELS = ["dog", "siren", "rain"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("inference")
    classifier = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32, labels=LABELS)
    torch.manual_seed(0)
    brick = LMAC(load_speechbrain_classifier(classifier, "compact"), channels=8).eval()
    repo = hub.export_interpreter(brick, root / "repo", classifier_source=classifier, verify=False)
    clips = root / "clips"
    for i, seconds in enumerate((1.0, 1.0, 1.5)):
        save_audio(clips / f"clip{i}.wav", demo_clip(seconds, seed=i), 16000)
    return {"root": root, "classifier": classifier, "brick": brick, "repo": repo, "clips": clips}


@pytest.fixture(scope="module")
def interpreter(setup):
    return LMACInterface.from_hparams(setup["repo"], savedir=setup["root"] / "savedir")


def test_interpret_file_and_batch_and_forward(setup, interpreter):
    assert interpreter.sample_rate == 16000 and interpreter.labels == LABELS
    e = interpreter.interpret_file(setup["clips"] / "clip0.wav")
    assert isinstance(e, Explanation) and len(e) == 1 and e.method == "L-MAC"
    assert e.mask.shape == e.magnitude.shape and e.interpretation.shape == (1, 16000)
    assert 0.0 <= float(e.mask.min()) <= float(e.mask.max()) <= 1.0
    wavs = torch.stack([demo_clip(1.0, seed=0), demo_clip(1.0, seed=1)])
    expected = setup["brick"].explain(wavs)
    batch = interpreter.interpret_batch(wavs)
    assert torch.allclose(batch.mask, expected.mask, atol=1e-6)
    from_file = load_audio(setup["clips"] / "clip0.wav", sample_rate=16000)  # 16-bit PCM on disk
    assert torch.allclose(interpreter.interpret_batch(from_file[None]).mask, e.mask, atol=1e-6)
    # SpeechBrain's calling convention: forward(wavs, wav_lens); PIQAudioInterpreter breaks here
    by_forward = interpreter(wavs, torch.ones(2))
    assert torch.allclose(by_forward.mask, expected.mask, atol=1e-6)
    targeted = interpreter.interpret_batch(wavs, target="siren")
    assert targeted.target.tolist() == [1, 1] and targeted.predicted_labels == ["siren", "siren"]
    assert interpreter.interpret_batch(wavs[0]).mask.shape[0] == 1  # a single (time,) clip


def test_padded_batches_explain_each_clip_at_its_own_length(interpreter):
    long, short = demo_clip(1.5, seed=3), demo_clip(1.0, seed=4)
    padded = torch.stack([long, torch.nn.functional.pad(short, (0, long.numel() - short.numel()))])
    e = interpreter.interpret_batch(padded, wav_lens=torch.tensor([1.0, short.numel() / long.numel()]))
    alone = interpreter.interpret_batch(short[None])
    frames = alone.mask.shape[1]
    assert e.wav.shape == padded.shape and e.mask.shape[0] == 2
    assert torch.allclose(e.mask[1, :frames], alone.mask[0], atol=1e-6)
    assert float(e.mask[1, frames:].abs().sum()) == 0.0
    assert float(e.interpretation[1, 16000:].abs().sum()) == 0.0
    assert torch.allclose(e.probability[1], alone.probability[0], atol=1e-6)
    assert torch.allclose(e.mask[0], interpreter.interpret_batch(long[None]).mask[0], atol=1e-6)


def test_interpret_files_batches_lengths_and_reports_bad_files(setup, interpreter, tmp_path, capsys):
    paths = sorted(setup["clips"].glob("*.wav")) + [tmp_path / "broken.wav", tmp_path / "missing.wav"]
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    failures = {}
    batches = list(interpreter.interpret_files(paths, batch_size=8, progress=True,
                                               on_error=lambda p, err: failures.setdefault(p.name, err)))
    assert sorted(len(e) for _, e in batches) == [1, 2]  # 1.0 s clips share a batch, 1.5 s alone
    assert sorted(p.name for names, _ in batches for p in names) == ["clip0.wav", "clip1.wav", "clip2.wav"]
    assert isinstance(failures["broken.wav"], CorruptAudioError)
    assert isinstance(failures["missing.wav"], AudioFileNotFoundError)
    assert "explaining" in capsys.readouterr().err  # the tqdm progress bar
    with pytest.raises(CorruptAudioError, match="broken.wav"):
        list(interpreter.interpret_files([tmp_path / "broken.wav"], progress=False))
    with pytest.raises(AudioFileNotFoundError, match="missing.wav"):
        interpreter.interpret_file(tmp_path / "missing.wav")


def test_interpret_files_batches_clips_of_equal_length_together_whatever_the_order(interpreter, tmp_path):
    paths = []
    for k, seconds in enumerate([1.0, 1.5, 1.0, 1.5, 1.0]):
        paths.append(tmp_path / f"clip{k}.wav")
        save_audio(paths[-1], demo_clip(seconds, seed=k), 16000)
    batches = list(interpreter.interpret_files(paths, batch_size=2, progress=False))
    # by duration: [1.0, 1.0], [1.0, 1.5], [1.5]; in the given order it would be five batches of one
    assert [len(e) for _, e in batches] == [2, 1, 1, 1]
    assert sorted(p.name for names, _ in batches for p in names) == sorted(p.name for p in paths)


def test_generic_interface_and_family_checks(setup):
    generic = PretrainedInterface.from_hparams(setup["repo"])
    assert isinstance(generic.interpreter, LMAC)
    for wrong in (L2IInterface, ConceptBottleneckInterface):
        with pytest.raises(TypeError, match="hub.load"):
            wrong.from_hparams(setup["repo"])
    assert isinstance(hub.load(setup["repo"]), LMACInterface)


def test_explaining_another_copy_of_the_classifier(setup, tmp_path):
    wav = demo_clip(1.0)[None]
    same = hub.load_classifier(setup["classifier"])
    assert isinstance(same, EncoderClassifier)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wrapped = explain_classifier(same, interpreter=setup["repo"])
    assert wrapped.note is None
    assert torch.allclose(wrapped.interpret_batch(wav).mask, setup["brick"].explain(wav).mask, atol=1e-6)
    other = make_speechbrain_classifier(tmp_path / "other", "compact", n_mels=32, labels=LABELS, seed=5)
    with pytest.warns(UserWarning, match="different classifier"):
        mismatched = explain_classifier(str(other), interpreter=setup["repo"])
    assert "different classifier" in mismatched.interpret_batch(wav).note


def _small_audio_classifier():
    """An AudioClassifier (compute_stft / compute_fbank layout, like SpeechBrain's CNN14 on ESC-50)."""
    from speechbrain.nnet.linear import Linear
    from speechbrain.processing.features import STFT, Filterbank

    from speechbrain_interp.lobes.compact_cnn import CompactCNN

    torch.manual_seed(0)
    mods = {"compute_stft": STFT(16000, n_fft=512, win_length=32, hop_length=16),
            "compute_fbank": Filterbank(n_mels=32, n_fft=512, log_mel=True),
            "embedding_model": CompactCNN(n_mels=32, channels=(4, 8, 8, 8, 16)),
            "classifier": Linear(input_size=16, n_neurons=3)}
    return AudioClassifier(modules=mods, hparams={"spec_mag_power": 1, "use_melspectra": True})


def test_gradient_baseline_when_no_interpreter_is_trained(setup, tmp_path):
    wav = 0.1 * torch.randn(1, 16000)
    by_folder = explain_classifier(setup["classifier"])  # a folder: loaded safely, then explained
    assert isinstance(by_folder, ClassifierInterface)
    e = by_folder.interpret_batch(wav)
    assert e.method == "saliency (gradient baseline)" and "No trained interpreter" in e.note
    assert e.labels == LABELS and e.mask.shape == e.magnitude.shape
    audio_classifier = _small_audio_classifier()  # the AudioClassifier layout, as an object
    e = explain_classifier(audio_classifier).interpret_batch(wav)
    assert e.method == "saliency (gradient baseline)" and e.mask.shape == e.magnitude.shape
    assert e.magnitude.shape[-1] == 257 and e.labels is None  # the classifier's own STFT; no encoder
    smooth = explain_classifier(setup["classifier"], baseline="smoothgrad", nt_samples=2)
    e = smooth.interpret_batch(wav)
    assert e.method.startswith("SmoothGrad") and "the SmoothGrad gradient baseline" in e.note
    cam = explain_classifier(setup["classifier"], baseline="gradcam")
    assert cam.interpret_batch(wav).method.startswith("Grad-CAM")
    with pytest.raises(ValueError, match="unknown baseline"):
        explain_classifier(setup["classifier"], baseline="lime")


def test_train_lmac_on_a_folder_of_audio(setup, tmp_path, capsys):
    audio = tmp_path / "my_audio"
    for i in range(5):
        save_audio(audio / f"clip{i}.wav", demo_clip(0.8, seed=10 + i), 16000)
    result = train_lmac(str(setup["classifier"]), audio, out=tmp_path / "trained", epochs=2, batch_size=4,
                        seconds=0.5, progress=True, channels=4)
    assert "training L-MAC" in capsys.readouterr().err
    assert [r["epoch"] for r in result.history] == [1, 2]
    assert all(r["valid_loss"] is not None for r in result.history)
    assert sum(bool(r.get("selected")) for r in result.history) == 1
    loaded = LMACInterface.from_hparams(result.folder)
    wav = demo_clip(1.0, seed=10)[None]
    assert torch.allclose(loaded.interpret_batch(wav).mask, result.explainer.interpret_batch(wav).mask,
                          atol=1e-6)
    assert "Training history" in (result.folder / "README.md").read_text()


def test_train_lmac_resumes_after_a_kill_with_the_uninterrupted_result(setup, tmp_path, monkeypatch):
    audio = tmp_path / "my_audio"
    for i in range(5):
        save_audio(audio / f"clip{i}.wav", demo_clip(0.8, seed=20 + i), 16000)
    opts = {"batch_size": 4, "seconds": 0.5, "progress": False, "channels": 4}
    straight = train_lmac(str(setup["classifier"]), audio, epochs=2, **opts)
    ckpt = tmp_path / "run" / "training.pt"
    import speechbrain_interp.lmac_training as training

    real_write = training._write_checkpoint

    def killed_after_epoch_one(path, state):
        real_write(path, state)
        raise KeyboardInterrupt  # as if killed right after the checkpoint of epoch 1

    monkeypatch.setattr(training, "_write_checkpoint", killed_after_epoch_one)
    with pytest.raises(KeyboardInterrupt):
        train_lmac(str(setup["classifier"]), audio, epochs=2, checkpoint=ckpt, **opts)
    monkeypatch.setattr(training, "_write_checkpoint", real_write)
    (ckpt.parent / "training.pt.tmp").write_bytes(b"half a write")  # a kill during a write
    resumed = train_lmac(str(setup["classifier"]), audio, epochs=2, checkpoint=ckpt, **opts)
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    for a, b in zip(straight.history, resumed.history):
        assert a["train_loss"] == b["train_loss"] and a["valid_loss"] == b["valid_loss"]
    dec_a = straight.explainer.interpreter.decoder.state_dict()
    dec_b = resumed.explainer.interpreter.decoder.state_dict()
    assert all(torch.equal(dec_a[k], dec_b[k]) for k in dec_a)
    with pytest.raises(ValueError, match="other settings .*lr"):
        train_lmac(str(setup["classifier"]), audio, epochs=3, checkpoint=ckpt, lr=0.5, **opts)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train_lmac(str(setup["classifier"]), audio, out=audio, epochs=1, **opts)


def test_audio_files_expands_folders(setup, tmp_path):
    (tmp_path / "sub").mkdir()
    save_audio(tmp_path / "sub" / "a.flac", demo_clip(0.5), 16000)
    (tmp_path / "notes.txt").write_text("x")
    found = audio_files([tmp_path, setup["clips"] / "clip0.wav"])
    assert [p.name for p in found] == ["a.flac", "clip0.wav"]


def test_concept_interface_export_load_and_every_entry_point(tmp_path):
    """The concepts family end to end: export (checked to 1e-6), from_hparams, file, batch, forward."""
    brick_class = ConceptBottleneckInterface.brick_class()
    if brick_class is None:
        pytest.skip("speechbrain_interp.interpreters.concepts is not available")
    from speechbrain_interp.clap import HashingTextEncoder, TextAlignedEncoder
    from speechbrain_interp.concepts import load as load_bottleneck

    folder = make_speechbrain_classifier(tmp_path / "classifier", "compact", n_mels=32, emb_dim=16,
                                         labels=LABELS)
    adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    _ = torch.manual_seed(0)
    embedder = TextAlignedEncoder(adapter, HashingTextEncoder(dim=32), hidden_dim=24).eval()
    words = ["dog bark", "siren", "rain", "engine", "bird song", "speech"]
    bottleneck = load_bottleneck(embedder, words, l1_penalty=0.01, cache_dir=tmp_path / "cache")
    clips = torch.stack([demo_clip(1.0, seed=s) for s in range(4)])
    _ = bottleneck.fit_audio_mean(embedder.embed_audio(clips).detach())
    brick = brick_class(adapter, bottleneck, top_k=3).eval()
    repo = hub.export_interpreter(brick, tmp_path / "repo", classifier_source=folder)  # verifies 1e-6
    assert hub.check_hub_folder(repo)["speechbrain_interface"] == "ConceptBottleneckInterface"
    interpreter = ConceptBottleneckInterface.from_hparams(repo, savedir=tmp_path / "savedir")
    assert isinstance(hub.load(repo), ConceptBottleneckInterface)
    expected = brick.explain(clips[:2])
    for e in (interpreter.interpret_batch(clips[:2]), interpreter(clips[:2], torch.ones(2))):
        assert isinstance(e, Explanation) and e.method == "concept bottleneck"
        assert (e.mask - expected.mask).abs().max() <= 1e-6
        names = [[c for c, _ in clip] for clip in e.concepts]
        assert names == [[c for c, _ in clip] for clip in expected.concepts] and all(names)
    on_disk = repo / "examples" / "barks_in_noise.wav"
    e = interpreter.interpret_file(on_disk)
    reference = brick.explain(load_audio(on_disk, sample_rate=16000)[None])
    assert (e.mask - reference.mask).abs().max() <= 1e-6 and 0 < len(e.concepts[0]) <= 3
    assert set(e.scores) >= {"recompose_cosine", "concept_l0"}
    with pytest.raises(RuntimeError, match="HashingTextEncoder|text encoder"):
        interpreter.interpreter.embedder.embed_text(["a new concept"])
    # the folder's brick weights are the projection and the bottleneck, not another copy of the classifier
    weights = (repo / "interpreter.safetensors").stat().st_size
    assert weights < (repo / "embedding_model.safetensors").stat().st_size


def test_saving_an_interpreted_file_names_its_outputs_after_it(setup, tmp_path):
    explainer = LMACInterface.from_hparams(setup["repo"], savedir=setup["root"] / "savedir")
    clip = tmp_path / "dog_bark.wav"
    save_audio(clip, demo_clip(0.8, seed=5), 16000)
    entries = explainer.interpret_file(clip).save(tmp_path / "out")
    assert entries[0]["name"] == "dog_bark" and (tmp_path / "out" / "dog_bark_interpretation.wav").is_file()
