"""Detector file readers: OpenPose, MMPose, AlphaPose, COCO results and MediaPipe files written into tmp_path."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from mpm_hf.keypoints import get_skeleton
from mpm_hf.readers import FILE_FORMATS, KeypointTracks, detect_file_format, read_keypoints

# The scene every format is written from: a main person in every frame but EMPTY_FRAME, and a bystander (listed
# first wherever both are present) far to the right in fewer frames, with lower scores.
NUM_FRAMES = 8
EMPTY_FRAME = 3
BYSTANDER_FRAMES = (0, 1, 2, 4, 5)
MAIN_ORIGIN, BYSTANDER_ORIGIN = (200.0, 150.0), (900.0, 200.0)
ZERO_POINT = (1, 4)  # (frame, joint) of the main person written at (0, 0) with a real score
ZERO_SCORE = (2, 6)  # (frame, joint) of the main person written with score 0


def _pose(num_joints: int, origin: tuple[float, float], frame: int) -> np.ndarray:
    template = np.random.default_rng(num_joints).uniform(0, 1, size=(num_joints, 2)) * (120.0, 300.0)
    return np.round(template + origin + frame * np.array([4.0, 1.0]), 2)


def _scene(num_joints: int) -> list[list[tuple[str, np.ndarray, np.ndarray]]]:
    """Per frame, the detections ``(who, keypoints (J, 2) pixels, scores (J,))`` in listed order."""
    frames = []
    for frame in range(NUM_FRAMES):
        people = []
        if frame != EMPTY_FRAME:
            if frame in BYSTANDER_FRAMES:
                people.append(("bystander", _pose(num_joints, BYSTANDER_ORIGIN, frame), np.full(num_joints, 0.6)))
            main, scores = _pose(num_joints, MAIN_ORIGIN, frame), np.full(num_joints, 0.9)
            if frame == ZERO_POINT[0]:
                main[ZERO_POINT[1]] = 0.0
            if frame == ZERO_SCORE[0]:
                scores[ZERO_SCORE[1]] = 0.0
            people.append(("main", main, scores))
        frames.append(people)
    return frames


def _expected_main(num_joints: int) -> np.ndarray:
    expected = np.stack([_pose(num_joints, MAIN_ORIGIN, frame) for frame in range(NUM_FRAMES)]).astype(np.float32)
    expected[EMPTY_FRAME] = np.nan
    expected[ZERO_POINT] = np.nan
    expected[ZERO_SCORE] = np.nan
    return expected


def _flat(keypoints: np.ndarray, scores: np.ndarray) -> list[float]:
    return np.concatenate([keypoints, scores[:, None]], axis=1).ravel().tolist()


def _xyxy(keypoints: np.ndarray) -> list[float]:
    return [*keypoints.min(axis=0).tolist(), *keypoints.max(axis=0).tolist()]


def _write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def _write_openpose(folder: Path, num_joints: int, ids: dict | None = None, padded: bool = True) -> Path:
    folder.mkdir()
    for frame, people in enumerate(_scene(num_joints)):
        name = f"clip_{frame:012d}_keypoints.json" if padded else f"clip_{frame}_keypoints.json"
        _write_json(
            folder / name,
            {
                "version": 1.3,
                "people": [
                    {
                        "person_id": [ids[who] if ids else -1],
                        "pose_keypoints_2d": _flat(keypoints, scores),
                        "face_keypoints_2d": [],
                        "hand_left_keypoints_2d": [],
                    }
                    for who, keypoints, scores in people
                ],
            },
        )
    return folder


def _mmpose_frames(num_joints: int, track_ids: dict | None, nested_bbox: bool, drop_empty: bool) -> list:
    frames = []
    for frame, people in enumerate(_scene(num_joints)):
        if drop_empty and not people:
            continue
        instances = []
        for who, keypoints, scores in people:
            instance = {
                "keypoints": keypoints.tolist(),
                "keypoint_scores": scores.tolist(),
                "bbox": [_xyxy(keypoints)] if nested_bbox else _xyxy(keypoints),
                "bbox_score": 0.95,
            }
            if track_ids:
                instance["track_id"] = track_ids[who]
            instances.append(instance)
        frames.append({"frame_id": frame, "instances": instances})
    return frames


def _coco_results(num_joints: int, image_id, with_box: bool, idx=None) -> list:
    results = []
    for frame, people in enumerate(_scene(num_joints)):
        for who, keypoints, scores in people:
            detection = {
                "image_id": image_id(frame),
                "category_id": 1,
                "keypoints": _flat(keypoints, scores),
                "score": 2.5,
            }
            if with_box:
                x1, y1, x2, y2 = _xyxy(keypoints)
                detection["box"] = [x1, y1, x2 - x1, y2 - y1]
            if idx is not None:
                detection["idx"] = idx[who]
            results.append(detection)
    return results


def _check_scene(tracks: KeypointTracks, file_format: str, skeleton: str, num_persons: int = 2) -> int:
    """Common assertions; returns the main track's index."""
    num_joints = get_skeleton(skeleton).num_joints
    assert tracks.file_format == file_format and tracks.skeleton == skeleton
    assert tracks.num_frames == NUM_FRAMES and tracks.num_persons == num_persons
    assert tracks.keypoints.shape == (num_persons, NUM_FRAMES, num_joints, 2)
    assert tracks.keypoints.dtype == np.float32 and tracks.scores.dtype == np.float32
    main = tracks.main_track()
    keypoints, valid = tracks.person(main)
    expected = _expected_main(num_joints)
    np.testing.assert_allclose(keypoints, expected, rtol=1e-6)  # NaN at the same places
    np.testing.assert_array_equal(valid, np.isfinite(expected).all(axis=-1))
    assert not valid[EMPTY_FRAME].any() and not valid[ZERO_POINT] and not valid[ZERO_SCORE]
    np.testing.assert_allclose(tracks.scores[main][valid], 0.9, rtol=1e-6)
    assert (tracks.scores[main][~valid] == 0).all()
    if num_persons == 2:
        bystander = tracks.valid[1 - main].any(axis=-1)
        np.testing.assert_array_equal(np.flatnonzero(bystander), BYSTANDER_FRAMES)
    return main


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- OpenPose -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("num_joints", "skeleton"), [(25, "body25"), (18, "coco18")])
def test_openpose_folder(tmp_path, num_joints, skeleton, no_warnings):
    folder = _write_openpose(tmp_path / "json", num_joints)
    assert detect_file_format(folder) == "openpose"
    tracks = read_keypoints(folder)
    main = _check_scene(tracks, "openpose", skeleton)
    assert main == 1 and tracks.track_ids == [0, 1]  # linked: the bystander, listed first, is track 0
    np.testing.assert_array_equal(tracks.frame_ids, np.arange(NUM_FRAMES))
    assert tracks.image_size is None and tracks.path == folder


def test_openpose_files_are_sorted_by_frame_number_not_by_name(tmp_path):
    folder = _write_openpose(tmp_path / "json", 25, padded=False)  # clip_10 would sort before clip_2 by name
    for frame in range(NUM_FRAMES, 12):
        _write_json(folder / f"clip_{frame}_keypoints.json", {"people": []})
    tracks = read_keypoints(folder)
    np.testing.assert_array_equal(tracks.frame_ids, np.arange(12))
    keypoints, valid = tracks.person(tracks.main_track())
    np.testing.assert_allclose(keypoints[:NUM_FRAMES], _expected_main(25), rtol=1e-6)
    assert not valid[NUM_FRAMES:].any()


def test_openpose_person_ids_are_track_ids(tmp_path):
    folder = _write_openpose(tmp_path / "json", 25, ids={"bystander": 3, "main": 7})
    tracks = read_keypoints(folder)
    main = _check_scene(tracks, "openpose", "body25")
    assert tracks.track_ids == [3, 7] and tracks.track_ids[main] == 7


def test_openpose_single_frame_file(tmp_path):
    folder = _write_openpose(tmp_path / "json", 25)
    tracks = read_keypoints(folder / "clip_000000000004_keypoints.json")
    assert tracks.file_format == "openpose" and tracks.num_frames == 1 and tracks.num_persons == 2
    np.testing.assert_array_equal(tracks.frame_ids, [4])
    np.testing.assert_allclose(tracks.person(tracks.main_track())[0][0], _pose(25, MAIN_ORIGIN, 4), rtol=1e-6)


def test_openpose_irregular_frame_numbers_warn(tmp_path):
    folder = _write_openpose(tmp_path / "json", 25)
    (folder / "clip_000000000005_keypoints.json").unlink()
    with pytest.warns(UserWarning, match="irregularly spaced"):
        tracks = read_keypoints(folder)
    assert tracks.num_frames == NUM_FRAMES - 1  # one frame per file


# --- MMPose -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("num_joints", "skeleton"), [(17, "coco"), (26, "halpe")])
def test_mmpose_predictions_without_track_ids(tmp_path, num_joints, skeleton, no_warnings):
    path = _write_json(tmp_path / "predictions.json", _mmpose_frames(num_joints, None, True, drop_empty=False))
    assert detect_file_format(path) == "mmpose"
    tracks = read_keypoints(path)
    assert _check_scene(tracks, "mmpose", skeleton) == 1
    np.testing.assert_array_equal(tracks.frame_ids, np.arange(NUM_FRAMES))


def test_mmpose_predictions_with_track_ids(tmp_path, no_warnings):
    ids = {"bystander": 12, "main": 5}
    path = _write_json(tmp_path / "predictions.json", _mmpose_frames(17, ids, True, drop_empty=False))
    tracks = read_keypoints(path)
    main = _check_scene(tracks, "mmpose", "coco")
    assert tracks.track_ids == [12, 5] and tracks.track_ids[main] == 5


def test_mmpose_demo_instance_info_with_a_frame_left_out(tmp_path, no_warnings):
    frames = _mmpose_frames(17, None, nested_bbox=False, drop_empty=True)
    assert len(frames) == NUM_FRAMES - 1
    path = _write_json(tmp_path / "results.json", {"meta_info": {"dataset_name": "coco"}, "instance_info": frames})
    tracks = read_keypoints(path)
    _check_scene(tracks, "mmpose", "coco")  # the left-out frame is back, empty
    np.testing.assert_array_equal(tracks.frame_ids, np.arange(NUM_FRAMES))


def test_mmpose_single_image_instances(tmp_path):
    instances = _mmpose_frames(17, None, True, drop_empty=False)[0]["instances"]
    tracks = read_keypoints(_write_json(tmp_path / "image.json", {"meta_info": {}, "instance_info": instances}))
    assert tracks.num_frames == 1 and tracks.num_persons == 2


# --- AlphaPose and COCO results -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "idx",
    [
        {"bystander": 2, "main": 1},
        {"bystander": 2.0, "main": 1.0},
        {"bystander": [2.0], "main": [1.0]},
    ],
    ids=["int", "float", "list"],
)
def test_alphapose_with_idx(tmp_path, idx, no_warnings):
    path = _write_json(tmp_path / "alphapose-results.json", _coco_results(26, lambda f: f"{f}.jpg", True, idx))
    assert detect_file_format(path) == "alphapose"
    tracks = read_keypoints(path)  # image 3.jpg (nobody) is absent from the file
    main = _check_scene(tracks, "alphapose", "halpe")
    assert tracks.track_ids == [2, 1] and tracks.track_ids[main] == 1
    assert all(type(i) is int for i in tracks.track_ids)
    np.testing.assert_array_equal(tracks.frame_ids, np.arange(NUM_FRAMES))


def test_alphapose_without_idx_is_linked(tmp_path, no_warnings):
    path = _write_json(tmp_path / "alphapose-results.json", _coco_results(17, lambda f: f"{f:06d}.jpg", True))
    tracks = read_keypoints(path)
    assert _check_scene(tracks, "alphapose", "coco") == 1 and tracks.track_ids == [0, 1]


def test_alphapose_pose_nms_idx_repeating_in_a_frame_is_not_a_track_id(tmp_path):
    # Without tracking AlphaPose writes the merged detection ids, all [0.0]: they do not tell persons apart.
    idx = {"bystander": [0.0], "main": [0.0, 0.0]}
    path = _write_json(tmp_path / "alphapose-results.json", _coco_results(17, lambda f: f"{f}.jpg", True, idx))
    with pytest.warns(UserWarning, match="repeat within a frame"):
        tracks = read_keypoints(path)
    assert _check_scene(tracks, "alphapose", "coco") == 1 and tracks.track_ids == [0, 1]


@pytest.mark.parametrize(("num_joints", "skeleton", "kept"), [(136, "halpe", 26), (133, "coco", 17)])
def test_whole_body_results_keep_their_body_joints(tmp_path, num_joints, skeleton, kept):
    path = _write_json(tmp_path / "alphapose-results.json", _coco_results(num_joints, str, True))
    tracks = read_keypoints(path)
    assert tracks.skeleton == skeleton and tracks.keypoints.shape[2] == kept
    keypoints, _ = tracks.person(tracks.main_track())
    np.testing.assert_allclose(keypoints[0], _pose(num_joints, MAIN_ORIGIN, 0)[:kept], rtol=1e-6)


def test_coco_results_with_gaps_in_image_ids(tmp_path, no_warnings):
    results = [r for r in _coco_results(17, lambda f: 100 + f, False) if r["image_id"] != 105]
    path = _write_json(tmp_path / "keypoints_results.json", results)
    assert detect_file_format(path) == "coco"
    tracks = read_keypoints(path)
    assert tracks.file_format == "coco" and tracks.num_frames == NUM_FRAMES
    np.testing.assert_array_equal(tracks.frame_ids, np.arange(100, 100 + NUM_FRAMES))
    keypoints, valid = tracks.person(tracks.main_track())
    expected = _expected_main(17)
    expected[5] = np.nan  # image 105 was removed from the file
    np.testing.assert_allclose(keypoints, expected, rtol=1e-6)
    assert not valid[EMPTY_FRAME].any() and not valid[5].any()


def test_image_names_without_frame_numbers_keep_the_listed_order(tmp_path):
    names = ["walk.jpg", "run.jpg", "jump.jpg", "sit.jpg", "stand.jpg", "wave.jpg", "kick.jpg", "bow.jpg"]
    path = _write_json(tmp_path / "results.json", _coco_results(17, names.__getitem__, False))
    tracks = read_keypoints(path)
    listed = [name for frame, name in enumerate(names) if frame != EMPTY_FRAME]
    assert tracks.frame_ids.tolist() == listed  # nothing to fill: the frame with nobody is unknown
    keypoints, _ = tracks.person(tracks.main_track())
    frames = [frame for frame in range(NUM_FRAMES) if frame != EMPTY_FRAME]
    np.testing.assert_allclose(keypoints, _expected_main(17)[frames], rtol=1e-6)


def test_sparse_image_ids_warn(tmp_path):
    results = _coco_results(17, lambda f: f * 1000, False)
    with pytest.warns(UserWarning, match="only 7 of them have detections"):
        tracks = read_keypoints(_write_json(tmp_path / "results.json", results))
    assert tracks.num_frames == 7001


def test_confidence_threshold_removes_the_low_score_bystander(tmp_path):
    path = _write_json(tmp_path / "alphapose-results.json", _coco_results(17, str, True))
    tracks = read_keypoints(path, confidence_threshold=0.7)
    assert tracks.num_persons == 1 and tracks.main_track() == 0
    _check_scene(tracks, "alphapose", "coco", num_persons=1)
    negative = read_keypoints(path, confidence_threshold=-1.0)  # a score of 0 is missing whatever the threshold
    _check_scene(negative, "alphapose", "coco")


def test_explicit_format_and_image_size(tmp_path):
    path = _write_json(tmp_path / "alphapose-results.json", _coco_results(17, str, True))
    tracks = read_keypoints(path, file_format="coco", image_size=(1920, 1080))
    assert tracks.file_format == "coco" and tracks.image_size == (1920, 1080)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*'people'"):
        read_keypoints(path, file_format="openpose")
    with pytest.raises(ValueError, match="file_format: expected one of"):
        read_keypoints(path, file_format="yolo")


# --- MediaPipe ----------------------------------------------------------------------------------------------


def _mediapipe_array(channels: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    xy, z = rng.uniform(0.2, 0.8, size=(NUM_FRAMES, 33, 2)), rng.normal(size=(NUM_FRAMES, 33, 1))
    array = np.concatenate([xy, z, np.full((NUM_FRAMES, 33, 1), 0.9)], axis=-1)[..., :channels]
    array[EMPTY_FRAME] = np.nan  # nobody
    if channels == 4:
        array[1, 25, 3] = 0.0  # left knee not visible
    return array


def test_mediapipe_with_image_size(tmp_path, no_warnings):
    array = _mediapipe_array(4)
    path = tmp_path / "landmarks.npy"
    np.save(path, array)
    assert detect_file_format(path) == "mediapipe"
    tracks = read_keypoints(path, image_size=(640, 480))
    assert tracks.skeleton == "mediapipe33" and tracks.file_format == "mediapipe"
    assert tracks.keypoints.shape == (1, NUM_FRAMES, 33, 2) and tracks.image_size == (640, 480)
    keypoints, valid = tracks.person(tracks.main_track())
    expected = array[..., :2] * (640.0, 480.0)
    expected[1, 25] = np.nan
    np.testing.assert_allclose(keypoints, expected, rtol=1e-6)
    assert valid.sum() == (NUM_FRAMES - 1) * 33 - 1
    np.testing.assert_allclose(tracks.scores[0][valid], 0.9, rtol=1e-6)
    np.testing.assert_array_equal(tracks.frame_ids, np.arange(NUM_FRAMES))


@pytest.mark.parametrize("channels", [2, 3])
def test_mediapipe_without_image_size_stays_normalised(tmp_path, channels):
    array = _mediapipe_array(channels)
    path = tmp_path / "landmarks.npz"
    np.savez(path, landmarks=array, fps=np.float32(30))
    with pytest.warns(UserWarning, match=r"normalised image units \(\[0, 1\]"):
        tracks = read_keypoints(path)
    assert tracks.image_size is None
    keypoints, valid = tracks.person(0)
    np.testing.assert_allclose(keypoints, array[..., :2], rtol=1e-6)
    assert not valid[EMPTY_FRAME].any() and valid.sum() == (NUM_FRAMES - 1) * 33
    assert (tracks.scores[0][valid] == 1).all()  # no visibility: every finite landmark counts


def test_mediapipe_pixels_warn(tmp_path):
    path = tmp_path / "landmarks.npy"
    np.save(path, _mediapipe_array(4) * 500)
    with pytest.warns(UserWarning, match="already pixels"):
        read_keypoints(path, image_size=(640, 480))


# --- KeypointTracks -----------------------------------------------------------------------------------------


def test_main_track_tie_goes_to_the_higher_mean_score():
    keypoints = np.ones((3, 4, 17, 2), np.float32)
    keypoints[2, :2] = np.nan  # person 2 is seen in fewer frames
    scores = np.where(np.isfinite(keypoints[..., 0]), 1.0, 0.0).astype(np.float32)
    scores[0] *= 0.5
    scores[1] *= 0.8
    scores[2] *= 0.99
    tracks = KeypointTracks(keypoints, scores, "coco", ["a", "b", "c"], np.arange(4), "coco")
    assert tracks.main_track() == 1
    array = tracks.to_array()
    assert array.shape == (3, 4, 17, 3)
    np.testing.assert_array_equal(array[..., 2], scores)
    assert np.isnan(array[2, :2, :, :2]).all()


def test_keypoint_tracks_validation():
    keypoints, scores = np.zeros((1, 2, 17, 2)), np.ones((1, 2, 17))
    with pytest.raises(ValueError, match=r"keypoints: expected shape \(persons, frames, 26, 2\)"):
        KeypointTracks(keypoints, scores, "halpe", [0], np.arange(2), "alphapose")
    with pytest.raises(ValueError, match=r"scores: expected shape \(1, 2, 17\)"):
        KeypointTracks(keypoints, scores[..., :3], "coco", [0], np.arange(2), "coco")
    with pytest.raises(ValueError, match="track_ids: expected 1 ids"):
        KeypointTracks(keypoints, scores, "coco", [0, 1], np.arange(2), "coco")
    with pytest.raises(ValueError, match=r"frame_ids: expected shape \(2,\)"):
        KeypointTracks(keypoints, scores, "coco", [0], np.arange(3), "coco")
    with pytest.raises(ValueError, match="file_format"):
        KeypointTracks(keypoints, scores, "coco", [0], np.arange(2), "yolo")
    with pytest.raises(ValueError, match="Unknown skeleton"):
        KeypointTracks(keypoints, scores, "body17", [0], np.arange(2), "coco")
    keypoints[0, 0, 3] = np.nan
    with pytest.raises(ValueError, match="expected 0 at missing joints"):
        KeypointTracks(keypoints, scores, "coco", [0], np.arange(2), "coco")
    with pytest.raises(ValueError, match="nobody was detected"):
        KeypointTracks(np.zeros((0, 2, 17, 2)), np.zeros((0, 2, 17)), "coco", [], np.arange(2), "coco").main_track()
    assert set(FILE_FORMATS) == {"openpose", "mmpose", "alphapose", "coco", "mediapipe"}


# --- Malformed input ----------------------------------------------------------------------------------------


def _alphapose_with(**changes) -> list:
    results = _coco_results(17, str, True)
    for position, change in changes.items():
        results[int(position[1:])].update(change)
    return results


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.json", "[{'image_id': 1,", "not valid JSON"),
        ("empty.json", "[]", "an empty JSON list; expected an OpenPose"),
        ("scalar.json", "3", "a JSON int; expected an OpenPose"),
        ("object.json", json.dumps({"annotations": []}), r"keys \['annotations'\]"),
        ("short.json", json.dumps(_alphapose_with(d2={"keypoints": [1.0] * 50})), "'keypoints' has 50 values"),
        ("twenty.json", json.dumps(_alphapose_with(d0={"keypoints": [1.0] * 60}, d1={"keypoints": [1.0] * 60})),
         r"\[17, 20\] joints"),
        ("unknown.json", json.dumps(_coco_results(20, str, True)), "20 joints; expected 17 .COCO., 26"),
        ("text.json", json.dumps(_alphapose_with(d1={"keypoints": ["a"] * 51})), "lists of numbers"),
        ("box.json", json.dumps(_alphapose_with(d1={"box": [1, 2, 3]})), "detection 1: expected a box of 4"),
        ("mmpose.json", json.dumps([{"frame_id": 0, "instances": [{"keypoints": [[1, 2]] * 17,
                                                                   "keypoint_scores": [1] * 16}]}]),
         "one 'keypoint_scores' entry each"),
        ("poses.txt", "1 2 3", r"expected a \.json, \.npy or \.npz"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 16 else "",
)  # fmt: skip
def test_malformed_json_raises_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        read_keypoints(path)


def test_malformed_openpose_frame_is_named(tmp_path):
    folder = _write_openpose(tmp_path / "json", 25)
    bad = folder / "clip_000000000006_keypoints.json"
    _write_json(bad, {"people": [{"person_id": [-1], "pose_keypoints_2d": [1.0] * 90}]})
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ".*90 values; expected 75 .BODY_25. or 54"):
        read_keypoints(folder)
    _write_json(bad, {"people": [{"pose_keypoints_2d": [1.0] * 54}]})
    with pytest.raises(ValueError, match=r"\[18, 25\] joints in different frames"):
        read_keypoints(folder)
    _write_json(bad, {"version": 1.3})
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ".*no 'people' list"):
        read_keypoints(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=re.escape(str(empty)) + ".*no \\*_keypoints.json files"):
        read_keypoints(empty)


def test_malformed_arrays_raise_and_are_never_unpickled(tmp_path):
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=re.escape(str(pickled)) + ".*not a readable numeric"):
        read_keypoints(pickled)
    wrong = tmp_path / "coco.npy"
    np.save(wrong, np.zeros((4, 17, 2)))
    with pytest.raises(ValueError, match=re.escape(str(wrong)) + r".*\(4, 17, 2\).*expected MediaPipe"):
        read_keypoints(wrong)
    several = tmp_path / "several.npz"
    np.savez(several, a=np.zeros((4, 33, 2)), b=np.zeros((4, 33, 2)))
    with pytest.raises(ValueError, match=re.escape(str(several)) + r".*holds arrays \['a', 'b'\]"):
        read_keypoints(several)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        read_keypoints(tmp_path / "missing.json")


def test_a_file_in_no_known_layout_is_an_unknown_layout_error(tmp_path):
    from mpm_hf.readers import UnknownLayoutError

    path = tmp_path / "frames.json"
    path.write_text(json.dumps([[[1.0, 2.0]] * 17] * 3))  # a plain list of frames: no detector's layout
    with pytest.raises(UnknownLayoutError, match="frames.json: a JSON list starting") as unknown:
        read_keypoints(path)
    assert unknown.value.content == [[[1.0, 2.0]] * 17] * 3  # parsed once: a fallback reader gets it as it is
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON") as error:
        read_keypoints(broken)
    assert not isinstance(error.value, UnknownLayoutError)  # malformed is not "some other layout"
