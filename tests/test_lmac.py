"""L-MAC brick and its decoder: shapes for any length, the loss, architectures, silence, fine-tuning."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from speechbrain_interp.adapters import TorchClassifier
from speechbrain_interp.interpreters import LMAC
from speechbrain_interp.interpreters.lmac import (
    add_white_noise,
    mix_sources,
    total_variation,
    training_mixtures,
)
from speechbrain_interp.lobes.mask_decoder import MaskDecoder, infer_layouts, to_canonical
from speechbrain_interp.spectral import SpectralFrontEnd
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

ARCH_LAYERS = {
    "compact": ["embedding_model.conv_block5", "embedding_model.conv_block3", "embedding_model.conv_block2"],
    "cnn14": ["embedding_model.conv_block6", "embedding_model.conv_block4"],
    "ecapa": ["embedding_model.blocks.3", "embedding_model.mfa", "embedding_model.asp"],
    "xvector": ["embedding_model.blocks.11", "embedding_model.blocks.14"],
}


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    """Random-weight SpeechBrain classifiers of four architectures, loaded with from_hparams."""
    out = {}
    for arch, layers in ARCH_LAYERS.items():
        folder = make_speechbrain_classifier(tmp_path_factory.mktemp(arch), arch, n_mels=32, emb_dim=32)
        out[arch] = load_speechbrain_classifier(folder, arch, layers=layers)
    return out


@pytest.fixture(scope="module")
def lmacs(adapters):
    """One L-MAC brick per architecture (short layout probes keep the tests fast)."""
    torch.manual_seed(0)
    return {arch: LMAC(adapter, probe_seconds=0.5) for arch, adapter in adapters.items()}


@pytest.fixture(scope="module")
def compact_lmac(lmacs):
    return lmacs["compact"]


def test_layouts_are_inferred_for_every_architecture(adapters):
    expected = {
        "compact": {"embedding_model.conv_block5": "BCTF", "embedding_model.conv_block2": "BCTF"},
        "cnn14": {"embedding_model.conv_block6": "BCTF"},
        "ecapa": {"embedding_model.blocks.3": "BCT", "embedding_model.mfa": "BCT",
                  "embedding_model.asp": "BC"},
        "xvector": {"embedding_model.blocks.11": "BTC", "embedding_model.blocks.14": "BTC"},
    }
    for arch, layouts in expected.items():
        specs = infer_layouts(adapters[arch], list(layouts), seconds=0.5)
        assert {n: s.layout for n, s in specs.items()} == layouts, arch
    # declared layouts win over the probe
    spec = infer_layouts(adapters["xvector"], ["embedding_model.blocks.11"], seconds=0.5,
                         layouts={"embedding_model.blocks.11": "BCT"})
    assert spec["embedding_model.blocks.11"].layout == "BCT"


def test_to_canonical_rejects_unknown_layout():
    with pytest.raises(ValueError, match="layout"):
        to_canonical(torch.zeros(1, 2, 3), "TBC")


@pytest.mark.parametrize("num_samples", [640, 1601, 3333, 8000, 12345, 16000, 27777])
def test_decoder_masks_have_the_input_shape_for_any_length(compact_lmac, num_samples):
    fe = compact_lmac.frontend
    wav = torch.randn(2, num_samples) * 0.1
    mag = fe(wav).magnitude
    mask, logits = compact_lmac.predict_mask(mag)
    assert mask.shape == mag.shape == (2, fe.num_frames(num_samples), fe.n_freqs)
    assert torch.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1
    assert logits.shape == (2, 3)


@pytest.mark.parametrize("arch", ["cnn14", "ecapa", "xvector"])
@pytest.mark.parametrize("seconds", [0.77, 1.5, 2.013])
def test_decoder_works_for_other_architectures_and_odd_frame_counts(lmacs, arch, seconds):
    lmac = lmacs[arch]
    wav = torch.randn(1, int(seconds * 16000)) * 0.1
    e = lmac.explain(wav)
    assert e.mask.shape == e.magnitude.shape
    assert torch.isfinite(e.mask).all()
    assert e.interpretation.shape == wav.shape


def test_decoder_without_guide_and_with_vectors_only():
    dec = MaskDecoder({"pooled": ("BC", 16, 1)}, n_freq=33, guide=False)
    out = dec({"pooled": torch.randn(3, 16)}, torch.rand(3, 7, 33))
    assert out.shape == (3, 7, 33)
    # a vector-only decoder gives the same mask to every frame
    assert torch.allclose(out[:, :1].expand_as(out), out)
    with pytest.raises(ValueError, match="bins"):
        dec({"pooled": torch.randn(3, 16)}, torch.rand(3, 7, 34))
    with pytest.raises(KeyError, match="missing"):
        dec({}, torch.rand(3, 7, 33))


@pytest.mark.parametrize("arch", ["compact", "ecapa", "xvector"])
def test_loss_trains_only_the_decoder(lmacs, arch):
    lmac = lmacs[arch]
    lmac.decoder.zero_grad()
    loss, stats = lmac.loss(torch.randn(2, 8000) * 0.1)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in lmac.decoder.parameters() if p.requires_grad)
    assert all(p.grad is None for p in lmac.classifier.parameters())
    lmac.decoder.zero_grad()
    assert stats["mask"].shape == stats["magnitude"].shape


def test_loss_terms_have_the_documented_signs(adapters, compact_lmac):
    adapter = adapters["compact"]
    wav = torch.randn(2, 8000) * 0.1
    base = LMAC(adapter, out_loss="neg_ce", area_loss="mask",
                lambda_in=0.0, lambda_out=0.0, lambda_l1=0.0, decoder=compact_lmac.decoder)
    _, stats = base.loss(wav)
    ce_in, ce_out, l1 = stats["ce_in"], stats["ce_out"], stats["l1"]
    cases = [({"lambda_in": 1.5}, 1.5 * ce_in), ({"lambda_out": 0.7}, -0.7 * ce_out),
             ({"lambda_l1": 0.3}, 0.3 * l1)]
    for opts, expected in cases:
        lmac = LMAC(adapter, out_loss="neg_ce", area_loss="mask",
                    **{"lambda_in": 0.0, "lambda_out": 0.0, "lambda_l1": 0.0, **opts},
                    decoder=base.decoder)
        loss, _ = lmac.loss(wav)
        assert torch.allclose(loss, expected, atol=1e-5), opts
    # TV: a smoother mask gets a lower penalty
    lmac = LMAC(adapter, lambda_in=0.0, lambda_out=0.0, lambda_l1=0.0, lambda_tv=2.0, decoder=base.decoder)
    loss, stats = lmac.loss(wav)
    assert torch.allclose(loss, 2.0 * total_variation(stats["mask"]).mean(), atol=1e-6)


def test_loss_gradients_push_the_mask_the_right_way(adapters):
    adapter = adapters["compact"]
    wav = torch.randn(2, 8000) * 0.1
    torch.manual_seed(0)
    # only sparsity: gradient steps lower the mask
    lmac = LMAC(adapter, lambda_in=0.0, lambda_out=0.0, lambda_l1=1.0, probe_seconds=0.5)
    opt = torch.optim.SGD(lmac.decoder.parameters(), lr=0.5)
    before = lmac.loss(wav)[1]["mask_mean"]
    for _ in range(2):
        opt.zero_grad()
        lmac.loss(wav)[0].backward()
        opt.step()
    assert lmac.loss(wav)[1]["mask_mean"] < before
    # only the masked-in term: training raises the target probability on M (.) X
    lmac = LMAC(adapter, lambda_in=1.0, lambda_out=0.0, lambda_l1=0.0, decoder=lmac.decoder)
    opt = torch.optim.Adam(lmac.decoder.parameters(), lr=0.05)
    first = lmac.loss(wav)[1]["ce_in"]
    for _ in range(6):
        opt.zero_grad()
        lmac.loss(wav)[0].backward()
        opt.step()
    assert lmac.loss(wav)[1]["ce_in"] < first


def test_full_mask_reproduces_the_classifier_and_target_is_clean_prediction(adapters, compact_lmac):
    adapter = adapters["compact"]
    wav = torch.randn(3, 8000) * 0.1
    spec = adapter.frontend(wav)
    ones = torch.ones_like(spec.magnitude)
    assert torch.allclose(adapter.frontend.apply_mask(spec.magnitude, ones), spec.magnitude, rtol=1e-5)
    lmac = compact_lmac
    clean_pred = adapter(spec.magnitude).argmax(-1)
    mixed = add_white_noise(wav, 2.0, generator=torch.Generator().manual_seed(1))
    assert mixed.shape == wav.shape
    _, stats = lmac.loss(mixed, clean_wav=wav)
    assert torch.equal(stats["target"], clean_pred)
    _, stats = lmac.loss(mixed, target=torch.tensor([2, 1, 0]))
    assert stats["target"].tolist() == [2, 1, 0]


def test_silent_audio_gives_finite_explanations(compact_lmac):
    e = compact_lmac.explain(torch.zeros(2, 16000))
    for t in (e.mask, e.interpretation, e.residual, e.probability, e.probability_in):
        assert torch.isfinite(t).all()
    loss, _ = compact_lmac.loss(torch.zeros(2, 16000))
    assert torch.isfinite(loss)


def test_fine_tuning_guidance(adapters, compact_lmac):
    adapter = adapters["compact"]
    wav = torch.randn(2, 8000) * 0.1
    mixed = mix_sources(wav, torch.randn(2, 8000))
    legacy = {"out_loss": "neg_ce", "area_loss": "mask", "lambda_out": 0.2, "lambda_l1": 0.4}
    plain = LMAC(adapter, **legacy, decoder=compact_lmac.decoder)
    _, plain_stats = plain.loss(mixed, clean_wav=wav)
    # every clip passes a threshold of -1: guidance replaces the sparsity terms
    guided = LMAC(adapter, **legacy, guidance_weight=4.0, guidance_threshold=-1.0, decoder=plain.decoder)
    loss, stats = guided.loss(mixed, clean_wav=wav)
    assert stats["guided"] == 1.0 and stats["guidance"] > 0
    expected = 4.0 * stats["ce_in"] - 0.2 * stats["ce_out"] + 4.0 * stats["guidance"]
    assert torch.allclose(loss, expected, atol=1e-5)
    # no clip passes a threshold above 1: the plain L-MAC loss
    strict = LMAC(adapter, **legacy, guidance_weight=4.0, guidance_threshold=1.01, decoder=plain.decoder)
    loss, stats = strict.loss(mixed, clean_wav=wav)
    assert stats["guided"] == 0.0
    assert torch.allclose(loss, plain_stats["loss"], atol=1e-5)
    # guidance training moves the mask towards the binarised clean spectrogram
    z = adapter.frontend.to_mask_domain(adapter.frontend(wav).magnitude)
    oracle = (z >= 0.35 * z.flatten(1).amax(1).view(-1, 1, 1)).float()
    torch.manual_seed(0)
    only_guide = LMAC(adapter, lambda_in=0.0, lambda_out=0.0, guidance_weight=1.0,
                      guidance_threshold=-1.0, probe_seconds=0.5)
    opt = torch.optim.Adam(only_guide.decoder.parameters(), lr=0.02)
    err0 = (only_guide.loss(mixed, clean_wav=wav)[1]["mask"] - oracle).abs().mean()
    for _ in range(6):
        opt.zero_grad()
        only_guide.loss(mixed, clean_wav=wav)[0].backward()
        opt.step()
    assert (only_guide.loss(mixed, clean_wav=wav)[1]["mask"] - oracle).abs().mean() < err0


def test_multilabel_loss_uses_the_predicted_set():
    fe = SpectralFrontEnd(n_fft=256, hop_length=128, n_mels=16)
    net = nn.Sequential(nn.Conv1d(16, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                        nn.Flatten(1), nn.Linear(8, 4))
    adapter = TorchClassifier(net, fe, input=lambda f, mag, ph: f.log_mel(mag).mT, layers=["1"],
                              multilabel=True)
    torch.manual_seed(0)
    lmac = LMAC(adapter)
    logits = torch.tensor([[3.0, -2.0, 1.0, -1.0], [-3.0, -2.0, -1.0, -4.0]])
    target = lmac.prediction_target(logits)
    assert target.tolist() == [[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]  # empty set -> top class
    per_clip = lmac.class_loss(logits, target)
    expected0 = (math.log1p(math.exp(-3.0)) + math.log1p(math.exp(-1.0))) / 2
    assert abs(float(per_clip[0]) - expected0) < 1e-5
    loss, stats = lmac.loss(torch.randn(2, 4000) * 0.1)
    loss.backward()
    assert torch.isfinite(loss) and stats["target"].shape == (2, 4)


def test_config_merging_and_errors(adapters, tmp_path):
    adapter = adapters["compact"]
    lmac = LMAC(adapter, config={"lambda_in": 2.0, "channels": 8, "probe_seconds": 0.5}, lambda_in=3.0)
    assert lmac.lambda_in == 3.0 and lmac.options["channels"] == 8
    with pytest.raises(TypeError, match="unknown"):
        LMAC(adapter, config={"lamda_in": 1.0})
    with pytest.raises(ValueError, match="not captured"):
        LMAC(adapter, layers=["embedding_model.conv_block1"])
    # decoder weights round trip, also through the constructor
    path = lmac.save_decoder(tmp_path / "ckpt" / "decoder.ckpt")
    again = LMAC(adapter, channels=8, probe_seconds=0.5, pretrained_decoder=path.parent)
    for a, b in zip(lmac.decoder.state_dict().values(), again.decoder.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(FileNotFoundError):
        lmac.load_decoder(tmp_path / "missing.ckpt")


def test_mixture_helpers():
    gen = torch.Generator().manual_seed(0)
    wav = torch.randn(6, 800)
    mixed, kind = training_mixtures(wav, p_clip=0.5, p_noise=0.5, generator=gen)
    assert torch.equal(mixed[kind == 0], wav[kind == 0])
    assert (kind > 0).any()
    peaks = mixed[kind > 0].abs().amax(-1)
    assert torch.allclose(peaks, torch.ones_like(peaks))
    only_clean, kind = training_mixtures(wav, p_clip=0.0, p_noise=0.0)
    assert torch.equal(only_clean, wav) and (kind == 0).all()
    # the paper's mixture: the louder source dominates by its weight
    s1, s2 = torch.randn(1, 4000), torch.randn(1, 4000)
    mix = mix_sources(s1, s2, 0.8, 0.2)
    e1 = s1 / s1.norm()
    e2 = s2 / s2.norm()
    ref = 0.8 * e1 + 0.2 * e2
    assert torch.allclose(mix, ref / ref.abs().max(), atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        mix_sources(s1, torch.randn(1, 10))


def test_a_layer_that_folds_patches_into_the_batch_is_refused():
    """A patch model's hidden layer (batch x patches, ...) must not yield one mask per patch."""
    from torch import nn

    from speechbrain_interp.adapters import TorchClassifier
    from speechbrain_interp.spectral import SpectralFrontEnd

    class Patches(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(32, 8)
            self.head = nn.Linear(8, 3)

        def forward(self, x):  # (batch, frames, 32) -> patches of 10 frames folded into the batch
            b, t, f = x.shape
            t = t - t % 10
            patches = x[:, :t].reshape(b * (t // 10), 10, f)
            h = self.encoder(patches).mean(1)  # (batch * patches, 8)
            return self.head(h.reshape(b, -1, 8).mean(1))

    fe = SpectralFrontEnd(n_fft=256, hop_length=128, n_mels=32)
    adapter = TorchClassifier(Patches(), fe, input="log_mel", layers=["encoder"])
    with pytest.raises(ValueError, match="batch axis"):
        LMAC(adapter, layers=["encoder"])
