"""Figures for explanations: waveform, spectrogram, mask, overlay and concept weights.

Two renderers: :func:`plot_explanation`, the detailed matplotlib figure (axes, colour bars,
waveform, concept bars), and :func:`fast_image`, three colour-mapped panels (input, mask,
masked-in) written straight to a PNG without a figure, about a tenth of the cost, which is
what explaining a whole folder wants.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

__all__ = ["plot_explanation", "fast_image", "mask_image", "FIGURE_KINDS"]

#: What :meth:`Explanation.save` can draw per clip.
FIGURE_KINDS = ("fast", "detailed", "none")


def _db(magnitude: torch.Tensor) -> torch.Tensor:
    db = 20 * torch.log10(magnitude.clamp_min(1e-8))
    return db.clamp_min(db.max() - 80)


def plot_explanation(explanation, i: int, path, title: str = "") -> None:
    """Draw clip ``i`` of an :class:`~speechbrain_interp.explanation.Explanation` to a PNG.

    Panels: waveform with the interpretation on top, input spectrogram (dB), mask,
    the mask overlaid on the spectrogram, spectrogram of the interpretation, and the
    top concepts when the explanation has them.

    Example
    -------
    >>> import tempfile, os
    >>> from speechbrain_interp.explanation import Explanation
    >>> wav = torch.randn(1, 1600) * 0.1
    >>> e = Explanation("demo", 16000, wav, torch.rand(1, 11, 257), torch.rand(1, 11, 257),
    ...                 wav, wav, torch.tensor([0]), torch.tensor([0.9]), torch.tensor([0.8]))
    >>> path = os.path.join(tempfile.mkdtemp(), "fig.png")
    >>> plot_explanation(e, 0, path)
    >>> os.path.getsize(path) > 0
    True
    """
    e = explanation
    mag = e.magnitude[i].detach().float().cpu()
    mask = e.mask[i].detach().float().cpu()
    concepts = e.concepts[i] if e.concepts is not None else None
    sounds = list(e.concept_sounds[i][:3]) if e.concept_sounds is not None else []
    rows = (6 if concepts else 5) + len(sounds)
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2.0 * rows + 0.6), constrained_layout=True)
    sr = e.sample_rate
    n = e.wav.shape[-1]
    t = torch.arange(n) / sr
    extent = [0, n / sr, 0, sr / 2000]

    axes[0].plot(t, e.wav[i].detach().cpu(), lw=0.5, color="0.6", label="original")
    axes[0].plot(t, e.interpretation[i].detach().cpu(), lw=0.5, color="C3", label="interpretation")
    axes[0].set_xlim(0, n / sr)
    axes[0].legend(loc="upper right", fontsize=7)
    axes[0].set_ylabel("amplitude")
    prob = f"p={float(e.probability[i]):.2f}, on interpretation {float(e.probability_in[i]):.2f}"
    axes[0].set_title(f"{title}  {e.method}: {e.predicted_labels[i]} ({prob})", fontsize=9)

    db = _db(mag)
    panels = (
        (axes[1], db.T, "magma", "input (dB)"),
        (axes[2], mask.T, "viridis", "mask"),
        (axes[4], _db(mag * mask).clamp_min(db.min()).T, "magma", "masked-in (dB)"),
    )
    for ax, img, cmap, label in panels:
        im = ax.imshow(img, origin="lower", aspect="auto", cmap=cmap, extent=extent)
        ax.set_ylabel(f"{label}\nkHz", fontsize=8)
        fig.colorbar(im, ax=ax, pad=0.01)
    # overlay: the spectrogram in grey, the mask in red where it keeps the sound
    axes[3].imshow(db.T, origin="lower", aspect="auto", cmap="gray", extent=extent)
    im = axes[3].imshow(mask.T, origin="lower", aspect="auto", cmap="Reds", vmin=0.0, vmax=1.0,
                        alpha=(0.75 * mask.T).clamp(0.0, 1.0).numpy(), extent=extent)
    axes[3].set_ylabel("mask overlay\nkHz", fontsize=8)
    fig.colorbar(im, ax=axes[3], pad=0.01)
    axes[4].set_xlabel("time (s)")
    if concepts:
        names = [str(c) for c, _ in concepts[:10]][::-1]
        weights = [float(w) for _, w in concepts[:10]][::-1]
        axes[5].barh(names, weights, color="C0")
        axes[5].set_xlabel("concept weight")
        axes[5].tick_params(axis="y", labelsize=7)
    for k, sound in enumerate(sounds):  # each top concept's own mask: which concept, where
        ax = axes[rows - len(sounds) + k]
        ax.imshow(sound.mask.detach().float().cpu().T, origin="lower", aspect="auto", cmap="viridis",
                  vmin=0.0, vmax=1.0, extent=extent)
        ax.set_ylabel("kHz", fontsize=8)
        ax.set_title(f"'{sound.concept}' (weight {sound.weight:.2f}): keeps {sound.energy_share:.0%} of "
                     "the energy", fontsize=8)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def mask_image(mask: torch.Tensor, path, rows: int = 64) -> None:
    """A ``(frames, freq)`` mask as a small colour-mapped PNG (viridis, low frequencies at the bottom).

    Example
    -------
    >>> import tempfile, os
    >>> from matplotlib.image import imread
    >>> path = os.path.join(tempfile.mkdtemp(), "mask.png")
    >>> mask_image(torch.rand(11, 257), path)
    >>> imread(path).shape[:2]
    (64, 11)
    """
    from matplotlib import colormaps
    from PIL import Image

    values = _rows(mask.detach().float().cpu().clamp(0.0, 1.0)[None], rows)[0]
    image = colormaps["viridis"](values.numpy(), bytes=True)[..., :3]
    Image.fromarray(np.ascontiguousarray(image)).save(path, compress_level=1)


def _rows(values: torch.Tensor, rows: int) -> torch.Tensor:
    """``(channels, frames, freq)`` values averaged down to at most ``rows`` frequency rows, as
    ``(channels, rows, frames)`` with low frequencies last (the bottom of an image)."""
    channels, frames, freq = values.shape
    if freq > rows:  # pool along the contiguous axis, then transpose the small result
        values = torch.nn.functional.adaptive_avg_pool1d(values.reshape(channels * frames, 1, freq), rows)
        values = values.reshape(channels, frames, rows)
    return values.transpose(1, 2).flip(1)


def fast_image(explanation, i: int, path, rows: int = 128) -> None:
    """Clip ``i`` as three stacked colour-mapped panels (input dB, mask, masked-in dB) in one PNG.

    No matplotlib figure is built: the arrays are colour-mapped and written as an image, one
    pixel per frame across and ``rows`` frequency rows per panel, low frequencies at the bottom.

    Example
    -------
    >>> import tempfile, os
    >>> from matplotlib.image import imread
    >>> from speechbrain_interp.explanation import Explanation
    >>> wav = torch.randn(1, 1600) * 0.1
    >>> e = Explanation("demo", 16000, wav, torch.rand(1, 11, 257), torch.rand(1, 11, 257),
    ...                 wav, wav, torch.tensor([0]), torch.tensor([0.9]), torch.tensor([0.8]))
    >>> path = os.path.join(tempfile.mkdtemp(), "fig.png")
    >>> fast_image(e, 0, path)
    >>> imread(path).shape[:2]   # 3 panels of 128 rows, 2-pixel gaps; 11 frames
    (388, 11)
    """
    from matplotlib import colormaps
    from PIL import Image

    # pool to the displayed rows first: every later step then works on a few thousand pixels
    mag, mask = _rows(torch.stack([explanation.magnitude[i].detach().float().cpu(),
                                   explanation.mask[i].detach().float().cpu().clamp(0.0, 1.0)]), rows)
    db = _db(mag)  # the detailed figure's scale: 80 dB below the clip's peak
    lo = float(db.max()) - 80.0

    def scaled(x):
        return ((x - lo) / 80.0).clamp(0.0, 1.0).numpy()

    masked_db = _db(mag * mask)  # never louder than the input: below lo it maps to 0 as before
    panels = [colormaps["magma"](scaled(db), bytes=True), colormaps["viridis"](mask.numpy(), bytes=True),
              colormaps["magma"](scaled(masked_db), bytes=True)]
    gap = np.full((2, panels[0].shape[1], 4), 255, dtype=np.uint8)
    image = np.concatenate([panels[0], gap, panels[1], gap, panels[2]])[..., :3]
    Image.fromarray(np.ascontiguousarray(image)).save(path, compress_level=1)  # fast zlib level
