"""Skeletons, keypoint conversions and flipping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpm_hf.keypoints import (
    BODY_25,
    COCO_17,
    COCO_18,
    H36M_17,
    H36M_32,
    H36M_32_TO_17,
    HALPE_26,
    MEDIAPIPE_33,
    MPI_INF_3DHP_16,
    MPI_INF_3DHP_17,
    MPII_16,
    SKELETONS,
    Skeleton,
    convert_keypoints,
    flip_poses,
    get_skeleton,
)

H36M = {name: i for i, name in enumerate(H36M_17.joint_names)}


def _points(skeleton: Skeleton, coords: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(3, skeleton.num_joints, coords)).astype(np.float32)


def test_registry_and_lookup():
    assert set(SKELETONS) == {
        "h36m", "h36m32", "mpii", "coco", "halpe", "body25", "coco18", "mediapipe33", "3dhp", "3dhp16"
    }  # fmt: skip
    assert get_skeleton("h36m") is H36M_17
    assert get_skeleton(H36M_17) is H36M_17
    with pytest.raises(ValueError, match="known skeletons.*h36m"):
        get_skeleton("openpose")


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=list(SKELETONS))
def test_skeleton_structure(skeleton: Skeleton):
    n = skeleton.num_joints
    assert n == len(skeleton.joint_names) == len(skeleton.parents)
    assert skeleton.parents.count(-1) == 1
    perm = skeleton.flip_permutation
    assert sorted(perm) == list(range(n))
    assert all(perm[perm[j]] == j for j in range(n))
    assert len(skeleton.bones) == n - 1
    # Each mirror pair really pairs a left_* joint with the right_* joint of the same name.
    for left, right in zip(skeleton.left_joints, skeleton.right_joints, strict=True):
        left_name, right_name = skeleton.joint_names[left], skeleton.joint_names[right]
        assert left_name.startswith("left_") and right_name == "right_" + left_name[len("left_") :]
    # The tree reaches the root from every joint.
    for joint in range(n):
        seen = set()
        while joint != -1:
            assert joint not in seen
            seen.add(joint)
            joint = skeleton.parents[joint]


def test_h36m_layout_matches_the_paper_notes():
    assert H36M_17.joint_names[:4] == ("pelvis", "right_hip", "right_knee", "right_ankle")
    assert H36M_17.left_joints == (4, 5, 6, 11, 12, 13)
    assert H36M_17.right_joints == (1, 2, 3, 14, 15, 16)
    assert H36M_32_TO_17 == (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
    assert MPI_INF_3DHP_16.joint_names == tuple(n for n in H36M_17.joint_names if n != "neck_nose")


def test_invalid_skeleton_definitions_are_rejected():
    with pytest.raises(ValueError, match="parents"):
        Skeleton("bad", ("a", "b"), (-1,), (), ())
    with pytest.raises(ValueError, match="left joints"):
        Skeleton("bad", ("a", "b"), (-1, 0), (1,), ())


def test_h36m32_to_h36m_picks_the_17_joints():
    kp = _points(H36M_32, 3)
    out, valid = convert_keypoints(kp, "h36m32")
    np.testing.assert_array_equal(out, kp[:, list(H36M_32_TO_17)])
    assert valid.all() and out.dtype == np.float32
    for name in ("pelvis", "thorax", "head", "left_wrist"):  # names agree between the two orders
        np.testing.assert_array_equal(out[:, H36M[name]], kp[:, H36M_32.index(name)])


def test_mpii_to_h36m_rules():
    kp = _points(MPII_16)
    m = {name: kp[:, i] for i, name in enumerate(MPII_16.joint_names)}
    out, valid = convert_keypoints(kp, "mpii")
    pelvis = (m["left_hip"] + m["right_hip"]) / 2
    thorax = (m["left_shoulder"] + m["right_shoulder"]) / 2
    np.testing.assert_allclose(out[:, H36M["pelvis"]], pelvis, rtol=1e-6)
    np.testing.assert_allclose(out[:, H36M["thorax"]], thorax, rtol=1e-6)
    np.testing.assert_allclose(out[:, H36M["spine"]], (pelvis + thorax) / 2, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out[:, H36M["head"]], m["head_top"])
    for name in ("right_ankle", "left_knee", "left_hip", "right_wrist", "left_shoulder", "right_elbow"):
        np.testing.assert_array_equal(out[:, H36M[name]], m[name])
    # MPII has no nose: the neck/nose joint is missing.
    assert np.isnan(out[:, H36M["neck_nose"]]).all()
    assert not valid[:, H36M["neck_nose"]].any()
    assert valid.sum() == 3 * 16


def test_coco_to_h36m_rules():
    kp = np.zeros((1, 17, 2), np.float32)
    c = {name: i for i, name in enumerate(COCO_17.joint_names)}
    kp[0, c["nose"]] = (0.0, 0.0)
    kp[0, c["left_eye"]] = (1.0, -1.0)
    kp[0, c["right_eye"]] = (-1.0, -1.0)
    kp[0, c["left_ear"]] = (3.0, 0.0)
    kp[0, c["right_ear"]] = (-2.0, 0.0)
    kp[0, c["left_shoulder"]] = (4.0, 2.0)
    kp[0, c["right_shoulder"]] = (-4.0, 4.0)
    kp[0, c["left_hip"]] = (2.0, 10.0)
    kp[0, c["right_hip"]] = (-2.0, 12.0)
    kp[0, c["left_wrist"]] = (7.0, 7.0)
    out, valid = convert_keypoints(kp, "coco")
    assert valid.all()
    np.testing.assert_allclose(out[0, H36M["pelvis"]], (0.0, 11.0))
    np.testing.assert_allclose(out[0, H36M["thorax"]], (0.0, 3.0))
    np.testing.assert_allclose(out[0, H36M["spine"]], (0.0, 7.0))
    np.testing.assert_allclose(out[0, H36M["neck_nose"]], (0.0, 0.0))
    # Head: x = mean of eyes and ears (0.25), y = 2 * mid-eyes - nose = -2 (above the eyes).
    np.testing.assert_allclose(out[0, H36M["head"]], (0.25, -2.0))
    np.testing.assert_allclose(out[0, H36M["left_wrist"]], (7.0, 7.0))


def test_coco_head_needs_nose_and_eyes_and_ignores_missing_ears():
    kp = _points(COCO_17)
    kp[0, 1] = np.nan  # left eye missing -> no head
    kp[1, 3] = np.nan  # left ear missing -> head from the other three face points
    out, valid = convert_keypoints(kp, "coco")
    assert not valid[0, H36M["head"]] and np.isnan(out[0, H36M["head"]]).all()
    assert valid[1, H36M["head"]]
    np.testing.assert_allclose(out[1, H36M["head"], 0], kp[1, [1, 2, 4], 0].mean(), rtol=1e-5)


def test_halpe_to_h36m_uses_head_top():
    kp = _points(HALPE_26)
    out, valid = convert_keypoints(kp, "halpe")
    assert valid.all()
    np.testing.assert_array_equal(out[:, H36M["head"]], kp[:, HALPE_26.index("head_top")])
    np.testing.assert_array_equal(out[:, H36M["neck_nose"]], kp[:, HALPE_26.index("nose")])
    np.testing.assert_allclose(out[:, H36M["pelvis"]], kp[:, [11, 12]].mean(axis=1), rtol=1e-6)


def test_openpose_and_mediapipe_layouts_match_their_documentation():
    # OpenPose's BODY_25 / COCO-18 and MediaPipe Pose's landmark indices, as the tools number them.
    assert [BODY_25.joint_names[i] for i in (0, 1, 2, 7, 8, 9, 14, 15, 18, 19, 21, 22, 24)] == [
        "nose", "neck", "right_shoulder", "left_wrist", "mid_hip", "right_hip", "left_ankle", "right_eye",
        "left_ear", "left_big_toe", "left_heel", "right_big_toe", "right_heel",
    ]  # fmt: skip
    assert [COCO_18.joint_names[i] for i in (0, 1, 4, 5, 8, 11, 13, 14, 17)] == [
        "nose", "neck", "right_wrist", "left_shoulder", "right_hip", "left_hip", "left_ankle", "right_eye", "left_ear",
    ]  # fmt: skip
    mediapipe = {
        0: "nose", 2: "left_eye", 5: "right_eye", 7: "left_ear", 8: "right_ear", 11: "left_shoulder",
        12: "right_shoulder", 13: "left_elbow", 14: "right_elbow", 15: "left_wrist", 16: "right_wrist",
        23: "left_hip", 24: "right_hip", 25: "left_knee", 26: "right_knee", 27: "left_ankle", 28: "right_ankle",
        31: "left_foot_index", 32: "right_foot_index",
    }  # fmt: skip
    assert {i: MEDIAPIPE_33.joint_names[i] for i in mediapipe} == mediapipe
    assert (BODY_25.num_joints, COCO_18.num_joints, MEDIAPIPE_33.num_joints) == (25, 18, 33)


def _consistent_h36m_pose(seed: int) -> np.ndarray:
    """A random H36M-17 pose (frames, 17, 2) whose derived joints follow the detector rules exactly: pelvis =
    mid-hips, thorax = mid-shoulders, spine = mid(pelvis, thorax), head straight above the nose (x)."""
    pose = np.random.default_rng(seed).uniform(-100, 100, size=(4, 17, 2)).astype(np.float32)
    pose[:, H36M["pelvis"]] = pose[:, [H36M["left_hip"], H36M["right_hip"]]].mean(axis=1)
    pose[:, H36M["thorax"]] = pose[:, [H36M["left_shoulder"], H36M["right_shoulder"]]].mean(axis=1)
    pose[:, H36M["spine"]] = 0.5 * (pose[:, H36M["pelvis"]] + pose[:, H36M["thorax"]])
    pose[:, H36M["head"], 0] = pose[:, H36M["neck_nose"], 0]
    return pose


def _render(pose: np.ndarray, skeleton: Skeleton, seed: int) -> np.ndarray:
    """``pose`` (H36M-17) drawn as ``skeleton`` keypoints: limbs and nose copied, eyes/ears placed so that the
    face estimate of the head gives the H36M head back; every other joint random."""
    out = np.random.default_rng(seed).uniform(-100, 100, size=(len(pose), skeleton.num_joints, 2))
    out = out.astype(np.float32)
    for name in skeleton.joint_names:
        if name in H36M and name not in ("head",):
            out[:, skeleton.index(name)] = pose[:, H36M[name]]
    nose, head = pose[:, H36M["neck_nose"]], pose[:, H36M["head"]]
    out[:, skeleton.index("nose")] = nose
    eyes_mid = 0.5 * (nose + head)  # so that 2 * mid(eyes) - nose = head
    offset = np.array([8.0, 0.0], np.float32)
    out[:, skeleton.index("left_eye")] = eyes_mid + offset
    out[:, skeleton.index("right_eye")] = eyes_mid - offset
    out[:, skeleton.index("left_ear")] = eyes_mid + 2 * offset  # ears symmetric: mean x of the face = head x
    out[:, skeleton.index("right_ear")] = eyes_mid - 2 * offset
    return out


@pytest.mark.parametrize("skeleton", [COCO_17, BODY_25, COCO_18, MEDIAPIPE_33], ids=lambda s: s.name)
def test_detector_formats_round_trip_a_h36m_pose(skeleton: Skeleton):
    pose = _consistent_h36m_pose(seed=3)
    rendered = _render(pose, skeleton, seed=4)
    out, valid = convert_keypoints(rendered, skeleton.name)
    assert valid.all() and out.shape == pose.shape
    copied = [H36M[name] for name in H36M_17.joint_names if name in skeleton.joint_names] + [H36M["neck_nose"]]
    assert len(copied) == 13  # 12 limb joints and the nose
    np.testing.assert_array_equal(out[:, copied], pose[:, copied])
    np.testing.assert_allclose(out, pose, rtol=0, atol=1e-4)  # pelvis, spine, thorax, head derived


def test_openpose_centre_points_are_not_used_for_pelvis_and_thorax():
    kp = _points(BODY_25)
    out, _ = convert_keypoints(kp, "body25")
    hips = kp[:, [BODY_25.index("left_hip"), BODY_25.index("right_hip")]].mean(axis=1)
    np.testing.assert_allclose(out[:, H36M["pelvis"]], hips, rtol=1e-6)
    assert not np.allclose(out[:, H36M["pelvis"]], kp[:, BODY_25.index("mid_hip")])
    shoulders = kp[:, [COCO_18.index("left_shoulder"), COCO_18.index("right_shoulder")]]
    out18, _ = convert_keypoints(kp[:, :18], "coco18")
    np.testing.assert_allclose(out18[:, H36M["thorax"]], shoulders.mean(axis=1), rtol=1e-6)


@pytest.mark.parametrize("skeleton", [BODY_25, COCO_18, MEDIAPIPE_33], ids=lambda s: s.name)
def test_face_head_uses_the_format_s_own_eyes(skeleton: Skeleton):
    kp = _points(skeleton)
    kp[0, skeleton.index("right_eye")] = np.nan  # no head without both eyes
    kp[1, skeleton.index("left_ear")] = np.nan  # the other face points still give x
    out, valid = convert_keypoints(kp, skeleton.name)
    assert not valid[0, H36M["head"]] and valid[1, H36M["head"]] and valid[2, H36M["head"]]
    face = [skeleton.index(n) for n in ("left_eye", "right_eye", "left_ear", "right_ear")]
    eyes, nose = kp[2, face[:2]].mean(axis=0), kp[2, skeleton.index("nose")]
    np.testing.assert_allclose(out[2, H36M["head"]], (kp[2, face, 0].mean(), (2 * eyes - nose)[1]), rtol=1e-5)
    np.testing.assert_allclose(out[1, H36M["head"], 0], kp[1, [face[0], face[1], face[3]], 0].mean(), rtol=1e-5)


def test_3dhp_orders_round_trip_through_h36m():
    h36m = _points(H36M_17, 3)
    dhp, valid = convert_keypoints(h36m, "h36m", "3dhp")
    assert valid.all()
    np.testing.assert_array_equal(dhp[:, MPI_INF_3DHP_17.index("pelvis")], h36m[:, 0])
    np.testing.assert_array_equal(dhp[:, MPI_INF_3DHP_17.index("head_top")], h36m[:, H36M["head"]])
    back, _ = convert_keypoints(dhp, "3dhp", "h36m")
    np.testing.assert_array_equal(back, h36m)

    sixteen, valid16 = convert_keypoints(h36m, "h36m", "3dhp16")
    assert valid16.all() and sixteen.shape == (3, 16, 3)
    back, valid = convert_keypoints(sixteen, "3dhp16")
    assert not valid[:, H36M["neck_nose"]].any() and valid.sum() == 3 * 16
    keep = [j for j in range(17) if j != H36M["neck_nose"]]
    np.testing.assert_array_equal(back[:, keep], h36m[:, keep])


def test_confidence_threshold_and_nan_invalidate_derived_joints():
    kp = _points(COCO_17)
    confidence = np.ones((3, 17), np.float32)
    confidence[0, COCO_17.index("left_hip")] = 0.1
    kp[1, COCO_17.index("right_shoulder")] = np.nan
    out, valid = convert_keypoints(
        torch.from_numpy(kp), "coco", confidence=confidence, confidence_threshold=0.3
    )
    assert not valid[0, H36M["pelvis"]] and not valid[0, H36M["spine"]] and not valid[0, H36M["left_hip"]]
    assert valid[0, H36M["thorax"]]
    assert not valid[1, H36M["thorax"]] and not valid[1, H36M["spine"]] and valid[1, H36M["pelvis"]]
    assert np.isnan(out[~valid]).all() and np.isfinite(out[valid]).all()


def test_conversion_shape_errors():
    with pytest.raises(ValueError, match="16 joints but skeleton 'coco' has 17"):
        convert_keypoints(np.zeros((2, 16, 2)), "coco")
    with pytest.raises(ValueError, match="confidence"):
        convert_keypoints(np.zeros((2, 17, 2)), "coco", confidence=np.ones((2, 16)))


@pytest.mark.parametrize("name", list(SKELETONS))
@pytest.mark.parametrize("coords", [2, 3])
def test_flip_twice_is_identity(name: str, coords: int):
    skeleton = SKELETONS[name]
    poses = _points(skeleton, coords)
    np.testing.assert_array_equal(flip_poses(flip_poses(poses, name), name), poses)
    tensor = torch.from_numpy(poses)
    flipped = flip_poses(tensor, name)
    assert isinstance(flipped, torch.Tensor)
    np.testing.assert_array_equal(flipped.numpy(), flip_poses(poses, name))
    assert torch.equal(tensor, torch.from_numpy(poses))  # the input is left untouched


def test_flip_swaps_sides_and_negates_x():
    poses = _points(H36M_17, 3)
    flipped = flip_poses(poses)
    np.testing.assert_array_equal(flipped[:, H36M["left_wrist"], 0], -poses[:, H36M["right_wrist"], 0])
    np.testing.assert_array_equal(flipped[:, H36M["left_wrist"], 1:], poses[:, H36M["right_wrist"], 1:])
    np.testing.assert_array_equal(flipped[:, H36M["spine"], 0], -poses[:, H36M["spine"], 0])


def test_flip_of_a_symmetric_pose_is_the_same_pose():
    rng = np.random.default_rng(1)
    pose = np.zeros((17, 3))
    pose[:, 1:] = rng.normal(size=(17, 2))
    for left, right in zip(H36M_17.left_joints, H36M_17.right_joints, strict=True):
        x = rng.uniform(0.1, 1.0)
        pose[left] = (x, *pose[left, 1:])
        pose[right] = (-x, *pose[left, 1:])
    np.testing.assert_allclose(flip_poses(pose), pose)


def _handedness(poses: np.ndarray) -> np.ndarray:
    """sign((left_hip - right_hip) x (thorax - pelvis) . (neck_nose - thorax)) per frame, Human3.6M-17 order."""
    across = poses[:, 4] - poses[:, 1]
    up = poses[:, 8] - poses[:, 0]
    forward = poses[:, 9] - poses[:, 8]
    return np.sign(np.einsum("ti,ti->t", np.cross(across, up), forward))


def test_synthetic_people_are_not_mirror_images():
    from mpm_hf.data.synthetic import synthetic_sequences

    # A real person's left hip, spine and face make a frame of one handedness in camera coordinates (Human3.6M S9:
    # +1 in every frame); a reflected skeleton would have its left/right labels on the wrong side of the body.
    for sequence in synthetic_sequences(num_sequences=4, num_frames=100, seed=2):
        assert (_handedness(sequence["poses_3d"]) == 1).all()
        assert (_handedness(flip_poses(sequence["poses_3d"])) == 1).all()  # flip augmentation keeps it


@pytest.mark.shared_data
def test_human36m_handedness_is_the_synthetic_one(shared_data_dir):
    from mpm_hf.data.h36m import load_h36m_arrays

    sequences = load_h36m_arrays(shared_data_dir / "h36m", subjects=("S9",), keypoints="gt", actions=("Walking",))
    assert all((_handedness(s["poses_3d"]) == 1).all() for s in sequences)
