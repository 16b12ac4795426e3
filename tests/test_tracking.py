"""Linking per-frame detections into person tracks (mpm_hf.tracking)."""

from __future__ import annotations

import numpy as np
import pytest

from mpm_hf.tracking import MAX_GAP, assemble_tracks, box_iou, keypoint_boxes, keypoint_similarity, link_detections


def _person(origin: tuple[float, float], frame: int, num_joints: int = 5) -> np.ndarray:
    """A (num_joints, 2) person of about 60 x 160 px at ``origin``, walking 3 px per frame."""
    template = np.random.default_rng(num_joints).uniform(0, 1, size=(num_joints, 2)) * (60.0, 160.0)
    template[0], template[1] = (0.0, 0.0), (60.0, 160.0)  # the box corners
    return template + origin + (3.0 * frame, 0.0)


def test_box_iou_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [5, 5, 5, 8]], dtype=np.float64)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=np.float64)
    iou = box_iou(a, b)
    assert iou.shape == (4, 3)
    np.testing.assert_allclose(iou[0], (1.0, 50 / 150, 0.0))
    np.testing.assert_array_equal(iou[2:], 0.0)  # NaN box, zero-area box


def test_keypoint_boxes_ignore_missing_joints():
    keypoints = np.array([[[1, 5], [np.nan, np.nan], [4, 2]], [[np.nan, np.nan]] * 3], dtype=np.float64)
    boxes = keypoint_boxes(keypoints)
    np.testing.assert_array_equal(boxes[0], (1, 2, 4, 5))
    assert np.isnan(boxes[1]).all()


def test_keypoint_similarity():
    a = _person((0, 0), 0)[None]
    box = keypoint_boxes(a)
    shifted = a + (0.0, 0.15 * np.hypot(60, 160))  # every joint one sigma of the diagonal away
    far = a + 500.0
    no_common = np.full_like(a, np.nan)
    no_common[0, 2] = a[0, 2]
    a_without_2 = a.copy()
    a_without_2[0, 2] = np.nan
    b = np.concatenate([a, shifted, far])
    similarity = keypoint_similarity(a, box, b, keypoint_boxes(b))
    np.testing.assert_allclose(similarity[0], (1.0, np.exp(-0.5), 0.0), atol=1e-12)
    assert keypoint_similarity(a_without_2, box, no_common, box)[0, 0] == 0.0


def test_linking_keeps_persons_apart_whatever_the_listing_order():
    frames, keypoints = [], []
    for frame in range(20):
        people = [_person((100, 50), frame), _person((400, 60), frame)]
        if frame % 2:
            people.reverse()
        frames += [frame, frame]
        keypoints += people
    track = link_detections(np.array(frames), np.array(keypoints))
    assert track.max() == 1
    left = np.array(keypoints)[:, 0, 0] < 300
    assert len(set(track[left])) == 1 and len(set(track[~left])) == 1 and track[0] == 0


def test_a_track_survives_a_short_gap_but_not_a_long_one():
    def link(gap: int) -> np.ndarray:
        frames = [f for f in range(30) if not 10 <= f < 10 + gap]
        return link_detections(np.array(frames), np.array([_person((100, 50), f) for f in frames]))

    assert (link(MAX_GAP) == 0).all()
    track = link(MAX_GAP + 1)
    assert track.max() == 1 and (track[:10] == 0).all() and (track[10:] == 1).all()


def test_a_new_person_starts_a_new_track_and_one_joint_detections_link_by_keypoints():
    frames = np.array([0, 1, 1, 2, 2, 3])
    keypoints = np.full((6, 5, 2), np.nan)
    keypoints[0] = _person((100, 50), 0)  # seen whole once: a person is about 170 px across
    keypoints[1:, 2] = keypoints[0, 2] + [[2, 0], [400, 300], [4, 1], [402, 300], [6, 1]]  # then one joint
    track = link_detections(frames, keypoints)  # single joints: zero-area boxes, no IoU
    np.testing.assert_array_equal(track, (0, 0, 1, 0, 1, 0))


def test_file_boxes_are_used_for_linking():
    frames = np.array([0, 1])
    keypoints = np.stack([_person((100, 50), 0), _person((100, 50), 0) + 400.0])  # the keypoints jump away
    boxes = np.array([[100, 50, 160, 210], [102, 50, 162, 210]], dtype=np.float64)
    assert link_detections(frames, keypoints).tolist() == [0, 1]
    assert link_detections(frames, keypoints, boxes).tolist() == [0, 0]


def test_assemble_tracks_groups_by_unique_ids_and_links_repeated_ones():
    frames = np.array([0, 0, 2, 2])
    keypoints = np.stack([_person((400, 60), 0), _person((100, 50), 0), _person((100, 50), 2), _person((400, 60), 2)])
    scores = np.full((4, 5), 0.5)
    tracks = assemble_tracks(frames, keypoints, scores, num_frames=4, track_ids=["b", "a", "a", "b"])
    assert tracks.track_ids == ["b", "a"] and not tracks.linked
    assert tracks.keypoints.shape == (2, 4, 5, 2) and tracks.scores.shape == (2, 4, 5)
    np.testing.assert_array_equal(tracks.keypoints[1, 2], keypoints[2].astype(np.float32))
    assert np.isnan(tracks.keypoints[:, [1, 3]]).all() and (tracks.scores[:, [1, 3]] == 0).all()

    with pytest.warns(UserWarning, match="clip.json: track ids repeat within a frame"):
        linked = assemble_tracks(frames, keypoints, scores, 4, track_ids=[0, 0, 0, 0], source="clip.json")
    assert linked.linked and linked.track_ids == [0, 1]
    np.testing.assert_array_equal(linked.keypoints[0, 2], keypoints[3].astype(np.float32))  # right-hand person


def test_assemble_tracks_drops_empty_detections_and_checks_frames():
    keypoints = np.stack([_person((100, 50), 0), np.full((5, 2), np.nan)])
    tracks = assemble_tracks(np.array([0, 1]), keypoints, np.ones((2, 5)), num_frames=2)
    assert tracks.keypoints.shape == (1, 2, 5, 2) and np.isnan(tracks.keypoints[0, 1]).all()
    with pytest.raises(ValueError, match=r"frame_index: expected frames in \[0, 2\), got 0..5"):
        assemble_tracks(np.array([0, 5]), keypoints, np.ones((2, 5)), num_frames=2)
    with pytest.raises(ValueError, match=r"scores: expected shape \(2, 5\)"):
        assemble_tracks(np.array([0, 1]), keypoints, np.ones((2, 4)), num_frames=2)
