"""Property-based checks (Hypothesis) that no pipeline input and no MPMConfig gives a silent wrong answer.

Whatever the keypoints (random shapes, NaN, zeros, huge values, confidences), image sizes, joint orders, options and
model kinds (``input_normalization`` "screen" and "window"): the pipelines either raise ``ValueError`` or return
finite 3D poses, with ``missing`` exactly where the returned 2D is NaN; any warning is a ``UserWarning`` (the
input checks' :class:`~mpm_hf.input_checks.KeypointWarning`), never a numpy ``RuntimeWarning`` from arithmetic on
bad values. Every ``MPMConfig`` either raises ``ValueError`` or builds a model whose forward pass is finite.

Deterministic (``derandomize=True``) and sized to run in well under 30 s on one CPU thread.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mpm_hf import MPMConfig, MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.keypoints import get_skeleton
from mpm_hf.pipelines import KEYPOINT_FORMATS, MPMPoseCompletionPipeline, MPMPoseLiftingPipeline

WINDOW = 9
PROPERTY_SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SPECIAL_VALUES = [0.0, math.nan, math.inf, -math.inf, 1e7, -1e30, 1e300, 2.0, -2.0, 5e-324]


def tiny_config(**overrides) -> MPMConfig:
    return MPMConfig(num_frames=WINDOW, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                     num_hidden_layers=1, **overrides)


@pytest.fixture(scope="module")
def lifters() -> dict[str, MPMPoseLiftingPipeline]:
    torch.manual_seed(0)
    return {
        normalization: MPMPoseLiftingPipeline(
            model=MPMForPoseLifting(tiny_config(input_normalization=normalization, downsample=2)), device="cpu"
        )
        for normalization in ("screen", "window")
    }


@pytest.fixture(scope="module")
def completer() -> MPMPoseCompletionPipeline:
    torch.manual_seed(1)
    return MPMPoseCompletionPipeline(model=MPMForPoseCompletion(tiny_config()), device="cpu")


@st.composite
def keypoint_sequences(draw, coords: tuple[int, ...] = (2, 3), formats=KEYPOINT_FORMATS):
    """``(keypoints, keypoint_format)``: a random point cloud in pixels or normalised units, or plain random numbers,
    with special values (NaN, inf, zeros, huge, tiny) written over random entries."""
    keypoint_format = draw(st.sampled_from(formats))
    num_joints = get_skeleton(keypoint_format).num_joints
    num_frames = draw(st.integers(1, 12))
    channels = draw(st.sampled_from(coords))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 0.5, 300.0, 2000.0, 1e-3]))
    centre = draw(st.sampled_from([0.0, 1.0, 500.0, -400.0]))
    keypoints = centre + scale * rng.uniform(-1, 1, size=(num_frames, num_joints, channels))
    if channels == 3 and coords == (2, 3):
        keypoints[..., 2] = rng.choice([rng.uniform(-0.5, 1.5), 0.0, 1.0, 0.3, math.nan], size=keypoints.shape[:2])
    writes = draw(st.lists(st.tuples(st.integers(0, num_frames - 1), st.integers(0, num_joints - 1),
                                     st.integers(0, channels - 1), st.sampled_from(SPECIAL_VALUES)), max_size=8))
    for frame, joint, channel, value in writes:
        keypoints[frame, joint, channel] = value
    if draw(st.booleans()):  # a whole joint (all frames) at (0, 0) or NaN
        keypoints[:, draw(st.integers(0, num_joints - 1)), :2] = draw(st.sampled_from([0.0, math.nan]))
    return keypoints, keypoint_format


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` about four times in five, so that most examples reach the checks of the data."""
    return st.integers(0, 4).flatmap(lambda draw: invalid if draw == 4 else valid)


image_sizes = mostly(
    st.one_of(st.none(), st.tuples(st.floats(1.0, 5000.0), st.floats(1.0, 5000.0)),
              st.sampled_from([(1000, 1000), (1920, 1080), (720, 1280)])),
    st.sampled_from([(0, 100), (-5, 5), (math.nan, 10), (math.inf, 10), (10,), "12", (True, 3)]),
)
VALID_OPTIONS = {
    "normalized": [True, False],
    "confidence_threshold": [0.0, 0.3, 1.0, 0.999],
    "zero_is_missing": [True, False, None],
    "mode": ["per_frame", "sequence"],
    "flip_test": [True, False],
    "batch_size": [1, 3, 256],
    "margin": [None, 0, 1, 4],
}
INVALID_OPTIONS = {
    "normalized": ["yes", 1],
    "confidence_threshold": [-0.1, 1.5, math.nan, math.inf, "0.3"],
    "zero_is_missing": [0],
    "mode": ["fast"],
    "flip_test": ["no"],
    "batch_size": [0, -1, 2.5, True],
    "margin": [-1, 5, 1.5],
}
lifting_options = st.tuples(
    st.fixed_dictionaries({}, optional={key: st.sampled_from(values) for key, values in VALID_OPTIONS.items()}),
    mostly(st.just({}), st.sampled_from([{key: value} for key, values in INVALID_OPTIONS.items() for value in values])),
).map(lambda valid_and_invalid: {**valid_and_invalid[0], **valid_and_invalid[1]})


def assert_clean_result(result: dict, num_frames: int) -> None:
    poses = result["poses_3d"]
    assert poses.shape == (num_frames, 17, 3) and poses.dtype == np.float32
    assert np.isfinite(poses).all()
    assert result["missing"].shape == (num_frames, 17)
    if "keypoints_2d" in result:
        np.testing.assert_array_equal(np.isnan(result["keypoints_2d"]).any(axis=-1), result["missing"])


def call_and_check(call, num_frames: int) -> None:
    """``call()`` must raise ValueError or return clean results; warnings must be UserWarnings, not numpy's."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except ValueError as error:
            event(f"ValueError: {str(error).split(':')[0]}")  # the field (see --hypothesis-show-statistics)
            result = None
    for warning in caught:
        assert issubclass(warning.category, UserWarning), f"{warning.category.__name__}: {warning.message}"
    event("warned" if caught else "no warning")
    if result is not None:
        event("returned")
        for one in result if isinstance(result, list) else [result]:
            assert_clean_result(one, num_frames)


@PROPERTY_SETTINGS
@given(
    sequence=keypoint_sequences(),
    normalization=st.sampled_from(["screen", "window"]),
    image_size=image_sizes,
    options=lifting_options,
    keypoint_format_given=st.booleans(),
    as_list=st.booleans(),
)
def test_lifting_never_crashes_and_returns_finite_poses(
    lifters, sequence, normalization, image_size, options, keypoint_format_given, as_list
):
    keypoints, keypoint_format = sequence
    kwargs = dict(options)
    if image_size is not None:
        kwargs["image_size"] = image_size
    if keypoint_format_given or keypoint_format != "h36m":
        kwargs["keypoint_format"] = keypoint_format
    inputs = [keypoints, torch.from_numpy(keypoints)] if as_list else keypoints
    call_and_check(lambda: lifters[normalization](inputs, **kwargs), len(keypoints))


@PROPERTY_SETTINGS
@given(
    sequence=keypoint_sequences(coords=(3,), formats=("h36m", "h36m32")),
    occluded=mostly(st.sampled_from([None, "left_arm", [0], [16, "head"]]), st.sampled_from([["tail"], [17]])),
    batch_size=mostly(st.sampled_from([1, 64]), st.just(0)),
)
def test_completion_never_crashes_and_returns_finite_poses(completer, sequence, occluded, batch_size):
    poses, keypoint_format = sequence
    kwargs = {"keypoint_format": keypoint_format, "batch_size": batch_size}
    if occluded is not None:
        kwargs["occluded_joints"] = occluded
    call_and_check(lambda: completer(poses, **kwargs), len(poses))


@PROPERTY_SETTINGS
@given(
    shape=st.tuples(st.integers(0, 3), st.sampled_from([0, 1, 16, 17, 18, 32]), st.integers(0, 4))
    | st.tuples(st.integers(0, 20)),
    fill=st.sampled_from([0.0, 1.0, math.nan, 700.0]),
)
def test_lifting_any_shape_is_a_clean_error_or_a_result(lifters, shape, fill):
    keypoints = np.full(shape, fill)
    call_and_check(lambda: lifters["screen"](keypoints, image_size=(1000, 1000)), shape[0])


CONFIG_VALUES = {  # field: (valid values, invalid values)
    "num_joints": ([16, 17], [15, 0, "17", 17.0]),
    "num_frames": ([1, 3, 9, 27], [8, 0, -3, 9.0, "9", None]),
    "hidden_size": ([8, 16], [12, 0, -8, 16.0, True]),
    "spatial_hidden_size": ([None, 8, 4], [0, 24.5]),
    "intermediate_size": ([8, 4], [0, -1, "32"]),
    "num_attention_heads": ([1, 2, 4], [3, 0, -2]),
    "num_hidden_layers": ([1, 2], [0, 1.5]),
    "num_decoder_layers": ([1, 2], [0, None]),
    "strides": ([None], [[3, 3], [2, 2], [0], [3, "3"], [], [1.5, 6]]),
    "spatial_dropout": ([0.0, 0.2, 0.999], [1.0, -0.1, math.nan, "0.1", None]),
    "hidden_dropout": ([0.0, 0.1], [1.0, math.nan]),
    "attention_dropout": ([0.0, 0.1], [-1.0, math.inf]),
    "leaky_relu_slope": ([0.0, 0.2], [-0.2, math.nan, math.inf, "x"]),
    "layer_norm_eps": ([1e-6, 1e-3], [0.0, -1.0, math.nan, math.inf]),
    "batch_norm_momentum": ([0.1, 1.0], [0.0, 1.5, math.nan]),
    "mask_strategy": (["spatio_temporal", "spatial", "temporal"], ["random", None]),
    "spatial_mask_num_joints": ([0, 5, 15], [17, -1, 2.0]),
    "temporal_mask_ratio": ([0.0, 0.6, 0.99], [1.0, -0.1, math.nan, None]),
    "loss_weight_2d": ([0.0, 2.0], [-1.0, math.nan, math.inf]),
    "use_refine": ([True, False], [None]),
    "refine_hidden_size": ([8], [0]),
    "initializer_range": ([0.02, 1.0], [0.0, -0.02, math.nan]),
    "downsample": ([1, 2], [0, -1, 2.5, True]),
    "input_normalization": (["screen", "window"], ["pixels", None]),
    "fps": ([None, 50, 25.0], [0, -1, math.nan, math.inf, True]),
}
config_kwargs = st.fixed_dictionaries(
    {},
    optional={
        field: mostly(st.sampled_from(valid), st.sampled_from(invalid))
        for field, (valid, invalid) in CONFIG_VALUES.items()
    },
)


@PROPERTY_SETTINGS
@given(kwargs=config_kwargs)
def test_mpm_config_is_a_clean_error_or_a_working_model(kwargs):
    kwargs = {"num_frames": 9, "hidden_size": 8, "intermediate_size": 8, "num_attention_heads": 2,
              "refine_hidden_size": 8, **kwargs}
    try:
        config = MPMConfig(**kwargs)
    except ValueError as error:
        event(f"ValueError: {str(error).split(':')[0]}")
        return
    config.validate_mpm()
    assert MPMConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()  # round trip through config.json
    if config.hidden_size > 64 or config.spatial_hidden_size > 64 or config.num_frames > 27:
        return  # a valid but large model: building it is not this test's business
    torch.manual_seed(0)
    model = MPMForPoseLifting(config).eval()
    poses = torch.randn(2, config.num_frames, config.num_joints, 2)
    with torch.no_grad():
        output = model(poses=poses)
    assert torch.isfinite(output.poses_3d).all() and output.poses_3d.shape == (2, 1, config.num_joints, 3)
    event("model built and run")
