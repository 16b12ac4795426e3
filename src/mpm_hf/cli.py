"""The ``mpm-hf`` command line: lift 2D keypoints to 3D, complete partial 3D or 2D poses in 3D, render, export to ONNX,
show versions.

Examples::

    mpm-hf lift alphapose-results.json --output poses.npz            # the packaged default model, main person
    mpm-hf lift openpose_json/ --fps 30 --all-tracks --output poses.npz
    mpm-hf lift keypoints.npz --model pretrained/mpm-h36m-27f --output poses.npz --image-size 1920x1080
    mpm-hf complete partial.npz --output full.npz --occlude left_arm,legs   # pretrained/mpm-h36m-27f-completion
    mpm-hf complete alphapose-results.json --modality 2d --occlude legs --output full.npz   # partial 2D -> 3D
    mpm-hf render poses.npz --output poses.gif --fps 25
    mpm-hf info --model pretrained/mpm-h36m-27f-lifting
    mpm-hf export --model pretrained/mpm-h36m-27f-lifting --output mpm-h36m-27f-lifting.onnx

Inputs of ``lift``: a detector's own output (an OpenPose ``--write_json`` folder, MMPose, AlphaPose or COCO
keypoint-results JSON, MediaPipe Pose landmarks; see :mod:`mpm_hf.readers`, detected automatically, the joint order
taken from the file), or ``.npz`` (the first array, or ``--key``), ``.npy``, or ``.json`` (a list of frames, or an
object holding one under ``--key``, default ``"keypoints"``; a frame is a list of joints ``[x, y]`` /
``[x, y, score]``, a flat ``[x1, y1, s1, x2, ...]`` list, or ``null``/``[]`` when nobody was detected).
Arrays are ``(frames, joints, C)``; a leading person axis ``(persons, frames, joints, C)`` of size 1 is
dropped. Several persons: the main one (seen in the most frames) by default, ``--person N`` or ``--all-tracks``.

Exit status: 0 on success, 2 for bad usage or input, 1 for any other failure; errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from transformers import AutoConfig, pipeline
from transformers.utils import logging as transformers_logging

from . import __version__, modeling_mpm
from .auto import TASK_HEADS, head_class_for
from .checksums import looks_like_local_path
from .defaults import default_model_path
from .inference import AUTO_SEQUENCE_MIN_FRAMES, LIFT_MODE_CHOICES, resolve_mode
from .keypoints import get_skeleton, model_skeleton
from .pipelines import KEYPOINT_FORMATS, register_pipelines
from .readers import KeypointTracks, UnknownLayoutError, read_keypoints
from .runtime import keep_freed_memory

PROGRAM = "mpm-hf"
PROGRESS_MIN_FRAMES = 500
"""Inputs with at least this many frames show a progress bar (unless ``--no-progress``)."""


class UsageError(Exception):
    """Bad arguments or input files: exit status 2."""


# --- Reading inputs -----------------------------------------------------------------------------------------


def _parse_image_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT in pixels (e.g. 1920x1080), got {text!r}"
        ) from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return width, height


def _parse_occluded(text: str) -> list[str | int]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected a comma-separated list of body parts or joint indices")
    return [int(part) if part.isdigit() else part for part in parts]


def _open_npz(path: Path) -> Any:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile):
        raise UsageError(f"{path}: not a readable .npz archive of numeric arrays") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise UsageError(f"{path}: holds a single .npy array, not a .npz archive (rename it to .npy)")
    return loaded


def _load_npz(path: Path, key: str | None) -> np.ndarray:
    with _open_npz(path) as data:
        if not data.files:
            raise UsageError(f"{path}: the archive holds no arrays")
        key = key if key is not None else data.files[0]
        if key not in data.files:
            raise UsageError(f"--key: {path} has no array {key!r}; arrays: {', '.join(data.files)}")
        try:
            return data[key]
        except ValueError:
            raise UsageError(
                f"{path}: array {key!r} is a pickled object, not a numeric array (extract one sequence "
                "of a VideoPose3D-style dictionary into its own .npy/.npz first)"
            ) from None


def _json_frame(frame: Any, index: int, num_joints: int) -> np.ndarray | None:
    """One JSON frame as ``(joints, C)``; None for an empty frame (nobody detected)."""
    if frame is None or (isinstance(frame, list) and len(frame) == 0):
        return None
    try:
        array = np.asarray(frame, dtype=np.float32)
    except (TypeError, ValueError):
        raise UsageError(f"frame {index}: expected a list of numbers or of [x, y(, score)] joints") from None
    if array.ndim == 1 and array.size in (num_joints * 2, num_joints * 3):
        array = array.reshape(num_joints, -1)
    if array.ndim != 2 or array.shape[0] != num_joints or array.shape[1] not in (2, 3):
        raise UsageError(
            f"frame {index}: expected {num_joints} joints of [x, y] or [x, y, score] "
            f"(or a flat list of {num_joints * 2} or {num_joints * 3} numbers), got shape {array.shape}"
        )
    return array


def _load_json(path: Path, key: str | None, num_joints: int, content: Any = None) -> np.ndarray:
    """``content``: the file's JSON when already parsed (by the detector readers), else it is read here."""
    if content is None:
        try:
            content = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}: not valid JSON ({error})") from None
    if isinstance(content, dict):
        key = key if key is not None else "keypoints"
        if key not in content:
            raise UsageError(f"--key: {path} has no field {key!r}; fields: {', '.join(map(str, content))}")
        content = content[key]
    elif key is not None:
        raise UsageError(f"--key: {path} holds a list of frames, not an object with fields")
    if not isinstance(content, list) or not content:
        raise UsageError(f"{path}: expected a non-empty list of frames")
    frames = [_json_frame(frame, index, num_joints) for index, frame in enumerate(content)]
    shapes = {frame.shape for frame in frames if frame is not None}
    if not shapes:
        raise UsageError(f"{path}: every frame is empty")
    if len(shapes) > 1:
        raise UsageError(f"{path}: frames mix [x, y] and [x, y, score] joints")
    shape = shapes.pop()
    return np.stack([np.full(shape, np.nan, np.float32) if frame is None else frame for frame in frames])


def read_sequence(
    path: str | Path, key: str | None, person: int | None, num_joints: int, content: Any = None
) -> np.ndarray:
    """Read ``(frames, joints, C)`` float32 from a .npz/.npy/.json file (see the module docstring); ``content``:
    a .json file's already parsed JSON."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"INPUT: no such file: {path}")
    suffix = path.suffix.lower()
    if key is not None and suffix == ".npy":
        raise UsageError(f"--key: {path} is a .npy file holding one array; --key names an array of a .npz or a "
                         "field of a JSON object")
    if suffix == ".npz":
        array = _load_npz(path, key)
    elif suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            raise UsageError(f"{path}: not a readable .npy file of a numeric array") from None
        if isinstance(array, np.lib.npyio.NpzFile):
            array.close()
            raise UsageError(f"{path}: holds a .npz archive, not a single .npy array (rename it to .npz)")
    elif suffix == ".json":
        array = _load_json(path, key, num_joints, content)
    else:
        raise UsageError(f"INPUT: expected a .npz, .npy or .json file, got {path.name!r}")
    if not np.issubdtype(array.dtype, np.number):
        raise UsageError(f"{path}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 4:
        if person is not None:
            if not 0 <= person < array.shape[0]:
                raise UsageError(f"--person: expected an index in [0, {array.shape[0]}), got {person}")
            array = array[person]
        elif array.shape[0] == 1:
            array = array[0]
        else:
            raise UsageError(
                f"{path}: holds {array.shape[0]} persons {array.shape}; choose one with --person INDEX"
            )
    elif person not in (None, 0):
        raise UsageError(f"--person: {path} holds a single sequence {array.shape}, got --person {person}")
    if array.ndim != 3:
        raise UsageError(f"{path}: expected an array (frames, joints, coords), got shape {array.shape}")
    return array.astype(np.float32)


@dataclass
class LiftInput:
    """What ``mpm-hf lift`` read: ``keypoints (persons, frames, joints, C)`` (C = 2, or 3 with scores), its joint
    order, and what the file said (format, track and frame ids, image size)."""

    keypoints: np.ndarray
    keypoint_format: str
    file_format: str
    track_ids: list = field(default_factory=lambda: [0])
    frame_ids: np.ndarray | None = None
    image_size: tuple[int, int] | None = None


def _array_joints(path: Path, key: str | None) -> int | None:
    """Joints per frame of a .npy/.npz input (the second-to-last axis), None when it cannot be read cheaply."""
    try:
        if path.suffix.lower() == ".npy":
            return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[-2])
        with np.load(path, allow_pickle=False) as data:
            return int(data[key if key is not None else data.files[0]].shape[-2])
    except Exception:  # unreadable: read_sequence reports it properly
        return None


def read_lift_input(args: argparse.Namespace) -> LiftInput:
    """The keypoints of ``mpm-hf lift INPUT``: a detector file through :func:`mpm_hf.readers.read_keypoints`, or
    an array / simple JSON file through :func:`read_sequence`; persons chosen by ``--person`` / ``--all-tracks``."""
    path = Path(args.input)
    if not path.exists():
        raise UsageError(f"INPUT: no such file or folder: {path}")
    parsed = None  # a .json file's JSON, once parsed
    mediapipe = args.format == "mediapipe33" or (
        args.format is None and path.suffix.lower() in (".npy", ".npz") and _array_joints(path, args.key) == 33
    )
    if mediapipe or path.is_dir() or path.suffix.lower() == ".json":
        if mediapipe and args.image_size is None:
            raise UsageError("--image-size: MediaPipe landmarks are fractions of the image width and height; "
                             "pass the video's WIDTHxHEIGHT")
        try:
            # the pipeline's threshold, so that tracks are chosen and linked from the detections it will use
            tracks = read_keypoints(path, "mediapipe" if mediapipe else None, image_size=args.image_size,
                                    confidence_threshold=args.confidence_threshold)
        except UnknownLayoutError as error:  # a plain list of frames (or an object holding one): the simple layout
            tracks, parsed = None, error.content
        except ValueError as error:
            raise UsageError(_one_line(error)) from None
        if tracks is not None:
            return _select_tracks(tracks, args)
    keypoint_format = args.format or "h36m"
    array = read_sequence(path, args.key, args.person, get_skeleton(keypoint_format).num_joints, parsed)
    return LiftInput(array[None], keypoint_format, file_format="array", image_size=args.image_size)


def _select_tracks(tracks: KeypointTracks, args: argparse.Namespace) -> LiftInput:
    if args.format is not None and get_skeleton(args.format).name != tracks.skeleton:
        raise UsageError(f"--format: {tracks.path} holds {tracks.skeleton!r} keypoints "
                         f"({tracks.keypoints.shape[2]} joints), got --format {args.format}")
    if tracks.num_persons == 0:
        raise UsageError(f"{tracks.path}: nobody was detected in any of its {tracks.num_frames} frames")
    if args.all_tracks:
        chosen = list(range(tracks.num_persons))
    elif args.person is not None:
        if not 0 <= args.person < tracks.num_persons:
            raise UsageError(f"--person: expected a track index in [0, {tracks.num_persons}) (track ids "
                             f"{tracks.track_ids}), got {args.person}")
        chosen = [args.person]
    else:
        chosen = [tracks.main_track()]
    return LiftInput(
        keypoints=tracks.to_array()[chosen],
        keypoint_format=tracks.skeleton,
        file_format=tracks.file_format,
        track_ids=[tracks.track_ids[i] for i in chosen],
        frame_ids=tracks.frame_ids,
        image_size=args.image_size or tracks.image_size,
    )


def _output_npz(path: str) -> Path:
    """The checked ``--output`` path (a .npz); its folder is created."""
    output = Path(path)
    if output.suffix.lower() != ".npz":
        raise UsageError(f"--output: expected a .npz file, got {output.name!r}")
    output.parent.mkdir(parents=True, exist_ok=True)
    return output


# --- Models -------------------------------------------------------------------------------------------------


def _check_model_location(model: str) -> None:
    """A local folder must hold a config.json; something that looks like a path but is absent is an error (a
    name whose first part is a local folder, e.g. a mistyped ``pretrained/mpm-h36m-27``, is a path)."""
    location = Path(model).expanduser()
    if location.exists():
        if not (location / "config.json").is_file():
            raise UsageError(f"--model: {model} is not a model folder (no config.json)")
    elif looks_like_local_path(model):
        raise UsageError(f"--model: no such folder: {model}")


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No ``transformers`` "Loading weights" bars or load reports on stderr while a model loads (restored after)."""
    enabled = transformers_logging.is_progress_bar_enabled()
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if enabled:
            transformers_logging.enable_progress_bar()


# pipeline task -> the checkpoints it runs (mpm_hf.auto.TASK_HEADS)
_PIPELINE_HEADS = {"pose-lifting": "lifting", "pose-completion": "completion"}


def _load_pipeline(task: str, model: str, device: str | None) -> Any:
    _check_model_location(model)
    if device is not None:
        try:
            device_type = torch.device(device).type
        except (RuntimeError, ValueError):
            raise UsageError(f"--device: expected cpu, cuda, cuda:N or mps, got {device!r}") from None
        if device_type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"--device: {device} was asked for, but no CUDA device is available")
    register_pipelines()
    location = Path(model).expanduser()
    name = str(location) if location.exists() else model
    try:
        with _quiet_loading():
            model_class = head_class_for(name, _PIPELINE_HEADS[task])
            loaded = model_class.from_pretrained(name)
    except ValueError as error:  # not an MPM checkpoint, or one whose heads were not trained for this command
        raise UsageError(f"--model: {_one_line(error)}") from None
    except Exception as error:
        raise RuntimeError(f"could not load the model {model!r}: {_one_line(error)}") from error
    return pipeline(task, model=loaded, device=device)


# --- Commands -----------------------------------------------------------------------------------------------


def _show_progress(args: argparse.Namespace, num_frames: int) -> bool:
    return not args.no_progress and num_frames >= PROGRESS_MIN_FRAMES


def _model_location(args: argparse.Namespace, task: str, modality: str | None = None) -> str:
    """``--model``, else the packaged default model of ``task`` (and input ``modality``)."""
    if args.model is not None:
        return args.model
    folder = default_model_path(task, modality)
    if folder is None:
        raise UsageError(f"--model: this installation has no packaged default {task} model; name a model folder "
                         "or Hub repo")
    return str(folder)


def command_lift(args: argparse.Namespace) -> int:
    output = _output_npz(args.output)
    lift_input = read_lift_input(args)
    model = _model_location(args, "pose-lifting")
    lifter = _load_pipeline("pose-lifting", model, args.device)
    tracks = [track for track in lift_input.keypoints]
    mode = resolve_mode(args.mode, lift_input.keypoints.shape[1])
    results = lifter(
        tracks,
        image_size=lift_input.image_size,
        normalized=args.normalized or None,
        keypoint_format=lift_input.keypoint_format,
        confidence_threshold=args.confidence_threshold,
        flip_test=args.flip_test,
        mode=mode,
        batch_size=args.batch_size,
        fps=args.fps,
        progress=_show_progress(args, lift_input.keypoints.shape[1]),
    )
    stack = (lambda key: np.stack([r[key] for r in results])) if args.all_tracks else (lambda key: results[0][key])
    missing = stack("missing")
    config = lifter.model.config
    np.savez(
        output,
        poses_3d=stack("poses_3d"),
        keypoints_2d=stack("keypoints_2d"),
        missing=missing,
        frames_without_person=missing.all(axis=-1),
        joint_names=np.array(results[0]["joint_names"]),
        track_ids=np.array([str(track) for track in lift_input.track_ids]),
        frame_ids=np.asarray(lift_input.frame_ids if lift_input.frame_ids is not None
                             else np.arange(lift_input.keypoints.shape[1])),
        model=np.array(model),
        input_format=np.array(lift_input.file_format),
        keypoint_format=np.array(lift_input.keypoint_format),
        image_size=np.array(lift_input.image_size if lift_input.image_size is not None else (-1, -1)),
        fps=np.array(np.nan if args.fps is None else args.fps),
        model_fps=np.array(np.nan if getattr(config, "fps", None) is None else config.fps),
        mode=np.array(mode),
    )
    nobody = int(missing.all(axis=-1).sum())
    persons = f"{len(tracks)} tracks" if args.all_tracks else f"track {lift_input.track_ids[0]}"
    print(
        f"wrote {output}: {missing.shape[-2]} frames of 3D poses (metres, pelvis at 0), {persons}, "
        f"{int(missing.sum())} missing joints fed as masked, {nobody} frames without the person"
    )
    return 0


def command_complete(args: argparse.Namespace) -> int:
    output = _output_npz(args.output)
    completer = _load_pipeline("pose-completion", _model_location(args, "pose-completion", args.modality),
                               args.device)
    options = dict(occluded_joints=args.occlude, batch_size=args.batch_size, flip_test=args.flip_test, fps=args.fps)
    if args.modality == "2d":
        if args.confidence_threshold is None:
            args.confidence_threshold = 0.3
        lift_input = read_lift_input(args)
        poses = lift_input.keypoints[0]
        result = completer(
            poses, modality="2d", image_size=lift_input.image_size, normalized=args.normalized or None,
            keypoint_format=lift_input.keypoint_format, confidence_threshold=args.confidence_threshold,
            progress=_show_progress(args, len(poses)), **options,
        )
        extra = dict(keypoints_2d=result["keypoints_2d"], track_ids=np.array([str(lift_input.track_ids[0])]),
                     input_format=np.array(lift_input.file_format),
                     keypoint_format=np.array(lift_input.keypoint_format))
    else:
        given_2d = [flag for flag, given in (("--image-size", args.image_size is not None),
                                             ("--normalized", args.normalized),
                                             ("--confidence-threshold", args.confidence_threshold is not None))
                    if given]
        if given_2d:
            raise UsageError(f"{given_2d[0]}: an option of 2D input; pass --modality 2d")
        keypoint_format = args.format or "h36m"
        if keypoint_format not in ("h36m", "h36m32"):
            raise UsageError(f"--format: 3D poses come as h36m or h36m32, got {keypoint_format} (2D keypoints: "
                             "--modality 2d)")
        poses = read_sequence(args.input, args.key, args.person, get_skeleton(keypoint_format).num_joints)
        result = completer(poses, keypoint_format=keypoint_format, progress=_show_progress(args, len(poses)),
                           **options)
        extra = {}
    np.savez(
        output,
        poses_3d=result["poses_3d"],
        missing=result["missing"],
        joint_names=np.array(result["joint_names"]),
        modality=np.array(args.modality),
        fps=np.array(np.nan if args.fps is None else args.fps),
        **extra,
    )
    print(
        f"wrote {output}: {len(result['poses_3d'])} frames, "
        f"{int(result['missing'].sum())} hidden joints completed from partial {args.modality.upper()}"
    )
    return 0


def command_render(args: argparse.Namespace) -> int:
    path = Path(args.input)
    if not path.is_file():
        raise UsageError(f"INPUT: no such file: {path}")
    if path.suffix.lower() != ".npz":
        raise UsageError(f"INPUT: expected the .npz written by `{PROGRAM} lift` or `{PROGRAM} complete`")
    with _open_npz(path) as data:
        if "poses_3d" not in data.files:
            raise UsageError(f"{path}: no 'poses_3d' array; arrays: {', '.join(data.files)}")
        poses_3d = data["poses_3d"]
        keypoints_2d = data["keypoints_2d"] if "keypoints_2d" in data.files else None
        missing = data["missing"] if "missing" in data.files else None
    if poses_3d.ndim == 4:  # --all-tracks: one person
        if args.person is None or not 0 <= args.person < len(poses_3d):
            raise UsageError(f"{path}: holds {len(poses_3d)} tracks; choose one with --person INDEX in "
                             f"[0, {len(poses_3d)})")
        poses_3d = poses_3d[args.person]
        keypoints_2d = None if keypoints_2d is None else keypoints_2d[args.person]
        missing = None if missing is None else missing[args.person]
    if poses_3d.ndim != 3 or poses_3d.shape[-1] != 3 or poses_3d.shape[1] not in (16, 17):
        raise UsageError(f"{path}: expected poses_3d of shape (frames, 17, 3), got {poses_3d.shape}")
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f"--max-frames: expected a positive integer, got {args.max_frames}")
    if args.fps <= 0:
        raise UsageError(f"--fps: expected a positive number, got {args.fps}")

    from .visualization import render_animation

    num_frames = len(poses_3d) if args.max_frames is None else min(len(poses_3d), args.max_frames)
    written = render_animation(
        poses_3d,
        keypoints_2d,
        args.output,
        fps=args.fps,
        skeleton=model_skeleton(poses_3d.shape[1]),
        title=args.title,
        max_frames=args.max_frames,
        progress=not args.no_progress and num_frames >= 50,
        missing=missing if missing is not None and missing.shape == poses_3d.shape[:2] else None,
    )
    print(f"wrote {written}: {num_frames} frames at {args.fps:g} fps")
    return 0


def _model_summary(model_location: str) -> list[str]:
    _check_model_location(model_location)
    try:
        config = AutoConfig.from_pretrained(model_location)
    except Exception as error:
        raise RuntimeError(f"could not load the configuration of {model_location!r}: {error}") from error
    architecture = (getattr(config, "architectures", None) or ["MPMModel"])[0]
    model_class = getattr(modeling_mpm, architecture, None)
    if not (isinstance(model_class, type) and issubclass(model_class, torch.nn.Module)):
        raise UsageError(f"--model: {model_location} holds a {architecture}, not an MPM model")
    with _quiet_loading():
        model = model_class.from_pretrained(model_location)
    num_parameters = sum(parameter.numel() for parameter in model.parameters())
    fields = (
        "num_frames", "num_joints", "hidden_size", "num_hidden_layers", "num_attention_heads",
        "intermediate_size",
        "strides", "downsample", "use_refine",
    )  # fmt: skip
    lines = [f"model: {model_location}", f"  architecture: {architecture}"]
    lines += [f"  {name}: {getattr(config, name)}" for name in fields if hasattr(config, name)]
    lines.append(f"  parameters: {num_parameters:,} ({num_parameters / 1e6:.2f} M)")
    return lines


def command_info(args: argparse.Namespace) -> int:
    lines = [
        f"{PROGRAM} {__version__}",
        f"python {platform.python_version()} ({platform.platform()})",
        f"torch {torch.__version__}, transformers {transformers.__version__}, numpy {np.__version__}",
        f"torch threads: {torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op",
    ]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(f"device: cuda ({names})")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        lines.append("device: mps")
    else:
        lines.append("device: cpu")
    if args.model is not None:
        lines += _model_summary(args.model)
    print("\n".join(lines))
    return 0


def command_export(args: argparse.Namespace) -> int:
    from .export import export_onnx  # onnx, onnxscript and onnxruntime are optional (pip install 'mpm-hf[onnx]')

    if Path(args.output).suffix.lower() != ".onnx":
        raise UsageError(f"--output: expected a .onnx file, got {Path(args.output).name!r}")
    model_location = _model_location(args, "pose-lifting")
    _check_model_location(model_location)
    location = Path(model_location).expanduser()
    name = str(location) if location.exists() else model_location
    try:
        with _quiet_loading():
            # default: the task the checkpoint was trained for; head_class_for checks an explicit --task against it
            saved = (AutoConfig.from_pretrained(name).architectures or ["MPMForPoseLifting"])[0]
            task = args.task or ("completion" if saved in TASK_HEADS["completion"] else "lifting")
            model = head_class_for(name, task).from_pretrained(name)
    except ValueError as error:  # not an MPM checkpoint, or one whose heads were not trained for --task
        raise UsageError(f"--model: {_one_line(error)}") from None
    written = export_onnx(model, args.output, opset=args.opset, input_coords=args.input_coords)
    print(
        f"wrote {written}: {type(model).__name__}, windows of {model.config.num_frames} frames x "
        f"{model.config.num_joints} joints, batch dynamic (config in the ONNX metadata)"
    )
    return 0


# --- Argument parsing ---------------------------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser, formats: Sequence[str], task: str) -> None:
    detector_files = " (--modality 2d)" if task == "pose-completion" else ""
    parser.add_argument("input", metavar="INPUT", help="a .npz, .npy or .json file, or a detector's output file / "
                                                        f"OpenPose folder{detector_files}")
    shipped = {"pose-lifting": "mpm-h36m-27f-lifting", "pose-completion": "mpm-h36m-27f-completion"}[task]
    parser.add_argument("--model", help="a model folder or a Hugging Face Hub repo id (default: the packaged "
                                        f"{task} model, pretrained/{shipped} of the repository)")
    parser.add_argument("--output", required=True, help="the .npz file to write")
    parser.add_argument("--format", choices=formats,
                        help="joint order of the input (default: the detector file's, else h36m)")
    parser.add_argument("--key", help="array of a .npz (default: the first) or field of a .json object")
    parser.add_argument("--person", type=int, help="person (track) index of a multi-person input")
    parser.add_argument("--batch-size", type=int, default=256, help="windows per forward pass (256)")
    parser.add_argument(
        "--device", help="torch device, e.g. cpu or cuda:0 (default: the GPU if there is one)"
    )
    parser.add_argument("--no-progress", action="store_true", help="never show progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM, description="MPM 3D human pose lifting and completion.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lift = commands.add_parser(
        "lift", help="lift 2D keypoints to 3D poses (metres, camera frame, pelvis at 0)"
    )
    _add_common(lift, KEYPOINT_FORMATS, "pose-lifting")
    pixels = lift.add_mutually_exclusive_group()
    pixels.add_argument(
        "--image-size",
        type=_parse_image_size,
        metavar="WxH",
        help="image size in pixels of pixel keypoints, e.g. 1920x1080",
    )
    pixels.add_argument(
        "--normalized", action="store_true", help="keypoints are normalised screen coordinates"
    )
    lift.add_argument(
        "--confidence-threshold",
        type=float,
        default=0.3,
        help="joints scoring at or below it are missing (0.3)",
    )
    lift.add_argument("--flip-test", action="store_true", help="average with the mirrored input")
    lift.add_argument("--all-tracks", action="store_true",
                      help="lift every person of a detector file (outputs get a leading person axis)")
    lift.add_argument("--fps", type=float,
                      help="frame rate of the input video; other rates than the model's are lifted at the frame "
                           "spacing it was trained on (default: the model's rate)")
    lift.add_argument(
        "--mode",
        choices=LIFT_MODE_CHOICES,
        default="auto",
        help="per_frame: a centred window per frame (the paper's protocol); sequence: the fast mode (windows tiling "
             "the sequence at the model's frame step, within 1 mm of per_frame on Human3.6M S9 and about 30x "
             f"faster); auto (default): sequence for inputs of {AUTO_SEQUENCE_MIN_FRAMES} frames or more, else "
             "per_frame",
    )
    lift.set_defaults(handler=command_lift)

    complete = commands.add_parser(
        "complete", help="complete partial 3D poses, or partial 2D keypoints (--modality 2d), in 3D")
    _add_common(complete, KEYPOINT_FORMATS, "pose-completion")
    complete.add_argument(
        "--modality", choices=("3d", "2d"), default="3d",
        help="what INPUT holds: 3D poses in metres (default), or 2D keypoints, read as `lift` reads them (detector "
             "files too); missing, low-confidence and --occlude joints are completed in 3D")
    complete_2d = complete.add_mutually_exclusive_group()
    complete_2d.add_argument("--image-size", type=_parse_image_size, metavar="WxH",
                             help="--modality 2d: image size in pixels of pixel keypoints, e.g. 1920x1080")
    complete_2d.add_argument("--normalized", action="store_true",
                             help="--modality 2d: keypoints are normalised screen coordinates")
    complete.add_argument("--confidence-threshold", type=float,
                          help="--modality 2d: joints scoring at or below it are missing (0.3)")
    complete.add_argument(
        "--occlude",
        type=_parse_occluded,
        metavar="PARTS",
        help="body parts and/or joint indices hidden in every frame, e.g. left_arm,right_leg",
    )
    complete.add_argument("--flip-test", action="store_true", help="average with the mirrored input")
    complete.add_argument("--fps", type=float,
                          help="frame rate of the input; other rates than the model's are completed at the frame "
                               "spacing it was trained on (default: the model's rate)")
    # read_lift_input (--modality 2d) takes the main person or --person
    complete.set_defaults(handler=command_complete, all_tracks=False)

    render = commands.add_parser("render", help="render a lift/complete result as an animation")
    render.add_argument("input", metavar="RESULT", help="the .npz written by lift or complete")
    render.add_argument("--output", required=True, help="the .gif or .mp4 (needs ffmpeg) to write")
    render.add_argument("--fps", type=float, default=25.0, help="frames per second (25)")
    render.add_argument("--max-frames", type=int, help="render only the first N frames")
    render.add_argument("--title", help="figure title")
    render.add_argument("--person", type=int, help="the track to render of a lift --all-tracks result")
    render.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    render.set_defaults(handler=command_render)

    info = commands.add_parser("info", help="versions, threads and device; with --model, a model summary")
    info.add_argument("--model", help="a model folder or Hub repo id to summarise")
    info.set_defaults(handler=command_info)

    export = commands.add_parser("export", help="write a lifting or completion model as ONNX (dynamic batch)")
    export.add_argument("--model", help="a model folder or a Hugging Face Hub repo id (default: the packaged "
                                        "pose-lifting model)")
    export.add_argument("--output", required=True, help="the .onnx file to write")
    export.add_argument("--opset", type=int, help="ONNX opset, 18 or more (default: torch's exporter's)")
    export.add_argument("--task", choices=("lifting", "completion"),
                        help="the head to export (default: the one the checkpoint was trained for)")
    export.add_argument("--input-coords", type=int, choices=(2, 3), default=2,
                        help="2: 2D keypoints; 3: partial 3D poses (completion models only) (2)")
    export.set_defaults(handler=command_export)
    return parser


# Pipeline parameter names in error messages -> the command-line options that set them.
_OPTION_NAMES = (
    ("image_size=(width, height)", "--image-size WIDTHxHEIGHT"),
    ("normalized=True", "--normalized"),
    ("image_size:", "--image-size:"),
    ("confidence_threshold", "--confidence-threshold"),
    ("keypoint_format", "--format"),
    ("fps:", "--fps:"),
    ("batch_size:", "--batch-size:"),
    ("output_path:", "--output:"),
    ("opset:", "--opset:"),
    ("input_coords:", "--input-coords:"),
)


def _one_line(error: BaseException) -> str:
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    for name, option in _OPTION_NAMES:
        text = text.replace(name, option)
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad usage or input, 1 other failure)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage error (status 2) or the help (0)
        return int(exit_.code or 0)
    prefix = f"{PROGRAM} {args.command}: error:"
    keep_freed_memory()  # this process does the lifting: reuse activation memory between batches (mpm_hf.runtime)

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # one line per warning
        print(f"{PROGRAM} {args.command}: warning: {_one_line(message)}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return args.handler(args)
    except (UsageError, ValueError) as error:
        print(f"{prefix} {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prefix} interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        print(f"{prefix} {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
