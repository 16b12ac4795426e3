"""The MPM model family: config validation, shapes, masking semantics, losses, save/load, Auto classes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForPreTraining

from mpm_hf import (
    AutoModelForPoseCompletion,
    AutoModelForPoseLifting,
    MPMConfig,
    MPMForMaskedPoseModeling,
    MPMForPoseCompletion,
    MPMForPoseLifting,
    MPMModel,
)
from mpm_hf.configuration_mpm import default_strides
from mpm_hf.masking import (
    body_part_mask,
    sample_masks,
    sample_spatial_mask,
    sample_temporal_mask,
    sample_tube_mask,
)

from .conftest import REPO_ROOT


def tiny_config(**overrides) -> MPMConfig:
    values = dict(num_frames=27, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2)
    values.update(overrides)
    return MPMConfig(**values)


def poses(batch: int = 2, frames: int = 27, coords: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, 17, coords, generator=torch.Generator().manual_seed(seed)) * 0.3


# ---------------------------------------------------------------------------------------------- config


def test_default_config_is_the_released_243_frame_model():
    config = MPMConfig()
    assert (config.num_frames, config.hidden_size, config.spatial_hidden_size, config.intermediate_size) == (
        243, 256, 512, 512)
    assert config.strides == [3, 3, 3, 3, 3] and config.num_hidden_layers == 4
    assert config.num_masked_frames == round(0.6 * 243)
    assert (config.loss_weight_2d, config.loss_weight_3d, config.loss_weight_lift) == (2.0, 3.0, 8.0)
    assert (config.spatial_dropout, config.hidden_dropout, config.attention_dropout) == (0.2, 0.1, 0.1)


@pytest.mark.parametrize(("frames", "strides"), [(27, [3, 3, 3]), (81, [3, 3, 3, 3]), (45, [3, 3, 5]), (7, [7])])
def test_stride_schedule_is_derived(frames, strides):
    assert default_strides(frames) == strides
    assert MPMConfig(num_frames=frames).strides == strides


@pytest.mark.parametrize(
    ("field", "value"),
    [("num_joints", 15), ("num_frames", 28), ("strides", [3, 3]), ("mask_strategy", "random"),
     ("spatial_mask_num_joints", 17), ("temporal_mask_ratio", 1.0), ("hidden_size", 30),
     ("loss_weight_3d", -1.0), ("downsample", 0), ("batch_norm_momentum", -3.0), ("leaky_relu_slope", "x")],
)
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"MPMConfig.{field}"):
        tiny_config(**{field: value})


def test_overrides_after_construction_are_checked_too(tmp_path):
    MPMForPoseLifting(tiny_config()).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="MPMConfig.temporal_mask_ratio"):
        MPMConfig.from_pretrained(tmp_path, temporal_mask_ratio=1.5)  # set by transformers after __init__
    with pytest.raises(ValueError, match="MPMConfig.strides: expected a schedule that reduces num_frames=81"):
        MPMForPoseLifting.from_pretrained(tmp_path, num_frames=81)
    config = tiny_config()
    config.num_frames = 81  # an edited config: the heads would output the wrong number of frames
    with pytest.raises(ValueError, match="MPMConfig.strides"):
        MPMForPoseLifting(config)
    assert MPMForPoseLifting.from_pretrained(tmp_path, hidden_dropout=0.0).config.hidden_dropout == 0.0


# ---------------------------------------------------------------------------------------------- masking


def test_mask_samplers_count_exactly_and_are_seeded():
    spatial = sample_spatial_mask(4, 27, 17, 5, torch.Generator().manual_seed(0))
    assert spatial.shape == (4, 27, 17) and (spatial.sum(-1) == 5).all()
    temporal = sample_temporal_mask(4, 27, 16, torch.Generator().manual_seed(0))
    assert (temporal.sum(-1) == 16).all()
    again = sample_temporal_mask(4, 27, 16, torch.Generator().manual_seed(0))
    assert torch.equal(temporal, again)
    tube = sample_tube_mask(3, 27, 17, 4, torch.Generator().manual_seed(1))
    assert (tube == tube[:, :1]).all() and (tube.sum(-1) == 4).all()
    spatial, temporal = sample_masks("temporal", 2, 27, 17, 5, 16)
    assert not spatial.any() and (temporal.sum(-1) == 16).all()
    spatial, temporal = sample_masks("spatial", 2, 27, 17, 5, 16)
    assert not temporal.any() and (spatial.sum(-1) == 5).all()
    left_arm = body_part_mask("left_arm", 1, 27)
    assert left_arm[0, :, [11, 12, 13]].all() and left_arm.sum() == 3 * 27


# ---------------------------------------------------------------------------------------------- base model


def test_base_model_drops_masked_frames():
    model = MPMModel(tiny_config()).eval()
    x = poses()
    temporal = torch.zeros(2, 27, dtype=torch.bool)
    temporal[0, :10] = True
    temporal[1, 5:15] = True
    output = model(x, temporal_mask=temporal)
    assert output.last_hidden_state.shape == (2, 17, 32)
    assert torch.equal(output.visible_frame_indices[0], torch.arange(10, 27))
    # changing a dropped frame changes nothing
    changed = x.clone()
    changed[0, 3] += 5.0
    assert torch.allclose(model(changed, temporal_mask=temporal).last_hidden_state, output.last_hidden_state)


def test_spatial_mask_replaces_coordinates_with_the_token_and_accepts_nan():
    model = MPMModel(tiny_config()).eval()
    x = poses()
    mask = torch.zeros(2, 27, 17, dtype=torch.bool)
    mask[:, :, 9] = True
    reference = model(x, spatial_mask=mask).last_hidden_state
    x_nan = x.clone()
    x_nan[:, :, 9] = float("nan")
    assert torch.allclose(model(x_nan, spatial_mask=mask).last_hidden_state, reference)
    assert not torch.allclose(model(x).last_hidden_state, reference)


@pytest.mark.parametrize(
    ("tensor", "kwargs", "message"),
    [
        (torch.randn(2, 27, 16, 2), {}, "expected 17 joints"),
        (torch.randn(2, 27, 17, 4), {}, "coordinates per joint"),
        (torch.randn(2, 25, 17, 2), {}, "expected 27 frames"),
        (torch.randn(0, 27, 17, 2), {}, "non-empty batch"),
        (torch.randn(27, 17, 2), {}, "4 dimensions"),
        (torch.full((1, 27, 17, 2), float("nan")), {}, "NaN/inf"),
        (torch.randn(2, 27, 17, 2), {"spatial_mask": torch.zeros(2, 27, 16, dtype=torch.bool)}, "spatial_mask"),
        (torch.randn(2, 27, 17, 2), {"temporal_mask": torch.tensor([[True] + [False] * 26, [False] * 27])},
         "same number of masked frames"),
    ],
)
def test_bad_input_raises_value_error(tensor, kwargs, message):
    model = MPMModel(tiny_config())
    with pytest.raises(ValueError, match=message):
        model(tensor, **kwargs)


# ---------------------------------------------------------------------------------------------- heads


def test_masked_pose_modeling_losses_and_shapes():
    model = MPMForMaskedPoseModeling(tiny_config())
    x2, x3 = poses(coords=2), poses(coords=3, seed=1)
    output = model(keypoints_2d=x2, poses_3d=x3, lift_labels=x3, generator=torch.Generator().manual_seed(0))
    assert output.reconstructed_2d.shape == (2, 27, 17, 2) and output.reconstructed_3d.shape == (2, 27, 17, 3)
    assert output.lifted_3d.shape == (2, 27, 17, 3)
    assert (output.spatial_mask_2d.sum(-1) == 5).all() and (output.temporal_mask_2d.sum(-1) == 16).all()
    expected = 2.0 * output.loss_2d + 3.0 * output.loss_3d + 8.0 * output.loss_lift
    torch.testing.assert_close(output.loss, expected)
    output.loss.backward()
    assert model.decoder.temporal_mask_token.grad.abs().sum() > 0
    assert model.mpm.spatial_mask_token_2d.grad.abs().sum() > 0


def test_masked_pose_modeling_loss_decreases():
    torch.manual_seed(0)
    model = MPMForMaskedPoseModeling(tiny_config(hidden_dropout=0.0, attention_dropout=0.0, spatial_dropout=0.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    from mpm_hf.data.synthetic import synthetic_sequences

    x3 = torch.stack([torch.from_numpy(s["poses_3d"]) for s in synthetic_sequences(8, 27, seed=0)])
    losses = []
    for step in range(40):
        loss = model(poses_3d=x3, generator=torch.Generator().manual_seed(step)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_lifting_head_outputs_and_loss():
    model = MPMForPoseLifting(tiny_config())
    labels = poses(coords=3)
    labels[..., 0, :] = 0
    output = model(poses=poses(), labels=labels)
    assert output.poses_3d.shape == (2, 1, 17, 3) and output.sequence_poses_3d.shape == (2, 27, 17, 3)
    assert (output.poses_3d[..., 0, :] == 0).all()
    torch.testing.assert_close(output.loss, output.loss_centre + output.loss_sequence)
    with pytest.raises(ValueError, match="labels"):
        model(poses=poses(), labels=torch.zeros(2, 27, 17, 2))


def test_lifting_refine_uses_camera_inputs():
    model = MPMForPoseLifting(tiny_config(use_refine=True)).eval()
    intrinsics = torch.tensor([[2.3, 2.3, 0.0, 0.0]] * 2)
    output = model(poses=poses(), camera_intrinsics=intrinsics, root_depth=torch.tensor([5.0, 4.0]))
    assert output.refined_poses_3d.shape == (2, 1, 17, 3)
    torch.testing.assert_close(output.refined_poses_3d[..., 2], output.poses_3d[..., 2])
    # x, y are blended with the back-projection, which depends on the camera and the root depth
    assert not torch.allclose(output.refined_poses_3d[..., :2], output.poses_3d[..., :2])
    other_camera = model(poses=poses(), camera_intrinsics=intrinsics * 1.5, root_depth=torch.tensor([5.0, 4.0]))
    deeper = model(poses=poses(), camera_intrinsics=intrinsics, root_depth=torch.tensor([9.0, 8.0]))
    for changed in (other_camera, deeper):
        assert (changed.refined_poses_3d[..., :2] - output.refined_poses_3d[..., :2]).abs().max() > 1e-3
        torch.testing.assert_close(changed.poses_3d, output.poses_3d)  # the unrefined prediction is the same


def test_completion_named_parts_and_loss():
    model = MPMForPoseCompletion(tiny_config())
    x3 = poses(coords=3)
    hidden = body_part_mask(["left_arm", 0], batch_size=2, num_frames=27)
    output = model(poses=x3, spatial_mask=hidden, labels=x3)
    assert output.poses_3d.shape == (2, 27, 17, 3)
    assert output.spatial_mask[..., [0, 11, 12, 13]].all() and output.spatial_mask.sum() == 2 * 27 * 4
    assert output.loss.ndim == 0
    torch.testing.assert_close(output.loss, torch.linalg.vector_norm(output.poses_3d - x3, dim=-1).mean())
    right_leg = body_part_mask("right_leg", batch_size=2, num_frames=27)
    assert model(poses=poses(coords=2), spatial_mask=right_leg).poses_3d.shape == (2, 27, 17, 3)
    # partial 2D->3D is trained on the centre frame (the paper), partial 3D->3D on every frame
    model.eval()
    from_2d = model(poses=poses(coords=2), spatial_mask=right_leg, labels=x3)
    centre = torch.linalg.vector_norm(from_2d.poses_3d[:, 13] - x3[:, 13], dim=-1).mean()
    torch.testing.assert_close(from_2d.loss, centre)
    # loss_weight_completion_sequence adds every frame's MPJPE to the centre frame's (partial 2D->3D only)
    model.config.loss_weight_completion_sequence = 0.5
    every_frame = torch.linalg.vector_norm(from_2d.poses_3d - x3, dim=-1).mean()
    torch.testing.assert_close(model(poses=poses(coords=2), spatial_mask=right_leg, labels=x3).loss,
                               centre + 0.5 * every_frame)
    torch.testing.assert_close(model(poses=x3, spatial_mask=right_leg, labels=x3).loss,
                               model(poses=x3, spatial_mask=right_leg).poses_3d.sub(x3).norm(dim=-1).mean())
    with pytest.raises(ValueError, match="spatial_mask: expected shape"):
        model(poses=x3, spatial_mask=right_leg[:, :, :16])
    with pytest.raises(ValueError, match="loss_weight_completion_sequence"):
        tiny_config(loss_weight_completion_sequence=-1.0)


def test_gradient_checkpointing_gives_same_gradients():
    torch.manual_seed(0)
    config = tiny_config(hidden_dropout=0.0, attention_dropout=0.0, spatial_dropout=0.0)
    model = MPMForPoseLifting(config)
    x, labels = poses(), poses(coords=3)
    model(poses=x, labels=labels).loss.backward()
    reference = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    model.gradient_checkpointing_enable()
    model.train()
    model(poses=x, labels=labels).loss.backward()
    for expected, parameter in zip(reference, [p for p in model.parameters() if p.grad is not None], strict=True):
        torch.testing.assert_close(parameter.grad, expected, atol=1e-5, rtol=1e-4)


def test_fast_dropout_keeps_the_expectation_and_masks_the_gradient():
    from mpm_hf.modeling_mpm import MPMDropout, bernoulli_keep_mask

    torch.manual_seed(0)
    keep, scale = bernoulli_keep_mask(torch.Size([1000, 1001]), 0.1, torch.device("cpu"))  # numel not a multiple of 4
    assert keep.shape == (1000, 1001) and keep.dtype == torch.bool
    assert abs(keep.float().mean().item() - 0.9) < 2e-3  # 1e6 Bernoulli draws: std 3e-4
    assert scale == pytest.approx(1 / (1 - 3277 / 32768))
    layer = MPMDropout(0.1).train()
    x = torch.rand(400, 500, requires_grad=True)
    y = layer(x)
    dropped = y == 0
    assert abs(dropped.float().mean().item() - 0.1) < 5e-3
    torch.testing.assert_close(y[~dropped], x[~dropped] * scale)
    assert abs(y.mean().item() - x.mean().item()) < 5e-3
    y.sum().backward()
    torch.testing.assert_close(x.grad, (~dropped).float() * scale)
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    assert torch.equal(first, layer(x))  # seeded like every torch RNG
    assert not torch.equal(first, layer(x))
    assert layer.eval()(x) is x and MPMDropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match="dropout probability"):
        MPMDropout(1.5)


def test_bfloat16_inference():
    model = MPMForPoseLifting(tiny_config()).eval()
    reference = model(poses=poses()).poses_3d
    half = model.to(torch.bfloat16)(poses=poses().bfloat16()).poses_3d
    assert half.dtype == torch.bfloat16
    assert reference.abs().max() > 5e-3  # the tolerance below is far under the outputs' size
    torch.testing.assert_close(half.float(), reference, atol=1e-3, rtol=3e-2)


# ---------------------------------------------------------------------------------------------- save / load


def test_stage_one_checkpoint_loads_into_stage_two_heads(tmp_path):
    stage_one = MPMForMaskedPoseModeling(tiny_config())
    stage_one.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    for head in (MPMForPoseLifting, MPMForPoseCompletion):
        model, info = head.from_pretrained(tmp_path, output_loading_info=True)
        for name, tensor in stage_one.mpm.state_dict().items():
            assert torch.equal(model.mpm.state_dict()[name], tensor), name
        if head is MPMForPoseLifting:
            assert info["missing_keys"] and all(
                key.startswith(("sequence_head", "centre_head", "strided_transformer")) for key in info["missing_keys"])
            assert info["unexpected_keys"] and all(key.startswith("decoder.") for key in info["unexpected_keys"])
        else:
            assert not info["missing_keys"]
            for name, tensor in stage_one.decoder.state_dict().items():
                assert torch.equal(model.decoder.state_dict()[name], tensor), name


def test_round_trip_and_auto_classes(tmp_path):
    model = MPMForPoseLifting(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    x = poses()
    expected = model(poses=x).poses_3d
    assert isinstance(AutoConfig.from_pretrained(tmp_path), MPMConfig)
    for auto in (AutoModelForPoseLifting, MPMForPoseLifting):
        torch.testing.assert_close(auto.from_pretrained(tmp_path).eval()(poses=x).poses_3d, expected)
    assert isinstance(AutoModel.from_config(tiny_config()), MPMModel)
    assert isinstance(AutoModelForPreTraining.from_config(tiny_config()), MPMForMaskedPoseModeling)
    assert isinstance(AutoModelForPoseCompletion.from_config(tiny_config()), MPMForPoseCompletion)


def test_checkpoint_for_another_config_is_refused(tmp_path):
    MPMForPoseLifting(tiny_config()).save_pretrained(tmp_path)
    with pytest.raises((ValueError, RuntimeError), match="size mismatch|mismatch|shape"):
        MPMForPoseLifting.from_pretrained(tmp_path, config=tiny_config(hidden_size=64))


def test_trust_remote_code_folder_loads_without_the_package(tmp_path):
    model = MPMForPoseLifting(tiny_config()).eval()
    model.save_pretrained(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_mpm.MPMForPoseLifting"
    x = poses()
    torch.save(x, tmp_path / "x.pt")
    torch.save(model(poses=x).poses_3d, tmp_path / "expected.pt")
    script = f"""
import sys
sys.path = [p for p in sys.path if 'src' not in p]
import importlib.util
assert importlib.util.find_spec('mpm_hf') is None, 'mpm_hf must not be importable here'
import torch
from transformers import AutoModel
model = AutoModel.from_pretrained({str(tmp_path / 'model')!r}, trust_remote_code=True).eval()
assert type(model).__name__ == 'MPMForPoseLifting'
out = model(poses=torch.load({str(tmp_path / 'x.pt')!r})).poses_3d
torch.testing.assert_close(out, torch.load({str(tmp_path / 'expected.pt')!r}))
print('ok')
"""
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "PYTHONNOUSERSITE": "1"}
    done = subprocess.run([sys.executable, "-S", "-c", _site_without_mpm() + script], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=180)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def _site_without_mpm() -> str:
    """Start-up code that adds site-packages but drops the editable mpm_hf install (its .pth path hook)."""
    return f"""
import site, sys
for path in {[p for p in sys.path if p.endswith('site-packages')]!r}:
    sys.path.append(path)
sys.path = [p for p in sys.path if not p.startswith({str(REPO_ROOT / 'src')!r})]
"""


def test_parameter_and_flop_table_accounts_for_every_parameter():
    from mpm_hf.info import count_flops, count_parameters, table

    model = MPMForPoseLifting(tiny_config())
    parameters = count_parameters(model)
    assert sum(v for k, v in parameters.items() if k != "total") == parameters["total"]
    flops = count_flops(model)
    assert flops["total"] > 0 and sum(v for k, v in flops.items() if k != "total") == flops["total"]
    assert "| total |" in table(model)


@pytest.mark.slow
def test_torch_compile_gives_the_same_outputs():
    model = MPMForPoseLifting(tiny_config(num_frames=9, num_hidden_layers=1)).eval()
    x = poses(frames=9)
    expected = model(poses=x)
    compiled = torch.compile(model)(poses=x)
    torch.testing.assert_close(compiled.poses_3d, expected.poses_3d, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(compiled.sequence_poses_3d, expected.sequence_poses_3d, atol=1e-5, rtol=1e-5)
