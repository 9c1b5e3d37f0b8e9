"""Random-weight SpeechBrain classifiers in local folders, laid out as on the Hub.

The real Hub models cannot be downloaded offline, so tests, doctests and
benchmarks build the same architectures (Cnn14, ECAPA-TDNN, Xvector) at small
sizes, save them as a SpeechBrain inference folder (``hyperparams.yaml`` with a
``pretrainer:`` key, ``*.ckpt`` files, ``label_encoder.ckpt``) and load them
back through ``from_hparams(source=<folder>)``, exactly the code path a Hub
model takes. :func:`write_random_laion_clap` does the same for a LAION-CLAP checkpoint
and its RoBERTa folder.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_interp.loading import DEFAULT_LAYERS

__all__ = ["ARCHITECTURES", "make_speechbrain_classifier", "load_speechbrain_classifier",
           "band_window_classifier", "band_class_classifier", "write_random_laion_clap",
           "TinyPatchNet", "tiny_patch_classifier",
           "TINY_TRANSFORMERS", "tiny_transformers_classifier"]

_LABEL_ENCODER = """label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
"""

_PRETRAINER = """pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
"""

# AudioClassifier layout (compute_stft / compute_fbank), as SpeechBrain's ESC-50 CNN14.
_CNN14 = """sample_rate: 16000
n_mels: {n_mels}
n_classes: {n_classes}
spec_mag_power: 1
use_melspectra: True
compute_stft: !new:speechbrain.processing.features.STFT
    sample_rate: !ref <sample_rate>
    n_fft: 512
    win_length: 32
    hop_length: 16
compute_fbank: !new:speechbrain.processing.features.Filterbank
    n_mels: !ref <n_mels>
    n_fft: 512
    sample_rate: !ref <sample_rate>
    log_mel: True
embedding_model: !new:speechbrain.lobes.models.Cnn14.Cnn14
    mel_bins: !ref <n_mels>
    emb_dim: {emb_dim}
classifier: !new:speechbrain.nnet.linear.Linear
    input_size: {emb_dim}
    n_neurons: !ref <n_classes>
modules:
    compute_stft: !ref <compute_stft>
    compute_fbank: !ref <compute_fbank>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
"""

# EncoderClassifier layout (compute_features / mean_var_norm).
_ENCODER = """sample_rate: 16000
n_mels: {n_mels}
n_classes: {n_classes}
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
{embedding}
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
"""

_ECAPA = """embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [32, 32, 32, 32, 96]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 16
    lin_neurons: {emb_dim}
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {emb_dim}
    out_neurons: !ref <n_classes>
"""

_XVECTOR = """embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
    in_channels: !ref <n_mels>
    tdnn_channels: [32, 32, 32, 32, 64]
    lin_neurons: {emb_dim}
classifier: !new:speechbrain.lobes.models.Xvector.Classifier
    input_shape: [2, 1, {emb_dim}]
    lin_blocks: 1
    lin_neurons: {emb_dim}
    out_neurons: !ref <n_classes>
"""

ARCHITECTURES = {
    # name: (interface class, default hidden layers to capture: the loader's, for that model)
    "compact": ("EncoderClassifier", DEFAULT_LAYERS["CompactCNN"]),
    "cnn14": ("AudioClassifier", DEFAULT_LAYERS["Cnn14"]),
    "ecapa": ("EncoderClassifier", DEFAULT_LAYERS["ECAPA_TDNN"]),
    "xvector": ("EncoderClassifier", DEFAULT_LAYERS["Xvector"]),
}


def _hyperparams(arch: str, n_mels: int, n_classes: int, emb_dim: int) -> str:
    fmt = {"n_mels": n_mels, "n_classes": n_classes, "emb_dim": emb_dim}
    if arch == "compact":
        from speechbrain_interp.lobes.compact_cnn import inference_hyperparams

        channels = (4, 8, 16, 16, emb_dim)
        return inference_hyperparams(n_classes, n_mels=n_mels, channels=channels)
    if arch == "cnn14":
        body = _CNN14.format(**fmt)
    elif arch in ("ecapa", "xvector"):
        embedding = (_ECAPA if arch == "ecapa" else _XVECTOR).format(**fmt)
        body = _ENCODER.format(embedding=embedding, **fmt)
    else:
        raise ValueError(f"unknown architecture '{arch}'; choose from {sorted(ARCHITECTURES)}")
    return body + _LABEL_ENCODER + _PRETRAINER


def make_speechbrain_classifier(folder, arch: str = "xvector", labels=None, n_mels: int = 32,
                                emb_dim: int = 32, seed: int = 0) -> Path:
    """Write a random-weight SpeechBrain classifier folder, as a Hub repository lays it out.

    Arguments
    ---------
    folder : str or Path
        Destination (created).
    arch : str
        ``"compact"`` (the ESC-50 recipe's CompactCNN, shrunk), ``"cnn14"`` (AudioClassifier
        layout), ``"ecapa"`` or ``"xvector"`` (EncoderClassifier layout).
    labels : list of str, optional
        Class names (default: three made-up classes).
    n_mels, emb_dim : int
        Sizes; Cnn14 needs ``n_mels >= 32``.
    seed : int
        Weight initialisation seed.

    Returns
    -------
    Path
        The folder, loadable with ``AudioClassifier`` / ``EncoderClassifier.from_hparams``.

    Example
    -------
    >>> import tempfile
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "xvector", n_mels=24)
    >>> sorted(p.name for p in folder.iterdir())
    ['classifier.ckpt', 'embedding_model.ckpt', 'hyperparams.yaml', 'label_encoder.ckpt']
    """
    labels = list(labels or ["dog_bark", "siren", "rain"])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = _hyperparams(arch, n_mels, len(labels), emb_dim)
    torch.manual_seed(seed)
    hparams = load_hyperpyyaml(text)
    for name in ("embedding_model", "classifier"):
        torch.save(hparams[name].state_dict(), folder / f"{name}.ckpt")
    encoder = hparams["label_encoder"]
    encoder.update_from_iterable(labels)
    encoder.save(folder / "label_encoder.ckpt")
    (folder / "hyperparams.yaml").write_text(text, encoding="utf-8")
    return folder


def load_speechbrain_classifier(folder, arch: str | None = None, savedir=None, layers=None,
                                **adapter_kwargs):
    """Load a classifier folder with SpeechBrain's ``from_hparams`` and wrap it in an adapter.

    Arguments
    ---------
    folder : str or Path
        A folder written by :func:`make_speechbrain_classifier` (or any Hub-style folder).
    arch : str, optional
        Key of :data:`ARCHITECTURES`; picks the interface and default layers.
    savedir : str or Path, optional
        Where SpeechBrain links the files (default: ``folder/.loaded``).
    layers : list of str, optional
        Hidden layers to capture (default: the architecture's).

    Example
    -------
    >>> import tempfile
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "ecapa", n_mels=24)
    >>> adapter = load_speechbrain_classifier(folder, "ecapa")
    >>> adapter.labels, adapter.layers
    (['dog_bark', 'siren', 'rain'], ['embedding_model.blocks.3', 'embedding_model.mfa'])
    """
    from speechbrain_interp.adapters import SpeechBrainClassifier

    interface, default_layers = ARCHITECTURES.get(arch or "xvector")
    folder = Path(folder)
    return SpeechBrainClassifier.from_hparams(
        source=str(folder.resolve()),
        savedir=str(savedir or folder / ".loaded"),
        layers=default_layers if layers is None else layers,
        interface=interface,
        **adapter_kwargs,
    )


def make_fake_esc50(folder, classes=("dog", "siren", "rain", "engine"), clips_per_fold: int = 1,
                    folds=(1, 2, 3, 4, 5), seconds: float = 1.0, sample_rate: int = 16000,
                    extension: str = ".flac") -> Path:
    """Write a tiny synthesized data set in ESC-50's layout (``meta/esc50.csv`` + ``audio/``).

    Each class is a distinct synthesized sound (barks, siren, noise, low hum...), so a
    classifier can learn it; the CSV names ``.wav`` files like the upstream one, whatever
    ``extension`` the audio is written with.

    Example
    -------
    >>> import tempfile
    >>> root = make_fake_esc50(tempfile.mkdtemp(), clips_per_fold=1)
    >>> len(list((root / "audio").iterdir()))
    20
    """
    import csv

    from speechbrain_interp import synth
    from speechbrain_interp.audio import save_audio

    folder = Path(folder)
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    makers = [
        lambda s, k: _place(synth.bark(0.3, sample_rate, pitch=400 + 30 * k, seed=k), s, sample_rate),
        lambda s, k: synth.siren(s, sample_rate, low=500 + 50 * k, period=0.7),
        lambda s, k: synth.noise(s, sample_rate, 0.2, seed=k),
        lambda s, k: synth.tone(90 + 5 * k, s, sample_rate) + synth.tone(180 + 10 * k, s, sample_rate, 0.2),
        lambda s, k: synth.tone(2500 + 100 * k, s, sample_rate, 0.3),
    ]
    rows = []
    for target, name in enumerate(classes):
        for fold in folds:
            for take in range(clips_per_fold):
                k = fold * clips_per_fold + take
                wav = makers[target % len(makers)](seconds, k) + synth.noise(seconds, sample_rate, 0.01, k)
                stem = f"{fold}-{100 + k}-{'ABCDEFGH'[take % 8]}-{target}"
                save_audio(folder / "audio" / f"{stem}{extension}", wav, sample_rate)
                rows.append({"filename": f"{stem}.wav", "fold": fold, "target": target,
                             "category": name, "esc10": "True", "src_file": 100 + k,
                             "take": "ABCDEFGH"[take % 8]})
    with open(folder / "meta" / "esc50.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def _place(event: torch.Tensor, seconds: float, sample_rate: int) -> torch.Tensor:
    out = torch.zeros(int(round(seconds * sample_rate)))
    start = int(0.2 * len(out))
    out[start : start + len(event)] = event[: len(out) - start]
    return out


def band_window_classifier(sample_rate: int = 8000, n_fft: int = 256, hop_length: int = 64,
                           band_hz=(1800.0, 2200.0), window_s=None, threshold: float = 0.5):
    """A :class:`TorchClassifier` around :class:`BandWindowDetector`: the classifier of known evidence.

    Class 1 (``"event"``) means energy in ``band_hz`` during ``window_s`` (seconds; default
    the whole clip). The front-end masks in the log1p-magnitude domain, which is also the
    detector's input. Its hidden layers ``features`` and ``pooled`` are captured.

    Example
    -------
    >>> adapter = band_window_classifier(window_s=(0.25, 0.5))
    >>> t = torch.arange(8000) / 8000
    >>> tone = torch.sin(2 * torch.pi * 2000 * t) * ((t >= 0.25) & (t < 0.5))
    >>> adapter.classify_wav(torch.stack([tone, tone.roll(4000)])).argmax(-1).tolist()
    [1, 0]
    """
    from speechbrain_interp.adapters import TorchClassifier
    from speechbrain_interp.lobes.band_window import BandWindowDetector
    from speechbrain_interp.spectral import SpectralFrontEnd

    frontend = SpectralFrontEnd(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                                mask_domain="log1p_magnitude")
    hz_per_bin = sample_rate / n_fft
    band = (int(band_hz[0] / hz_per_bin), int(band_hz[1] / hz_per_bin) + 1)
    window = None
    if window_s is not None:
        window = tuple(int(round(s * sample_rate / hop_length)) for s in window_s)
    net = BandWindowDetector(frontend.n_freqs, band, window, threshold=threshold)
    return TorchClassifier(net, frontend, input="log1p_magnitude", layers=["features", "pooled"],
                           labels=["background", "event"])


class TinyPatchNet(torch.nn.Module):
    """A patch classifier of known evidence: ``("background", "event")`` from the energy in one band.

    Input ``(patches, frames, freq)`` log-magnitudes; ``features`` is a ``(patches, channels,
    frames, freq)`` map, ``energy`` the ``(patches, 1)`` band response the ``head`` reads. It
    lives outside the allow-list, as a user's own model class would.

    Example
    -------
    >>> x = torch.zeros(2, 16, 65)
    >>> x[1, :, 20:30] = 1.0
    >>> TinyPatchNet(n_freq=65, band=(20, 30))(x).argmax(-1).tolist()
    [0, 1]
    """

    def __init__(self, n_freq: int, band, channels: int = 4):
        super().__init__()
        from speechbrain_interp.lobes.band_window import evidence_features

        self.n_freq, self.band, self.channels = int(n_freq), (int(band[0]), int(band[1])), int(channels)
        self.features, self.energy = evidence_features(self.channels), torch.nn.Identity()
        self.head = torch.nn.Linear(1, 2)
        with torch.no_grad():  # "event" grows with the band's energy
            self.head.weight[:], self.head.bias[:] = torch.tensor([[-4.0], [4.0]]), torch.tensor([1.0, -1.0])

    def forward(self, x):
        e = self.features(x[:, None])[:, 0, :, self.band[0]:self.band[1]].pow(2).mean((1, 2))
        return self.head(self.energy(e[:, None]))


def tiny_patch_classifier(sample_rate: int = 8000, n_fft: int = 256, hop_length: int = 64,
                          patch_frames: int = 16, patch_hop=None, band_hz=(1800.0, 2200.0), **kwargs):
    """A :class:`~speechbrain_interp.patches.PatchClassifier` around :class:`TinyPatchNet` (128 ms patches).

    Example
    -------
    >>> t = torch.arange(8000) / 8000
    >>> tiny_patch_classifier().classify_wav(torch.sin(2 * torch.pi * 2000 * t)[None]).argmax(-1).tolist()
    [1]
    """
    from speechbrain_interp.patches import PatchClassifier
    from speechbrain_interp.spectral import SpectralFrontEnd

    frontend = SpectralFrontEnd(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length)
    low, high = (int(f * n_fft / sample_rate) for f in band_hz)
    return PatchClassifier(TinyPatchNet(frontend.n_freqs, (low, high + 1)), frontend, patch_frames,
                           patch_hop=patch_hop, input="log1p_magnitude", labels=["background", "event"],
                           **{"layers": ["features", "energy"], **kwargs})


# --------------------------------------------------------------------------------------
# A random-weight LAION-CLAP folder (tests, examples), built like the real one
# --------------------------------------------------------------------------------------
def band_class_classifier(sample_rate: int = 8000, n_fft: int = 256, hop_length: int = 64,
                          bands_hz=((500.0, 900.0), (2000.0, 2400.0)), labels=("low", "high"),
                          multilabel: bool = False, pool_temperature: float = 0.0,
                          threshold: float = 0.5):
    """A :class:`TorchClassifier` around :class:`BandClassDetector`: one class per band, evidence known.

    ``multilabel=True`` reads its logits with sigmoids: a clip with both tones is both classes.
    ``pool_temperature > 0`` pools the band energy over time with a smooth maximum (see
    :class:`~speechbrain_interp.lobes.band_classes.BandClassDetector`; a smooth maximum over
    a short sound is lower than the largest value, so it goes with a lower ``threshold``).

    Example
    -------
    >>> adapter = band_class_classifier()
    >>> t = torch.arange(8000) / 8000
    >>> low, high = torch.sin(2 * torch.pi * 700 * t), torch.sin(2 * torch.pi * 2200 * t)
    >>> adapter.classify_wav(torch.stack([low, high])).argmax(-1).tolist()
    [0, 1]
    """
    from speechbrain_interp.adapters import TorchClassifier
    from speechbrain_interp.lobes.band_classes import BandClassDetector
    from speechbrain_interp.spectral import SpectralFrontEnd

    frontend = SpectralFrontEnd(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                                mask_domain="log1p_magnitude")
    hz_per_bin = sample_rate / n_fft
    bands = [(int(lo / hz_per_bin), int(hi / hz_per_bin) + 1) for lo, hi in bands_hz]
    net = BandClassDetector(frontend.n_freqs, bands, threshold=threshold, pool_temperature=pool_temperature)
    return TorchClassifier(net, frontend, input="log1p_magnitude", layers=["features", "pooled"],
                           labels=list(labels), multilabel=multilabel)


def _byte_level_alphabet() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 symbols of a byte-level BPE vocabulary."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    codes, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def write_random_laion_clap(folder=None, amodel: str = "HTSAT-tiny", seed: int = 0,
                            words: Sequence[str] = ("dog", "bark", "rain", "siren", "the", "sound")) -> Path:
    """Write a LAION-CLAP checkpoint with random weights and a tiny RoBERTa folder.

    The architecture is laion-clap's own (``amodel`` audio tower, RoBERTa text tower with
    one layer and a small byte-level BPE vocabulary; the hidden size stays 768 because
    laion-clap's text projection expects it). The checkpoint is saved as LAION ships its
    files (``{"state_dict": {"module.<name>": tensor}}``) so that
    :meth:`~speechbrain_interp.embedders.laion_clap.LaionCLAP.from_pretrained` takes the real
    loading path.

    Arguments
    ---------
    folder : str or Path, optional
        Destination. By default a folder under the package cache
        (``$SPEECHBRAIN_INTERP_CACHE`` or ``~/.cache/speechbrain_interp``) named after
        ``amodel`` and ``seed``, reused when already complete (building takes a while).
    amodel : str
        laion-clap audio tower (``"HTSAT-tiny"``, ``"HTSAT-base"``, ``"PANN-14"``).
    seed : int
        Weight initialisation seed.
    words : sequence of str
        Words that get one BPE token each (everything else is spelled in bytes).

    Returns
    -------
    Path
        The folder, holding ``clap.pt``, ``clap.safetensors`` and ``roberta/``.
    """
    from transformers import RobertaConfig

    from speechbrain_interp.embedders.laion_clap import _build_clap
    from speechbrain_interp.safety import save_state_dict

    if folder is None:
        env = os.environ.get("SPEECHBRAIN_INTERP_CACHE")
        root = Path(env) if env else Path.home() / ".cache" / "speechbrain_interp"
        folder = root / f"random-laion-clap-{amodel}-{seed}"
        if (folder / "COMPLETE").exists():
            return folder
    folder = Path(folder)
    roberta = folder / "roberta"
    roberta.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in _byte_level_alphabet():
        vocab[symbol] = len(vocab)
    merges = []
    for word in words:  # merge each word (with its leading space marker) into one token
        pieces = ["\u0120"] + list(word)
        while len(pieces) > 1:
            merges.append(f"{pieces[0]} {pieces[1]}")
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            vocab.setdefault(pieces[0], len(vocab))
    vocab["<mask>"] = len(vocab)
    (roberta / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (roberta / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    RobertaConfig(vocab_size=len(vocab), hidden_size=768, num_hidden_layers=1, num_attention_heads=12,
                  intermediate_size=128, max_position_embeddings=80, type_vocab_size=1, pad_token_id=1,
                  bos_token_id=0, eos_token_id=2).save_pretrained(str(roberta))
    torch.manual_seed(seed)
    model, _ = _build_clap(amodel, False, roberta)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 0, "state_dict": state}, folder / "clap.pt")
    save_state_dict({k[len("module."):]: v for k, v in state.items()}, folder / "clap.safetensors")
    (folder / "COMPLETE").write_text("random-weight LAION-CLAP written by speechbrain_interp\n")
    return folder


# --------------------------------------------------------------------------------------
# Random-weight Hugging Face transformers audio classifiers (tests, examples, benchmarks)
# --------------------------------------------------------------------------------------
#: Tiny configurations by family: (model class, config class, config, feature extractor class, its options).
_TINY_SPEECH = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    conv_dim=(16, 16, 16), conv_stride=(5, 8, 8), conv_kernel=(10, 8, 8),
                    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16)
TINY_TRANSFORMERS = {
    "ast": ("ASTForAudioClassification", "ASTConfig",
            dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_length=100, num_mel_bins=32),
            "ASTFeatureExtractor", dict(num_mel_bins=32, max_length=100)),
    "wav2vec2": ("Wav2Vec2ForSequenceClassification", "Wav2Vec2Config", _TINY_SPEECH,
                 "Wav2Vec2FeatureExtractor", dict(do_normalize=True)),
    "hubert": ("HubertForSequenceClassification", "HubertConfig", _TINY_SPEECH,
               "Wav2Vec2FeatureExtractor", dict(do_normalize=False)),
    "wavlm": ("WavLMForSequenceClassification", "WavLMConfig", dict(_TINY_SPEECH, num_buckets=32),
              "Wav2Vec2FeatureExtractor", dict(do_normalize=True)),
    "data2vec-audio": ("Data2VecAudioForSequenceClassification", "Data2VecAudioConfig", _TINY_SPEECH,
                       "Wav2Vec2FeatureExtractor", dict(do_normalize=True)),
    "unispeech-sat": ("UniSpeechSatForSequenceClassification", "UniSpeechSatConfig", _TINY_SPEECH,
                      "Wav2Vec2FeatureExtractor", dict(do_normalize=False)),
    "whisper": ("WhisperForAudioClassification", "WhisperConfig",
                dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                     decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=16,
                     max_source_positions=50, classifier_proj_size=16),
                "WhisperFeatureExtractor", dict(feature_size=16, chunk_length=1)),
}


def tiny_transformers_classifier(family: str = "ast", folder=None, labels=("dog_bark", "siren", "rain"),
                                 multilabel: bool = False, seed: int = 0):
    """A random-weight transformers audio classifier and its feature extractor, built offline.

    Arguments
    ---------
    family : str
        One of :data:`TINY_TRANSFORMERS` (``"ast"``, ``"wav2vec2"``, ``"hubert"``, ``"wavlm"``,
        ``"data2vec-audio"``, ``"unispeech-sat"``, ``"whisper"``); a few thousand parameters,
        16 kHz. The tiny AST reads 1 s (100 frames), the tiny Whisper 1 s chunks.
    folder : str or Path, optional
        When given, both are saved there with ``save_pretrained`` (safetensors), as a Hub
        repository lays them out.
    labels : sequence of str
        Class names (``config.id2label``).
    multilabel : bool
        ``config.problem_type = "multi_label_classification"``.
    seed : int
        Seed of the random weights.

    Returns
    -------
    (transformers.PreTrainedModel, feature extractor)

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> model, extractor = tiny_transformers_classifier("wav2vec2", folder)
    >>> sorted(p.name for p in Path(folder).iterdir())
    ['config.json', 'model.safetensors', 'preprocessor_config.json']
    """
    import transformers

    if family not in TINY_TRANSFORMERS:
        raise ValueError(f"unknown family '{family}'; choose from {sorted(TINY_TRANSFORMERS)}")
    model_cls, config_cls, options, extractor_cls, extractor_options = TINY_TRANSFORMERS[family]
    config = getattr(transformers, config_cls)(
        num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
        problem_type="multi_label_classification" if multilabel else "single_label_classification", **options)
    torch.manual_seed(seed)
    model = getattr(transformers, model_cls)(config).eval()
    extractor = getattr(transformers, extractor_cls)(sampling_rate=16000, **extractor_options)
    if folder is not None:
        model.save_pretrained(folder)  # safetensors (transformers' only format from version 5)
        extractor.save_pretrained(folder)
        model.name_or_path = str(folder)
    return model, extractor
