"""L2I brick: Psi/Theta shapes across classifier layouts, relevance, masks, audio objects, multi-label."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import TinyCNN

from speechbrain_interp.adapters import TorchClassifier
from speechbrain_interp.interpreters import L2I
from speechbrain_interp.interpreters.nmf import NMFDictionary
from speechbrain_interp.spectral import SpectralFrontEnd
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models: one thread avoids thread synchronisation costs on a loaded 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def dictionary_for(frontend, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(frontend.n_freqs, k, generator=g) + 0.05
    return NMFDictionary(k, frontend.n_freqs, domain=frontend.mask_domain, W=W)


@pytest.fixture
def l2i(tiny_adapter):
    return L2I(tiny_adapter, dictionary_for(tiny_adapter.frontend), channels=16, n_blocks=1, top_k=3)


@pytest.fixture(scope="module")
def speechbrain_adapters(tmp_path_factory):
    """Random-weight SpeechBrain classifiers loaded with from_hparams: 4-D, (B,C,T) and (B,T,C) layers."""
    root = tmp_path_factory.mktemp("sb")
    out = {}
    for arch in ("compact", "ecapa", "xvector"):
        folder = make_speechbrain_classifier(root / arch, arch, n_mels=24, emb_dim=16)
        out[arch] = load_speechbrain_classifier(folder, arch)
    return out


# expected time axis of each captured layer, found by L2I's probe
TIME_AXES = {
    "compact": {"embedding_model.conv_block5": 2, "embedding_model.conv_block4": 2},
    "ecapa": {"embedding_model.blocks.3": 2, "embedding_model.mfa": 2},
    "xvector": {"embedding_model.blocks.11": 1, "embedding_model.blocks.14": 1},
}


@pytest.mark.parametrize("arch", ["compact", "ecapa", "xvector"])
def test_psi_theta_shapes_for_several_classifier_layouts(speechbrain_adapters, arch):
    adapter = speechbrain_adapters[arch]
    l2i = L2I(adapter, dictionary_for(adapter.frontend, k=7), channels=16, n_blocks=1)
    assert {n: lay["time_dim"] for n, lay in l2i.layouts.items()} == TIME_AXES[arch]
    for seconds in (0.7, 1.3):
        wav = 0.1 * torch.randn(2, int(seconds * 16000))
        spec = adapter.frontend(wav)
        logits, hidden = adapter.forward_with_hidden(spec.magnitude)
        H = l2i.activations(hidden, spec.magnitude.shape[1])
        assert H.shape == (2, 7, spec.magnitude.shape[1])
        assert (H >= 0).all()
        assert l2i.theta(H).shape == logits.shape == (2, 3)
    loss, stats = l2i.loss(wav)
    loss.backward()
    assert all(p.grad is not None for p in l2i.trainable_parameters())
    assert all(p.grad is None for p in adapter.model.parameters())
    assert set(stats) == {"rec_loss", "l1_loss", "fid_loss", "fidelity_top1"}


def test_pooled_layers_are_broadcast_over_time(tiny_frontend):
    adapter = TorchClassifier(TinyCNN(), tiny_frontend, input="log_mel", layers=["conv2", "fc"])
    l2i = L2I(adapter, dictionary_for(tiny_frontend), channels=8, n_blocks=1)
    assert l2i.layouts["fc"]["time_dim"] is None and l2i.layouts["conv2"]["time_dim"] == 2
    assert l2i.explain(0.1 * torch.randn(1, 6000)).mask.shape == (1, 38, 257)


def test_relevance_selection_and_ratio_mask(l2i):
    k = l2i.dictionary.n_components
    l2i.theta = type(l2i.theta)(k, 4, pooling="mean")
    with torch.no_grad():
        l2i.theta.linear.weight.zero_()
        l2i.theta.linear.bias.zero_()
        l2i.theta.linear.weight[1] = torch.tensor([2.0, -1.0, 0.5, 0.1, 0.0, 1.0])
    H = torch.ones(1, k, 5)
    logits = l2i.theta(H)
    relevance = l2i.component_relevance(H, logits, torch.tensor([1]))
    assert torch.allclose(relevance, torch.tensor([[1.0, -0.5, 0.25, 0.05, 0.0, 0.5]]))
    l2i.threshold = 0.2
    selected = l2i.select(relevance)
    assert selected.tolist() == [[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]]
    mask = l2i.ratio_mask(H, selected)
    W = l2i.dictionary.W
    expected = (W[:, [0, 2, 5]].sum(1) / (W.sum(1) + l2i.eps))
    assert torch.allclose(mask[0, 0], expected, atol=1e-6)
    assert ((mask >= 0) & (mask <= 1)).all()
    # the top component is kept even above any threshold; nothing when no relevance is positive
    l2i.threshold = 2.0
    assert l2i.select(relevance).tolist() == [[1.0, 0, 0, 0, 0, 0]]
    assert l2i.select(-relevance.abs()).sum() == 0


def test_log_probability_relevance_discounts_components_shared_by_all_classes(l2i):
    k = l2i.dictionary.n_components
    l2i.theta = type(l2i.theta)(k, 4, pooling="mean")
    with torch.no_grad():
        l2i.theta.linear.weight.zero_()
        l2i.theta.linear.weight[:, 0] = 3.0  # raises every class alike
        l2i.theta.linear.weight[2, 1] = 1.0  # only class 2
    H = torch.ones(1, k, 4)
    logits = l2i.theta(H)
    target = torch.tensor([2])
    assert float(l2i.component_relevance(H, logits, target)[0, 0].detach()) == pytest.approx(1.0)
    l2i.relevance = "log_probability"
    r = l2i.component_relevance(H, logits, target).detach()
    assert float(r[0, 0].abs()) < 1e-6 and float(r[0, 1]) == pytest.approx(1.0)


def test_explanation_carries_listenable_components_of_the_input_length(l2i, tmp_path):
    wav = 0.1 * torch.randn(2, 12345)  # not a multiple of the hop
    e = l2i.explain(wav)
    assert e.mask.shape == e.magnitude.shape
    assert e.interpretation.shape == wav.shape
    for clip in e.components:
        assert len(clip) == 3
        assert all(c.wav.shape == (12345,) for c in clip)
        rel = [c.relevance for c in clip]
        assert rel == sorted(rel, reverse=True) and rel[0] == pytest.approx(1.0)
    top1 = (e.scores["fidelity_top1"] == 1).tolist()
    with torch.no_grad():
        spec = l2i.frontend(wav)
        logits, hidden = l2i.classifier.forward_with_hidden(spec.magnitude)
        theta = l2i.theta.eval()(l2i.psi.eval()(
            [hidden[n] for n in l2i.layers], spec.magnitude.shape[1]))
    assert top1 == (theta.argmax(-1) == logits.argmax(-1)).tolist()
    assert (e.scores["n_selected"] >= 1).all()
    summary = e.save(tmp_path, names=["a", "b"], figure=False)
    assert {"component0", "component1", "component2"} <= set(summary[0]["files"])
    assert (tmp_path / summary[1]["files"]["component2"]).exists()


def test_requested_class_is_explained(l2i):
    e = l2i.explain(0.1 * torch.randn(2, 8000), target="rain")
    assert e.target.tolist() == [2, 2]
    assert e.predicted_labels == ["rain", "rain"]


def test_all_components_together_rebuild_the_input():
    """Masks of all components sum to one, so their wavs sum back to the input (magnitude domain)."""
    fe = SpectralFrontEnd(n_fft=256, hop_length=64, mask_domain="magnitude")
    adapter = TorchClassifier(TinyCNN(n_mels=16), SpectralFrontEnd(n_fft=256, hop_length=64, n_mels=16,
                                                                   mask_domain="magnitude"),
                              input="log_mel", layers=["conv2"])
    l2i = L2I(adapter, dictionary_for(fe, k=5), channels=8, n_blocks=1)
    wav = 0.1 * torch.randn(2, 4000)
    spec = fe(wav)
    H = torch.rand(2, 5, spec.magnitude.shape[1]) + 0.5
    parts = l2i.component_wavs(spec, H, torch.arange(5).expand(2, 5))
    assert parts.shape == (2, 5, 4000)
    assert torch.allclose(parts.sum(1), wav, atol=1e-4)


def test_masked_in_term_trains_psi_through_the_frozen_classifier(tiny_adapter):
    l2i = L2I(tiny_adapter, dictionary_for(tiny_adapter.frontend), channels=16, n_blocks=1,
              lambda_in=1.0)
    loss, stats = l2i.loss(0.1 * torch.randn(2, 8000))
    loss.backward()
    assert {"in_loss", "masked_in_agreement"} <= set(stats)
    assert all(p.grad is not None for p in l2i.psi.parameters())
    assert all(p.grad is None for p in tiny_adapter.model.parameters())


def test_training_makes_theta_agree_with_the_classifier(tiny_adapter):
    torch.manual_seed(0)
    l2i = L2I(tiny_adapter, dictionary_for(tiny_adapter.frontend), channels=16, n_blocks=1,
              lambda_l1=0.0, dropout=0.0)
    wav = 0.2 * torch.randn(6, 4000)
    opt = torch.optim.Adam(l2i.trainable_parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss, stats = l2i.loss(wav)
        loss.backward()
        opt.step()
    assert l2i.explain(wav).scores["fidelity_top1"].mean() == 1.0


def test_multilabel_classifiers_use_sigmoid_targets(tiny_frontend):
    torch.manual_seed(0)
    adapter = TorchClassifier(TinyCNN(), tiny_frontend, input="log_mel", layers=["conv2"],
                              labels=["dog", "siren", "rain", "engine"], multilabel=True)
    l2i = L2I(adapter, dictionary_for(tiny_frontend), channels=16, n_blocks=1, lambda_in=0.5)
    theta_logits, logits = torch.randn(3, 4), torch.randn(3, 4)
    assert float(l2i.fidelity_loss(theta_logits, logits)) == pytest.approx(
        float(F.binary_cross_entropy_with_logits(theta_logits, torch.sigmoid(logits))))
    wav = 0.1 * torch.randn(2, 8000)
    loss, stats = l2i.loss(wav)
    loss.backward()
    assert torch.isfinite(loss) and "in_loss" in stats
    e = l2i.explain(wav, target=[1, 3])
    assert e.target.tolist() == [1, 3]
    spec = tiny_frontend(wav)
    probs = torch.sigmoid(adapter(spec.magnitude)).gather(1, e.target[:, None]).squeeze(1)
    assert torch.allclose(e.probability, probs, atol=1e-6)
    assert len(e.components[0]) == 3


def test_single_label_fidelity_is_soft_target_cross_entropy(l2i):
    theta_logits, logits = torch.randn(3, 4), torch.randn(3, 4)
    expected = F.cross_entropy(theta_logits, torch.softmax(logits, -1))
    assert float(l2i.fidelity_loss(theta_logits, logits)) == pytest.approx(float(expected), rel=1e-5)


def test_silence_is_explained_without_nan(l2i):
    e = l2i.explain(torch.zeros(1, 8000))
    assert torch.isfinite(e.mask).all() and torch.isfinite(e.interpretation).all()
    assert all(torch.isfinite(c.wav).all() for c in e.components[0])


def test_weights_roundtrip_and_mismatch(l2i, tiny_adapter, tmp_path):
    wav = 0.1 * torch.randn(1, 8000)
    path = l2i.save(tmp_path / "l2i.safetensors")
    again = L2I(tiny_adapter, l2i.dictionary, channels=16, n_blocks=1, weights=path)
    assert torch.allclose(again.explain(wav).mask, l2i.explain(wav).mask)
    with pytest.raises(ValueError, match="channels"):
        L2I(tiny_adapter, l2i.dictionary, channels=8, n_blocks=1, weights=path)
    # the fragment's sizes give way to the ones the weights were trained with
    sized = L2I(tiny_adapter, config={"channels": 64, "n_blocks": 3}, weights=path)
    assert (sized.config["channels"], sized.config["n_blocks"]) == (16, 1)
    dict_path = l2i.dictionary.save(tmp_path / "nmf.safetensors")
    from_path = L2I(tiny_adapter, str(dict_path), channels=16, n_blocks=1, weights=path)
    assert torch.equal(from_path.dictionary.W, l2i.dictionary.W)
    bundled = L2I(tiny_adapter, channels=16, n_blocks=1, weights=path)  # dictionary inside the weights
    assert torch.equal(bundled.dictionary.W, l2i.dictionary.W)
    with pytest.raises(ValueError, match="another NMF dictionary"):
        L2I(tiny_adapter, dictionary_for(tiny_adapter.frontend, seed=1), channels=16, n_blocks=1,
            weights=path)
    with pytest.raises(FileNotFoundError, match="train_l2i"):
        L2I(tiny_adapter, l2i.dictionary, weights=tmp_path / "missing.safetensors")


def test_options_come_from_the_brick_fragment(tiny_adapter, caplog):
    config = {"channels": 8, "n_blocks": 1, "threshold": 0.5, "top_k": 2, "n_components": 5}
    with caplog.at_level("WARNING"):
        l2i = L2I(tiny_adapter, config=config, threshold=0.3)
    assert "untrained" in caplog.text  # no dictionary: a random one, said loudly
    assert l2i.dictionary.n_components == 5 and l2i.dictionary.domain == tiny_adapter.frontend.mask_domain
    assert (l2i.threshold, l2i.top_k, l2i.config["channels"]) == (0.3, 2, 8)
    with pytest.raises(TypeError, match="unknown L2I options"):
        L2I(tiny_adapter, config={"chanels": 8})


def test_mismatched_set_ups_are_refused(tiny_adapter):
    fe = tiny_adapter.frontend
    with pytest.raises(ValueError, match="frequency bins"):
        L2I(tiny_adapter, NMFDictionary(4, fe.n_freqs + 1, domain=fe.mask_domain))
    with pytest.raises(ValueError, match="mask domain|masks act on"):
        L2I(tiny_adapter, NMFDictionary(4, fe.n_freqs, domain="magnitude"))
    with pytest.raises(ValueError, match="captures"):
        L2I(tiny_adapter, dictionary_for(fe), layers=["fc"])
    with pytest.raises(ValueError, match="relevance"):
        L2I(tiny_adapter, dictionary_for(fe), relevance="gradient")
    with pytest.raises(TypeError, match="NMFDictionary"):
        L2I(tiny_adapter, torch.ones(3, 3))
