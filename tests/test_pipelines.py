"""The pose-lifting and pose-completion pipelines: formats, masking, windows, batching, errors, real data."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from transformers import pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from mpm_hf import MPMConfig, MPMForMaskedPoseModeling, MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.camera import normalize_screen_coordinates
from mpm_hf.completion import complete_sequence
from mpm_hf.data.synthetic import synthetic_motion
from mpm_hf.inference import default_margin
from mpm_hf.input_checks import KeypointWarning, skeleton_implausibility
from mpm_hf.keypoints import COCO_17, H36M_17, convert_keypoints, flip_poses, get_skeleton
from mpm_hf.pipelines import (
    KEYPOINT_FORMATS,
    MPMPoseCompletionPipeline,
    MPMPoseLiftingPipeline,
    register_pipelines,
)
from mpm_hf.windowing import centred_windows, stitch, tile_sequence

WINDOW = 27
IMAGE_SIZE = (1000, 1000)


def tiny_config() -> MPMConfig:
    return MPMConfig(
        num_frames=WINDOW, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=1
    )


@pytest.fixture(scope="module")
def lifting_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = MPMForPoseLifting(tiny_config())
    # A mask token far from any real coordinate, so that feeding it (or not) visibly changes the output.
    model.mpm.spatial_mask_token_2d.data.fill_(3.0)
    folder = tmp_path_factory.mktemp("lifting")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def completion_dir(tmp_path_factory):
    torch.manual_seed(1)
    model = MPMForPoseCompletion(tiny_config())
    model.mpm.spatial_mask_token_3d.data.fill_(3.0)
    folder = tmp_path_factory.mktemp("completion")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def lifter(lifting_dir) -> MPMPoseLiftingPipeline:
    register_pipelines()
    return pipeline("pose-lifting", model=str(lifting_dir), device="cpu")


@pytest.fixture(scope="module")
def completer(completion_dir) -> MPMPoseCompletionPipeline:
    register_pipelines()
    return pipeline("pose-completion", model=str(completion_dir), device="cpu")


def pixel_sequence(num_frames: int, num_joints: int = 17, seed: int = 0) -> np.ndarray:
    """Pixels of a 1000x1000 image, ``(frames, joints, 2)``: a walking person in the Human3.6M-17 order (the
    synthetic generator's 3D, projected), or for other joint counts a smoothly moving random point set."""
    rng = np.random.default_rng(seed)
    if num_joints == 17:
        camera_space = synthetic_motion(num_frames, rng)
        return (1150.0 * camera_space[..., :2] / camera_space[..., 2:] + 500.0).astype(np.float32)
    template = rng.uniform(350, 650, size=(num_joints, 2))
    drift = np.linspace(0, 60, num_frames)[:, None, None] * np.array([1.0, 0.3])
    return (template + drift + rng.normal(scale=2.0, size=(num_frames, num_joints, 2))).astype(np.float32)


def normalised(keypoints: np.ndarray) -> np.ndarray:
    return normalize_screen_coordinates(keypoints, *IMAGE_SIZE).astype(np.float32)


def direct_window(
    model, window_2d: np.ndarray, mask: np.ndarray, head: str = "sequence_poses_3d"
) -> np.ndarray:
    """The model called by hand on one window ``(27, 17, 2)`` with its spatial mask ``(27, 17)``."""
    poses = torch.from_numpy(np.nan_to_num(window_2d, nan=0.0))[None]
    output = model(poses=poses, spatial_mask=torch.from_numpy(mask)[None])
    return getattr(output, head)[0].detach().numpy()


# --- Registration and loading -------------------------------------------------------------------------------


def test_register_pipelines_is_idempotent():
    register_pipelines()
    register_pipelines()
    assert PIPELINE_REGISTRY.supported_tasks["pose-lifting"]["impl"] is MPMPoseLiftingPipeline
    assert PIPELINE_REGISTRY.supported_tasks["pose-lifting"]["pt"] == (MPMForPoseLifting,)
    assert PIPELINE_REGISTRY.supported_tasks["pose-completion"]["impl"] is MPMPoseCompletionPipeline


def test_lifting_output_contract(lifter):
    assert isinstance(lifter, MPMPoseLiftingPipeline)
    assert not lifter.model.training
    result = lifter(pixel_sequence(30), image_size=IMAGE_SIZE)
    assert set(result) == {"poses_3d", "joint_names", "missing", "keypoints_2d", "units"}
    assert result["poses_3d"].shape == (30, 17, 3) and result["poses_3d"].dtype == np.float32
    assert result["missing"].shape == (30, 17) and result["missing"].dtype == bool
    assert not result["missing"].any()
    assert result["joint_names"] == list(H36M_17.joint_names)
    assert result["units"] == "m"
    np.testing.assert_array_equal(result["poses_3d"][:, 0], 0.0)  # root-relative
    np.testing.assert_allclose(result["keypoints_2d"], pixel_sequence(30))  # the input, in its own units


def test_pipeline_from_model_instance_and_construction_defaults(lifting_dir):
    model = MPMForPoseLifting.from_pretrained(lifting_dir)
    pipe = MPMPoseLiftingPipeline(model=model, device="cpu", normalized=True, batch_size=4, mode="sequence")
    keypoints = normalised(pixel_sequence(30))
    np.testing.assert_allclose(
        pipe(keypoints)["poses_3d"], pipe(keypoints, batch_size=256, mode="sequence")["poses_3d"], atol=1e-6
    )
    assert pipe._forward_params == {"batch_size": 4, "mode": "sequence"}
    # normalized=True from the construction: pixel-sized values are taken as normalised, not refused as pixels
    large = keypoints * 3
    np.testing.assert_allclose(pipe(large)["poses_3d"], pipe(large, normalized=True)["poses_3d"], atol=1e-6)
    with pytest.raises(ValueError, match="image_size"):
        MPMPoseLiftingPipeline(model=model, device="cpu")(pixel_sequence(30))


def test_pipeline_rejects_the_wrong_head(completion_dir):
    with pytest.raises(ValueError, match="model: MPMPoseLiftingPipeline needs a MPMForPoseLifting"):
        MPMPoseLiftingPipeline(model=MPMForPoseCompletion.from_pretrained(completion_dir), device="cpu")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # huggingface_hub's LFS upload
def test_pipeline_loads_a_hub_repo(hub_env, lifting_dir, lifter):
    repo_id = hub_env.unique_repo_id("mpm-lifting")
    MPMForPoseLifting.from_pretrained(lifting_dir).push_to_hub(repo_id)
    from_hub = pipeline("pose-lifting", model=repo_id, device="cpu")
    keypoints = pixel_sequence(10)
    np.testing.assert_array_equal(
        from_hub(keypoints, image_size=IMAGE_SIZE)["poses_3d"],
        lifter(keypoints, image_size=IMAGE_SIZE)["poses_3d"],
    )


# --- Keypoint formats and missing joints --------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::mpm_hf.input_checks.KeypointWarning")  # random points are no human skeleton
@pytest.mark.parametrize("keypoint_format", KEYPOINT_FORMATS)
def test_every_keypoint_format_equals_lifting_its_h36m_conversion(lifter, keypoint_format):
    num_joints = get_skeleton(keypoint_format).num_joints
    keypoints = pixel_sequence(12, num_joints, seed=3)
    result = lifter(keypoints, image_size=IMAGE_SIZE, keypoint_format=keypoint_format)
    converted, valid = convert_keypoints(keypoints, keypoint_format)
    np.testing.assert_array_equal(result["missing"], ~valid)
    expected = lifter(normalised(converted), normalized=True)  # NaN where the format has no such joint
    np.testing.assert_allclose(result["poses_3d"], expected["poses_3d"], atol=1e-6)
    assert np.isfinite(result["poses_3d"]).all()
    if keypoint_format == "mpii":  # MPII has no neck/nose: missing in every frame
        assert result["missing"][:, H36M_17.index("neck_nose")].all()
        assert result["missing"].sum() == 12
    else:
        assert not result["missing"].any()


def test_nan_and_low_confidence_joints_are_fed_as_masked(lifter):
    keypoints = pixel_sequence(WINDOW, seed=4)
    confidence = np.full((WINDOW, 17, 1), 0.9, dtype=np.float32)
    keypoints[3, 5] = np.nan
    keypoints[10:20, 13] = np.nan
    confidence[0, 2] = 0.1
    confidence[7, 16] = 0.3  # at the threshold: missing
    expected_mask = np.zeros((WINDOW, 17), dtype=bool)
    expected_mask[3, 5] = expected_mask[10:20, 13] = expected_mask[0, 2] = expected_mask[7, 16] = True

    received = []
    hook = lifter.model.register_forward_pre_hook(
        lambda module, args, kwargs: received.append(kwargs["spatial_mask"].clone()), with_kwargs=True
    )
    try:
        result = lifter(
            np.concatenate([keypoints, confidence], axis=-1), image_size=IMAGE_SIZE, mode="sequence"
        )
    finally:
        hook.remove()
    np.testing.assert_array_equal(result["missing"], expected_mask)
    tiling = tile_sequence(WINDOW, WINDOW, lifter.model.config.downsample, default_margin(WINDOW))
    assert len(received) == 1  # one batch of the windows tiling the sequence, each with its frames' masks
    np.testing.assert_array_equal(received[0].numpy(), expected_mask[tiling.index])

    with torch.no_grad():
        window = normalised(keypoints)
        masked = stitch(np.stack([direct_window(lifter.model, window[rows], expected_mask[rows])
                                  for rows in tiling.index]), tiling)
        zeros_unmasked = stitch(np.stack([direct_window(lifter.model, window[rows], np.zeros_like(expected_mask))
                                          for rows in tiling.index]), tiling)
        garbage = np.where(expected_mask[..., None], 123.0, window).astype(np.float32)
        masked_garbage = direct_window(lifter.model, garbage, expected_mask)
        masked_clean = direct_window(lifter.model, window, expected_mask)
    np.testing.assert_allclose(result["poses_3d"], masked, atol=1e-5)
    np.testing.assert_allclose(masked_garbage, masked_clean, atol=1e-6)  # masked values never reach the model
    assert not np.allclose(result["poses_3d"], zeros_unmasked, atol=1e-4)


def test_confidence_threshold_is_a_parameter(lifter):
    keypoints = np.concatenate([pixel_sequence(8), np.full((8, 17, 1), 0.5, np.float32)], axis=-1)
    assert not lifter(keypoints, image_size=IMAGE_SIZE)["missing"].any()
    with pytest.raises(ValueError, match="every joint is missing"):
        lifter(keypoints, image_size=IMAGE_SIZE, confidence_threshold=0.5)


# --- Windows, batching, flip test ---------------------------------------------------------------------------


@pytest.mark.parametrize("num_frames", [1, 5, WINDOW, 70])
@pytest.mark.parametrize("mode", ["per_frame", "sequence"])
def test_short_and_long_sequences(lifter, num_frames, mode):
    result = lifter(pixel_sequence(num_frames), image_size=IMAGE_SIZE, mode=mode, batch_size=16)
    assert result["poses_3d"].shape == (num_frames, 17, 3)
    assert np.isfinite(result["poses_3d"]).all()


def test_per_frame_batching_equals_a_naive_window_loop(lifter):
    num_frames = 40
    keypoints = normalised(pixel_sequence(num_frames, seed=5))
    keypoints[5:9, 3] = np.nan
    missing = ~np.isfinite(keypoints).all(-1)
    result = lifter(keypoints, normalized=True, batch_size=16)
    step = lifter.model.config.downsample
    with torch.no_grad():
        naive = np.stack(
            [  # one centred window at a time, edge-replicated at the ends, built here independently of the library
                direct_window(lifter.model, keypoints[rows], missing[rows], head="poses_3d")[0]
                for rows in (np.clip(c + (np.arange(WINDOW) - WINDOW // 2) * step, 0, num_frames - 1)
                             for c in range(num_frames))
            ]
        )
    np.testing.assert_allclose(result["poses_3d"], naive, atol=1e-5)
    np.testing.assert_array_equal(centred_windows(num_frames, WINDOW, step)[[0, 20, 39]],
                                  [np.clip(c + (np.arange(WINDOW) - 13) * step, 0, 39) for c in (0, 20, 39)])


@pytest.mark.parametrize("num_frames", [60, 20])
@pytest.mark.parametrize("margin", [None, 0])
def test_sequence_mode_equals_a_naive_loop_over_tiled_windows(lifter, num_frames, margin):
    keypoints = normalised(pixel_sequence(num_frames, seed=8))
    keypoints[10:12, 5] = np.nan
    missing = ~np.isfinite(keypoints).all(-1)
    result = lifter(keypoints, normalized=True, mode="sequence", margin=margin)["poses_3d"]
    # built here by hand: frame f belongs to the class f % step at element f // step; window i of a class owns
    # elements [i * core, (i + 1) * core) at positions margin.., and reads elements i * core - margin + k (frames
    # clipped to the sequence)
    step, margin = lifter.model.config.downsample, default_margin(WINDOW) if margin is None else margin
    core = WINDOW - 2 * margin
    expected = np.full((num_frames, 17, 3), np.nan)
    with torch.no_grad():
        for frame in range(num_frames):
            residue, element = frame % step, frame // step
            elements = (element // core) * core - margin + np.arange(WINDOW)
            rows = np.clip(residue + elements * step, 0, num_frames - 1)
            poses = direct_window(lifter.model, keypoints[rows], missing[rows])
            expected[frame] = poses[margin + element % core]
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_sequence_mode_does_not_depend_on_batch_size(lifter):
    keypoints = pixel_sequence(100, seed=6)
    one = lifter(keypoints, image_size=IMAGE_SIZE, mode="sequence", batch_size=1)["poses_3d"]
    many = lifter(keypoints, image_size=IMAGE_SIZE, mode="sequence", batch_size=256)["poses_3d"]
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_flip_test_averages_with_the_mirrored_input(lifter):
    keypoints = normalised(pixel_sequence(20, seed=7))
    plain = lifter(keypoints, normalized=True)["poses_3d"]
    mirrored = flip_poses(lifter(flip_poses(keypoints), normalized=True)["poses_3d"])
    flipped = lifter(keypoints, normalized=True, flip_test=True)["poses_3d"]
    np.testing.assert_allclose(flipped, (plain + mirrored) / 2, atol=1e-5)


def test_a_list_of_tracks_gives_a_list_of_results(lifter):
    tracks = [
        pixel_sequence(30, seed=8),
        torch.from_numpy(pixel_sequence(4, seed=9)),
        pixel_sequence(9).tolist(),
    ]
    results = lifter(tracks, image_size=IMAGE_SIZE)
    assert isinstance(results, list) and len(results) == 3
    for track, result in zip(tracks, results, strict=True):
        single = lifter(np.asarray(track), image_size=IMAGE_SIZE)
        np.testing.assert_array_equal(result["poses_3d"], single["poses_3d"])
    assert len(lifter(tuple(tracks[:2]), image_size=IMAGE_SIZE)) == 2


def test_progress_bar(lifter, capsys):
    lifter(pixel_sequence(30), image_size=IMAGE_SIZE, progress=True)
    assert "lifting" in capsys.readouterr().err


# --- Validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "kwargs", "match"),
    [
        (np.zeros((10, 17)), {"normalized": True}, r"inputs: expected shape \(frames, 17, 2 or 3\)"),
        (np.zeros((10, 16, 2)), {"normalized": True}, r"inputs: .*keypoint_format='h36m', got \(10, 16, 2\)"),
        (np.zeros((10, 26, 2)), {"keypoint_format": "coco"}, r"keypoint_format='coco', got \(10, 26, 2\)"),
        (np.zeros((10, 17, 4)), {"normalized": True}, "inputs: expected shape"),
        (np.zeros((0, 17, 2)), {"normalized": True}, "inputs: expected at least one frame"),
        (np.zeros((10, 17, 2)), {"keypoint_format": "openpose"}, "keypoint_format: expected one of"),
        (np.full((10, 17, 2), np.nan), {"normalized": True}, "inputs: every joint is missing in every frame"),
        (np.zeros((10, 17, 3)), {"normalized": True}, "every joint is missing"),  # confidence 0 everywhere
        (
            np.full((10, 17, 2), 500.0),
            {},
            r"image_size: the keypoints look like pixels \(values up to 500.0\)",
        ),
        (np.zeros((10, 17, 2)), {"image_size": (1000, 1000), "normalized": True}, "not both"),
        (np.zeros((10, 17, 2)), {"image_size": (1000,)}, r"image_size: expected \(width, height\)"),
        (np.zeros((10, 17, 2)), {"image_size": (0, 1000)}, "image_size: expected two positive numbers"),
        (np.zeros((10, 17, 2)), {"mode": "fast"}, "mode: expected one of"),
        (np.zeros((10, 17, 2)), {"batch_size": 0}, "batch_size: expected a positive integer"),
        ("not keypoints", {}, "inputs: expected a numeric array"),
        ([], {}, "inputs: expected a sequence or a non-empty list"),
    ],
)
def test_lifting_validation_errors(lifter, inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lifter(inputs, **kwargs)


def test_normalised_keypoints_need_no_image_size(lifter):
    keypoints = normalised(pixel_sequence(10))
    np.testing.assert_array_equal(
        lifter(keypoints)["poses_3d"], lifter(keypoints, normalized=True)["poses_3d"]
    )


# --- Completion ---------------------------------------------------------------------------------------------


def root_relative_sequence(num_frames: int, seed: int = 0) -> np.ndarray:
    """A walking person (synthetic), ``(frames, 17, 3)`` metres, pelvis at 0."""
    poses = synthetic_motion(num_frames, np.random.default_rng(seed))
    return (poses - poses[:, :1]).astype(np.float32)


def test_completion_masks_nan_and_occluded_joints(completer):
    poses = root_relative_sequence(WINDOW)
    poses[:, 3] = np.nan
    result = completer(poses, occluded_joints=["left_arm"], keep_visible=False)
    expected_mask = np.zeros((WINDOW, 17), dtype=bool)
    expected_mask[:, [3, 11, 12, 13]] = True
    np.testing.assert_array_equal(result["missing"], expected_mask)
    assert result["poses_3d"].shape == (WINDOW, 17, 3) and result["poses_3d"].dtype == np.float32
    assert result["joint_names"] == list(H36M_17.joint_names) and result["units"] == "m"
    np.testing.assert_allclose(result["poses_3d"], tiled_completion(completer.model, poses, expected_mask), atol=1e-5)


def tiled_completion(model, poses: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The completion model called by hand on every window of the fast-mode tiling, owned frames kept."""
    tiling = tile_sequence(len(poses), WINDOW, model.config.downsample, default_margin(WINDOW))
    with torch.no_grad():
        windows = [model(poses=torch.from_numpy(np.nan_to_num(poses[rows]))[None],
                         spatial_mask=torch.from_numpy(mask[rows])[None]).poses_3d[0].numpy()
                   for rows in tiling.index]
    return stitch(np.stack(windows), tiling)


def test_completion_of_a_short_sequence_is_edge_padded(completer):
    poses = root_relative_sequence(6, seed=2)
    result = completer(poses, occluded_joints="right_leg", keep_visible=False)
    mask = np.zeros((6, 17), dtype=bool)
    mask[:, [1, 2, 3]] = True
    np.testing.assert_allclose(result["poses_3d"], tiled_completion(completer.model, poses, mask), atol=1e-5)
    step = completer.model.config.downsample  # the first window: frames 0 (edge padding) .. 5, `step` apart
    first = tile_sequence(6, WINDOW, step, default_margin(WINDOW)).index[0]
    assert first.min() == 0 and first.max() == 5 and set(np.diff(first)) <= {0, step}


def test_completion_of_a_long_sequence_is_batched_and_root_relative(completer):
    poses = root_relative_sequence(100, seed=3)
    poses[::7, 14] = np.nan
    in_camera = poses + np.array([0.5, -0.2, 4.0], dtype=np.float32)  # pelvis visible: subtracted
    one = completer(in_camera, occluded_joints=[16, "head"], batch_size=1)
    many = completer(poses, occluded_joints=[16, "head"], batch_size=256)
    np.testing.assert_allclose(one["poses_3d"], many["poses_3d"], atol=1e-5)
    np.testing.assert_array_equal(one["missing"][:, [9, 10, 16]], True)
    np.testing.assert_array_equal(one["missing"][::7, 14], True)
    direct = complete_sequence(completer.model, poses, occluded_joints=[16, "head"], keep_visible=True)
    np.testing.assert_allclose(many["poses_3d"], direct, atol=1e-6)


@pytest.mark.filterwarnings("ignore::mpm_hf.input_checks.KeypointWarning")  # random points are no human skeleton
def test_completion_from_h36m32(completer):
    poses_32 = np.random.default_rng(0).normal(scale=0.3, size=(10, 32, 3)).astype(np.float32)
    result = completer(poses_32, keypoint_format="h36m32")
    poses_17 = convert_keypoints(poses_32, "h36m32")[0]
    np.testing.assert_allclose(result["poses_3d"], completer(poses_17)["poses_3d"], atol=1e-6)


@pytest.mark.parametrize(
    ("inputs", "kwargs", "match"),
    [
        (np.zeros((10, 17, 2)), {"modality": "3d"}, r"inputs: expected shape \(frames, 17, 3\)"),
        (np.full((10, 17, 3), np.nan), {}, "inputs: every joint is missing"),
        (np.zeros((10, 17, 3)), {"occluded_joints": ["tail"]}, "occluded body part: expected one of"),
        (np.zeros((10, 17, 3)), {"occluded_joints": [17]}, "occluded joint index"),
        (np.zeros((10, 17, 3)), {"keypoint_format": "coco", "modality": "3d"},
         r"keypoint_format: expected one of \('h36m', 'h36m32'\) for 3D poses, got 'coco'"),
        (np.zeros((10, 17, 3)), {"modality": "3D"}, r"modality: expected one of \('2d', '3d'\), got '3D'"),
        (np.zeros((10, 17, 3)), {"modality": "3d", "image_size": (100, 100)},
         "image_size: a 2D input parameter, but modality='3d'"),
        (np.full((10, 17, 2), np.nan), {}, "inputs: every joint is missing"),
        (np.ones((10, 17, 2)), {"occluded_joints": list(range(17))}, "inputs: every joint is missing"),
        (np.zeros((10, 17, 4)), {"modality": "2d"}, r"inputs: expected shape \(frames, 17, 2 or 3\)"),
    ],
)
def test_completion_validation_errors(completer, inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        completer(inputs, **kwargs)


def test_completion_of_partial_2d_is_the_completion_model_on_its_normalised_keypoints(completer):
    pixels = pixel_sequence(40, seed=3)
    pixels[5:9, 2] = np.nan  # a missing detection, with the occluded left arm
    result = completer(pixels, image_size=IMAGE_SIZE, occluded_joints="left_arm", flip_test=True)
    assert set(result) == {"poses_3d", "joint_names", "missing", "units", "keypoints_2d"}
    assert result["poses_3d"].shape == (40, 17, 3) and result["poses_3d"].dtype == np.float32
    np.testing.assert_array_equal(result["poses_3d"][:, 0], 0.0)
    expected_missing = np.zeros((40, 17), dtype=bool)
    expected_missing[:, [11, 12, 13]] = True
    expected_missing[5:9, 2] = True
    np.testing.assert_array_equal(result["missing"], expected_missing)
    np.testing.assert_allclose(result["keypoints_2d"], np.where(expected_missing[..., None], np.nan, pixels),
                               equal_nan=True)
    direct = complete_sequence(completer.model, normalised(pixels), occluded_joints="left_arm", flip_test=True)
    np.testing.assert_allclose(result["poses_3d"], direct, atol=1e-6)
    # the 2D pose encoder ran, not the 3D one: other 2D gives other 3D
    moved = completer(pixels + np.float32(40.0), image_size=IMAGE_SIZE, occluded_joints="left_arm", flip_test=True)
    assert not np.allclose(moved["poses_3d"], result["poses_3d"], atol=1e-4)


def test_completion_reads_2d_detector_output_like_lifting(completer):
    h36m = pixel_sequence(30, seed=4)
    coco = coco_from_h36m(h36m)
    scored = np.concatenate([coco, np.full((30, 17, 1), 0.9, np.float32)], axis=-1)
    scored[10:12, 9, 2] = 0.1  # a low-confidence left wrist
    # three channels with a 2D-only format, or any 2D parameter, are 2D keypoints; modality="2d" says so outright
    by_format = completer(scored, keypoint_format="coco", image_size=IMAGE_SIZE)
    outright = completer(scored, keypoint_format="coco", image_size=IMAGE_SIZE, modality="2d")
    np.testing.assert_array_equal(by_format["poses_3d"], outright["poses_3d"])
    converted, valid = convert_keypoints(np.where(scored[..., 2:] > 0.3, coco, np.nan), "coco")
    np.testing.assert_array_equal(by_format["missing"], ~valid)
    assert by_format["missing"][10:12, 13].all() and not by_format["missing"][:10, 13].any()  # the left wrist
    direct = complete_sequence(completer.model, normalised(converted), missing=~valid)
    np.testing.assert_allclose(by_format["poses_3d"], direct, atol=1e-6)


def test_completion_at_another_frame_rate(completion_dir):
    model = MPMForPoseCompletion.from_pretrained(completion_dir)
    model.config.fps = 50.0
    completer = MPMPoseCompletionPipeline(model=model, device="cpu")
    poses = root_relative_sequence(40, seed=7)
    at_30 = completer(poses, occluded_joints="left_arm", keep_visible=False, fps=30)["poses_3d"]
    direct = complete_sequence(model, poses, occluded_joints="left_arm", fps=30)
    np.testing.assert_allclose(at_30, direct, atol=1e-6)
    assert not np.allclose(at_30, completer(poses, occluded_joints="left_arm", keep_visible=False)["poses_3d"],
                           atol=1e-4)
    with pytest.raises(ValueError, match="fps: expected a positive number of frames per second, got 0"):
        completer(poses, fps=0)


def test_completion_needs_the_pose_encoder_of_its_input(completion_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    from mpm_hf.checksums import write_checksums

    partial = tmp_path / "no-2d-encoder"
    MPMForPoseCompletion.from_pretrained(completion_dir).save_pretrained(partial)
    weights = load_file(partial / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("mpm.encoder_2d.")}, partial / "model.safetensors",
              metadata={"format": "pt"})
    write_checksums(partial)
    completer = MPMPoseCompletionPipeline(model=MPMForPoseCompletion.from_pretrained(partial), device="cpu")
    assert completer(root_relative_sequence(10), occluded_joints="left_arm")["poses_3d"].shape == (10, 17, 3)
    with pytest.raises(ValueError, match="its 2D pose encoder was not in the checkpoint and is random"):
        completer(normalised(pixel_sequence(10)), occluded_joints="left_arm")


# --- Real data ----------------------------------------------------------------------------------------------

# The MHFormer demo video's resolution is not stored with its keypoints. They span x in [260, 928] and
# y in [88, 658] px, which fits 1280x720 and 1920x1080 alike; the box's centre (594, 373) is near the centre
# of a 1280x720 frame (640, 360) and far from that of a 1920x1080 one, so 1280x720 is the likelier size.
IN_THE_WILD_IMAGE_SIZE = (1280, 720)


@pytest.mark.shared_data
def test_in_the_wild_keypoints(lifter, shared_data_dir):
    with np.load(shared_data_dir / "inthewild" / "mhformer_demo_sample_video_keypoints.npz") as data:
        keypoints = data["reconstruction"][0]
    assert keypoints.shape == (92, 17, 2)
    assert (
        keypoints[..., 0].max() < IN_THE_WILD_IMAGE_SIZE[0]
        and keypoints[..., 1].max() < IN_THE_WILD_IMAGE_SIZE[1]
    )
    result = lifter(keypoints, image_size=IN_THE_WILD_IMAGE_SIZE, keypoint_format="h36m")
    assert result["poses_3d"].shape == (92, 17, 3) and np.isfinite(result["poses_3d"]).all()
    assert not result["missing"].any()


@pytest.mark.shared_data
def test_stacked_hourglass_mpii_detections_of_s9(lifter, shared_data_dir):
    with np.load(shared_data_dir / "h36m" / "data_2d_h36m_sh_pt_mpii.npz", allow_pickle=True) as data:
        detections = data["positions_2d"].item()["S9"]["Walking"][0][:300]
    camera = json.loads((shared_data_dir / "h36m" / "h36m_cameras.json").read_text())["S9"][0]
    image_size = (camera["res_w"], camera["res_h"])
    assert image_size == (1000, 1002)
    result = without_keypoint_warnings(
        lifter, detections, image_size=image_size, keypoint_format="mpii", mode="sequence"
    )
    assert result["poses_3d"].shape == (300, 17, 3) and np.isfinite(result["poses_3d"]).all()
    neck = H36M_17.index("neck_nose")
    assert result["missing"][:, neck].all()
    assert not np.delete(result["missing"], neck, axis=1).any()


# --- Input checks: no silent wrong answers (rules in mpm_hf.input_checks) -------------------------------------


def without_keypoint_warnings(function, *args, **kwargs):
    """``function(*args, **kwargs)``, failing on any KeypointWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeypointWarning)
        return function(*args, **kwargs)


def coco_from_h36m(h36m: np.ndarray) -> np.ndarray:
    """COCO-17 order from Human3.6M-17 keypoints ``(frames, 17, 2)``: limbs copied, the nose at neck_nose, the eyes
    and ears placed around it towards the head top."""
    nose, head = h36m[:, H36M_17.index("neck_nose")], h36m[:, H36M_17.index("head")]
    up = head - nose
    side = np.stack([-up[:, 1], up[:, 0]], axis=-1)
    face = {
        "nose": nose,
        "left_eye": nose + 0.35 * up + 0.15 * side,
        "right_eye": nose + 0.35 * up - 0.15 * side,
        "left_ear": nose + 0.25 * up + 0.4 * side,
        "right_ear": nose + 0.25 * up - 0.4 * side,
    }
    return np.stack([face[n] if n in face else h36m[:, H36M_17.index(n)] for n in COCO_17.joint_names], axis=1)


# MPII-16 order from Human3.6M-17 (the upper neck taken at neck_nose)
MPII_FROM_H36M = [3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13]
# MPI-INF-3DHP-17 order from Human3.6M-17: h36m[j] = 3dhp[THREEDHP_OF_H36M[j]] (keypoints.convert_keypoints' rule)
THREEDHP_OF_H36M = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]


def test_zero_markers_in_pixels_are_missing_unless_told_otherwise(lifter):
    keypoints = pixel_sequence(20, seed=11)
    keypoints[4, 5] = 0.0
    keypoints[9:12, 13] = 0.0
    keypoints[6, 2] = (0.0, 350.0)  # one zero coordinate: a real place on the image's edge
    expected = np.zeros((20, 17), dtype=bool)
    expected[4, 5] = expected[9:12, 13] = True
    result = without_keypoint_warnings(lifter, keypoints, image_size=IMAGE_SIZE)
    np.testing.assert_array_equal(result["missing"], expected)
    as_nan = np.where(expected[..., None], np.nan, keypoints)
    np.testing.assert_allclose(result["poses_3d"], lifter(as_nan, image_size=IMAGE_SIZE)["poses_3d"], atol=1e-6)
    assert np.isnan(result["keypoints_2d"][expected]).all()

    kept = lifter(keypoints, image_size=IMAGE_SIZE, zero_is_missing=False)
    assert not kept["missing"].any()
    np.testing.assert_array_equal(kept["keypoints_2d"][4, 5], [0.0, 0.0])
    assert not np.allclose(kept["poses_3d"], result["poses_3d"], atol=1e-4)


def test_a_zero_marker_makes_the_joints_derived_from_it_missing(lifter):
    coco = coco_from_h36m(pixel_sequence(10, seed=12))
    coco[3, COCO_17.index("left_hip")] = 0.0
    result = lifter(coco, image_size=IMAGE_SIZE, keypoint_format="coco")
    derived = [H36M_17.index(name) for name in ("pelvis", "left_hip", "spine")]  # pelvis = mid-hips, spine = mid
    assert result["missing"][3, derived].all() and result["missing"].sum() == 3


def test_zeros_in_normalised_input_are_the_image_centre(lifter):
    keypoints = normalised(pixel_sequence(10, seed=13))
    keypoints[2, 16] = 0.0  # one joint at the image centre: a real place
    assert not without_keypoint_warnings(lifter, keypoints, normalized=True)["missing"].any()
    keypoints[5, [3, 6]] = 0.0  # two joints at exactly the centre in one frame: zero-filled, most likely
    crowded = r"2 joints lie at exactly \(0, 0\), several in one frame \(in 1 frame\(s\), first: frame 5\)"
    with pytest.warns(KeypointWarning, match=crowded + r".*kept as real points; pass zero_is_missing=True"):
        kept = lifter(keypoints, normalized=True)
    assert not kept["missing"].any()
    masked = lifter(keypoints, normalized=True, zero_is_missing=True)
    np.testing.assert_array_equal(np.argwhere(masked["missing"]), [[2, 16], [5, 3], [5, 6]])


def test_joints_far_outside_the_image_warn_and_are_missing(lifter):
    keypoints = pixel_sequence(20, seed=14)
    keypoints[7, 13] = (2500.0, 400.0)  # 1.5 image widths right of the image
    keypoints[8, 3] = (500.0, -1200.0)
    keypoints[9, 4] = (1900.0, 500.0)  # 0.9 widths outside: kept
    with pytest.warns(KeypointWarning, match=r"inputs: 2 joints lie more than 1 image size outside the image "
                      r"\(first: frame 7, joint 13 \('left_wrist'\) at \[2500.0, 400.0\] pixels\); they were "
                      r"treated as missing"):
        result = lifter(keypoints, image_size=IMAGE_SIZE)
    np.testing.assert_array_equal(np.argwhere(result["missing"]), [[7, 13], [8, 3]])

    normalised_keypoints = normalised(pixel_sequence(20, seed=14))
    normalised_keypoints[3, 5] = (3.5, 0.1)  # x beyond 1 + 2: more than an image width outside
    normalised_keypoints[4, 6] = (0.2, -6.5)  # y beyond 3 * MAX_ASPECT_RATIO
    normalised_keypoints[5, 7] = (-2.9, 5.9)  # inside both bounds: kept
    with pytest.warns(KeypointWarning, match=r"2 joints lie more than 1 image size outside .* normalised\); they were"):
        result = lifter(normalised_keypoints, normalized=True)
    np.testing.assert_array_equal(np.argwhere(result["missing"]), [[3, 5], [4, 6]])


def test_wrong_units_or_image_size_are_errors(lifter):
    pixels = pixel_sequence(10, seed=15)
    with pytest.raises(ValueError, match=r"image_size: expected pixels of a 200x200 image, but \d+% of the "
                       r"keypoints lie more than 1 image size outside it \(values up to \d+\.\d\): the image size "
                       r"or the units look wrong"):
        lifter(pixels, image_size=(200, 200))
    with pytest.raises(ValueError, match=r"inputs: expected normalised screen coordinates \(x in \[-1, 1\]\), "
                       r"but 100% of the keypoints .* if they are pixels, pass image_size=\(width, height\) instead "
                       r"of normalized=True"):
        lifter(pixels, normalized=True)


def test_absurd_coordinates_are_errors_naming_the_joint(lifter):
    keypoints = pixel_sequence(10, seed=16).astype(np.float64)
    keypoints[3, 5] = (2e7, 10.0)
    keypoints[6, 1] = (5e6, 10.0)
    with pytest.raises(ValueError, match=r"inputs: expected coordinates within ±1e\+06, got \[20000000.0, 10.0\] at "
                       r"frame 3, joint 5 \('left_knee'\) \(2 such joints in all\)"):
        lifter(keypoints, image_size=IMAGE_SIZE)
    keypoints[6, 1] = np.nan
    keypoints[3, 5] = (1e300, 10.0)  # beyond float32: must not silently become inf, a missing joint
    with pytest.raises(ValueError, match=r"got \[1e\+300, 10.0\] at frame 3, joint 5"):
        lifter(keypoints, image_size=IMAGE_SIZE)
    confidence = np.full((10, 17, 1), 0.9)
    confidence[3, 5] = 0.0  # an undetected joint's coordinates are never used: no error
    result = lifter(np.concatenate([keypoints, confidence], axis=-1), image_size=IMAGE_SIZE)
    assert result["missing"][3, 5] and result["missing"][6, 1] and result["missing"].sum() == 2


def test_suspicious_image_sizes_warn(lifter):
    with pytest.warns(KeypointWarning, match=r"image_size=\(1000, 1000\) was given, but every keypoint lies within ±2 "
                      r"\(largest \|value\| 0.\d+\): they look like normalised screen coordinates already"):
        lifter(normalised(pixel_sequence(10, seed=17)), image_size=IMAGE_SIZE)
    pixels = pixel_sequence(10, seed=17)
    assert np.quantile(pixels[..., 1], 0.99) > 550
    with pytest.warns(KeypointWarning, match=r"image_size=\(1000, 500\) looks too small: 1% of the keypoints lie "
                      r"beyond y=\d+\.\d, more than 1.1 times the image height 500"):
        lifter(pixels, image_size=(1000, 500))
    without_keypoint_warnings(lifter, pixels, image_size=IMAGE_SIZE)


@pytest.fixture(scope="module")
def window_lifter() -> MPMPoseLiftingPipeline:
    torch.manual_seed(2)
    config = MPMConfig(num_frames=WINDOW, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                       num_hidden_layers=1, input_normalization="window")
    return MPMPoseLiftingPipeline(model=MPMForPoseLifting(config), device="cpu")


def test_window_normalising_models_take_pixels_without_an_image_size(window_lifter, lifter):
    keypoints = pixel_sequence(30, seed=18)
    result = without_keypoint_warnings(window_lifter, keypoints)
    np.testing.assert_allclose(result["keypoints_2d"], keypoints)
    np.testing.assert_allclose(
        result["poses_3d"], window_lifter(keypoints, image_size=IMAGE_SIZE)["poses_3d"], atol=2e-5
    )
    with pytest.raises(ValueError, match="image_size: the keypoints look like pixels"):
        lifter(keypoints)  # a "screen" model needs the image size
    keypoints[3, 5] = 0.0  # pixels: the (0, 0) marker is missing without an image size too
    assert np.argwhere(window_lifter(keypoints)["missing"]).tolist() == [[3, 5]]
    with pytest.warns(KeypointWarning, match=r"image_size=\(1000, 500\) looks too small"):  # still checked
        window_lifter(keypoints, image_size=(1000, 500))


@pytest.mark.parametrize("num_frames", [1, 5, 27, 150])
def test_joint_order_check_on_projected_human36m_poses(lifter, num_frames):
    keypoints = pixel_sequence(num_frames, seed=19)
    for data, keypoint_format in [
        (keypoints, "h36m"),
        (coco_from_h36m(keypoints), "coco"),
        (keypoints[:, MPII_FROM_H36M], "mpii"),
    ]:
        without_keypoint_warnings(lifter, data, image_size=IMAGE_SIZE, keypoint_format=keypoint_format)
    for data, declared, better in [
        (keypoints, "coco", "h36m"),  # Human3.6M order declared COCO
        (np.delete(keypoints, H36M_17.index("neck_nose"), axis=1), "mpii", "3dhp16"),  # 16 joints, not MPII's
        (coco_from_h36m(keypoints), "h36m", "coco"),  # COCO order, the default format
    ]:
        with pytest.warns(KeypointWarning, match=rf"keypoint_format='{declared}': after conversion to Human3.6M-17, "
                          rf"left/right limb lengths differ by .* they fit the '{better}' joint order better"):
            lifter(data, image_size=IMAGE_SIZE, keypoint_format=declared)


def test_skeleton_implausibility_scores():
    keypoints = pixel_sequence(100, seed=20)
    fit = skeleton_implausibility(keypoints)
    assert fit.score < 0.45 and fit.asymmetry < 0.2
    assert np.isclose(fit.score, fit.proportions + fit.asymmetry)
    swapped = skeleton_implausibility(convert_keypoints(keypoints, "coco")[0])
    assert swapped.score > 0.5 and swapped.score > fit.score + 0.15
    scaled = skeleton_implausibility(keypoints * 7.0 + 300.0)  # units and position do not matter
    np.testing.assert_allclose(scaled.score, fit.score, rtol=1e-4)  # float32 keypoints
    assert np.isnan(skeleton_implausibility(np.full((5, 17, 2), np.nan)).score)


@pytest.mark.shared_data
def test_joint_order_check_on_real_in_the_wild_keypoints(lifter, shared_data_dir):
    with np.load(shared_data_dir / "inthewild" / "mhformer_demo_sample_video_keypoints.npz") as data:
        keypoints = data["reconstruction"][0]
    without_keypoint_warnings(lifter, keypoints, image_size=IN_THE_WILD_IMAGE_SIZE)
    without_keypoint_warnings(
        lifter, keypoints[:, MPII_FROM_H36M], image_size=IN_THE_WILD_IMAGE_SIZE, keypoint_format="mpii"
    )
    with pytest.warns(KeypointWarning, match="keypoint_format='coco': .* fit the 'h36m' joint order better"):
        lifter(keypoints, image_size=IN_THE_WILD_IMAGE_SIZE, keypoint_format="coco")
    with pytest.warns(KeypointWarning, match="keypoint_format='mpii': .* fit the '3dhp16' joint order better"):
        lifter(np.delete(keypoints, 9, axis=1), image_size=IN_THE_WILD_IMAGE_SIZE, keypoint_format="mpii")


def test_completion_checks_units_and_joint_order(completer):
    poses = root_relative_sequence(20, seed=4)
    result = without_keypoint_warnings(completer, poses)
    with pytest.raises(ValueError, match=r"inputs: expected 3D poses in metres \(a body reaches about 0.5-1 m from its "
                       r"centre\), got joints \d+ from it .* convert millimetres \(/ 1000\)"):
        completer(poses * 1000)
    with pytest.warns(KeypointWarning, match=r"the joints lie only 0.0\d+ from the body's centre .* do not look like "
                      r"metres. They were used as metres"):
        completer(poses / 100)
    in_3dhp_order = np.empty_like(poses)
    in_3dhp_order[:, THREEDHP_OF_H36M] = poses
    with pytest.warns(KeypointWarning, match="keypoint_format='h36m': .* fit the '3dhp' joint order better"):
        completer(in_3dhp_order)
    poses[2, 7] = (3e6, 0.0, 0.0)
    with pytest.raises(ValueError, match=r"inputs: expected coordinates within ±1e\+06, got \[3000000.0, 0.0, 0.0\] "
                       r"at frame 2, joint 7 \('spine'\)"):
        completer(poses)
    assert np.isfinite(result["poses_3d"]).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confidence_threshold": 1.5}, r"confidence_threshold: expected a number in \[0, 1\], got 1.5"),
        ({"confidence_threshold": -0.1}, r"confidence_threshold: expected a number in \[0, 1\], got -0.1"),
        ({"confidence_threshold": float("nan")}, r"confidence_threshold: expected a number in \[0, 1\], got nan"),
        ({"confidence_threshold": "0.3"}, r"confidence_threshold: expected a number in \[0, 1\], got '0.3'"),
        ({"confidence_threshold": True}, r"confidence_threshold: expected a number in \[0, 1\], got True"),
        ({"normalized": "yes"}, "normalized: expected True or False, got 'yes'"),
        ({"flip_test": 1}, "flip_test: expected True or False, got 1"),
        ({"progress": "no"}, "progress: expected True or False, got 'no'"),
        ({"zero_is_missing": 0}, "zero_is_missing: expected True or False, got 0"),
        ({"batch_size": 2.5}, "batch_size: expected a positive integer, got 2.5"),
        ({"batch_size": True}, "batch_size: expected a positive integer, got True"),
        ({"margin": -1}, r"margin: expected an integer in \[0, 13\] \(num_frames // 2\), got -1"),
        ({"margin": 14}, r"margin: expected an integer in \[0, 13\]"),
        ({"image_size": (float("inf"), 1000)}, r"image_size: expected two positive numbers \(width, height\)"),
        ({"image_size": "12"}, r"image_size: expected \(width, height\) in pixels, got '12'"),
    ],
)
def test_lifting_options_are_validated(lifter, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lifter(pixel_sequence(5), **kwargs)


def test_options_are_validated_at_construction_and_for_completion(lifting_dir, completer):
    model = MPMForPoseLifting.from_pretrained(lifting_dir)
    with pytest.raises(ValueError, match=r"confidence_threshold: expected a number in \[0, 1\], got 2"):
        MPMPoseLiftingPipeline(model=model, device="cpu", confidence_threshold=2)
    with pytest.raises(ValueError, match="normalized: expected True or False, got 'false'"):
        MPMPoseLiftingPipeline(model=model, device="cpu", normalized="false")
    with pytest.raises(ValueError, match="progress: expected True or False, got 'x'"):
        completer(root_relative_sequence(5), progress="x")
    with pytest.raises(ValueError, match="batch_size: expected a positive integer, got 0"):
        completer(root_relative_sequence(5), batch_size=0)


def test_checkpoints_whose_heads_were_not_trained_for_the_task_are_refused(lifting_dir, completion_dir, tmp_path):
    # a lifting checkpoint has no trained completion decoder, and the other way round: refused, naming the class
    with pytest.raises(ValueError, match="saved from MPMForPoseLifting"):
        pipeline("pose-completion", model=str(lifting_dir), device="cpu")
    with pytest.raises(ValueError, match="saved from MPMForPoseCompletion"):
        pipeline("pose-lifting", model=str(completion_dir), device="cpu")
    with pytest.raises(ValueError, match="saved from MPMForPoseLifting"):
        MPMPoseCompletionPipeline(model=MPMForPoseCompletion.from_pretrained(lifting_dir), device="cpu")
    # a stage-I checkpoint's 3D decoder completes poses: accepted by the completion pipeline only
    stage_one = tmp_path / "stage1"
    MPMForMaskedPoseModeling(tiny_config()).save_pretrained(stage_one)
    assert pipeline("pose-completion", model=str(stage_one), device="cpu").model.config.architectures == [
        "MPMForMaskedPoseModeling"]
    with pytest.raises(ValueError, match="saved from MPMForMaskedPoseModeling"):
        pipeline("pose-lifting", model=str(stage_one), device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_device_without_cuda_is_a_clear_error(lifting_dir):
    model = MPMForPoseLifting.from_pretrained(lifting_dir)
    for device in ("cuda", "cuda:1", 0):
        with pytest.raises(ValueError, match="no CUDA device"):
            MPMPoseLiftingPipeline(model=model, device=device)
    with pytest.raises(ValueError, match="device: expected"):
        MPMPoseLiftingPipeline(model=model, device="gpu please")


def test_completion_keeps_the_given_joints_unless_asked_not_to(completer):
    poses = root_relative_sequence(40, seed=5)
    kept = completer(poses, occluded_joints="left_arm")
    raw = completer(poses, occluded_joints="left_arm", keep_visible=False)
    hidden = kept["missing"]
    np.testing.assert_allclose(kept["poses_3d"][~hidden], (poses - poses[:, :1])[~hidden], atol=1e-6)
    np.testing.assert_allclose(kept["poses_3d"][hidden], raw["poses_3d"][hidden], atol=1e-6)
    assert not np.allclose(raw["poses_3d"][~hidden], poses[~hidden], atol=1e-3)  # the model's own output
    with pytest.raises(ValueError, match="keep_visible"):
        completer(poses, keep_visible="yes")


def test_completion_flip_test_averages_with_the_mirrored_input_and_is_mirror_symmetric(completer):
    poses = root_relative_sequence(40, seed=6)
    hidden = dict(occluded_joints="left_arm", keep_visible=False)
    plain = completer(poses, **hidden)["poses_3d"]
    # the mirrored input hides the mirrored part: the right arm
    mirrored = flip_poses(completer(flip_poses(poses), occluded_joints="right_arm", keep_visible=False)["poses_3d"])
    flipped = completer(poses, flip_test=True, **hidden)["poses_3d"]
    np.testing.assert_allclose(flipped, (plain + mirrored) / 2, atol=1e-5)
    assert not np.allclose(flipped, plain, atol=1e-4)
    # with flip test, mirroring the input mirrors the output
    twin = completer(flip_poses(poses), occluded_joints="right_arm", keep_visible=False, flip_test=True)["poses_3d"]
    np.testing.assert_allclose(flip_poses(twin), flipped, atol=1e-5)
    np.testing.assert_allclose(complete_sequence(completer.model, poses, occluded_joints="left_arm", flip_test=True),
                               flipped, atol=1e-6)
    with pytest.raises(ValueError, match="flip_test: expected True or False, got 'yes'"):
        completer(poses, flip_test="yes")


def test_a_checkpoint_missing_weights_the_task_runs_is_refused(lifting_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    from mpm_hf.checksums import write_checksums

    partial = tmp_path / "partial"
    MPMForPoseLifting.from_pretrained(lifting_dir).save_pretrained(partial)
    weights = load_file(partial / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("centre_head.")}, partial / "model.safetensors",
              metadata={"format": "pt"})
    write_checksums(partial)
    model = MPMForPoseLifting.from_pretrained(partial)
    assert model.missing_weights and all(name.startswith("centre_head.") for name in model.missing_weights)
    with pytest.raises(ValueError, match="were not in the checkpoint and are random"):
        MPMPoseLiftingPipeline(model=model, device="cpu")
    # weights the lifting pipeline never runs may be absent (a converted released lifting checkpoint has no 3D encoder)
    save_file({k: v for k, v in weights.items() if not k.startswith("mpm.encoder_3d.")}, partial / "model.safetensors",
              metadata={"format": "pt"})
    write_checksums(partial)
    MPMPoseLiftingPipeline(model=MPMForPoseLifting.from_pretrained(partial), device="cpu")
