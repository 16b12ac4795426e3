"""Figures and animations of 2D/3D poses with matplotlib, rendered off-screen (Agg, no display needed).

Figures are built as :class:`matplotlib.figure.Figure` objects with an Agg canvas rather than through
``pyplot``, so importing this module neither changes the global backend nor leaks open figures.

Conventions:
    * 3D poses are ``(J, 3)`` arrays (numpy or torch), in any unit (typically metres). By default they are
      read as **camera coordinates** (x right, y down, z forward, as in Human3.6M's camera frames) and
      drawn with -y up and z as depth, so a person stands upright; ``coordinates="world"`` draws z up.
    * 2D keypoints are ``(J, 2)`` (pixels or normalised screen coordinates, y down; a third confidence
      column is ignored) and drawn with the y axis inverted, so they look like the image.
    * Missing joints are NaN: they and their bones are simply not drawn.
    * Left limbs are blue, right limbs red, the spine and head grey.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from matplotlib.animation import FFMpegWriter, PillowWriter, writers
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.mplot3d import Axes3D
from tqdm.auto import tqdm

from .keypoints import Skeleton, get_skeleton

Coordinates = Literal["camera", "world"]

LEFT_COLOR = "#1f77b4"
RIGHT_COLOR = "#d62728"
CENTER_COLOR = "#4d4d4d"
MISSING_COLOR = "#ff7f0e"  # joints the input lacked (inferred by the model): hollow orange rings
OVERLAY_COLORS = ("#2ca02c", "#7f7f7f", "#9467bd", "#ff7f0e", "#8c564b")
"""Single colours for the second, third, ... pose of an overlay (the first one is drawn left/right)."""

_DEFAULT_VIEW = {"elev": 15.0, "azim": -70.0}


def _numpy(x: np.ndarray | torch.Tensor | Sequence) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _resolve_skeleton(skeleton: str | Skeleton, num_joints: int) -> Skeleton:
    skeleton = get_skeleton(skeleton)
    if skeleton.num_joints != num_joints:
        raise ValueError(
            f"skeleton {skeleton.name!r} has {skeleton.num_joints} joints, but the pose has {num_joints}"
        )
    return skeleton


def _root_index(skeleton: Skeleton) -> int:
    return list(skeleton.parents).index(-1)


def _plot_axes(points: np.ndarray, coordinates: Coordinates) -> np.ndarray:
    """Points ``(..., 3)`` in matplotlib's (x, y, z-up) frame."""
    if coordinates == "camera":
        return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)
    if coordinates == "world":
        return points
    raise ValueError(f"coordinates must be 'camera' or 'world', got {coordinates!r}")


def _bone_color(skeleton: Skeleton, child: int) -> str:
    # A bone takes the side of its outer joint, so the pelvis-to-hip bones already belong to the legs.
    if child in skeleton.left_joints:
        return LEFT_COLOR
    if child in skeleton.right_joints:
        return RIGHT_COLOR
    return CENTER_COLOR


class _PoseArtists:
    """Line artists for one skeleton on a 2D or 3D axes, created once and updated frame by frame."""

    def __init__(
        self,
        ax: Axes,
        skeleton: Skeleton,
        color: str | None = None,
        linewidth: float = 2.0,
        marker_size: float = 3.0,
        alpha: float = 1.0,
        linestyle: str = "-",
        label: str | None = None,
    ) -> None:
        self.is_3d = isinstance(ax, Axes3D)
        empty = ([], [], []) if self.is_3d else ([], [])
        self.bones = []
        for child, parent in skeleton.bones:
            (line,) = ax.plot(
                *empty,
                color=color or _bone_color(skeleton, child),
                linewidth=linewidth,
                linestyle=linestyle,
                alpha=alpha,
                solid_capstyle="round",
            )
            self.bones.append((child, parent, line))
        (self.joints,) = ax.plot(
            *empty,
            linestyle="",
            marker="o",
            markersize=marker_size,
            color=color or CENTER_COLOR,
            alpha=alpha,
            label=label,
        )
        # joints that were missing in the input (inferred by the model): hollow markers, dashed bones
        (self.inferred,) = ax.plot(
            *empty, linestyle="", marker="o", markersize=marker_size * 2.2, markerfacecolor="none",
            markeredgecolor=MISSING_COLOR, markeredgewidth=1.2, alpha=alpha,
        )

    def _set(self, line, points: np.ndarray) -> None:
        if self.is_3d:
            line.set_data_3d(points[:, 0], points[:, 1], points[:, 2])
        else:
            line.set_data(points[:, 0], points[:, 1])

    def update(self, points: np.ndarray, missing: np.ndarray | None = None) -> None:
        """Move the artists to ``points`` ``(J, 2 or 3)`` (already in plot axes); NaN joints are hidden.

        ``missing (J,)`` bool marks joints absent from the input: drawn as hollow rings, their bones dashed."""
        finite = np.isfinite(points).all(axis=-1)
        missing = np.zeros(len(points), dtype=bool) if missing is None else np.asarray(missing, dtype=bool)
        for child, parent, line in self.bones:
            visible = finite[child] and finite[parent]
            self._set(line, points[[child, parent]] if visible else points[:0])
            line.set_linestyle("--" if missing[child] or missing[parent] else "-")
        self._set(self.joints, points[finite & ~missing])
        self._set(self.inferred, points[finite & missing])


def _center_and_radius(points: np.ndarray, root: int) -> tuple[np.ndarray, float]:
    """Centre (the root, else the mean of the finite joints) and half-size of a box around ``(J, 3)``."""
    finite = np.isfinite(points).all(axis=-1)
    if not finite.any():
        return np.zeros(points.shape[-1]), 1.0
    center = points[root] if finite[root] else points[finite].mean(axis=0)
    extent = np.abs(points[finite] - center).max()
    return center, float(extent * 1.1) if extent > 0 else 1.0


def _animation_boxes(panels: Sequence[np.ndarray], root: int) -> tuple[list[np.ndarray], float]:
    """Per-frame box centres (the first panel's root) and one half-size for a whole animation, covering every
    finite joint of every panel ``(T, J, 3)``, so the skeletons move inside a box of fixed size."""
    centers = [_center_and_radius(frame, root)[0] for frame in panels[0]]
    offsets = np.concatenate([np.abs(p - np.asarray(centers)[:, None, :])[np.isfinite(p).all(-1)] for p in panels])
    return centers, 1.1 * float(offsets.max()) if offsets.size and offsets.max() > 0 else 1.0


def _set_box(ax: Axes3D, center: np.ndarray, radius: float) -> None:
    ax.set_xlim3d(center[0] - radius, center[0] + radius)
    ax.set_ylim3d(center[1] - radius, center[1] + radius)
    ax.set_zlim3d(center[2] - radius, center[2] + radius)


def _style_3d(ax: Axes3D, coordinates: Coordinates) -> None:
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(**_DEFAULT_VIEW)
    labels = ("x", "z", "-y") if coordinates == "camera" else ("x", "y", "z")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_zlabel(labels[2])
    ax.tick_params(labelsize=6)


def _new_figure(figsize: tuple[float, float]) -> Figure:
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def _output_path(output_path: str | Path) -> Path:
    path = Path(output_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def plot_pose_3d(
    ax: Axes3D,
    pose: np.ndarray | torch.Tensor,
    skeleton: str | Skeleton = "h36m",
    *,
    coordinates: Coordinates = "camera",
    color: str | None = None,
    linewidth: float = 2.0,
    alpha: float = 1.0,
    linestyle: str = "-",
    label: str | None = None,
    set_limits: bool = True,
) -> Axes3D:
    """Draw one 3D pose ``(J, 3)`` on a 3D axes (``figure.add_subplot(projection="3d")``).

    Args:
        ax: the 3D axes.
        pose: joint positions ``(J, 3)``, in any unit; NaN joints (and their bones) are skipped.
        skeleton: a :class:`~mpm_hf.keypoints.Skeleton` or its name (``"h36m"``, ``"coco"``, ...).
        coordinates: ``"camera"`` (y down, drawn upright) or ``"world"`` (z up).
        color: one colour for the whole pose; None colours left/right limbs (blue/red).
        linewidth, alpha, linestyle: line style of the bones.
        label: legend label (attached to the joint markers).
        set_limits: centre a cube on the root joint that holds the whole pose, and set the view.

    Returns:
        ``ax``.
    """
    pose = _numpy(pose)
    if pose.ndim != 2 or pose.shape[-1] != 3:
        raise ValueError(f"expected a pose of shape (J, 3), got {pose.shape}")
    skeleton = _resolve_skeleton(skeleton, pose.shape[0])
    points = _plot_axes(pose, coordinates)
    _PoseArtists(ax, skeleton, color, linewidth, alpha=alpha, linestyle=linestyle, label=label).update(points)
    if set_limits:
        _style_3d(ax, coordinates)
        _set_box(ax, *_center_and_radius(points, _root_index(skeleton)))
    return ax


def plot_pose_2d(
    ax: Axes,
    keypoints: np.ndarray | torch.Tensor,
    skeleton: str | Skeleton = "h36m",
    *,
    color: str | None = None,
    linewidth: float = 2.0,
    alpha: float = 1.0,
    linestyle: str = "-",
    label: str | None = None,
    invert_y: bool = True,
) -> Axes:
    """Draw one 2D pose ``(J, 2)`` (a third confidence column is ignored) on a 2D axes.

    Args:
        ax: the axes.
        keypoints: ``(J, 2)`` or ``(J, 3)`` in pixels or normalised screen coordinates (y down); NaN joints
            are skipped.
        skeleton, color, linewidth, alpha, linestyle, label: as in :func:`plot_pose_3d`.
        invert_y: flip the y axis (once) so that image coordinates look upright.

    Returns:
        ``ax``.
    """
    keypoints = _numpy(keypoints)
    if keypoints.ndim != 2 or keypoints.shape[-1] not in (2, 3):
        raise ValueError(f"expected keypoints of shape (J, 2) or (J, 3), got {keypoints.shape}")
    skeleton = _resolve_skeleton(skeleton, keypoints.shape[0])
    _PoseArtists(ax, skeleton, color, linewidth, alpha=alpha, linestyle=linestyle, label=label).update(
        keypoints[:, :2]
    )
    ax.set_aspect("equal", adjustable="datalim")
    if invert_y and not ax.yaxis_inverted():
        ax.invert_yaxis()
    return ax


def save_pose_figure(
    poses_3d: np.ndarray | torch.Tensor,
    output_path: str | Path,
    skeleton: str | Skeleton = "h36m",
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    coordinates: Coordinates = "camera",
    figsize: tuple[float, float] = (5.0, 5.0),
    dpi: int = 100,
) -> Path:
    """Save a PNG of one pose ``(J, 3)`` or several overlaid poses ``(K, J, 3)``.

    The first pose is coloured left/right; the others (e.g. the ground truth next to a prediction) each
    get one colour from :data:`OVERLAY_COLORS`, dashed. All share one cube centred on the first pose's
    root, so their offsets stay visible.

    Args:
        poses_3d: ``(J, 3)`` or ``(K, J, 3)``, any unit, camera or world coordinates.
        output_path: where to write the PNG (parent folders are created).
        skeleton: skeleton or its name.
        labels: one legend label per pose.
        title: figure title.
        coordinates: ``"camera"`` or ``"world"``, see :func:`plot_pose_3d`.
        figsize, dpi: figure size in inches and resolution.

    Returns:
        The written path.
    """
    poses = _numpy(poses_3d)
    if poses.ndim == 2:
        poses = poses[None]
    if poses.ndim != 3 or poses.shape[-1] != 3:
        raise ValueError(f"expected poses of shape (J, 3) or (K, J, 3), got {poses.shape}")
    if labels is not None and len(labels) != len(poses):
        raise ValueError(f"expected {len(poses)} labels, got {len(labels)}")
    skeleton = _resolve_skeleton(skeleton, poses.shape[1])
    figure = _new_figure(figsize)
    ax = figure.add_subplot(projection="3d")
    styles = [(None, "-", 1.0)] + [
        (OVERLAY_COLORS[(index - 1) % len(OVERLAY_COLORS)], "--", 0.8) for index in range(1, len(poses))
    ]
    # Drawn back to front, so that the first pose (usually the prediction) stays on top.
    for pose, (color, linestyle, alpha) in reversed(list(zip(poses, styles, strict=True))):
        plot_pose_3d(
            ax,
            pose,
            skeleton,
            coordinates=coordinates,
            color=color,
            linestyle=linestyle,
            alpha=alpha,
            set_limits=False,
        )
    points = _plot_axes(poses, coordinates)
    center, _ = _center_and_radius(points[0], _root_index(skeleton))
    finite = points[np.isfinite(points).all(axis=-1)]
    radius = 1.1 * float(np.abs(finite - center).max()) if finite.size else 1.0
    _style_3d(ax, coordinates)
    _set_box(ax, center, radius if radius > 0 else 1.0)
    if labels is not None:
        handles = [
            Line2D([], [], color=color or CENTER_COLOR, linestyle=linestyle, alpha=alpha)
            for color, linestyle, alpha in styles
        ]
        ax.legend(handles, labels, loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    path = _output_path(output_path)
    figure.savefig(path, dpi=dpi)
    return path


def _movie_writer(path: Path, fps: float) -> PillowWriter | FFMpegWriter:
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return PillowWriter(fps=fps)
    if suffix == ".mp4":
        if not writers.is_available("ffmpeg"):
            raise RuntimeError(
                f"cannot write {path}: .mp4 needs the ffmpeg executable, which was not found on PATH; "
                "install ffmpeg or write a .gif instead"
            )
        return FFMpegWriter(fps=fps)
    raise ValueError(f"output_path must end in .gif or .mp4, got {path.name!r}")


def render_animation(
    poses_3d: np.ndarray | torch.Tensor,
    keypoints_2d: np.ndarray | torch.Tensor | None,
    output_path: str | Path,
    fps: float = 25,
    skeleton: str | Skeleton = "h36m",
    title: str | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    *,
    coordinates: Coordinates = "camera",
    dpi: int = 80,
    missing: np.ndarray | None = None,
) -> Path:
    """Render a sequence as an animation: the 2D input (left, if given) beside the 3D output (right).

    Joints that were missing in the input (``missing``) are drawn as hollow orange rings with dashed bones in the 3D
    panel, and frames where the whole person was missing say so in the panel's title: their pose is the model's
    guess from the neighbouring frames, not a measurement.

    Args:
        poses_3d: 3D poses ``(T, J, 3)``, any unit, camera coordinates by default (drawn upright, each
            frame centred on its root joint in a cube of fixed size).
        keypoints_2d: the 2D input ``(T, J, 2)`` (or ``(T, J, 3)`` with confidences), pixels or normalised
            screen coordinates, or None for the 3D panel only.
        output_path: ``.gif`` (Pillow) or ``.mp4`` (needs ffmpeg on PATH; a clear error otherwise).
        fps: frames per second of the output.
        skeleton: skeleton or its name.
        title: figure title.
        max_frames: render only the first ``max_frames`` frames.
        progress: show a tqdm progress bar.
        coordinates: ``"camera"`` or ``"world"``, see :func:`plot_pose_3d`.
        dpi: resolution (a 1-panel figure is 5x5 inches).
        missing: ``(T, J)`` bool, joints absent from the input (``result["missing"]`` of the lifting pipeline).

    Returns:
        The written path.
    """
    poses = _numpy(poses_3d)
    if poses.ndim != 3 or poses.shape[-1] != 3:
        raise ValueError(f"expected poses_3d of shape (T, J, 3), got {poses.shape}")
    keypoints = None if keypoints_2d is None else _numpy(keypoints_2d)
    if keypoints is not None and (
        keypoints.ndim != 3 or keypoints.shape[-1] not in (2, 3) or keypoints.shape[:2] != poses.shape[:2]
    ):
        raise ValueError(
            f"expected keypoints_2d of shape {(*poses.shape[:2], 2)} to match poses_3d, got {keypoints.shape}"
        )
    if missing is not None:
        missing = _numpy(missing).astype(bool)
        if missing.shape != poses.shape[:2]:
            raise ValueError(f"missing: expected shape {poses.shape[:2]} (frames, joints), got {missing.shape}")
    skeleton = _resolve_skeleton(skeleton, poses.shape[1])
    num_frames = len(poses) if max_frames is None else min(len(poses), max_frames)
    if num_frames < 1:
        raise ValueError("nothing to render: the sequence has no frames")
    writer = _movie_writer(Path(output_path), fps)  # checked before any folder is created
    path = _output_path(output_path)

    points = _plot_axes(poses[:num_frames], coordinates)
    centers, radius = _animation_boxes([points], _root_index(skeleton))

    num_panels = 1 if keypoints is None else 2
    figure = _new_figure((5.0 * num_panels, 5.0))
    if title:
        figure.suptitle(title)
    artists_2d = None
    if keypoints is not None:
        ax_2d = figure.add_subplot(1, 2, 1)
        ax_2d.set_title("2D input")
        xy = keypoints[:num_frames, :, :2]
        xy_finite = xy[np.isfinite(xy).all(axis=-1)]
        if xy_finite.size:
            # A fixed square window over the whole sequence, so the 2D panel does not jitter.
            middle = (xy_finite.min(axis=0) + xy_finite.max(axis=0)) / 2
            half = 0.55 * float(max(np.ptp(xy_finite, axis=0).max(), 1e-6))
            ax_2d.set_xlim(middle[0] - half, middle[0] + half)
            ax_2d.set_ylim(middle[1] + half, middle[1] - half)  # y down, as in the image
        ax_2d.set_aspect("equal", adjustable="box")
        artists_2d = _PoseArtists(ax_2d, skeleton)
    ax_3d = figure.add_subplot(1, num_panels, num_panels, projection="3d")
    ax_3d.set_title("3D output")
    _style_3d(ax_3d, coordinates)
    artists_3d = _PoseArtists(ax_3d, skeleton)

    with writer.saving(figure, str(path), dpi):
        for frame in tqdm(
            range(num_frames), desc=f"rendering {path.name}", unit="frame", disable=not progress
        ):
            if artists_2d is not None:
                artists_2d.update(keypoints[frame, :, :2])
            frame_missing = None if missing is None else missing[frame]
            artists_3d.update(points[frame], frame_missing)
            if missing is not None:
                nobody = bool(frame_missing.all())
                ax_3d.set_title("3D output: no person in this frame (inferred)" if nobody else "3D output",
                                color=MISSING_COLOR if nobody else "black")
            _set_box(ax_3d, centers[frame], radius)
            writer.grab_frame()
    return path


def render_comparison(
    reference: np.ndarray | torch.Tensor,
    predicted: np.ndarray | torch.Tensor,
    output_path: str | Path,
    hidden: np.ndarray | None = None,
    fps: float = 25,
    titles: tuple[str, str] = ("ground truth", "completed"),
    skeleton: str | Skeleton = "h36m",
    title: str | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    *,
    coordinates: Coordinates = "camera",
    dpi: int = 80,
) -> Path:
    """Render two 3D sequences side by side (e.g. the ground truth and a completion), in the same box per frame.

    Args:
        reference, predicted: ``(T, J, 3)`` poses, the same unit (metres), root-relative or not.
        output_path: ``.gif`` or ``.mp4`` (needs ffmpeg).
        hidden: ``(T, J)`` or ``(J,)`` bool, the joints the model did not see: hollow orange rings and dashed bones
            in both panels.
        titles: the two panels' titles.
        Other arguments as :func:`render_animation`.
    """
    first, second = _numpy(reference), _numpy(predicted)
    if first.ndim != 3 or first.shape[-1] != 3 or first.shape != second.shape:
        raise ValueError(f"expected reference and predicted of the same shape (T, J, 3), got {first.shape} and "
                         f"{second.shape}")
    if hidden is not None:
        hidden = np.broadcast_to(_numpy(hidden).astype(bool), first.shape[:2])
    skeleton = _resolve_skeleton(skeleton, first.shape[1])
    num_frames = len(first) if max_frames is None else min(len(first), max_frames)
    if num_frames < 1:
        raise ValueError("nothing to render: the sequence has no frames")
    writer = _movie_writer(Path(output_path), fps)
    path = _output_path(output_path)
    points = [_plot_axes(poses[:num_frames], coordinates) for poses in (first, second)]
    centers, radius = _animation_boxes(points, _root_index(skeleton))

    figure = _new_figure((10.0, 5.0))
    if title:
        figure.suptitle(title)
    axes, artists = [], []
    for index, panel_title in enumerate(titles):
        ax = figure.add_subplot(1, 2, index + 1, projection="3d")
        ax.set_title(panel_title)
        _style_3d(ax, coordinates)
        axes.append(ax)
        artists.append(_PoseArtists(ax, skeleton))
    with writer.saving(figure, str(path), dpi):
        for frame in tqdm(range(num_frames), desc=f"rendering {path.name}", unit="frame", disable=not progress):
            for ax, artist, panel in zip(axes, artists, points, strict=True):
                artist.update(panel[frame], None if hidden is None else hidden[frame])
                _set_box(ax, centers[frame], radius)
            writer.grab_frame()
    return path


def plot_loss_curves(
    history: Mapping[str, Sequence[tuple[float, float]]],
    output_path: str | Path,
    *,
    title: str | None = None,
    log_scale: bool = False,
    xlabel: str = "step",
    ylabel: str = "loss",
    figsize: tuple[float, float] = (7.0, 4.5),
    dpi: int = 100,
) -> Path:
    """Save a PNG of training curves.

    Args:
        history: series name -> ``[(step, value), ...]`` (e.g. ``{"train/loss": ..., "eval/mpjpe": ...}``);
            empty series are skipped.
        output_path: where to write the PNG (parent folders are created).
        title, xlabel, ylabel: text of the figure.
        log_scale: logarithmic y axis.
        figsize, dpi: figure size in inches and resolution.

    Returns:
        The written path.
    """
    figure = _new_figure(figsize)
    ax = figure.add_subplot()
    for name, series in history.items():
        values = np.asarray(series, dtype=np.float64)
        if values.size == 0:
            continue
        if values.ndim != 2 or values.shape[1] != 2:
            raise ValueError(
                f"history[{name!r}] must be a sequence of (step, value) pairs, got {values.shape}"
            )
        ax.plot(values[:, 0], values[:, 1], label=name, marker="." if len(values) < 30 else None)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    figure.tight_layout()
    path = _output_path(output_path)
    figure.savefig(path, dpi=dpi)
    return path
