"""One contract for every brick, checked the same way for each (Captum's ``test_config`` idea).

Every concrete :class:`~speechbrain_interp.interpreters.base.Interpreter` subclass of the package
is discovered by walking the package, so a new brick is picked up without editing this file; it
then needs one entry in :data:`BUILDERS` (how to build a tiny one), or the test that checks the
list is complete fails and names it. Each brick goes through the same invariants:

* ``explain`` comes from the base class (extras through ``compute_explanation``);
* mask in [0, 1] with the magnitude's shape; interpretation as long as the input;
* a requested target (index or name) is honoured;
* an all-ones mask reproduces the classifier's probability;
* silence stays finite;
* options: unknown keys raise a ``TypeError`` naming the known ones, and the defaults
  written in ``hparams/*.yaml`` agree with the brick's ``DEFAULTS``;
* training and persistence (trainable bricks): ``loss -> (loss, stats)`` reaches only
  ``trainable_parameters()``, ``save_weights`` / ``load_weights`` round trip, and the old
  names still work with a ``DeprecationWarning``;
* the declared family and interface, and export then load giving the same masks.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml

import speechbrain_interp
from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

ROOT = Path(__file__).resolve().parents[1]
SKIP_MODULES = ("speechbrain_interp.__main__",)


def _discover() -> list[type]:
    """Concrete ``Interpreter`` subclasses defined at module level anywhere in the package."""
    for info in pkgutil.walk_packages(speechbrain_interp.__path__, "speechbrain_interp."):
        if info.name not in SKIP_MODULES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(info.name)
    found, stack = set(), [Interpreter]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            module = sys.modules.get(sub.__module__)
            # classes defined in doctests share their module's name but are not its attributes
            if getattr(module, sub.__qualname__, None) is sub and not inspect.isabstract(sub):
                found.add(sub)
    return sorted(found, key=lambda c: c.__qualname__)


#: classes that only give subclasses a shared implementation
ABSTRACT = {"GradientBaseline"}
BRICKS = [c for c in _discover() if c.__qualname__ not in ABSTRACT]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_speechbrain_classifier(tmp_path_factory.mktemp("compact"), "compact", n_mels=32, emb_dim=16)


@pytest.fixture(scope="module")
def adapter(folder):
    return load_speechbrain_classifier(folder, "compact")


def _lmac(adapter, folder):
    from speechbrain_interp.interpreters.lmac import LMAC

    return LMAC(adapter, channels=8, probe_seconds=0.5)


def _l2i(adapter, folder):
    from speechbrain_interp.interpreters.l2i import L2I
    from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary

    fe = adapter.frontend
    return L2I(adapter, NMFDictionary(6, fe.n_freqs, domain=fe.mask_domain), channels=8, n_blocks=1, top_k=2)


def _concepts(adapter, folder):
    import tempfile

    from speechbrain_interp.concepts import load
    from speechbrain_interp.embedders import HashingTextEncoder, TextAlignedEncoder
    from speechbrain_interp.interpreters.concept_bottleneck import ConceptInterpreter

    adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    embedder = TextAlignedEncoder(adapter, HashingTextEncoder(dim=32)).eval()
    bottleneck = load(embedder, ["dog bark", "siren", "rain", "engine"], l1_penalty=0.01,
                      cache_dir=tempfile.mkdtemp())
    gen = torch.Generator().manual_seed(0)
    bottleneck.fit_audio_mean(embedder.embed_audio(0.1 * torch.randn(4, 16000, generator=gen)).detach())
    return ConceptInterpreter(adapter, bottleneck, top_k=3)


def _text_lmac(adapter, folder):
    from speechbrain_interp.embedders import HashingTextEncoder, TextAlignedEncoder
    from speechbrain_interp.embedders.zero_shot import ZeroShotAdapter
    from speechbrain_interp.interpreters.lmac_text import TextLMAC

    adapter = load_speechbrain_classifier(folder, "compact",
                                          layers=["embedding_model", "embedding_model.conv_block3"])
    embedder = TextAlignedEncoder(adapter, HashingTextEncoder(dim=16), layer="embedding_model").eval()
    return TextLMAC(ZeroShotAdapter(embedder, ["dog", "siren", "rain"]), channels=8,
                    layers=["classifier.model.embedding_model.conv_block3"])


def _baseline(name, **kwargs):
    def build(adapter, folder):
        from speechbrain_interp.interpreters import baselines

        return getattr(baselines, name)(adapter, **kwargs)

    return build


#: how to build a tiny instance of each brick around the random compact classifier
BUILDERS = {
    "LMAC": _lmac,
    "L2I": _l2i,
    "ConceptInterpreter": _concepts,
    "TextLMAC": _text_lmac,
    "Saliency": _baseline("Saliency"),
    "IntegratedGradients": _baseline("IntegratedGradients", n_steps=4),
    "SmoothGrad": _baseline("SmoothGrad", nt_samples=3),
    "GradCAM": _baseline("GradCAM", layer="embedding_model.conv_block4"),
}

#: brick fragments of hparams/ and the brick whose DEFAULTS they repeat
FRAGMENTS = {"lmac.yaml": "LMAC", "l2i.yaml": "L2I", "concepts.yaml": "ConceptInterpreter"}


@pytest.fixture(scope="module")
def bricks(adapter, folder):
    return {}


def _brick(bricks, cls, adapter, folder):
    if cls.__qualname__ not in bricks:
        brick = BUILDERS[cls.__qualname__](adapter, folder)
        assert type(brick) is cls
        bricks[cls.__qualname__] = brick.eval()
    return bricks[cls.__qualname__]


def _wav(batch=2, seconds=1.0, seed=0):
    return 0.1 * torch.randn(batch, int(16000 * seconds), generator=torch.Generator().manual_seed(seed))


def test_every_brick_is_known():
    names = {c.__qualname__ for c in BRICKS}
    assert {"LMAC", "L2I", "ConceptInterpreter", "Saliency", "IntegratedGradients", "SmoothGrad",
            "GradCAM"} <= names
    assert not names - set(BUILDERS), f"add a builder to BUILDERS for the new bricks {names - set(BUILDERS)}"


@pytest.mark.parametrize("cls", BRICKS, ids=lambda c: c.__qualname__)
def test_brick_contract(cls, bricks, adapter, folder, tmp_path):
    from speechbrain_interp.interfaces import INTERFACES

    # the template method is never replaced: extras come through compute_explanation
    assert cls.explain is Interpreter.explain and cls.build_explanation is Interpreter.build_explanation
    assert cls.interface in INTERFACES and isinstance(cls.family, str)
    brick = _brick(bricks, cls, adapter, folder)
    wav = _wav(2, 1.3)

    e = brick.explain(wav)
    assert e.mask.shape == e.magnitude.shape
    assert float(e.mask.min()) >= 0.0 and float(e.mask.max()) <= 1.0
    assert e.interpretation.shape == wav.shape and e.residual.shape == wav.shape

    # a requested target is honoured, by index and by name
    for target, expected in ((1, [1, 1]), ([2, 0], [2, 0]), (brick.classifier.labels[2], [2, 2])):
        assert brick.explain(wav, target=target).target.tolist() == expected

    # an all-ones mask reproduces the classifier's probability
    wav_v, spectrum, logits, _ = brick.analyse(wav)
    target = brick.resolve_target(logits)
    full = brick.build_explanation(wav_v, spectrum, torch.ones_like(spectrum.magnitude), target, logits)
    assert torch.allclose(full.probability_in, full.probability, atol=1e-4)

    # silence stays finite
    s = brick.explain(torch.zeros(1, 16000))
    for value in (s.mask, s.interpretation, s.residual, s.probability, s.probability_in, s.probability_out):
        assert torch.isfinite(value).all()


@pytest.mark.parametrize("cls", BRICKS, ids=lambda c: c.__qualname__)
def test_options_have_one_policy_and_one_source_of_defaults(cls, bricks, adapter, folder):
    brick = _brick(bricks, cls, adapter, folder)
    assert set(brick.options) == set(cls.DEFAULTS)
    before = dict(brick.options)
    with pytest.raises(TypeError, match=r"unknown .* options \['not_an_option'\]; known"):
        brick.resolve_options({"not_an_option": 1})
    with pytest.raises(TypeError, match="not_an_option"):
        cls.resolve_options(brick, None, not_an_option=1)
    assert brick.options == before
    # constructor defaults that are not "use DEFAULTS" (None) must not contradict DEFAULTS
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in cls.DEFAULTS and param.default not in (None, inspect.Parameter.empty):
            assert param.default == cls.DEFAULTS[name], f"{cls.__name__}({name}=...) vs DEFAULTS"


@pytest.mark.parametrize("fragment", sorted(FRAGMENTS))
def test_hparams_fragments_agree_with_the_defaults(fragment):
    cls = next(c for c in BRICKS if c.__qualname__ == FRAGMENTS[fragment])
    values = yaml.safe_load((ROOT / "hparams" / fragment).read_text(encoding="utf-8"))
    shared = set(values) & set(cls.DEFAULTS)
    assert shared, fragment
    for key in shared:
        assert values[key] == cls.DEFAULTS[key], f"hparams/{fragment}: {key}={values[key]!r}, " \
                                                 f"{cls.__name__}.DEFAULTS has {cls.DEFAULTS[key]!r}"


@pytest.mark.parametrize("cls", BRICKS, ids=lambda c: c.__qualname__)
def test_training_and_persistence(cls, bricks, adapter, folder, tmp_path):
    brick = _brick(bricks, cls, adapter, folder)
    if not cls.trainable:
        assert brick.trainable_parameters() == []
        with pytest.raises(NotImplementedError):
            brick.loss(_wav())
        return
    params = brick.trainable_parameters()
    assert params and all(p.requires_grad for p in params)
    brick.train()
    loss, stats = brick.loss(_wav())
    brick.eval()
    assert loss.dim() == 0 and isinstance(stats, dict)
    loss.backward()
    ids = {id(p) for p in params}
    others = [n for n, p in brick.named_parameters() if id(p) not in ids and p.grad is not None]
    assert not others, f"loss reaches parameters outside trainable_parameters(): {others[:3]}"
    for p in params:
        p.grad = None
    path = brick.save_weights(tmp_path / (cls.weights_file or "weights.safetensors"))
    state = {k: v.clone() for k, v in brick.state_dict().items()}
    with torch.no_grad():
        for p in params:
            p.add_(1.0)
    assert brick.load_weights(path) is brick
    for key, value in brick.state_dict().items():
        assert torch.equal(value, state[key]), key
    old = {"LMAC": ("save_decoder", "load_decoder"), "L2I": ("save", None)}.get(cls.__qualname__, ())
    for name in old:
        if name:
            with pytest.warns(DeprecationWarning, match=name):
                result = getattr(brick, name)(path)
            assert result is not None


@pytest.mark.parametrize("cls", BRICKS, ids=lambda c: c.__qualname__)
def test_export_and_load_round_trip(cls, bricks, adapter, folder, tmp_path):
    import json

    from speechbrain_interp.export import export_interpreter
    from speechbrain_interp.interfaces import load

    brick = _brick(bricks, cls, adapter, folder)
    repo = export_interpreter(brick, tmp_path / "repo", classifier_source=folder, examples=False)
    config = json.loads((repo / "config.json").read_text())
    assert (config["family"], config["speechbrain_interface"]) == (cls.family, cls.interface)
    loaded = load(repo, savedir=tmp_path / "savedir")
    assert type(loaded).__name__ == cls.interface and type(loaded.interpreter) is cls
    wav = _wav(1, 1.0, seed=1)
    masks = []
    for explain in (loaded.interpret_batch, brick.explain):
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the same noise for stochastic bricks (SmoothGrad)
            masks.append(explain(wav).mask)
    assert torch.allclose(*masks, atol=1e-5)
