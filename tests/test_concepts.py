"""Concept bottleneck: exact non-negative lasso (sklearn parity, planted codes), lambda for a
target L0, cached concept embeddings, decomposition / recomposition / intervention, the uses
(linear probe, zero-shot, fine-tuned projector) and the per-clip concept interpreter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechbrain_interp.clap import HashingTextEncoder
from speechbrain_interp.concepts import (
    ConceptBottleneck,
    ConceptProjector,
    LinearProbe,
    center,
    concept_embeddings,
    get_vocabulary,
    lambda_for_l0,
    lasso_objective,
    load,
    nonneg_lasso,
    zero_shot_logits,
)


def correlated_dictionary(n_concepts=300, dim=48, seed=0):
    """Concepts clustered around a few directions (like text embeddings of related phrases), centred."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(12, dim, generator=g)
    raw = centres[torch.randint(0, 12, (n_concepts,), generator=g)] + 0.6 * torch.randn(n_concepts, dim,
                                                                                           generator=g)
    raw = F.normalize(raw, dim=-1)
    return center(raw, raw.mean(0)).double()


def targets(dictionary, n=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, dictionary.shape[1], generator=g, dtype=dictionary.dtype)
    return F.normalize(z + 2.0 * (torch.rand(n, dictionary.shape[0], generator=g,
                                             dtype=dictionary.dtype) ** 8) @ dictionary, dim=-1)


@pytest.mark.parametrize("lam", [0.02, 0.1])
@pytest.mark.parametrize("method", ["active_set", "pivoting"])
def test_solver_matches_sklearn(lam, method):
    sklearn = pytest.importorskip("sklearn.linear_model")
    C = correlated_dictionary()
    z = targets(C)
    w = nonneg_lasso(z.float(), C.float(), lam, method=method).double()
    assert bool((w >= 0).all())
    design = C.T.numpy()
    ref = np.stack([sklearn.Lasso(alpha=lam / design.shape[0], positive=True, fit_intercept=False, tol=1e-10,
                                  max_iter=200000).fit(design, zi).coef_ for zi in z.numpy()])
    f_ours = lasso_objective(z, C, w, lam)
    f_sk = lasso_objective(z, C, torch.from_numpy(ref), lam)
    rel = (f_ours - f_sk) / f_sk
    assert float(rel.max()) < 1e-4, rel
    assert float(rel.min()) > -1e-6  # sklearn at tol 1e-10 is the optimum; we cannot beat it
    # per-clip lambda and a warm start give the same optimum
    w2 = nonneg_lasso(z.float(), C.float(), torch.full((z.shape[0],), lam), init=w.float())
    assert float(((lasso_objective(z, C, w2.double(), lam) - f_sk) / f_sk).max()) < 1e-4


def test_solver_float64_and_large_support():
    """A small lambda activates more concepts than the dimension; the solver stays exact."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    C = correlated_dictionary(200, 24)
    z = targets(C, n=6)
    lam = 1e-3
    w = nonneg_lasso(z, C, lam, inner_dtype=torch.float64, tol=1e-9)
    design = C.T.numpy()
    ref = np.stack([sklearn.Lasso(alpha=lam / design.shape[0], positive=True, fit_intercept=False, tol=1e-12,
                                  max_iter=500000).fit(design, zi).coef_ for zi in z.numpy()])
    f_ours, f_sk = lasso_objective(z, C, w, lam), lasso_objective(z, C, torch.from_numpy(ref), lam)
    assert float(((f_ours - f_sk) / f_sk).max()) < 1e-4


def test_tolerance_below_float32_rounding_terminates(caplog):
    """A tolerance the float32 working-set solves cannot resolve must not send clips round forever."""
    C = correlated_dictionary(300, 32)
    z = targets(C, n=200)
    with caplog.at_level("WARNING", logger="speechbrain_interp.concepts"):
        w = nonneg_lasso(z.float(), C.float(), 0.02, tol=1e-12, max_outer=20)
    assert "working-set rounds" not in caplog.text
    ref = nonneg_lasso(z, C, 0.02, tol=1e-12, inner_dtype=torch.float64)
    f = lasso_objective(z, C, w.double(), 0.02)
    f_ref = lasso_objective(z, C, ref, 0.02)
    assert float(((f - f_ref) / f_ref).max()) < 1e-6


def test_planted_sparse_code_is_recovered():
    g = torch.Generator().manual_seed(3)
    C = F.normalize(torch.randn(400, 64, generator=g), dim=-1)  # incoherent enough for exact recovery
    w_true = torch.zeros(16, 400)
    for i in range(16):
        idx = torch.randperm(400, generator=g)[:4]
        w_true[i, idx] = 0.5 + torch.rand(4, generator=g)
    z = w_true @ C
    w = nonneg_lasso(z, C, 1e-3)
    assert torch.equal(w > 1e-2, w_true > 0)
    assert torch.allclose(w, w_true, atol=0.02)


def test_zero_when_lambda_exceeds_max_correlation():
    C = correlated_dictionary().float()
    z = targets(C.double()).float()
    lam_max = float((z @ C.T).max())
    assert float(nonneg_lasso(z, C, lam_max * 1.01).abs().sum()) == 0.0


def test_input_checks():
    with pytest.raises(ValueError, match="must be"):
        nonneg_lasso(torch.randn(2, 3), torch.randn(5, 4), 0.1)
    with pytest.raises(ValueError, match="non-negative"):
        nonneg_lasso(torch.randn(2, 4), torch.randn(5, 4), -0.1)


@pytest.mark.parametrize("target", [5, 20])
def test_lambda_for_target_l0(target):
    C = correlated_dictionary(400, 64).float()
    z = targets(C.double(), n=32).float()
    lam = lambda_for_l0(z, C, target)
    l0 = float((nonneg_lasso(z, C, lam) > 0).sum(1).float().mean())
    assert abs(l0 - target) <= 0.05 * target + 0.5
    lam_each = lambda_for_l0(z, C, target, per_sample=True)
    l0_each = (nonneg_lasso(z, C, lam_each) > 0).sum(1).float()
    assert lam_each.shape == (32,)
    assert float((l0_each - target).abs().mean()) <= 1.0


# --- concept embeddings and the bottleneck ---------------------------------------------------
class CountingEncoder(HashingTextEncoder):
    calls = 0

    def embed_text(self, texts):
        CountingEncoder.calls += 1
        return super().embed_text(texts)


def test_concept_embeddings_cached_by_embedder_vocabulary_and_version(tmp_path):
    enc = CountingEncoder(dim=16)
    concepts, emb = concept_embeddings(enc, "sound_events", cache_dir=tmp_path)
    calls = CountingEncoder.calls
    assert len(concepts) == emb.shape[0] == len(get_vocabulary("sound_events"))
    again = concept_embeddings(enc, "sound_events", cache_dir=tmp_path)[1]
    assert CountingEncoder.calls == calls and torch.equal(again, emb)  # read back, not recomputed
    files = list(tmp_path.rglob("*.safetensors"))
    assert len(files) == 1 and "sound_events-" in files[0].name
    # another embedder (other weights) and another vocabulary get their own entries
    concept_embeddings(CountingEncoder(dim=16, seed=1), "sound_events", cache_dir=tmp_path)
    vocab = tmp_path / "mine.txt"
    vocab.write_text("dog bark\nrain\n")
    concept_embeddings(enc, vocab, cache_dir=tmp_path)
    vocab.write_text("dog bark\nrain\nsiren\n")  # edited: a new version, not the stale cache
    assert concept_embeddings(enc, vocab, cache_dir=tmp_path)[1].shape[0] == 3
    assert len(list(tmp_path.rglob("*.safetensors"))) == 4


def test_unknown_vocabulary():
    with pytest.raises(ValueError, match="unknown vocabulary"):
        get_vocabulary("nope")


@pytest.fixture
def bottleneck(tmp_path):
    enc = HashingTextEncoder(dim=64)
    b = load(enc, "sound_events", l1_penalty=0.05, cache_dir=tmp_path)
    audio = enc.embed_text(["dog barking", "siren wailing", "rain falling", "engine idling", "bird song"])
    b.fit_audio_mean(audio)
    return b, audio


def test_decompose_recompose_and_intervene(bottleneck):
    b, audio = bottleneck
    with pytest.raises(RuntimeError, match="audio mean"):
        ConceptBottleneck(["a", "b"], torch.eye(2)).decompose(torch.eye(2))
    lam = b.set_l0(audio, 10)
    assert lam == b.l1_penalty
    w, scale = b.decompose(audio, return_scale=True)
    assert w.shape == (5, len(b.get_vocabulary())) and bool((w >= 0).all())
    assert abs(float((w > 0).sum(1).float().mean()) - 10) <= 1.0
    cos = b.recompose_cosine(audio, w)
    rebuilt = b.recompose(w, scale)
    assert torch.allclose(rebuilt.norm(dim=-1), torch.ones(5), atol=1e-5)
    assert float(cos.min()) > 0.8
    # a denser code recomposes better
    b.set_l0(audio, 40)
    assert float(b.recompose_cosine(audio).mean()) > float(cos.mean())
    top = b.top_concepts(w, k=3)
    assert len(top) == 5 and all(len(t) <= 3 for t in top)
    name, weight = top[0][0]
    assert weight == pytest.approx(float(w[0].max()))
    # removing the top concept moves the recomposition away from its text embedding
    removed = b.intervene(w, remove=[name])
    assert float(removed[0, b.concept_index(name)]) == 0.0
    concept_dir = b.dictionary[b.concept_index(name)]
    before = float((rebuilt[0] - b.audio_mean) @ concept_dir)
    after = float((b.recompose(removed, scale)[0] - b.audio_mean) @ concept_dir)
    assert after < before
    boosted = b.intervene(w, boost={name: 3.0}, set_to={"siren": 0.2})
    assert float(boosted[0, b.concept_index(name)]) == pytest.approx(3 * weight)
    assert float(boosted[0, b.concept_index("siren")]) == pytest.approx(0.2)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        b.concept_index("no such concept")


def test_uses_probe_zero_shot_projector():
    g = torch.Generator().manual_seed(0)
    classes = F.normalize(torch.randn(4, 16, generator=g), dim=-1)
    y = torch.arange(4).repeat(25)
    z = F.normalize(classes[y] + 0.9 * torch.randn(100, 16, generator=g), dim=-1)
    zs = float((zero_shot_logits(z, classes).argmax(-1) == y).float().mean())
    assert zs > 0.5
    probe = LinearProbe(16, 4).fit(z, y)
    assert probe.accuracy(z, y) >= zs
    proj = ConceptProjector(16).fit(z, y, classes, epochs=100)
    assert float((zero_shot_logits(proj(z), classes).argmax(-1) == y).float().mean()) >= zs


# --- the brick ----------------------------------------------------------------------------
def test_concept_interpreter_explanation_and_png(tmp_path):
    from speechbrain_interp.clap import TextAlignedEncoder
    from speechbrain_interp.interpreters.concepts import ConceptInterpreter
    from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

    folder = make_speechbrain_classifier(tmp_path / "cls", "compact", n_mels=32, emb_dim=16)
    adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    embedder = TextAlignedEncoder(adapter, HashingTextEncoder(dim=32)).eval()
    words = ["dog bark", "siren", "rain", "engine", "bird song", "speech", "wind", "footsteps", "door knock",
             "clock tick", "crackling fire", "sea waves", "crying baby", "church bells", "keyboard typing"]
    b = load(embedder, words, l1_penalty=0.02, cache_dir=tmp_path / "cache")
    b.fit_audio_mean(embedder.embed_audio(0.1 * torch.randn(6, 16000)).detach())
    wav = 0.1 * torch.randn(2, 16000)
    with pytest.raises(TypeError, match="unrelated"):  # one policy for every brick: unknown keys raise
        ConceptInterpreter(adapter, b, config={"top_k": 4, "unrelated": 1})
    brick = ConceptInterpreter(adapter, b, config={"top_k": 4})
    e = brick.explain(wav)
    assert e.method == "concept bottleneck"
    assert len(e.concepts) == 2 and all(0 < len(c) <= 4 for c in e.concepts)
    assert float(e.mask.min()) >= 0 and float(e.mask.max()) <= 1 and float(e.mask.max()) > 0
    assert set(e.scores) == {"recompose_cosine", "concept_l0"}
    w = b.decompose(embedder.embed_audio(wav))
    assert e.concepts[0] == b.top_concepts(w, 4)[0]
    summary = e.save(tmp_path / "out")
    png = [f for f in summary[0]["files"].values() if str(f).endswith(".png")]
    assert png and (tmp_path / "out" / png[0]).stat().st_size > 0
    assert summary[0]["concepts"][0][0] == e.concepts[0][0][0]
    flat = ConceptInterpreter(adapter, b, mask="none").explain(wav)
    assert bool((flat.mask == 1).all())
    with pytest.raises(ValueError, match="mask must be"):
        ConceptInterpreter(adapter, b, mask="other")
