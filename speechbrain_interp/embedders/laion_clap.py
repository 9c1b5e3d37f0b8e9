"""LAION-CLAP (``laion-clap`` 1.1.7) as an audio-text embedder, loaded offline and without unpickling.

:class:`LaionCLAP` loads a checkpoint file or a Hub file, weights read without unpickling.
laion-clap builds its text tower with ``RobertaModel.from_pretrained('roberta-base')``,
which needs the Hub; here the text tower is built from a local RoBERTa folder (config and
tokenizer) and filled by the CLAP checkpoint, and the two offline failure modes (no
``roberta-base``; a tokenizer that transformers 5 silently returns with 5 tokens) raise
:class:`CLAPLoadError` saying what to provide (:func:`check_tokenizer`).

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from speechbrain_interp.audio import validate_waveform
from speechbrain_interp.embedders.base import AudioTextEmbedder, fingerprint_tensors
from speechbrain_interp.safety import load_state_dict

__all__ = ["CLAPLoadError", "LaionCLAP", "check_tokenizer"]


class CLAPLoadError(RuntimeError):
    """A CLAP model could not be built; the message says what to provide."""


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
    speechbrain_interp.embedders.laion_clap.CLAPLoadError: the tokenizer has only 5 tokens ...
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
    >>> from speechbrain_interp.testing import write_random_laion_clap
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
            self._key = f"{self.name}-{fingerprint_tensors(text_params)}"
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
