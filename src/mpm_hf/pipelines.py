"""``transformers`` pipelines for MPM: ``"pose-lifting"`` (2D keypoints -> 3D) and ``"pose-completion"``
(partial 3D or partial 2D -> complete 3D).

Usage::

    from transformers import pipeline
    from mpm_hf.pipelines import register_pipelines

    register_pipelines()  # done once by ``import mpm_hf``
    lifter = pipeline("pose-lifting")  # the packaged default; or model= a folder, a Hub repo or a model
    result = lifter(keypoints, image_size=(1920, 1080), keypoint_format="coco")
    result["poses_3d"]  # (frames, 17, 3) float32, metres

Output coordinates: 3D poses are in the **camera frame, in metres, root-relative**: the pelvis (joint 0) is at
the origin of every frame, x points right, y down and z forward (away from the camera), as in Human3.6M's
camera coordinates. Joints are in the Human3.6M-17 order (``result["joint_names"]``).

Missing joints: a joint that is NaN in the input, whose detector confidence is at or below
``confidence_threshold``, that the input format cannot provide (the neck/nose of MPII), that sits at exactly
``(0, 0)`` pixels (the "undetected" marker of COCO / OpenPose files, see ``zero_is_missing``) or far outside the
image (with a warning) is fed to the model as a *masked* joint through its learned mask token, never as a zero
coordinate; ``result["missing"]`` flags them.

Input checks (:mod:`mpm_hf.input_checks`): input that cannot be used as given (absurd coordinates, pixels declared
normalised, an image size most keypoints lie far outside, poses in millimetres) is a ``ValueError`` naming the field,
the expected and the actual value; usable but suspicious input (keypoints that look normalised twice, an image size
that looks too small, a joint order that does not fit ``keypoint_format``) warns with
:class:`mpm_hf.input_checks.KeypointWarning`, saying what was assumed.

A single sequence is a numpy array or torch tensor; a Python list (or tuple) of them is a list of tracks (one
per person) and gives a list of results. ``batch_size`` is the number of windows per forward pass.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .auto import TASK_HEADS
from .camera import normalize_screen_coordinates
from .completion import complete_sequence
from .defaults import default_model_path
from .inference import LIFT_MODE_CHOICES, lift_sequence
from .input_checks import (
    check_far_outside,
    check_image_size_fits,
    check_joint_order,
    check_magnitudes,
    check_metric_scale,
    detect_units,
    zero_markers,
)
from .keypoints import convert_keypoints, get_skeleton, model_skeleton
from .masking import resolve_joints
from .modeling_mpm import MPMForPoseCompletion, MPMForPoseLifting

logger = logging.getLogger(__name__)

KEYPOINT_FORMATS = ("h36m", "h36m32", "coco", "halpe", "mpii", "body25", "coco18", "mediapipe33")
"""Input joint orders the pipelines convert from (see :func:`mpm_hf.keypoints.convert_keypoints`)."""

POSE_LIFTING_TASK = "pose-lifting"
POSE_COMPLETION_TASK = "pose-completion"


def _as_array(value: Any, field: str) -> np.ndarray:
    """A float64 numpy copy of an array-like or tensor; ``ValueError`` naming ``field`` if not numeric.

    float64, not the model's float32, so that values beyond float32's range reach the input checks instead of
    silently becoming inf (a missing joint)."""
    if isinstance(value, torch.Tensor):
        return np.array(value.detach().cpu().double().numpy(), dtype=np.float64)
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(
            f"{field}: expected a numeric array of keypoints, got {type(value).__name__} ({error})"
        ) from None


def _check_format(keypoint_format: Any) -> str:
    if keypoint_format not in KEYPOINT_FORMATS:
        raise ValueError(f"keypoint_format: expected one of {KEYPOINT_FORMATS}, got {keypoint_format!r}")
    return keypoint_format


def _check_sequence_shape(
    array: np.ndarray, keypoint_format: str, channels: Sequence[int], meaning: str
) -> None:
    num_joints = get_skeleton(keypoint_format).num_joints
    if array.ndim != 3 or array.shape[1] != num_joints or array.shape[2] not in channels:
        expected = " or ".join(str(c) for c in channels)
        raise ValueError(
            f"inputs: expected shape (frames, {num_joints}, {expected}) ({meaning}) for "
            f"keypoint_format={keypoint_format!r}, got {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError("inputs: expected at least one frame, got 0")


def _check_image_size(image_size: Any) -> tuple[float, float]:
    try:
        if isinstance(image_size, (str, bytes)):  # "12" would otherwise read as (1, 2)
            raise TypeError
        width, height = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size: expected (width, height) in pixels, got {image_size!r}") from None
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise ValueError(f"image_size: expected two positive numbers (width, height), got {image_size!r}")
    return width, height


def _check_positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{field}: expected a positive integer, got {value!r}")
    return int(value)


def _check_bool(value: Any, field: str) -> bool:
    """``True`` / ``False`` only: ``bool("no")`` is ``True``, so anything else is an error, not a truth value."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{field}: expected True or False, got {value!r}")
    return bool(value)


def _check_fps(fps: Any) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not 0 < fps < math.inf:
        raise ValueError(f"fps: expected a positive number of frames per second, got {fps!r}")
    return float(fps)


def _check_confidence_threshold(value: Any) -> float:
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not (number and 0.0 <= float(value) <= 1.0):  # also refuses NaN
        raise ValueError(f"confidence_threshold: expected a number in [0, 1], got {value!r}")
    return float(value)


def _check_all_missing(missing: np.ndarray, why: str) -> None:
    if missing.all():
        raise ValueError(
            f"inputs: every joint is missing in every frame ({why}); there is nothing to process"
        )


def _progress_callback(bar: tqdm) -> Callable[[int], None]:
    """``progress(n)`` for the sequence helpers: advances ``bar`` without running past its total."""

    def advance(num_frames: int) -> None:
        bar.update(max(0, min(num_frames, bar.total - bar.n)))

    return advance


def _check_device(device: Any) -> None:
    """A CUDA device asked for where there is none: a clear error instead of torch's AssertionError."""
    if device is None or isinstance(device, int) and device < 0:
        return
    try:
        kind = torch.device(f"cuda:{device}" if isinstance(device, int) else device).type
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device: expected cpu, cuda, cuda:N, mps or a device index, got {device!r}") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was asked for, but this torch build sees no CUDA device "
                         f"(torch {torch.__version__}); use device='cpu'")


def _prepare_keypoints_2d(
    config: Any,
    keypoints: np.ndarray,
    image_size: tuple[float, float] | None,
    normalized: bool,
    keypoint_format: str,
    confidence_threshold: float,
    zero_is_missing: bool | None,
) -> dict[str, Any]:
    """2D keypoints ``(frames, joints, 2 | 3)`` (x, y[, confidence]) in ``keypoint_format`` -> the model's joints:
    ``keypoints_2d`` (normalised screen coordinates with ``image_size``, else the input's units), ``missing``
    ``(frames, joints)`` (NaN, low confidence, a (0, 0) marker, far outside the image, not derivable from the format)
    and ``input_keypoints`` (the converted input in its own units, NaN where missing). Raises or warns through
    :mod:`mpm_hf.input_checks`."""
    _check_sequence_shape(keypoints, keypoint_format, (2, 3), "x, y[, confidence]")
    if image_size is not None and normalized:
        raise ValueError("image_size: pass either image_size (pixel input) or normalized=True, not both")
    skeleton = get_skeleton(keypoint_format)
    points = keypoints[..., :2]
    used = np.isfinite(points).all(axis=-1)
    if keypoints.shape[-1] == 3:
        # the threshold at float32 precision, detectors': a score stored as float32 0.3 is at 0.3, not above it
        used &= keypoints[..., 2] > float(np.float32(confidence_threshold))  # a NaN score is not above it either
    check_magnitudes(points, used, skeleton)
    accepts_pixels = config.input_normalization == "window"
    units = detect_units(points, used, image_size, normalized, accepts_pixels)
    used &= ~zero_markers(points, used, units, zero_is_missing)
    used &= ~check_far_outside(points, used, units, image_size, skeleton)
    if image_size is not None:
        check_image_size_fits(points, used, image_size)
    points = np.where(used[..., None], points, np.nan).astype(np.float32)
    converted, valid = convert_keypoints(points, keypoint_format, target=model_skeleton(config.num_joints))
    _check_all_missing(
        ~valid,
        f"NaN, confidence <= {confidence_threshold}, at (0, 0) or far outside the image, or not derivable "
        f"from {keypoint_format!r}",
    )
    check_joint_order(points, keypoint_format)
    if image_size is not None:
        normalised = normalize_screen_coordinates(converted, *image_size).astype(np.float32)
    else:
        normalised = converted
    return {"keypoints_2d": normalised, "missing": ~valid, "input_keypoints": converted}


def _sanitize_2d_parameters(
    image_size: Any, normalized: Any, zero_is_missing: Any, confidence_threshold: Any
) -> dict[str, Any]:
    """The checked preprocessing parameters of 2D input that were given."""
    preprocess: dict[str, Any] = {}
    if image_size is not None:
        preprocess["image_size"] = _check_image_size(image_size)
    if normalized is not None:
        preprocess["normalized"] = _check_bool(normalized, "normalized")
    if zero_is_missing is not None:
        preprocess["zero_is_missing"] = _check_bool(zero_is_missing, "zero_is_missing")
    if confidence_threshold is not None:
        preprocess["confidence_threshold"] = _check_confidence_threshold(confidence_threshold)
    return preprocess


class _MPMPipeline(Pipeline):
    """Plumbing shared by the MPM pipelines: no tokenizer or processor, eval mode, and ``batch_size`` meaning
    *windows per forward pass* (``transformers`` would read it as sequences per DataLoader batch)."""

    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False
    model_class: type[torch.nn.Module]
    task_heads: str  # key of mpm_hf.auto.TASK_HEADS: the checkpoints this pipeline may run
    unused_weights: tuple[str, ...] = ()  # weight-name prefixes the pipeline never runs (may be missing)

    def __init__(self, model: torch.nn.Module, *args: Any, **kwargs: Any):
        if not isinstance(model, self.model_class):
            raise ValueError(
                f"model: {type(self).__name__} needs a {self.model_class.__name__}, "
                f"got {type(model).__name__}"
            )
        # A checkpoint loaded into another head runs that head with random weights (transformers only reports the
        # missing weights when loading): refuse it, naming what the checkpoint was saved from.
        architectures = getattr(model.config, "architectures", None) or []
        if architectures and architectures[0] not in TASK_HEADS[self.task_heads]:
            raise ValueError(
                f"model: the checkpoint was saved from {architectures[0]}, whose weights were not trained for "
                f"{type(self).__name__} (it needs one of {', '.join(TASK_HEADS[self.task_heads])}); load a "
                f"{self.model_class.__name__} checkpoint"
            )
        _check_device(kwargs.get("device"))
        # the load report (MPMPreTrainedModel.from_pretrained): weights this task runs that were not in the checkpoint
        missing = [name for name in getattr(model, "missing_weights", ()) if not name.startswith(self.unused_weights)]
        if missing:
            shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
            raise ValueError(
                f"model: {len(missing)} weights {type(self).__name__} runs were not in the checkpoint and are random "
                f"({shown}); load a checkpoint trained for this task"
            )
        window_batch_size = kwargs.pop("batch_size", None)
        super().__init__(model, *args, **kwargs)
        self.model.eval()
        if window_batch_size is not None:
            self._forward_params.update(self._sanitize_parameters(window_batch_size=window_batch_size)[1])

    def __call__(self, inputs: Any, **kwargs: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """Process one sequence, or a list of sequences (one per track), with per-call parameters."""
        if "batch_size" in kwargs:
            kwargs["window_batch_size"] = kwargs.pop("batch_size")
        if isinstance(inputs, (list, tuple)):
            if len(inputs) == 0:
                raise ValueError(
                    "inputs: expected a sequence or a non-empty list of sequences, got an empty list"
                )
            inputs = [
                track if isinstance(track, (np.ndarray, torch.Tensor)) else _as_array(track, f"inputs[{i}]")
                for i, track in enumerate(inputs)
            ]
        return super().__call__(inputs, **kwargs)

    def _progress_bar(self, num_frames: int, progress: bool, description: str) -> tqdm:
        return tqdm(total=num_frames, disable=not progress, desc=description, unit="frame")


class MPMPoseLiftingPipeline(_MPMPipeline):
    """2D keypoint sequences -> 3D poses with an ``MPMForPoseLifting`` (task ``"pose-lifting"``).

    Call parameters (all optional, also accepted by ``pipeline(...)`` as defaults):

    - ``image_size=(width, height)``: the keypoints are pixels of an image of that size; they are normalised
      to screen coordinates (``x / w * 2 - 1``, ``y / w * 2 - h / w``) as the model expects.
    - ``normalized=True``: the keypoints are already normalised screen coordinates. Without either, keypoints
      with any coordinate beyond +-2 are taken for pixels: a model with ``config.input_normalization="window"``
      (it normalises every window by the person's box itself) takes them as they are, any other one needs the
      image size (``ValueError``).
    - ``keypoint_format``: ``"h36m"`` (default), ``"h36m32"``, ``"coco"``, ``"halpe"`` or ``"mpii"``.
    - ``confidence_threshold=0.3``: a number in [0, 1]; with ``(frames, joints, 3)`` input (x, y, confidence),
      joints scoring at or below it are missing.
    - ``zero_is_missing``: joints at exactly ``(0, 0)``, the "undetected" marker of COCO / OpenPose files, are
      missing. Default ``None``: yes for pixels (the image corner, where no detector puts a real joint), no for
      normalised coordinates (``(0, 0)`` is the image centre, a real place; several such joints in one frame
      warn). ``True`` / ``False`` force it either way.
    - ``flip_test=False``: average with the horizontally mirrored input.
    - ``batch_size=256``: windows per forward pass.
    - ``mode="per_frame"`` (a centred window per frame, the paper's protocol), ``"sequence"`` (fast: the
      sequence head over windows that tile the sequence at the model's frame step, see :mod:`mpm_hf.windowing`)
      or ``"auto"`` (``"sequence"`` for inputs of at least 1000 frames,
      ``mpm_hf.inference.AUTO_SEQUENCE_MIN_FRAMES``; the CLI's default).
    - ``margin``: ``"sequence"`` mode, context positions shared by neighbouring windows (default
      ``num_frames // 12``; 0 = non-overlapping windows).
    - ``fps``: the input's frame rate. The model's config records the rate it was trained at (``fps``) and its
      window step: other rates are lifted at the trained frame spacing (a whole-number step, else resampled and
      interpolated back; see :mod:`mpm_hf.frame_rate`). Default: the model's rate.
    - ``progress=False``: show a tqdm progress bar.

    Returns a dict:

    - ``poses_3d``: ``(frames, 17, 3)`` float32, metres, camera frame (x right, y down, z forward), pelvis
      at 0.
    - ``joint_names``: the 17 joint names (Human3.6M order).
    - ``missing``: ``(frames, 17)`` bool, joints that were fed as masked.
    - ``keypoints_2d``: ``(frames, 17, 2)`` float32, the converted 2D input in its own units (pixels or
      normalised), NaN where missing.
    - ``units``: ``"m"``.
    """

    model_class = MPMForPoseLifting
    task_heads = "lifting"
    unused_weights = ("mpm.encoder_3d.", "mpm.spatial_mask_token_3d")  # lifting reads 2D only

    def _sanitize_parameters(
        self,
        image_size: Sequence[float] | None = None,
        normalized: bool | None = None,
        keypoint_format: str | None = None,
        confidence_threshold: float | None = None,
        flip_test: bool | None = None,
        window_batch_size: int | None = None,
        mode: str | None = None,
        margin: int | None = None,
        fps: float | None = None,
        progress: bool | None = None,
        zero_is_missing: bool | None = None,
    ) -> tuple[dict, dict, dict]:
        preprocess: dict[str, Any] = {}
        forward: dict[str, Any] = {}
        if fps is not None:
            forward["fps"] = _check_fps(fps)
        if margin is not None:
            limit = self.model.config.num_frames // 2
            if isinstance(margin, bool) or not isinstance(margin, (int, np.integer)) or not 0 <= margin <= limit:
                raise ValueError(f"margin: expected an integer in [0, {limit}] (num_frames // 2), got {margin!r}")
            forward["margin"] = int(margin)
        preprocess.update(_sanitize_2d_parameters(image_size, normalized, zero_is_missing, confidence_threshold))
        if keypoint_format is not None:
            preprocess["keypoint_format"] = _check_format(keypoint_format)
        if flip_test is not None:
            forward["flip_test"] = _check_bool(flip_test, "flip_test")
        if window_batch_size is not None:
            forward["batch_size"] = _check_positive_int(window_batch_size, "batch_size")
        if mode is not None:
            if mode not in LIFT_MODE_CHOICES:
                raise ValueError(f"mode: expected one of {LIFT_MODE_CHOICES}, got {mode!r}")
            forward["mode"] = mode
        if progress is not None:
            forward["progress"] = _check_bool(progress, "progress")
        return preprocess, forward, {}

    def preprocess(
        self,
        inputs: Any,
        image_size: tuple[float, float] | None = None,
        normalized: bool = False,
        keypoint_format: str = "h36m",
        confidence_threshold: float = 0.3,
        zero_is_missing: bool | None = None,
    ) -> dict[str, Any]:
        return _prepare_keypoints_2d(
            self.model.config, _as_array(inputs, "inputs"), image_size, normalized, keypoint_format,
            confidence_threshold, zero_is_missing,
        )

    def _forward(
        self,
        model_inputs: dict[str, Any],
        mode: str = "per_frame",
        flip_test: bool = False,
        batch_size: int = 256,
        progress: bool = False,
        margin: int | None = None,
        fps: float | None = None,
    ) -> dict[str, Any]:
        num_frames = len(model_inputs["keypoints_2d"])
        with self._progress_bar(num_frames, progress, "lifting") as bar:
            poses_3d = lift_sequence(
                self.model,
                model_inputs["keypoints_2d"],
                missing=model_inputs["missing"],
                mode=mode,
                batch_size=batch_size,
                flip_test=flip_test,
                progress=_progress_callback(bar),
                margin=margin,
                fps=fps,
            )
        return {
            "poses_3d": poses_3d,
            "missing": model_inputs["missing"],
            "keypoints_2d": model_inputs["input_keypoints"],
        }

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "poses_3d": np.asarray(model_outputs["poses_3d"], dtype=np.float32),
            "joint_names": list(model_skeleton(self.model.config.num_joints).joint_names),
            "missing": np.asarray(model_outputs["missing"], dtype=bool),
            "keypoints_2d": np.asarray(model_outputs["keypoints_2d"], dtype=np.float32),
            "units": "m",
        }


COMPLETION_MODALITIES = ("2d", "3d")
"""What the partial input of the pose-completion pipeline is: 2D keypoints or 3D poses."""

_FORMATS_3D = ("h36m", "h36m32")  # the joint orders 3D poses come in


class MPMPoseCompletionPipeline(_MPMPipeline):
    """Partial 3D poses, or partial 2D keypoints, -> complete 3D poses with an ``MPMForPoseCompletion``
    (pose-completion).

    Input: either

    - partial 3D: ``(frames, 17, 3)`` metres (``(frames, 32, 3)`` with ``keypoint_format="h36m32"``), NaN at hidden
      joints. Poses should be root-relative; where the pelvis is visible it is subtracted, so camera- or world-space
      input works too as long as the pelvis is given; or
    - partial 2D: ``(frames, joints, 2)`` keypoints, or ``(frames, joints, 3)`` with a confidence and
      ``modality="2d"``, read as the pose-lifting pipeline reads them (``image_size``, ``normalized``,
      ``keypoint_format`` among ``KEYPOINT_FORMATS``, ``confidence_threshold``, ``zero_is_missing``: see
      :class:`MPMPoseLiftingPipeline`); missing and occluded joints are completed in 3D.

    Call parameters: ``modality`` (``"3d"`` or ``"2d"``; default: ``"2d"`` for two channels or a 2D-only
    ``keypoint_format`` such as ``"coco"`` or any 2D parameter given, else ``"3d"``), ``occluded_joints`` (body
    parts such as ``"left_arm"``, see ``mpm_hf.masking.BODY_PARTS``, and/or joint indices, hidden in every frame),
    ``keypoint_format="h36m"``, ``keep_visible=True`` (3D input: the given joints are returned as given, only the
    hidden ones come from the model; ``False``: every joint is the model's output, as the paper's tables score it;
    2D input: every joint is the model's), ``flip_test=False`` (average with the horizontally mirrored input, left
    and right swapped), ``fps`` (the input's frame rate: completed at the frame spacing the model was trained on,
    as for lifting; default the model's rate), ``batch_size=256`` (windows per forward pass), ``progress=False``.

    Returns a dict: ``poses_3d`` ``(frames, 17, 3)`` float32 metres, pelvis at 0; ``joint_names``; ``missing``
    ``(frames, 17)`` bool, the joints that were hidden (completed by the model); ``units`` ``"m"``; with 2D input
    also ``keypoints_2d`` ``(frames, 17, 2)``, the converted 2D input in its own units, NaN where missing or
    occluded.
    """

    model_class = MPMForPoseCompletion
    task_heads = "completion"
    # which encoder a call runs depends on its input; preprocess checks that one (_check_encoder_loaded)
    unused_weights = ("mpm.encoder_2d.", "mpm.spatial_mask_token_2d", "mpm.encoder_3d.", "mpm.spatial_mask_token_3d")

    def _sanitize_parameters(
        self,
        occluded_joints: str | int | Iterable[str | int] | None = None,
        keypoint_format: str | None = None,
        window_batch_size: int | None = None,
        progress: bool | None = None,
        keep_visible: bool | None = None,
        flip_test: bool | None = None,
        modality: str | None = None,
        image_size: Sequence[float] | None = None,
        normalized: bool | None = None,
        confidence_threshold: float | None = None,
        zero_is_missing: bool | None = None,
        fps: float | None = None,
    ) -> tuple[dict, dict, dict]:
        preprocess = _sanitize_2d_parameters(image_size, normalized, zero_is_missing, confidence_threshold)
        forward: dict[str, Any] = {}
        if fps is not None:
            forward["fps"] = _check_fps(fps)
        if modality is not None:
            if modality not in COMPLETION_MODALITIES:
                raise ValueError(f"modality: expected one of {COMPLETION_MODALITIES}, got {modality!r}")
            preprocess["modality"] = modality
        if keep_visible is not None:
            forward["keep_visible"] = _check_bool(keep_visible, "keep_visible")
        if flip_test is not None:
            forward["flip_test"] = _check_bool(flip_test, "flip_test")
        if occluded_joints is not None:
            if not isinstance(occluded_joints, (str, int)):
                occluded_joints = list(occluded_joints)
            resolve_joints(occluded_joints, self.model.config.num_joints)  # fail early on unknown parts
            preprocess["occluded_joints"] = occluded_joints
        if keypoint_format is not None:
            preprocess["keypoint_format"] = _check_format(keypoint_format)
        if window_batch_size is not None:
            forward["batch_size"] = _check_positive_int(window_batch_size, "batch_size")
        if progress is not None:
            forward["progress"] = _check_bool(progress, "progress")
        return preprocess, forward, {}

    def preprocess(
        self,
        inputs: Any,
        occluded_joints: str | int | list[str | int] | None = None,
        keypoint_format: str = "h36m",
        modality: str | None = None,
        image_size: tuple[float, float] | None = None,
        normalized: bool = False,
        confidence_threshold: float | None = None,
        zero_is_missing: bool | None = None,
    ) -> dict[str, Any]:
        poses = _as_array(inputs, "inputs")
        given_2d = [name for name, value in (("image_size", image_size), ("normalized", normalized or None),
                                             ("confidence_threshold", confidence_threshold),
                                             ("zero_is_missing", zero_is_missing)) if value is not None]
        if modality is None:
            channels_2d = poses.ndim == 3 and poses.shape[-1] == 2
            modality = "2d" if channels_2d or keypoint_format not in _FORMATS_3D or given_2d else "3d"
        if modality == "2d":
            self._check_encoder_loaded("2d")
            prepared = _prepare_keypoints_2d(
                self.model.config, poses, image_size, normalized, keypoint_format,
                0.3 if confidence_threshold is None else confidence_threshold, zero_is_missing,
            )
            hidden = prepared["missing"]
            if occluded_joints is not None:
                hidden[:, resolve_joints(occluded_joints, hidden.shape[1])] = True
            _check_all_missing(hidden, "missing or occluded")
            shown = np.where(hidden[..., None], np.nan, prepared["input_keypoints"]).astype(np.float32)
            return {"poses": prepared["keypoints_2d"], "missing": hidden, "keypoints_2d": shown}
        if given_2d:
            raise ValueError(f"{given_2d[0]}: a 2D input parameter, but modality='3d' (3D poses in metres); pass "
                             "modality='2d' for 2D keypoints")
        if keypoint_format not in _FORMATS_3D:
            raise ValueError(f"keypoint_format: expected one of {_FORMATS_3D} for 3D poses, got {keypoint_format!r}")
        self._check_encoder_loaded("3d")
        _check_sequence_shape(poses, keypoint_format, (3,), "x, y, z in metres")
        check_magnitudes(poses, np.isfinite(poses).all(axis=-1), get_skeleton(keypoint_format))
        skeleton = model_skeleton(self.model.config.num_joints)
        converted, valid = convert_keypoints(poses, keypoint_format, target=skeleton)
        hidden = ~valid
        if occluded_joints is not None:
            hidden[:, resolve_joints(occluded_joints, hidden.shape[1])] = True
        _check_all_missing(hidden, "NaN or occluded")
        check_metric_scale(converted, ~hidden)
        check_joint_order(np.where(hidden[..., None], np.nan, converted), skeleton.name)
        root_visible = ~hidden[:, 0]
        converted[root_visible] -= converted[root_visible, :1]
        return {"poses": converted, "missing": hidden}

    def _check_encoder_loaded(self, modality: str) -> None:
        """``ValueError`` when the pose encoder ``modality`` input runs through was not in the checkpoint (random)."""
        prefixes = (f"mpm.encoder_{modality}.", f"mpm.spatial_mask_token_{modality}")
        missing = [name for name in getattr(self.model, "missing_weights", ()) if name.startswith(prefixes)]
        if missing:
            raise ValueError(
                f"model: its {modality.upper()} pose encoder was not in the checkpoint and is random "
                f"({', '.join(missing[:2])}{' ...' if len(missing) > 2 else ''}); it cannot complete "
                f"{modality.upper()} input"
            )

    def _forward(
        self,
        model_inputs: dict[str, Any],
        batch_size: int = 256,
        progress: bool = False,
        keep_visible: bool = True,
        flip_test: bool = False,
        fps: float | None = None,
    ) -> dict[str, Any]:
        num_frames = len(model_inputs["poses"])
        with self._progress_bar(num_frames, progress, "completing") as bar:
            poses_3d = complete_sequence(
                self.model,
                model_inputs["poses"],
                missing=model_inputs["missing"],
                batch_size=batch_size,
                progress=_progress_callback(bar),
                keep_visible=keep_visible,
                flip_test=flip_test,
                fps=fps,
            )
        outputs = {"poses_3d": poses_3d, "missing": model_inputs["missing"]}
        if "keypoints_2d" in model_inputs:
            outputs["keypoints_2d"] = model_inputs["keypoints_2d"]
        return outputs

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, Any]:
        result = {
            "poses_3d": np.asarray(model_outputs["poses_3d"], dtype=np.float32),
            "joint_names": list(model_skeleton(self.model.config.num_joints).joint_names),
            "missing": np.asarray(model_outputs["missing"], dtype=bool),
            "units": "m",
        }
        if "keypoints_2d" in model_outputs:
            result["keypoints_2d"] = np.asarray(model_outputs["keypoints_2d"], dtype=np.float32)
        return result


def register_pipelines() -> None:
    """Register ``"pose-lifting"`` and ``"pose-completion"`` with ``transformers.pipeline`` (idempotent)."""
    for task, pipeline_class, model_class in (
        (POSE_LIFTING_TASK, MPMPoseLiftingPipeline, MPMForPoseLifting),
        (POSE_COMPLETION_TASK, MPMPoseCompletionPipeline, MPMForPoseCompletion),
    ):
        registered = PIPELINE_REGISTRY.supported_tasks.get(task)
        if registered is not None and registered.get("impl") is pipeline_class:
            continue
        folder = default_model_path(task)  # pipeline(task) without a model: the packaged default, offline
        default = {"model": (str(folder), None)} if folder is not None else None
        PIPELINE_REGISTRY.register_pipeline(task, pipeline_class=pipeline_class, pt_model=model_class, default=default)
