"""Hub export, push and load: local folders, the Hub cache, offline errors, recipe export."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
from huggingface_hub import ModelCard
from huggingface_hub.errors import LocalEntryNotFoundError

from speechbrain_interp import hub
from speechbrain_interp.audio import load_audio, save_audio
from speechbrain_interp.inference import L2IInterface, LMACInterface, PretrainedInterface
from speechbrain_interp.interpreters.l2i import L2I
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.interpreters.nmf import NMFDictionary
from speechbrain_interp.synth import demo_clip
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

REPO_ID = "sbi-test/lmac-tiny"


def _train_a_little(brick, steps=2, seed=0):
    """A few optimisation steps so the weights differ from their initialisation."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(brick.decoder.parameters(), lr=1e-2)
    wav = torch.stack([demo_clip(1.0, seed=seed), demo_clip(1.0, seed=seed + 1)])
    for _ in range(steps):
        loss, _ = brick.loss(wav)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return brick.eval()


@pytest.fixture(scope="module")
def lmac_repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("lmac_repo")
    classifier = make_speechbrain_classifier(root / "classifier", "compact", n_mels=32,
                                             labels=["dog", "siren", "rain", "engine"])
    (classifier / "results.json").write_text(json.dumps(  # as the classifier recipe writes it
        {"test_accuracy": 0.8125, "folds": {"train": [1, 2, 3], "test": [5]}, "debug": False}))
    torch.manual_seed(0)
    brick = _train_a_little(LMAC(load_speechbrain_classifier(classifier, "compact"), channels=8))
    card = hub.ModelCardInfo(title="tiny test interpreter", classifier="A random compact CNN.",
                             training_data="synthesized clips", training_data_license="CC0",
                             license="apache-2.0", repo_id=REPO_ID,
                             evaluation=[{"setting": "in-domain", "AI": 12.5, "AD": 3.25}])
    repo = hub.export_interpreter(brick, root / "repo", classifier_source=classifier, card=card)
    return {"root": root, "classifier": classifier, "brick": brick, "repo": repo}


def _masks(explainer_or_brick, wav):
    if hasattr(explainer_or_brick, "interpret_batch"):
        return explainer_or_brick.interpret_batch(wav).mask
    return explainer_or_brick.explain(wav).mask


def _populate_hub_cache(repo: Path, cache: Path, repo_id: str, commit: str = "0" * 39 + "1") -> Path:
    """Lay ``repo`` out as huggingface_hub caches a download: blobs, snapshots of symlinks, refs."""
    base = cache / ("models--" + repo_id.replace("/", "--"))
    for path in sorted(p for p in repo.rglob("*") if p.is_file()):
        blob = hashlib.sha256(path.read_bytes()).hexdigest()
        (base / "blobs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, base / "blobs" / blob)
        link = base / "snapshots" / commit / path.relative_to(repo)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(base / "blobs" / blob, link.parent))
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(commit)
    return base / "snapshots" / commit


def test_export_writes_a_complete_safetensors_folder(lmac_repo):
    repo = lmac_repo["repo"]
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file())
    assert files == ["README.md", "classifier.safetensors", "config.json", "embedding_model.safetensors",
                     "examples/barks_in_noise.wav", "examples/crickets_in_noise.wav",
                     "examples/siren_and_barks.wav", "hyperparams.yaml",
                     "interpreter.safetensors", "label_encoder.txt"]
    config = json.loads((repo / "config.json").read_text())
    assert config["speechbrain_interface"] == "LMACInterface" and config["family"] == "lmac"
    assert config["labels"] == ["dog", "siren", "rain", "engine"] and config["sample_rate"] == 16000
    assert config["classifier"]["sha256"] == hub.classifier_fingerprint(lmac_repo["brick"].classifier)
    card = ModelCard((repo / "README.md").read_text())
    assert card.data.library_name == "speechbrain" and card.data.license == "apache-2.0"
    assert "interpretability" in card.data.tags and card.data.datasets == ["synthesized clips"]
    assert "| setting | AI | AD |" in card.text and "| in-domain | 12.5 | 3.25 |" in card.text
    assert f'LMACInterface.from_hparams(source="{REPO_ID}"' in card.text
    assert "training data: synthesized clips" in card.text and "CC0" in card.text
    assert "test_accuracy = 0.8125" in card.text and "train [1, 2, 3]" in card.text
    wav = load_audio(repo / "examples" / "siren_and_barks.wav", sample_rate=16000)
    assert wav.shape == (80000,)
    assert "label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder" in (
        repo / "hyperparams.yaml").read_text()
    assert hub.check_hub_folder(repo)["family"] == "lmac"


def test_export_load_round_trip_gives_the_same_mask(lmac_repo, tmp_path):
    brick, repo = lmac_repo["brick"], lmac_repo["repo"]
    wav = torch.stack([demo_clip(2.0, seed=5), 0.3 * demo_clip(2.0, seed=6)])
    expected = _masks(brick, wav)
    for loaded in (LMACInterface.from_hparams(repo, savedir=tmp_path / "savedir"),
                   hub.load(repo), PretrainedInterface.from_hparams(str(repo))):
        assert (_masks(loaded, wav) - expected).abs().max() <= 1e-6
        assert loaded.labels == ["dog", "siren", "rain", "engine"]


def test_a_savedir_reused_for_another_model_loads_the_new_one(lmac_repo, tmp_path):
    """SpeechBrain reuses existing links in savedir; a second model must not get the first one's weights."""
    torch.manual_seed(11)  # another initialisation: other weights, same architecture
    other_brick = LMAC(load_speechbrain_classifier(lmac_repo["classifier"], "compact"), channels=8).eval()
    other = hub.export_interpreter(other_brick, tmp_path / "other", classifier_source=lmac_repo["classifier"],
                                   examples=False, verify=False)
    wav = demo_clip(1.5)[None]
    savedir = tmp_path / "shared_savedir"
    first = LMACInterface.from_hparams(lmac_repo["repo"], savedir=savedir)
    second = LMACInterface.from_hparams(other, savedir=savedir)
    assert (_masks(second, wav) - _masks(other_brick, wav)).abs().max() <= 1e-6
    assert (_masks(first, wav) - _masks(second, wav)).abs().max() > 1e-3


def test_l2i_round_trip(tmp_path):
    classifier = make_speechbrain_classifier(tmp_path / "classifier", "xvector", n_mels=24)
    adapter = load_speechbrain_classifier(classifier, "xvector")
    n_freqs = adapter.frontend.n_freqs
    torch.manual_seed(0)
    dictionary = NMFDictionary(n_components=6, n_freqs=n_freqs, W=torch.rand(n_freqs, 6))
    brick = L2I(adapter, dictionary, channels=8, n_blocks=1, top_k=2).eval()
    repo = hub.export_interpreter(brick, tmp_path / "repo", classifier_source=classifier, verify=False)
    assert json.loads((repo / "config.json").read_text())["speechbrain_interface"] == "L2IInterface"
    loaded = hub.load(repo)
    assert isinstance(loaded, L2IInterface)
    wav = demo_clip(1.0)[None]
    a, b = brick.explain(wav), loaded.interpret_batch(wav)
    assert (a.mask - b.mask).abs().max() <= 1e-6
    assert [c.index for c in a.components[0]] == [c.index for c in b.components[0]]
    assert (loaded(wav, torch.ones(1)).mask - a.mask).abs().max() <= 1e-6  # forward(wavs, wav_lens)
    save_audio(tmp_path / "clip.wav", wav[0], 16000)
    from_file = loaded.interpret_file(tmp_path / "clip.wav")
    on_disk = load_audio(tmp_path / "clip.wav", sample_rate=16000)[None]  # 16-bit PCM
    assert (from_file.mask - brick.explain(on_disk).mask).abs().max() <= 1e-6
    assert from_file.method == a.method and len(from_file.components[0]) == 2
    with pytest.raises(TypeError, match="L2I.*hub.load"):
        LMACInterface.from_hparams(repo)


def test_load_from_a_hub_id_in_the_cache_offline(lmac_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    snapshot = _populate_hub_cache(lmac_repo["repo"], tmp_path / "hf_home" / "hub", REPO_ID)
    # huggingface_hub itself resolves the id to our hand-made snapshot
    assert Path(huggingface_hub.snapshot_download(REPO_ID, cache_dir=str(tmp_path / "hf_home" / "hub"),
                                                  local_files_only=True)) == snapshot
    wav = demo_clip(1.0)[None]
    expected = _masks(lmac_repo["brick"], wav)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = LMACInterface.from_hparams(REPO_ID, savedir=tmp_path / "savedir")
    assert (_masks(loaded, wav) - expected).abs().max() <= 1e-6
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert hub.resolve_source(REPO_ID, offline=True) == snapshot


def _network_down(real):
    def fake(*args, **kwargs):
        if not kwargs.get("local_files_only"):
            raise LocalEntryNotFoundError("ConnectError: [Errno -2] Name or service not known")
        return real(*args, **kwargs)
    return fake


def test_load_from_a_hub_id_without_network_falls_back_to_the_cache(lmac_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    _populate_hub_cache(lmac_repo["repo"], tmp_path / "cache", REPO_ID)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        _network_down(huggingface_hub.snapshot_download))
    loaded = hub.load(REPO_ID)
    wav = demo_clip(1.0)[None]
    assert (_masks(loaded, wav) - _masks(lmac_repo["brick"], wav)).abs().max() <= 1e-6


def test_offline_without_a_cache_gives_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(hub.HubUnavailableError) as err:
        LMACInterface.from_hparams("sbi-test/never-downloaded", offline=True)
    message = str(err.value)
    assert "sbi-test/never-downloaded" in message and "offline mode" in message
    assert str(tmp_path / "empty_cache") in message and "HF_HOME" in message
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        _network_down(huggingface_hub.snapshot_download))
    with pytest.raises(hub.HubUnavailableError, match="could not be reached.*holds no copy"):
        hub.load("sbi-test/never-downloaded")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        hub.load("./no/such/folder")


def test_the_bundled_interpreter(tmp_path):
    """The default shipped in the package: complete, pickle-free, a few MB, and it explains offline."""
    folder = hub.bundled_interpreter()
    config = hub.check_hub_folder(folder)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 10 * 2**20 and config["family"] == "lmac" and len(config["labels"]) == 50
    card = ModelCard((folder / "README.md").read_text())
    assert card.data.license == "cc-by-nc-3.0" and card.data.datasets == ["ESC-50"]
    faithfulness = r"\| (setting|method) \| AI \| AD \| (AD \(SB\) \| )?AG \| FF \| Fid-In \| SPS \| COMP \|"
    assert re.search(faithfulness, card.text)
    # ground truth first: the card carries the localization and sanity tables with their reference rows
    assert re.search(r"\| method \| time share \| lift \| T-F AUC \|", card.text)
    for row in ("| fixed profile |", "| energy mask |", "rand r (top 1)"):
        assert row in card.text, row
    interpreter = LMACInterface.from_hparams(folder, offline=True)
    assert hub.classifier_fingerprint(interpreter.interpreter.classifier) == config["classifier"]["sha256"]
    e = interpreter.interpret_file(folder / config["examples"][0])
    assert e.mask.shape == e.magnitude.shape and e.predicted_labels[0] in config["labels"]
    assert not any(folder.rglob("*.ckpt"))


def test_loading_a_classifier_folder_as_an_interpreter_says_what_to_do(lmac_repo):
    with pytest.raises(ValueError, match="holds no interpreter.*--classifier"):
        hub.load(lmac_repo["classifier"])


def test_push_to_hub_goes_through_hfapi(lmac_repo, monkeypatch):
    calls, uploaded = [], []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs, self.token))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs):
        calls.append(("upload_folder", kwargs["repo_id"], kwargs, self.token))
        uploaded.extend(sorted(str(p.relative_to(kwargs["folder_path"]))
                               for p in Path(kwargs["folder_path"]).rglob("*") if p.is_file()))
        return SimpleNamespace(commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/abc")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    info = hub.push_to_hub(lmac_repo["repo"], REPO_ID, token="hf_test", private=True)
    assert [c[0] for c in calls] == ["create_repo", "upload_folder"]
    assert calls[0][1] == REPO_ID and calls[0][2]["private"] is True and calls[0][2]["exist_ok"] is True
    assert calls[1][2]["folder_path"] == str(lmac_repo["repo"]) and calls[1][3] == "hf_test"
    assert calls[1][2]["commit_message"] == "Upload L-MAC interpreter"
    assert info.commit_url.endswith("/commit/abc") and "interpreter.safetensors" in uploaded
    with pytest.raises(ValueError, match="org/name"):
        hub.push_to_hub(lmac_repo["repo"], "not a repo id")


def test_push_refuses_incomplete_or_pickled_folders(lmac_repo, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, **kw: pytest.fail("must not upload"))
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, *a, **kw: pytest.fail("no"))
    copy = shutil.copytree(lmac_repo["repo"], tmp_path / "copy")
    torch.save({"w": torch.ones(1)}, copy / "decoder.ckpt")
    with pytest.raises(ValueError, match="pickle-based weight files"):
        hub.push_to_hub(copy, REPO_ID)
    (copy / "decoder.ckpt").unlink()
    (copy / "config.json").unlink()
    with pytest.raises(ValueError, match="missing config.json"):
        hub.push_to_hub(copy, REPO_ID)


_RECIPE = """# a miniature interpretation recipe, as SpeechBrain saves it in its output folder
seed: 3
output_folder: results/lmac_mini
save_folder: !ref <output_folder>/save
classifier_folder: classifiers/compact
ckpt_key: valid_loss
ckpt_mode: min
classifier: !apply:speechbrain_interp.adapters.SpeechBrainClassifier.from_hparams
    source: !ref <classifier_folder>
    interface: EncoderClassifier
    layers: [embedding_model.conv_block5, embedding_model.conv_block4]
interpreter: !new:speechbrain_interp.interpreters.lmac.LMAC
    classifier: !ref <classifier>
    channels: 8
    lambda_l1: 0.5
checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer
    checkpoints_dir: !ref <save_folder>
    recoverables:
        decoder: !ref <interpreter.decoder>
"""


def test_export_a_recipe_save_folder(tmp_path, monkeypatch):
    from hyperpyyaml import load_hyperpyyaml

    make_speechbrain_classifier(tmp_path / "classifiers" / "compact", "compact", n_mels=32)
    output = tmp_path / "results" / "lmac_mini"
    output.mkdir(parents=True)
    (output / "hyperparams.yaml").write_text(_RECIPE)
    results_md = tmp_path / "results.md"  # as eval.py writes it: one table per setting
    results_md.write_text("## in_domain\n\n| method | AI | AD |\n|---|---|---|\n| L-MAC | 55.0 | 5.0 |\n\n"
                          "## mixture\n\n| method | AI | AD |\n|---|---|---|\n| L-MAC | 50.0 | 4.0 |\n")
    monkeypatch.chdir(tmp_path)
    hparams = load_hyperpyyaml(_RECIPE)
    brick, checkpointer = hparams["interpreter"], hparams["checkpointer"]
    wav = demo_clip(1.0)[None]
    _train_a_little(brick, steps=1, seed=1)
    checkpointer.save_checkpoint(meta={"valid_loss": 0.5})
    best = _masks(brick, wav)
    _train_a_little(brick, steps=1, seed=2)
    checkpointer.save_checkpoint(meta={"valid_loss": 0.9})
    assert (_masks(brick, wav) - best).abs().max() > 1e-4  # the last checkpoint differs from the best
    monkeypatch.chdir(tmp_path.parent)  # export from elsewhere: the recipe's relative paths still resolve
    repo = hub.export_recipe(output / "save", tmp_path / "hub_folder", evaluation=results_md,
                             card=hub.ModelCardInfo(license="cc-by-nc-3.0", training_data="ESC-50"))
    loaded = hub.load(repo)
    assert (_masks(loaded, wav) - best).abs().max() <= 1e-6  # the checkpoint the recipe selects
    card = (repo / "README.md").read_text()
    assert "### mixture" in card and "| L-MAC | 50.0 | 4.0 |" in card and "results.md" in card
    assert loaded.interpreter.lambda_l1 == 0.5 and "from the recipe output `lmac_mini` (checkpoint" in card
    # a --debug run keeps its checkpoints in a temporary folder: the exported decoder.ckpt is used
    brick.load_decoder(output / "save" / sorted(p.name for p in (output / "save").iterdir())[0])
    brick.save_decoder(output / "decoder.ckpt")
    shutil.rmtree(output / "save")
    again = hub.export_recipe(output, tmp_path / "hub_folder_2", verify=False)
    assert (_masks(hub.load(again), wav) - best).abs().max() <= 1e-6
    assert "exported best decoder decoder.ckpt" in (again / "README.md").read_text()
