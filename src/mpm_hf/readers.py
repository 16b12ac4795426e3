"""Readers of 2D detector output: OpenPose, MMPose, AlphaPose, COCO keypoint results and MediaPipe Pose files.

:func:`read_keypoints` reads any of them into a :class:`KeypointTracks`: the keypoints of every person over
every frame of the input, ``(persons, frames, joints, 2)``, with NaN where a joint (or the whole person) was
not detected. The format is detected from the path (a folder is OpenPose, ``.npy``/``.npz`` MediaPipe) and
the JSON structure::

    tracks = read_keypoints("alphapose-results.json")
    keypoints, valid = tracks.person(tracks.main_track())   # (frames, joints, 2) pixels, (frames, joints)

Formats and their joint orders (names of :data:`mpm_hf.keypoints.SKELETONS`):

- ``"openpose"``: an OpenPose ``--write_json`` folder, one ``<name>_<frame>_keypoints.json`` per frame (or one
  such file), ``people[].pose_keypoints_2d`` = flat ``x, y, c``; 25 joints = ``"body25"``, 18 = ``"coco18"``.
  ``person_id`` is the track id when it is not ``-1``.
- ``"mmpose"``: MMPose inferencer predictions, a list of ``{frame_id, instances: [{keypoints: [[x, y], ...],
  keypoint_scores, bbox, bbox_score, track_id?}]}``, or the demo scripts' ``{meta_info, instance_info}``.
- ``"alphapose"``: AlphaPose results, a list of ``{image_id, category_id, keypoints: flat x, y, score, score,
  box: [x, y, w, h], idx}``; ``idx`` is the track id.
- ``"coco"``: COCO keypoint results, a list of ``{image_id, category_id, keypoints, score}``.
- ``"mediapipe"``: MediaPipe Pose landmarks saved as ``.npy``/``.npz``, ``(frames, 33, 2|3|4)`` = x, y
  normalised to [0, 1] of the image width / height (+ z, + visibility); ``"mediapipe33"``.

MMPose, AlphaPose and COCO files hold 17 joints (``"coco"``), 26 (Halpe, ``"halpe"``), 133 (COCO-WholeBody: its
first 17 = COCO body are kept) or 136 (Halpe-136: its first 26 = Halpe-26 are kept).

Units: pixels, as the detector wrote them; MediaPipe's normalised coordinates become pixels when ``image_size``
is given, else they stay in [0, 1] image units (with a warning).

Missing joints: a joint whose score is 0 or not above ``confidence_threshold``, that lies exactly at (0, 0) (how
OpenPose and others write undetected joints) or is not finite is NaN with score 0, never a real point.

Frames: one per input frame, never dropped. OpenPose and MediaPipe have one entry per frame. MMPose, AlphaPose
and COCO files leave out images where nobody was detected: when the frame / image ids are integers (or file names
ending in an integer, e.g. ``"000123.jpg"``) the frames between the first and the last id are all kept, the
missing ones empty; otherwise the frames are those listed, in the file's order.

Persons: grouped by the file's track ids when it has them (and no id repeats within a frame), else linked frame
to frame by box overlap (:mod:`mpm_hf.tracking`). :meth:`KeypointTracks.main_track` picks the person with the most
detected joints over all frames (the longest, most complete track).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .keypoints import get_skeleton
from .tracking import assemble_tracks

__all__ = ["FILE_FORMATS", "KeypointTracks", "UnknownLayoutError", "read_keypoints", "detect_file_format"]

FILE_FORMATS = ("openpose", "mmpose", "alphapose", "coco", "mediapipe")
"""Detector file formats :func:`read_keypoints` reads."""

_LAYOUTS = {
    "openpose": "an OpenPose --write_json folder of <name>_<frame>_keypoints.json files (or one such file), each "
    "{'people': [{'pose_keypoints_2d': [x, y, c, ...] (25 or 18 joints), 'person_id': [-1]}]}",
    "mmpose": "an MMPose prediction list [{'frame_id': int, 'instances': [{'keypoints': [[x, y], ...], "
    "'keypoint_scores': [...], 'bbox': [[x1, y1, x2, y2]]}]}] or {'meta_info': ..., 'instance_info': [...]}",
    "alphapose": "AlphaPose results [{'image_id': ..., 'category_id': 1, 'keypoints': [x, y, score, ...], "
    "'score': float, 'box': [x, y, w, h], 'idx': track id}]",
    "coco": "COCO keypoint results [{'image_id': ..., 'category_id': 1, 'keypoints': [x, y, score, ...], "
    "'score': float}]",
    "mediapipe": "MediaPipe Pose landmarks in a .npy/.npz file, shape (frames, 33, 2|3|4): x, y normalised to "
    "[0, 1] (+ z, + visibility)",
}
_ALL_LAYOUTS = "; or ".join(_LAYOUTS.values())

# Joints per detection -> (skeleton, joints kept): whole-body layouts keep their body joints.
_COCO_LIKE_JOINTS = {17: ("coco", 17), 26: ("halpe", 26), 133: ("coco", 17), 136: ("halpe", 26)}
_OPENPOSE_JOINTS = {25: "body25", 18: "coco18"}
_MEDIAPIPE_JOINTS = 33
_MEDIAPIPE_ARRAY_KEYS = ("landmarks", "pose_landmarks", "keypoints")


class UnknownLayoutError(ValueError):
    """A file (or parsed JSON) in none of the detector layouts of :data:`FILE_FORMATS`; the message names them.

    ``content``: the parsed JSON when the file was JSON (``None`` otherwise), so that a caller falling back to
    another layout (the CLI's plain list of frames) need not read and parse the file again.
    """

    def __init__(self, message: str, content: Any = None) -> None:
        super().__init__(message)
        self.content = content


@dataclass
class KeypointTracks:
    """The persons of a detector file, frame-aligned.

    Attributes:
        keypoints: float32 ``(persons, frames, joints, 2)`` in the file's units (pixels; MediaPipe without an
            image size: [0, 1] image units), NaN where a joint or the whole person is missing.
        scores: float32 ``(persons, frames, joints)`` detector scores, 0 where missing.
        skeleton: Joint order, a name in :data:`mpm_hf.keypoints.SKELETONS`.
        track_ids: One id per person: the file's track id, or the linker's ``0, 1, ...``.
        frame_ids: ``(frames,)`` the file's frame / image ids in order (integers where they are frame numbers,
            including the filled gaps; else the ids as listed).
        file_format: One of :data:`FILE_FORMATS`.
        image_size: ``(width, height)`` of the frames in pixels when known, else None.
        path: The file or folder read.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    skeleton: str
    track_ids: list
    frame_ids: np.ndarray
    file_format: str
    image_size: tuple[int, int] | None = None
    path: Path | None = field(default=None)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        self.scores = np.asarray(self.scores, dtype=np.float32)
        self.frame_ids = np.asarray(self.frame_ids)
        self.track_ids = list(self.track_ids)
        num_joints = get_skeleton(self.skeleton).num_joints
        if self.keypoints.ndim != 4 or self.keypoints.shape[2:] != (num_joints, 2):
            raise ValueError(
                f"keypoints: expected shape (persons, frames, {num_joints}, 2) for skeleton {self.skeleton!r}, "
                f"got {self.keypoints.shape}"
            )
        if self.scores.shape != self.keypoints.shape[:3]:
            raise ValueError(f"scores: expected shape {self.keypoints.shape[:3]}, got {self.scores.shape}")
        if len(self.track_ids) != self.num_persons:
            raise ValueError(f"track_ids: expected {self.num_persons} ids (one per person), got {len(self.track_ids)}")
        if self.frame_ids.shape != (self.num_frames,):
            raise ValueError(f"frame_ids: expected shape ({self.num_frames},), got {self.frame_ids.shape}")
        if self.file_format not in FILE_FORMATS:
            raise ValueError(f"file_format: expected one of {FILE_FORMATS}, got {self.file_format!r}")
        if self.image_size is not None:
            self.image_size = _check_image_size(self.image_size)
        if (self.scores[~self.valid] != 0).any():
            raise ValueError("scores: expected 0 at missing joints (NaN keypoints)")

    @property
    def num_persons(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[1]

    @property
    def valid(self) -> np.ndarray:
        """bool ``(persons, frames, joints)``: the joint was detected."""
        return np.isfinite(self.keypoints).all(axis=-1)

    def main_track(self) -> int:
        """Index of the main person: the longest, most complete track, the one with the most detected joints over
        all frames (a person seen in every frame beats a bystander seen in a few; a phantom track of one or two
        low-score joints does not win by its length); ties go to the higher mean joint score, then to the lower
        index."""
        if self.num_persons == 0:
            raise ValueError(f"{self.path}: nobody was detected in any of its {self.num_frames} frames")
        valid = self.valid
        detected = valid.sum(axis=(1, 2))
        mean_score = self.scores.sum(axis=(1, 2)) / np.maximum(detected, 1)
        candidates = np.flatnonzero(detected == detected.max())
        return int(candidates[np.argmax(mean_score[candidates])])

    def person(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keypoints (frames, joints, 2), valid (frames, joints))`` of person ``index``."""
        if not -self.num_persons <= index < self.num_persons:
            raise ValueError(f"index: expected a person in [0, {self.num_persons}), got {index}")
        keypoints = self.keypoints[index].copy()
        return keypoints, np.isfinite(keypoints).all(axis=-1)

    def to_array(self) -> np.ndarray:
        """float32 ``(persons, frames, joints, 3)``: x, y (NaN where missing) and the score (0 where missing)."""
        return np.concatenate([self.keypoints, self.scores[..., None]], axis=-1)


def read_keypoints(
    path: str | Path,
    file_format: str | None = None,
    confidence_threshold: float = 0.0,
    image_size: tuple[int, int] | None = None,
) -> KeypointTracks:
    """Read a detector output file or folder into :class:`KeypointTracks` (see the module docstring).

    Args:
        path: An OpenPose ``--write_json`` folder or frame file, a JSON file (MMPose, AlphaPose, COCO results)
            or a ``.npy``/``.npz`` file of MediaPipe landmarks.
        file_format: One of :data:`FILE_FORMATS`; detected from ``path`` when None.
        confidence_threshold: Joints with a score ``<=`` this are missing (score 0 is always missing).
        image_size: ``(width, height)`` of the frames in pixels: converts MediaPipe's normalised coordinates to
            pixels; for the other formats it is recorded in the result.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnknownLayoutError: (a ``ValueError``) ``file_format`` is None and the file is in none of the known
            layouts; the message names the file and the layouts.
        ValueError: The file is malformed; the message names the file and the layout expected.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such detector file or folder: {path}")
    if file_format is not None and file_format not in FILE_FORMATS:
        raise ValueError(f"file_format: expected one of {FILE_FORMATS} or None, got {file_format!r}")
    if image_size is not None:
        image_size = _check_image_size(image_size)
    try:
        threshold = float(confidence_threshold)
    except (TypeError, ValueError):
        threshold = math.nan
    if not math.isfinite(threshold):
        raise ValueError(f"confidence_threshold: expected a finite number, got {confidence_threshold!r}")

    data = _load_json(path) if path.is_file() and path.suffix.lower() == ".json" else None
    file_format = file_format or _detect(path, data)
    if file_format == "mediapipe":
        return _read_mediapipe(path, threshold, image_size)
    if file_format == "openpose":
        parsed = _parse_openpose(path, data)
    else:
        if data is None:
            raise ValueError(f"{path}: file_format={file_format!r} needs a .json file: {_LAYOUTS[file_format]}")
        parsed = _parse_mmpose(path, data) if file_format == "mmpose" else _parse_coco_results(path, data, file_format)
    return _assemble(parsed, path, file_format, threshold, image_size)


def detect_file_format(path: str | Path) -> str:
    """The :data:`FILE_FORMATS` entry ``path`` is in, from the path and (for JSON) the structure of the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such detector file or folder: {path}")
    return _detect(path, _load_json(path) if path.is_file() and path.suffix.lower() == ".json" else None)


# --- Detection ----------------------------------------------------------------------------------------------


def _detect(path: Path, data: Any) -> str:
    if path.is_dir():
        return "openpose"
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return "mediapipe"
    if suffix != ".json":
        raise UnknownLayoutError(f"{path}: expected a .json, .npy or .npz file or an OpenPose folder; {_ALL_LAYOUTS}")
    if isinstance(data, dict):
        if "people" in data:
            return "openpose"
        if "instance_info" in data:
            return "mmpose"
        raise UnknownLayoutError(f"{path}: a JSON object with keys {sorted(data)[:8]}; expected {_ALL_LAYOUTS}",
                                 content=data)
    if isinstance(data, list) and data and all(isinstance(entry, dict) for entry in data):
        if "instances" in data[0]:
            return "mmpose"
        if "image_id" in data[0] and "keypoints" in data[0]:
            return "alphapose" if any("idx" in entry or "box" in entry for entry in data) else "coco"
        if "keypoints" in data[0] and "keypoint_scores" in data[0]:
            return "mmpose"  # a single image's instances, as MMPose writes for an image
    if isinstance(data, list):
        shown = f"a JSON list starting {json.dumps(data[:1])[:120]}" if data else "an empty JSON list"
    else:
        shown = f"a JSON {type(data).__name__}"
    raise UnknownLayoutError(f"{path}: {shown}; expected {_ALL_LAYOUTS}", content=data)


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def _check_image_size(image_size: Any) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size: expected (width, height) in pixels, got {image_size!r}") from None
    if width <= 0 or height <= 0:
        raise ValueError(f"image_size: expected positive (width, height) in pixels, got {image_size!r}")
    return width, height


# --- Parsing into flat detections ---------------------------------------------------------------------------


@dataclass
class _Parsed:
    """Flat detections of a JSON format, before frames are ordered and persons assembled."""

    skeleton: str
    frame_keys: list  # every frame / image id listed, in the file's order (with frames that have nobody)
    detection_frames: list  # (detections,) frame / image id of each detection
    points: np.ndarray  # (detections, joints, 3) x, y, score
    boxes: np.ndarray  # (detections, 4) x1, y1, x2, y2; NaN rows where the file gives none
    track_ids: list | None  # (detections,) the file's ids, None when not every detection has one
    complete: bool  # frame_keys already list every frame in order (no gaps to fill)


def _parse_openpose(path: Path, data: Any) -> _Parsed:
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.name.endswith("_keypoints.json") and f.is_file())
        if not files:
            raise ValueError(f"{path}: no *_keypoints.json files; expected {_LAYOUTS['openpose']}")
    elif data is not None:
        files = [path]
    else:
        raise ValueError(f"{path}: expected {_LAYOUTS['openpose']}")
    stems = [f.name[: -len("_keypoints.json")] if f.name.endswith("_keypoints.json") else f.stem for f in files]
    numbers = [_trailing_number(stem) for stem in stems]
    if None not in numbers and len(set(numbers)) == len(numbers):
        order = np.argsort(numbers, kind="stable")
        frame_keys = [numbers[i] for i in order]
        steps = np.diff(frame_keys)
        if len(steps) and (steps != steps[0]).any():
            warnings.warn(
                f"{path}: frame numbers {frame_keys[0]}..{frame_keys[-1]} are irregularly spaced: files are "
                "missing; one frame is read per file",
                stacklevel=3,
            )
    else:
        order = sorted(range(len(files)), key=lambda i: _natural_key(stems[i]))
        frame_keys = [stems[i] for i in order]

    flat, detection_frames, ids = [], [], []
    for key, i in zip(frame_keys, order, strict=True):
        frame = data if files[i] == path else _load_json(files[i])
        people = frame.get("people") if isinstance(frame, dict) else None
        if not isinstance(people, list):
            raise ValueError(f"{files[i]}: no 'people' list; expected {_LAYOUTS['openpose']}")
        for person in people:
            values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
            if not isinstance(values, list) or len(values) % 3 or len(values) // 3 not in _OPENPOSE_JOINTS:
                shown = len(values) if isinstance(values, list) else type(values).__name__
                raise ValueError(
                    f"{files[i]}: pose_keypoints_2d has {shown} values; expected 75 (BODY_25) or 54 (COCO-18) "
                    f"= x, y, c per joint; {_LAYOUTS['openpose']}"
                )
            flat.append(values)
            detection_frames.append(key)
            person_id = person.get("person_id", -1)
            person_id = _track_id(person_id)
            ids.append(None if person_id == -1 else person_id)
    counts = {len(values) // 3 for values in flat}
    if not counts:
        raise ValueError(f"{path}: nobody in any of its {len(files)} frames, so the joint layout is unknown")
    if len(counts) > 1:
        raise ValueError(f"{path}: people have {sorted(counts)} joints in different frames; expected one layout")
    count = counts.pop()
    return _Parsed(
        skeleton=_OPENPOSE_JOINTS[count],
        frame_keys=frame_keys,
        detection_frames=detection_frames,
        points=_as_points(flat, path, count, count),
        boxes=np.full((len(flat), 4), np.nan),
        track_ids=ids if ids and None not in ids else None,
        complete=True,
    )


def _parse_mmpose(path: Path, data: Any) -> _Parsed:
    if isinstance(data, dict):
        if not isinstance(data.get("instance_info"), list):
            raise ValueError(f"{path}: 'instance_info' is not a list; expected {_LAYOUTS['mmpose']}")
        data = data["instance_info"]
    if not isinstance(data, list) or not data or not all(isinstance(entry, dict) for entry in data):
        raise ValueError(f"{path}: expected {_LAYOUTS['mmpose']}")
    if "instances" not in data[0]:
        data = [{"frame_id": 0, "instances": data}]  # one image's instances
    with_id = ["frame_id" in entry for entry in data]
    if any(with_id) and not all(with_id):
        raise ValueError(f"{path}: some frames have a 'frame_id' and some do not; expected {_LAYOUTS['mmpose']}")
    frame_keys = [
        _hashable(entry["frame_id"], f"{path}: frame {position}") if all(with_id) else position
        for position, entry in enumerate(data)
    ]

    keypoints, scores, boxes, detection_frames, ids = [], [], [], [], []
    for position, (key, entry) in enumerate(zip(frame_keys, data, strict=True)):
        instances = entry.get("instances")
        if not isinstance(instances, list):
            raise ValueError(f"{path}: frame {position} has no 'instances' list; expected {_LAYOUTS['mmpose']}")
        for instance in instances:
            where = f"{path}: frame {position}"
            if not isinstance(instance, dict) or "keypoints" not in instance or "keypoint_scores" not in instance:
                raise ValueError(
                    f"{where}: an instance without 'keypoints' and 'keypoint_scores'; expected {_LAYOUTS['mmpose']}"
                )
            points, point_scores = instance["keypoints"], instance["keypoint_scores"]
            if (
                not isinstance(points, list)
                or not isinstance(point_scores, list)
                or len(points) != len(point_scores)
                or any(not isinstance(p, list) or len(p) < 2 for p in points)
            ):
                raise ValueError(
                    f"{where}: 'keypoints' must be a list of [x, y] with one 'keypoint_scores' entry each; "
                    f"expected {_LAYOUTS['mmpose']}"
                )
            keypoints.append([p[:2] for p in points])
            scores.append(point_scores)
            boxes.append(_box(instance.get("bbox"), "xyxy", where))
            detection_frames.append(key)
            ids.append(_track_id(instance.get("track_id")))
    skeleton, kept = _coco_like_layout({len(k) for k in keypoints}, path, "mmpose")
    try:
        points = np.concatenate(
            [
                np.asarray([k[:kept] for k in keypoints], dtype=np.float64).reshape(-1, kept, 2),
                np.asarray([s[:kept] for s in scores], dtype=np.float64).reshape(-1, kept, 1),
            ],
            axis=-1,
        )
    except (TypeError, ValueError):
        raise ValueError(
            f"{path}: keypoints and keypoint_scores must be numbers; expected {_LAYOUTS['mmpose']}"
        ) from None
    return _Parsed(
        skeleton=skeleton,
        frame_keys=frame_keys,
        detection_frames=detection_frames,
        points=points,
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        track_ids=ids if ids and None not in ids else None,
        complete=False,
    )


def _parse_coco_results(path: Path, data: Any, file_format: str) -> _Parsed:
    layout = _LAYOUTS[file_format]
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty list: {layout}")
    flat, boxes, detection_frames, ids = [], [], [], []
    for position, detection in enumerate(data):
        where = f"{path}: detection {position}"
        if not isinstance(detection, dict) or "image_id" not in detection or "keypoints" not in detection:
            raise ValueError(f"{where} has no 'image_id' and 'keypoints'; expected {layout}")
        values = detection["keypoints"]
        if not isinstance(values, list) or len(values) % 3:
            shown = len(values) if isinstance(values, list) else type(values).__name__
            raise ValueError(f"{where}: 'keypoints' has {shown} values, not x, y, score per joint; expected {layout}")
        flat.append(values)
        box = detection.get("box", detection.get("bbox"))
        boxes.append(_box(box, "xywh", where))
        detection_frames.append(_hashable(detection["image_id"], where))
        ids.append(_track_id(detection.get("idx")))
    skeleton, kept = _coco_like_layout({len(values) // 3 for values in flat}, path, file_format)
    return _Parsed(
        skeleton=skeleton,
        frame_keys=detection_frames,
        detection_frames=detection_frames,
        points=_as_points(flat, path, len(flat[0]) // 3, kept),
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        track_ids=ids if None not in ids else None,
        complete=False,
    )


def _as_points(flat: list[list], path: Path, num_joints: int, kept: int) -> np.ndarray:
    """``(detections, kept, 3)`` float64: the first ``kept`` joints of flat ``x, y, score`` lists of
    ``num_joints`` joints."""
    try:
        points = np.asarray(flat, dtype=np.float64).reshape(len(flat), num_joints, 3)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: keypoints must be lists of numbers x, y, score") from None
    return points[:, :kept]


def _coco_like_layout(counts: set[int], path: Path, file_format: str) -> tuple[str, int]:
    if not counts:
        raise ValueError(f"{path}: no detections in any frame, so the joint layout is unknown")
    if len(counts) > 1:
        raise ValueError(f"{path}: detections have {sorted(counts)} joints; expected one layout in a file")
    count = counts.pop()
    if count not in _COCO_LIKE_JOINTS:
        raise ValueError(
            f"{path}: detections have {count} joints; expected 17 (COCO), 26 (Halpe), 133 (COCO-WholeBody) or "
            f"136 (Halpe-136): {_LAYOUTS[file_format]}"
        )
    return _COCO_LIKE_JOINTS[count]


def _box(box: Any, layout: str, where: str) -> list[float]:
    """``[x1, y1, x2, y2]`` from a file's box (``layout`` "xyxy" or "xywh"; MMPose nests it in a list); NaN
    when absent."""
    if box is None:
        return [math.nan] * 4
    if isinstance(box, list) and len(box) == 1 and isinstance(box[0], list):
        box = box[0]
    try:
        x1, y1, a, b = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a box of 4 numbers ({layout}), got {box!r}") from None
    return [x1, y1, x1 + a, y1 + b] if layout == "xywh" else [x1, y1, a, b]


def _track_id(value: Any) -> Hashable | None:
    """A track id as files write it: an int, a float (3.0 -> 3) or a one-element list ([3.0] -> 3; AlphaPose's
    pose-NMS writes the merged detections' ids, of which the first is taken); None when absent."""
    while isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return value if isinstance(value, Hashable) else None


def _hashable(value: Any, where: str) -> Hashable:
    if isinstance(value, list | dict):
        raise ValueError(f"{where}: a frame / image id must be a number or a name, got {value!r}")
    return value


def _trailing_number(name: str) -> int | None:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else None


def _natural_key(name: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part)


def _frame_number(key: Hashable) -> int | None:
    """The frame number of an image id: the integer itself, or the integer ending a file name."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int | np.integer):
        return int(key)
    if isinstance(key, float) and key.is_integer():
        return int(key)
    if isinstance(key, str):
        return _trailing_number(Path(key.replace("\\", "/")).stem)
    return None


# --- Assembling frames and persons --------------------------------------------------------------------------


def _order_frames(keys: Sequence[Hashable], complete: bool, path: Path) -> tuple[np.ndarray, dict]:
    """``(frame_ids, frame index of each key)``: the keys in order, gaps between integer ids filled."""
    listed = list(dict.fromkeys(keys))
    if not complete:
        numbers = [_frame_number(key) for key in listed]
        if None not in numbers and len(set(numbers)) == len(numbers):
            first, last = min(numbers), max(numbers)
            frame_ids = np.arange(first, last + 1, dtype=np.int64)
            if len(frame_ids) > 2 * len(listed):
                warnings.warn(
                    f"{path}: frames {first}..{last} are read as one video, but only {len(listed)} of them have "
                    "detections; the others are empty frames",
                    stacklevel=4,
                )
            return frame_ids, {key: number - first for key, number in zip(listed, numbers, strict=True)}
    return np.asarray(listed), {key: position for position, key in enumerate(listed)}


def _missing(points: np.ndarray, confidence_threshold: float) -> np.ndarray:
    """bool ``(..., joints)``: undetected joints of ``(..., joints, 3)`` x, y, score points."""
    x, y, score = points[..., 0], points[..., 1], points[..., 2]
    return ~np.isfinite(x) | ~np.isfinite(y) | ((x == 0) & (y == 0)) | ~(score > confidence_threshold) | (score == 0)


def _warn_if_normalised(keypoints: np.ndarray, path: Path, file_format: str) -> None:
    finite = keypoints[np.isfinite(keypoints)]
    if finite.size and np.abs(finite).max() <= 1.0:
        warnings.warn(
            f"{path}: every {file_format} coordinate lies within [-1, 1]; the file may hold normalised coordinates "
            "(OpenPose --keypoint_scale) rather than pixels",
            stacklevel=4,
        )


def _assemble(
    parsed: _Parsed, path: Path, file_format: str, confidence_threshold: float, image_size: tuple[int, int] | None
) -> KeypointTracks:
    frame_ids, frame_of = _order_frames(parsed.frame_keys, parsed.complete, path)
    frame_index = np.fromiter((frame_of[key] for key in parsed.detection_frames), np.int64, len(parsed.points))
    missing = _missing(parsed.points, confidence_threshold)
    keypoints = np.where(missing[..., None], np.nan, parsed.points[..., :2])
    scores = np.where(missing, 0.0, parsed.points[..., 2])
    _warn_if_normalised(keypoints, path, file_format)
    tracks = assemble_tracks(
        frame_index, keypoints, scores, len(frame_ids), parsed.boxes, parsed.track_ids, source=str(path)
    )
    return KeypointTracks(
        keypoints=tracks.keypoints,
        scores=tracks.scores,
        skeleton=parsed.skeleton,
        track_ids=tracks.track_ids,
        frame_ids=frame_ids,
        file_format=file_format,
        image_size=image_size,
        path=path,
    )


# --- MediaPipe ----------------------------------------------------------------------------------------------


def _load_array(path: Path) -> np.ndarray:
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ValueError(f"{path}: expected a .npy or .npz file: {_LAYOUTS['mediapipe']}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable numeric .npy/.npz file ({error})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return loaded
    with loaded:
        names = list(loaded.files)
        if len(names) != 1:
            preferred = [name for name in _MEDIAPIPE_ARRAY_KEYS if name in names]
            if not preferred:
                raise ValueError(
                    f"{path}: holds arrays {names}; expected one array, or one named {list(_MEDIAPIPE_ARRAY_KEYS)}"
                )
            names = preferred
        try:
            return loaded[names[0]]
        except ValueError as error:
            raise ValueError(f"{path}: array {names[0]!r} is not numeric ({error})") from None


def _read_mediapipe(path: Path, confidence_threshold: float, image_size: tuple[int, int] | None) -> KeypointTracks:
    array = _load_array(path)
    if (
        array.ndim not in (3, 4)
        or array.shape[-2] != _MEDIAPIPE_JOINTS
        or array.shape[-1] not in (2, 3, 4)
        or not np.issubdtype(array.dtype, np.number)
    ):
        raise ValueError(f"{path}: array of shape {array.shape} ({array.dtype}); expected {_LAYOUTS['mediapipe']}")
    if array.ndim == 3:
        array = array[None]
    array = array.astype(np.float64)
    coordinates = array[..., :2]
    if array.shape[3] == 4:
        visibility = array[..., 3]
    else:
        visibility = np.where(np.isfinite(coordinates).all(axis=-1), 1.0, 0.0)
    points = np.concatenate([coordinates, visibility[..., None]], axis=-1)
    missing = _missing(points, confidence_threshold)
    largest = np.abs(coordinates[~missing]).max(initial=0.0)
    if largest > 2.0:
        warnings.warn(
            f"{path}: coordinates reach {largest:.4g}, far outside MediaPipe's normalised [0, 1] range; are they "
            "already pixels?",
            stacklevel=3,
        )
    if image_size is not None:
        coordinates = coordinates * np.asarray(image_size, dtype=np.float64)
    else:
        warnings.warn(
            f"{path}: no image_size given, so MediaPipe keypoints stay in normalised image units ([0, 1] of the "
            "width and height), not pixels",
            stacklevel=3,
        )
    return KeypointTracks(
        keypoints=np.where(missing[..., None], np.nan, coordinates),
        scores=np.where(missing, 0.0, visibility),
        skeleton="mediapipe33",
        track_ids=list(range(array.shape[0])),
        frame_ids=np.arange(array.shape[1]),
        file_format="mediapipe",
        image_size=image_size,
        path=path,
    )
