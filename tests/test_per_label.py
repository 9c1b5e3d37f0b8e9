"""One mask per label on a multi-label classifier whose evidence is known (two bands, two classes)."""

from __future__ import annotations

import json

import torch

from speechbrain_interp.audio import save_audio
from speechbrain_interp.explainer import explain_classifier
from speechbrain_interp.interpreters.baselines import Saliency
from speechbrain_interp.interpreting import EACH_LABEL
from speechbrain_interp.per_label import explain_labels
from speechbrain_interp.report import explain_to_report
from speechbrain_interp.testing import band_class_classifier

SR = 8000


def scenes():
    """Clip 0: both tones (low in the first half, high in the second); clip 1: the low tone only."""
    t = torch.arange(SR) / SR
    low = torch.sin(2 * torch.pi * 700 * t) * (t < 0.4)
    high = torch.sin(2 * torch.pi * 2200 * t) * (t >= 0.6)
    noise = 0.01 * torch.randn(2, SR, generator=torch.Generator().manual_seed(0))
    return torch.stack([low + high, low]) + noise


def test_each_predicted_label_gets_its_own_mask_where_its_sound_is():
    adapter = band_class_classifier(multilabel=True)
    wavs = scenes()
    e = explain_labels(Saliency(adapter), wavs)  # class-specific: the gradient of each logit
    assert [[m.label for m in ms] for ms in e.label_masks] == [["low", "high"], ["low"]]
    frames = e.mask.shape[1]
    first = slice(0, int(0.4 * frames))
    second = slice(int(0.6 * frames), frames)
    low, high = e.label_masks[0]
    # each label's mask lies on its own tone's half of the clip
    assert low.mask[first].sum() > 3 * low.mask[second].sum()
    assert high.mask[second].sum() > 3 * high.mask[first].sum()
    for m in e.label_masks[0]:
        assert m.interpretation.shape == (SR,) and 0.5 < m.probability <= 1.0
    # the explanation itself is the top label's
    assert e.predicted_labels[0] == e.label_masks[0][0].label
    assert torch.equal(e.mask[0], e.label_masks[0][0].mask)


def test_a_chosen_set_of_labels_is_explained_for_every_clip():
    adapter = band_class_classifier(multilabel=True)
    e = explain_labels(Saliency(adapter), scenes(), labels=["high"])
    assert [[m.label for m in ms] for ms in e.label_masks] == [["high"], ["high"]]
    assert e.label_masks[1][0].probability < 0.5  # clip 1 has no high tone: asked anyway


def test_files_summary_and_report_carry_every_label(tmp_path):
    adapter = band_class_classifier(multilabel=True)
    interface = explain_classifier(adapter, baseline="gradcam", layers=["features"])
    save_audio(tmp_path / "both.wav", scenes()[0], SR)
    out = tmp_path / "out"
    explain_to_report(interface, [tmp_path / "both.wav"], out, progress=False, target=EACH_LABEL,
                      figures="none")
    (entry,) = json.loads((out / "summary.json").read_text())
    assert [m["label"] for m in entry["per_label"]] == ["low", "high"]
    assert (out / entry["files"]["label0"]).is_file() and (out / entry["files"]["label1"]).is_file()
    report = (out / "report.html").read_text()
    assert 'data-kind="label0"' in report and 'data-kind="label1"' in report


def test_each_label_on_clips_of_different_lengths():
    adapter = band_class_classifier(multilabel=True)
    interface = explain_classifier(adapter)
    wavs = scenes()
    wavs[1, SR // 2:] = 0.0  # the second clip is half as long
    e = interface.interpret_batch(wavs, torch.tensor([1.0, 0.5]), target=EACH_LABEL)
    assert [[m.label for m in ms] for ms in e.label_masks] == [["low", "high"], ["low"]]
