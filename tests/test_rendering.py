"""Side-by-side renders (ground truth vs completion) mark the joints the model did not see."""

import numpy as np
import pytest
from PIL import Image, ImageSequence

from mpm_hf.visualization import render_comparison


def orange_pixels(path) -> list[int]:
    with Image.open(path) as gif:
        frames = [np.asarray(frame.convert("RGB")).astype(int) for frame in ImageSequence.Iterator(gif)]
    return [int((np.abs(frame - (255, 127, 14)).sum(-1) < 60).sum()) for frame in frames]


def test_render_comparison_marks_hidden_joints(tmp_path):
    rng = np.random.default_rng(0)
    reference = rng.normal(scale=0.3, size=(3, 17, 3))
    reference[:, 0] = 0
    predicted = reference + rng.normal(scale=0.02, size=reference.shape)
    hidden = np.zeros(17, dtype=bool)
    hidden[[11, 12, 13]] = True
    plain = render_comparison(reference, predicted, tmp_path / "plain.gif", progress=False)
    marked = render_comparison(reference, predicted, tmp_path / "marked.gif", hidden=hidden, progress=False)
    assert all(count == 0 for count in orange_pixels(plain))
    assert all(count > 20 for count in orange_pixels(marked))
    with pytest.raises(ValueError, match="same shape"):
        render_comparison(reference, predicted[:2], tmp_path / "bad.gif", progress=False)
