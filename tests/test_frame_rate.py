"""Frame rates: window steps, resampling and lifting input recorded at another rate than the model's."""

import warnings

import numpy as np
import pytest
import torch

from mpm_hf import MPMConfig, MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.completion import complete_sequence
from mpm_hf.frame_rate import interpolate, plan_frame_rate, resample, resample_indices
from mpm_hf.inference import lift_sequence


def test_whole_number_steps_need_no_resampling():
    assert plan_frame_rate(25, 50, 2).step == 1 and plan_frame_rate(25, 50, 2).resample_fps is None
    assert plan_frame_rate(100, 50, 2).step == 4
    assert plan_frame_rate(50, 50, 2).step == 2
    assert plan_frame_rate(None, 50, 2).step == 2
    odd = plan_frame_rate(30, 50, 2)
    assert odd.step == 2 and odd.resample_fps == 50.0
    assert plan_frame_rate(50 / 3, 50, 2).resample_fps == 50.0
    with pytest.warns(UserWarning, match="records no frame rate"):
        assert plan_frame_rate(30, None, 2).step == 2
    for bad in (0, -5, float("nan"), "25", True):
        with pytest.raises(ValueError, match="fps"):
            plan_frame_rate(bad, 50, 2)


def test_resampling_a_linear_motion_is_exact_and_missing_joints_spread():
    values = np.arange(10, dtype=np.float32)[:, None, None] * np.array([1.0, -2.0], np.float32)  # (10, 1, 2)
    out, _ = resample(values, 25, 50)
    assert out.shape == (19, 1, 2)
    np.testing.assert_allclose(out[:, 0, 0], np.arange(19) / 2, atol=1e-6)
    first, weight = resample_indices(10, 25, 50)
    assert first.tolist()[:4] == [0, 0, 1, 1] and weight.tolist()[:4] == [0, 0.5, 0, 0.5]
    missing = np.zeros((10, 1), dtype=bool)
    missing[3] = True
    values[3] = np.nan
    out, hidden = resample(values, 25, 50, missing=missing)
    assert hidden[:, 0].tolist() == [k in (5, 6, 7) for k in range(19)]  # frames drawing weight from frame 3
    assert np.isnan(out[hidden]).all() and np.isfinite(out[~hidden]).all()
    back, _ = interpolate(out, np.arange(10) * 2.0, hidden)  # the original frame times
    np.testing.assert_allclose(back[[0, 1, 2, 4, 9], 0], values[[0, 1, 2, 4, 9], 0], atol=1e-6)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                       num_hidden_layers=1, downsample=2, fps=50, input_normalization="window")
    return MPMForPoseLifting(config).eval()


def test_half_rate_input_uses_every_frame_at_the_trained_spacing(model):
    keypoints = np.random.default_rng(0).normal(size=(60, 17, 2)).astype(np.float32)
    at_25 = keypoints[::2]
    np.testing.assert_allclose(lift_sequence(model, at_25, fps=25),
                               lift_sequence(model, at_25, downsample=1), atol=1e-6)
    np.testing.assert_allclose(lift_sequence(model, keypoints, fps=50), lift_sequence(model, keypoints), atol=1e-6)


@pytest.mark.parametrize("mode", ["per_frame", "sequence"])
def test_odd_rates_are_lifted_at_the_model_rate_and_interpolated_back(model, mode):
    keypoints = np.random.default_rng(1).normal(size=(40, 17, 2)).astype(np.float32)
    result = lift_sequence(model, keypoints, fps=30, mode=mode)
    assert result.shape == (40, 17, 3) and np.isfinite(result).all()
    # by hand: resample 30 -> 50 fps, lift at tds 2, read the frames at the 30 fps times
    resampled, hidden = resample(keypoints, 30, 50, missing=np.zeros((40, 17), dtype=bool))
    lifted = lift_sequence(model, resampled, hidden, mode=mode, downsample=2)
    np.testing.assert_allclose(result, interpolate(lifted, np.arange(40) * 50 / 30)[0], atol=1e-6)
    if mode == "per_frame":
        subset = lift_sequence(model, keypoints, fps=30, frames=np.array([0, 7, 39]))
        np.testing.assert_allclose(subset, result[[0, 7, 39]], atol=1e-6)


@pytest.mark.parametrize("coords", [2, 3])
def test_completion_keeps_the_trained_frame_spacing_too(coords):
    torch.manual_seed(0)
    config = MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                       num_hidden_layers=1, downsample=2, fps=50, input_normalization="window")
    model = MPMForPoseCompletion(config).eval()
    poses = np.random.default_rng(4).normal(scale=0.3, size=(40, 17, coords)).astype(np.float32)
    poses[10:13, 5] = np.nan
    every_frame = MPMForPoseCompletion(MPMConfig(**{**config.to_dict(), "downsample": 1})).eval()
    every_frame.load_state_dict(model.state_dict())
    # 25 fps input to a 50 fps / tds 2 model: every frame, no resampling
    np.testing.assert_allclose(complete_sequence(model, poses, occluded_joints="left_arm", fps=25),
                               complete_sequence(every_frame, poses, occluded_joints="left_arm"), atol=1e-6)
    # 30 fps: resampled to 50 fps (a joint interpolated from a hidden one is hidden), completed, read back
    result = complete_sequence(model, poses, occluded_joints="left_arm", fps=30)
    assert result.shape == (40, 17, 3) and np.isfinite(result).all()
    hidden = ~np.isfinite(poses).all(axis=-1)
    hidden[:, [11, 12, 13]] = True
    resampled, resampled_hidden = resample(poses, 30, 50, missing=hidden)
    by_hand = complete_sequence(model, resampled, missing=resampled_hidden)
    np.testing.assert_allclose(result, interpolate(by_hand, np.arange(40) * 50 / 30)[0], atol=1e-6)
    done = []
    complete_sequence(model, poses, fps=30, batch_size=2, progress=done.append)
    assert sum(done) == 40 and all(step > 0 for step in done)


def test_config_rejects_a_bad_frame_rate():
    with pytest.raises(ValueError, match="fps"):
        MPMConfig(num_frames=9, fps=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MPMConfig(num_frames=9, fps=50)


def test_progress_of_resampled_input_counts_input_frames(model):
    keypoints = np.random.default_rng(2).normal(size=(45, 17, 2)).astype(np.float32)
    done = []
    lift_sequence(model, keypoints, fps=30, batch_size=8, progress=done.append)
    assert len(done) > 1 and sum(done) == 45 and all(step > 0 for step in done)  # increments of input frames


def test_float16_models_normalise_pixels_in_float32(model):
    import copy

    pixels = (np.random.default_rng(3).normal(size=(60, 17, 2)) * 400 + 3000).astype(np.float32)  # 4K pixels
    half = copy.deepcopy(model).half()
    lifted = lift_sequence(half, pixels)
    assert np.isfinite(lifted).all()
    np.testing.assert_allclose(lifted, lift_sequence(model, pixels), atol=5e-3)
