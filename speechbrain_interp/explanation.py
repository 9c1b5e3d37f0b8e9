"""The ``Explanation``: what every interpreter returns, and how it is written to disk.

One object for every family (L-MAC, L2I, concepts, gradient baselines), batched:
the mask over the magnitude spectrogram, the listenable interpretation and
residual (ISTFT with the original phase), the prediction, optional per-clip
scores, L2I's audio components and concept weights. ``save`` writes WAVs, a PNG
per clip and a ``summary.json`` that the HTML report reads.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from speechbrain_interp.audio import save_audio

__all__ = ["Explanation", "Component", "LabelMask", "ConceptSound", "safe_stem"]


@dataclass
class Component:
    """One listenable part of an explanation, e.g. an L2I NMF component.

    Arguments
    ---------
    index : int
        Component id (e.g. the NMF dictionary column).
    relevance : float
        Its relevance for the explained class.
    wav : torch.Tensor
        ``(time,)`` waveform of the component alone.
    """

    index: int
    relevance: float
    wav: torch.Tensor


def safe_stem(name: str) -> str:
    """``name`` as a file stem: runs of other characters than letters, digits, ``._-`` become ``_``.

    Example
    -------
    >>> safe_stem("dog bark (1)")
    'dog_bark_1'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("_") or "clip"


@dataclass
class LabelMask:
    """One explained label of a clip: its mask, the classifier's probability for it on the
    input and on the masked-in input, and the listenable interpretation.

    Arguments
    ---------
    label : str
        Class name.
    mask : torch.Tensor
        ``(frames, freq)`` mask in [0, 1].
    probability, probability_in : float
        The class's probability on the input and on the masked-in input.
    interpretation : torch.Tensor
        ``(time,)`` masked-in audio.
    """

    label: str
    mask: torch.Tensor
    probability: float
    probability_in: float
    interpretation: torch.Tensor


#: Explanation fields that hold one list entry per clip.
_PER_CLIP_LISTS = ("components", "concepts", "sources", "label_masks", "concept_sounds")


@dataclass
class ConceptSound:
    """One of a clip's top concepts, where it is: its mask and what it sounds like.

    Arguments
    ---------
    concept : str
        The concept (a text prompt).
    weight : float
        Its weight in the clip's concept decomposition.
    mask : torch.Tensor
        ``(frames, freq)`` mask in [0, 1] of the part of the sound that matches the concept.
    interpretation : torch.Tensor
        ``(time,)`` that part, listenable (masked-in with the original phase).
    energy_share : float
        Share of the clip's spectral energy the mask keeps, in [0, 1].
    """

    concept: str
    weight: float
    mask: torch.Tensor
    interpretation: torch.Tensor
    energy_share: float


@dataclass
class Explanation:
    """A batch of explanations.

    Arguments
    ---------
    method : str
        Interpreter that produced it, e.g. ``"L-MAC"`` or ``"saliency (gradient baseline)"``.
    sample_rate : int
        Sample rate of every waveform.
    wav : torch.Tensor
        ``(batch, time)`` input audio.
    magnitude : torch.Tensor
        ``(batch, frames, freq)`` linear STFT magnitude of the input.
    mask : torch.Tensor
        ``(batch, frames, freq)`` mask in [0, 1]: what drove the decision.
    interpretation : torch.Tensor
        ``(batch, time)`` masked-in audio, ISTFT with the original phase.
    residual : torch.Tensor
        ``(batch, time)`` masked-out audio, ``(1 - mask)``, same phase.
    target : torch.Tensor
        ``(batch,)`` explained class index (the prediction unless one was requested).
    probability : torch.Tensor
        ``(batch,)`` classifier probability of ``target`` on the input.
    probability_in : torch.Tensor
        ``(batch,)`` probability of ``target`` on the masked-in spectrogram.
    labels : list of str, optional
        Class names of the classifier.
    probability_out : torch.Tensor, optional
        ``(batch,)`` probability of ``target`` on the masked-out spectrogram.
    scores : dict, optional
        Extra per-sample numbers, e.g. faithfulness metrics, ``{name: (batch,) tensor}``.
    components : list, optional
        Per clip, a list of :class:`Component` (L2I's audio objects).
    label_masks : list, optional
        Per clip, one :class:`LabelMask` per explained label (see
        :func:`speechbrain_interp.per_label.explain_labels`): multi-label explanations.
    concepts : list, optional
        Per clip, a list of ``(concept, weight)`` pairs, largest weight first.
    concept_sounds : list, optional
        Per clip, a :class:`ConceptSound` for each of its top concepts (see
        :func:`speechbrain_interp.concept_sounds.listen_to_concepts`): which concept, where.
    note : str, optional
        Anything the reader must know, e.g. that a gradient baseline stood in.
    logits, logits_in, logits_out : torch.Tensor, optional
        ``(batch, classes)`` classifier outputs on the input, the masked-in and the masked-out
        spectrogram (set by ``Interpreter.build_explanation``): metrics read them instead of
        running the classifier again.
    sources : list of str, optional
        The audio file of each clip, when it came from one: :meth:`save` names its files after it.
    probabilities : torch.Tensor, optional
        ``(batch, classes)`` the classifier's probabilities on the input: the prediction and
        its top classes are reported next to the explained class (they differ when a target
        was asked for).

    Example
    -------
    >>> import tempfile
    >>> wav = torch.zeros(1, 1600)
    >>> e = Explanation("demo", 16000, wav, torch.zeros(1, 11, 257), torch.ones(1, 11, 257),
    ...                 wav, wav, torch.tensor([0]), torch.tensor([0.9]), torch.tensor([0.8]),
    ...                 labels=["dog"])
    >>> e.predicted_labels
    ['dog']
    >>> sorted(e.save(tempfile.mkdtemp(), names=["clip"])[0]["files"])
    ['figure', 'interpretation', 'original', 'residual']
    """

    method: str
    sample_rate: int
    wav: torch.Tensor
    magnitude: torch.Tensor
    mask: torch.Tensor
    interpretation: torch.Tensor
    residual: torch.Tensor
    target: torch.Tensor
    probability: torch.Tensor
    probability_in: torch.Tensor
    labels: list | None = None
    probability_out: torch.Tensor | None = None
    scores: dict = field(default_factory=dict)
    components: list | None = None
    concepts: list | None = None
    label_masks: list | None = None
    note: str | None = None
    logits: torch.Tensor | None = None
    logits_in: torch.Tensor | None = None
    logits_out: torch.Tensor | None = None
    probabilities: torch.Tensor | None = None
    sources: list | None = None
    concept_sounds: list | None = None

    @property
    def predicted_in(self) -> torch.Tensor | None:
        """``(batch,)`` the classifier's top class on the masked-in spectrogram (None if unknown)."""
        return None if self.logits_in is None else self.logits_in.argmax(-1)

    def __len__(self) -> int:
        return self.wav.shape[0]

    def __getitem__(self, i: int) -> Explanation:
        """The ``i``-th clip as a batch of one."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"explanation index {i} out of range for batch of {len(self)}")
        i = i % len(self)
        kwargs = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor) and v.dim() >= 1 and v.shape[0] == len(self):
                v = v[i : i + 1]
            elif f.name in _PER_CLIP_LISTS and v is not None:
                v = [v[i]]
            elif f.name == "scores":
                v = {k: t[i : i + 1] for k, t in v.items()}
            kwargs[f.name] = v
        return Explanation(**kwargs)

    @property
    def predicted_labels(self) -> list[str]:
        """Names of the explained classes (indices as strings when labels are unknown)."""
        return [
            self.labels[t] if self.labels is not None else str(t) for t in self.target.tolist()
        ]

    def to_dict(self, i: int) -> dict:
        """JSON-ready summary of clip ``i``: prediction, probabilities, scores, concepts."""
        out = {
            "method": self.method,
            "label": self.predicted_labels[i],
            "target": int(self.target[i]),
            "probability": float(self.probability[i]),
            "probability_in": float(self.probability_in[i]),
            "mask_mean": float(self.mask[i].mean()),
        }
        if self.probability_out is not None:
            out["probability_out"] = float(self.probability_out[i])
        if self.probabilities is not None:  # the classifier's own view, whatever was explained
            probs = self.probabilities[i].double()
            top = probs.topk(min(5, probs.numel()))
            name = (lambda c: self.labels[c]) if self.labels is not None else str
            out["prediction"] = name(int(top.indices[0]))
            out["prediction_probability"] = float(top.values[0])
            out["top_classes"] = [[name(int(c)), float(v)] for v, c in zip(top.values, top.indices)]
        out["scores"] = {k: float(v[i]) for k, v in self.scores.items()}
        if self.concepts is not None:
            out["concepts"] = [[str(c), float(w)] for c, w in self.concepts[i]]
        if self.components is not None:
            out["components"] = [
                {"index": int(c.index), "relevance": float(c.relevance)} for c in self.components[i]
            ]
        if self.label_masks is not None:
            out["per_label"] = [{"label": m.label, "probability": m.probability,
                                 "probability_in": m.probability_in, "mask_mean": float(m.mask.mean())}
                                for m in self.label_masks[i]]
        if self.concept_sounds is not None:
            out["concept_sounds"] = [
                {"concept": c.concept, "weight": float(c.weight), "energy_share": float(c.energy_share),
                 "mask_mean": float(c.mask.mean())} for c in self.concept_sounds[i]]
        if self.note:
            out["note"] = self.note
        return out

    def save(self, directory, names=None, figure=True, summary: bool = True) -> list[dict]:
        """Write each clip's WAVs (original, interpretation, residual, components) and PNG.

        Arguments
        ---------
        directory : str or Path
            Output folder, created if needed.
        names : list of str, optional
            One file stem per clip (default: the stems of ``sources``, else ``clip0``, ``clip1``, ...).
        figure : bool or str
            The PNG per clip: ``"detailed"`` (or True), the matplotlib figure with waveform,
            spectrogram, mask and overlay; ``"fast"``, three colour-mapped panels written
            without a figure (:func:`~speechbrain_interp.figures.fast_image`); ``"none"`` (or
            False), no image.
        summary : bool
            Also write ``directory/summary.json`` (the report writer merges its own instead).

        Returns
        -------
        list of dict
            Per clip, :meth:`to_dict` plus ``files``: paths relative to ``directory``.
            The same list is written to ``directory/summary.json`` (with ``summary``).
        """
        from speechbrain_interp.figures import FIGURE_KINDS, fast_image, plot_explanation

        figure = {True: "detailed", False: "none", None: "none"}.get(figure, figure)
        if figure not in FIGURE_KINDS:
            raise ValueError(f"figure must be one of {FIGURE_KINDS} (or True / False), got {figure!r}")

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if names is None and self.sources is not None:
            names = [Path(src).stem for src in self.sources]
        names = names or [f"clip{i}" for i in range(len(self))]
        if len(names) != len(self):
            raise ValueError(f"got {len(names)} names for {len(self)} clips")
        entries = []
        for i, name in enumerate(names):
            stem = safe_stem(name)
            files = {}
            for kind, wav in (
                ("original", self.wav[i]),
                ("interpretation", self.interpretation[i]),
                ("residual", self.residual[i]),
            ):
                files[kind] = f"{stem}_{kind}.wav"
                save_audio(directory / files[kind], wav, self.sample_rate)
            if self.components is not None:
                for rank, comp in enumerate(self.components[i]):
                    key = f"component{rank}"
                    files[key] = f"{stem}_component{rank}_k{comp.index}.wav"
                    save_audio(directory / files[key], comp.wav, self.sample_rate)
            if self.label_masks is not None:  # one listenable interpretation per explained label
                for rank, m in enumerate(self.label_masks[i]):
                    files[f"label{rank}"] = f"{stem}_label{rank}_{safe_stem(m.label)}.wav"
                    save_audio(directory / files[f"label{rank}"], m.interpretation, self.sample_rate)
            if self.concept_sounds is not None:  # each concept's sound, and its mask as a thumbnail
                from speechbrain_interp.figures import mask_image

                for rank, c in enumerate(self.concept_sounds[i]):
                    key = f"concept{rank}"
                    files[key] = f"{stem}_concept{rank}_{safe_stem(c.concept)}.wav"
                    save_audio(directory / files[key], c.interpretation, self.sample_rate)
                    files[f"{key}_mask"] = f"{stem}_concept{rank}_mask.png"
                    mask_image(c.mask, directory / files[f"{key}_mask"])
            if figure != "none":
                files["figure"] = f"{stem}.png"
                if figure == "fast":
                    fast_image(self, i, directory / files["figure"])
                else:
                    plot_explanation(self, i, directory / files["figure"], title=str(name))
            entry = {"name": str(name), **self.to_dict(i), "files": files}
            if figure != "none":
                entry["figure_kind"] = figure
            entries.append(entry)
        if summary:
            with open(directory / "summary.json", "w", encoding="utf-8") as fh:
                json.dump(entries, fh, indent=2)
        return entries
