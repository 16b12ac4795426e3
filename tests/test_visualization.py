"""Off-screen rendering: animations, static figures and loss curves come out as real, non-blank images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from mpm_hf import visualization
from mpm_hf.keypoints import H36M_17
from mpm_hf.visualization import (
    CENTER_COLOR,
    LEFT_COLOR,
    RIGHT_COLOR,
    plot_loss_curves,
    plot_pose_2d,
    plot_pose_3d,
    render_animation,
    save_pose_figure,
)

NUM_FRAMES = 5


@pytest.fixture
def sequence() -> tuple[np.ndarray, np.ndarray]:
    """A short moving sequence in camera coordinates (metres, 4 m in front) and its 2D projection."""
    rng = np.random.default_rng(0)
    template = rng.normal(scale=0.3, size=(H36M_17.num_joints, 3))
    sway = np.sin(np.linspace(0, np.pi, NUM_FRAMES))[:, None, None] * np.array([0.2, 0.0, 0.1])
    poses = template + sway + np.array([0.0, 0.0, 4.0])
    keypoints = 1000 * poses[..., :2] / poses[..., 2:] + 500  # pixels
    return poses, keypoints


def _count_colour(path, colour: str, tolerance: int = 40) -> int:
    """Pixels of the image within ``tolerance`` (per channel) of ``colour`` (hex)."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int64)
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels - target).max(axis=-1) <= tolerance).sum())


def _assert_draws_limbs(path, minimum: int = 50):
    """A real pose figure: both sides' limb colours are on it (blank axes would pass a size or variance check)."""
    assert path.exists()
    assert _count_colour(path, LEFT_COLOR) > minimum and _count_colour(path, RIGHT_COLOR) > minimum


def test_gif_has_every_frame(sequence, tmp_path):
    poses, keypoints = sequence
    path = render_animation(poses, keypoints, tmp_path / "out" / "walk.gif", fps=10, progress=False, dpi=40)
    assert path.exists()
    with Image.open(path) as gif:
        assert gif.n_frames == NUM_FRAMES
        assert gif.size[0] > gif.size[1]  # 2D and 3D panels side by side


def test_gif_of_3d_only_with_missing_joints_and_max_frames(sequence, tmp_path):
    poses, _ = sequence
    poses = torch.tensor(poses)
    poses[:, 3] = float("nan")
    poses[1] = float("nan")  # a frame with nothing to draw
    path = render_animation(poses, None, tmp_path / "nan.gif", max_frames=3, progress=False, dpi=40)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        assert gif.size[0] == gif.size[1]


def test_mp4_without_ffmpeg_is_a_clear_error(sequence, tmp_path, monkeypatch):
    monkeypatch.setattr(visualization.writers, "is_available", lambda name: False)
    with pytest.raises(RuntimeError, match="ffmpeg"):
        render_animation(sequence[0], None, tmp_path / "new" / "walk.mp4", progress=False)
    assert not (tmp_path / "new").exists()  # nothing created for a render that cannot happen
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        render_animation(sequence[0], None, tmp_path / "walk.avi", progress=False)


def test_shape_errors(sequence, tmp_path):
    poses, keypoints = sequence
    with pytest.raises(ValueError, match="the pose has 16"):
        save_pose_figure(poses[0, :16], tmp_path / "x.png")
    with pytest.raises(ValueError, match="keypoints_2d"):
        render_animation(poses, keypoints[:3], tmp_path / "x.gif", progress=False)


def test_pose_figure_overlay_with_nan_joints(sequence, tmp_path):
    poses, _ = sequence
    prediction = poses[0].copy()
    prediction[[0, 10]] = np.nan  # the root too: the view then centres on the other joints
    path = save_pose_figure(
        np.stack([prediction, poses[0]]),
        tmp_path / "pose.png",
        labels=["prediction", "ground truth"],
        title="S9",
    )
    _assert_draws_limbs(path)
    _assert_draws_limbs(save_pose_figure(poses[1], tmp_path / "single.png", coordinates="world"))
    # the check can fail: a pose with every joint missing draws no limb
    empty = save_pose_figure(np.full_like(poses[0], np.nan), tmp_path / "empty.png")
    assert _count_colour(empty, LEFT_COLOR) == _count_colour(empty, RIGHT_COLOR) == 0


def test_left_and_right_limbs_get_their_colours(sequence):
    poses, keypoints = sequence
    pose = poses[0].copy()
    pose[H36M_17.left_joints[0]] = np.nan
    figure = Figure()
    ax_3d = plot_pose_3d(figure.add_subplot(1, 2, 1, projection="3d"), pose)
    ax_2d = plot_pose_2d(figure.add_subplot(1, 2, 2), keypoints[0], H36M_17)
    assert ax_2d.yaxis_inverted()
    for ax in (ax_3d, ax_2d):
        bone_lines = ax.lines[: len(H36M_17.bones)]
        colours = {to_hex(line.get_color()) for line in bone_lines}
        assert colours == {LEFT_COLOR, RIGHT_COLOR, CENTER_COLOR}
        for (child, _), line in zip(H36M_17.bones, bone_lines, strict=True):
            if child in H36M_17.left_joints:
                assert to_hex(line.get_color()) == LEFT_COLOR
            elif child in H36M_17.right_joints:
                assert to_hex(line.get_color()) == RIGHT_COLOR
    hidden = [i for i, (c, p) in enumerate(H36M_17.bones) if H36M_17.left_joints[0] in (c, p)]
    assert hidden and all(len(ax_3d.lines[i].get_data_3d()[0]) == 0 for i in hidden)


def test_loss_curves_png(tmp_path):
    history = {
        "train/loss": [(step, 1.0 / (1 + step)) for step in range(0, 200, 10)],
        "eval/loss": [(50, 0.05), (100, 0.02), (150, 0.012)],
        "unused": [],
    }
    path = plot_loss_curves(history, tmp_path / "curves" / "loss.png", log_scale=True)
    # two series drawn in matplotlib's first two cycle colours; "unused" (empty) gets no line
    assert _count_colour(path, "#1f77b4", 30) > 100 and _count_colour(path, "#ff7f0e", 30) > 20
    assert _count_colour(path, "#2ca02c", 30) == 0


def test_plot_runs_reads_steps_with_offset_or_minutes_of_training(tmp_path):
    from .test_hub_integration import load_script

    plot_runs = load_script("plot_runs")
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 0, "time": 1000.0, "run_config": 1}\n{"step": 25, "time": 1030.0, "loss_centre": 0.07}\n'
                   '{"step": 50, "time": 1090.0, "loss_centre": 0.05}\n')
    assert plot_runs.read_values(log, "loss_centre", 1000) == [(1025, 0.07), (1050, 0.05)]
    assert plot_runs.read_values(log, "loss_centre", 1000, x="minutes") == [(0.5, 0.07), (1.5, 0.05)]
    written = plot_runs.main(["--x", "minutes", "--key", "loss_centre", "--output", str(tmp_path / "c.png"),
                              f"a={log}"])
    assert Image.open(written).size[0] > 100
    with pytest.raises(ValueError, match="no 'loss_sequence' values logged"):
        plot_runs.read_values(log, "loss_sequence", 0)
    assert plot_runs.smoothed([(1, 2.0), (2, 4.0), (3, 9.0), (4, 1.0), (5, 7.0)], 2) == [(2, 3.0), (4, 5.0)]
    with pytest.raises(ValueError, match="--smooth: expected at least 1, got 0"):
        plot_runs.smoothed([(1, 2.0)], 0)
