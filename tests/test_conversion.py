"""Released checkpoints -> our classes: the mapping is total, shape-exact, and reproduces the release's outputs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mpm_hf import MPMForMaskedPoseModeling, MPMForPoseLifting
from mpm_hf.conversion import convert_released_checkpoint, convert_state_dict, load_released_checkpoint

from .conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from reference_mpm import (  # noqa: E402
    ReferenceMPMLift,
    ReferenceMPMPretrain,
    ReferenceRefine,
    released_key_shapes,
)

TINY = dict(layers=2, channel=32, d_hid=64, frames=27, n_joints=17)


def _randomise(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values everywhere, BatchNorm running statistics included, so that no mapping error can hide."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.dtype.is_floating_point:
                values = torch.randn(tensor.shape, generator=generator) * 0.2
                if name.endswith("running_var"):
                    values = values.abs() + 0.5
                tensor.copy_(values)
    return module.eval()


def test_lifting_conversion_reproduces_release_outputs():
    reference = _randomise(ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]))
    model, report = convert_released_checkpoint(reference.state_dict(), "lifting", num_frames=27, num_layers=2)
    assert isinstance(model, MPMForPoseLifting)
    assert all(key.startswith(("mpm.encoder_3d.", "mpm.spatial_mask_token_")) for key in report.initialised)
    assert any("norm" in key for key in report.dropped)
    # the release has no mask token: a missing joint is fed as (0, 0), identically in every conversion
    assert (model.mpm.spatial_mask_token_2d == 0).all()
    again, _ = convert_released_checkpoint(reference.state_dict(), "lifting", num_frames=27, num_layers=2)
    x = torch.randn(3, 27, 17, 2)
    hidden = torch.zeros(3, 27, 17, dtype=torch.bool)
    hidden[:, :, 5] = True
    torch.testing.assert_close(model(x, spatial_mask=hidden).poses_3d, again(x, spatial_mask=hidden).poses_3d)
    torch.testing.assert_close(model(x, spatial_mask=hidden).poses_3d,
                               model(torch.where(hidden[..., None], 0.0, x)).poses_3d)
    centre, sequence = reference(x)
    output = model(x)
    # the release predicts the root too; ours puts the pelvis at the origin
    torch.testing.assert_close(output.poses_3d[..., 1:, :], centre[..., 1:, :], atol=1e-4, rtol=0)
    torch.testing.assert_close(output.sequence_poses_3d[..., 1:, :], sequence[..., 1:, :], atol=1e-4, rtol=0)


def test_lifting_conversion_eager_attention_and_fused_model_agree():
    reference = _randomise(ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]))
    model, _ = convert_released_checkpoint(reference.state_dict(), "lifting", num_frames=27, num_layers=2)
    x = torch.randn(2, 27, 17, 2)
    sdpa = model(x).poses_3d
    model.config._attn_implementation = "eager"
    torch.testing.assert_close(model(x).poses_3d, sdpa, atol=1e-5, rtol=0)
    model.fuse()
    torch.testing.assert_close(model(x).poses_3d, sdpa, atol=1e-4, rtol=0)


@pytest.mark.parametrize("coords", [2, 3])
def test_pretrain_conversion_reproduces_release_outputs(coords):
    reference = _randomise(ReferenceMPMPretrain(**TINY, spatial_mask_num=5))
    model, report = convert_released_checkpoint(reference.state_dict(), "pretrain", num_frames=27, num_layers=2)
    assert isinstance(model, MPMForMaskedPoseModeling) and report.initialised == []
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 27, 17, coords, generator=generator)
    spatial = torch.rand(27, 17, generator=generator).argsort(-1) < 5  # the release shares one mask per batch
    temporal = torch.zeros(27, dtype=torch.bool)
    temporal[torch.randperm(27, generator=generator)[:16]] = True
    expected = reference(x, spatial_mask=spatial, temporal_mask=temporal)
    masks = dict(spatial_mask_2d=spatial.expand(2, 27, 17), temporal_mask_2d=temporal.expand(2, 27),
                 spatial_mask_3d=spatial.expand(2, 27, 17), temporal_mask_3d=temporal.expand(2, 27))
    if coords == 2:
        ours = model(keypoints_2d=x, **masks).reconstructed_2d
    else:
        ours = model(poses_3d=x, **masks).reconstructed_3d[..., 1:, :]
        expected = expected[..., 1:, :]
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=0)


def test_refine_conversion_reproduces_release_blend():
    reference = _randomise(ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]))
    refine = _randomise(ReferenceRefine(n_joints=17))
    model, _ = convert_released_checkpoint(reference.state_dict(), "lifting", 27, 2, refine.state_dict())
    predicted = torch.randn(2, 1, 17, 3) * 0.2
    predicted[..., 0, :] = 0
    back_projected = torch.randn(2, 1, 17, 3) * 0.2
    expected = refine(predicted, back_projected)
    ours_mlp = model.refine
    score = torch.sigmoid(ours_mlp.dense_out(torch.relu(ours_mlp.dense_in(
        torch.cat([predicted, back_projected], -1).flatten(1))))).view(2, 1, 17, 2)
    blended = score * predicted[..., :2] + (1 - score) * back_projected[..., :2]
    torch.testing.assert_close(blended, expected[..., :2], atol=1e-5, rtol=0)


@pytest.mark.parametrize(("section", "task", "ours"), [("stage2_Model", "lifting", MPMForPoseLifting),
                                                       ("stage1_MPMmask2", "pretrain", MPMForMaskedPoseModeling)])
def test_mapping_is_total_and_shape_exact_on_released_names(section, task, ours):
    """Every released tensor name/shape (243 frames, 4 layers) maps onto our model exactly."""
    try:
        shapes = released_key_shapes(section)
    except FileNotFoundError:
        pytest.skip("official_mpm_state_dict_keys.txt not available")
    state_dict = {k: torch.zeros(s) if s else torch.tensor(0) for k, s in shapes.items()}
    model, report = convert_released_checkpoint(state_dict, task, num_frames=243, num_layers=4)
    assert isinstance(model, ours)
    converted, _ = convert_state_dict(state_dict, task)
    assert set(converted) | set(report.initialised) == set(model.state_dict())


def test_unknown_missing_and_mismatched_tensors_are_listed():
    state_dict = _randomise(ReferenceMPMLift(**TINY, stride_num=[3, 3, 3])).state_dict()
    with pytest.raises(ValueError, match="not part of the released lifting model.*bogus"):
        convert_released_checkpoint({**state_dict, "bogus.weight": torch.zeros(1)}, "lifting", 27, 2)
    incomplete = {k: v for k, v in state_dict.items() if not k.startswith("fcn_1.")}
    with pytest.raises(ValueError, match="missing from the checkpoint.*sequence_head"):
        convert_released_checkpoint(incomplete, "lifting", 27, 2)
    with pytest.raises(ValueError, match="--num-frames: expected 27"):
        convert_released_checkpoint(state_dict, "lifting", 81, 2)


def test_module_prefix_and_wrapped_checkpoints(tmp_path):
    state_dict = _randomise(ReferenceMPMLift(**TINY, stride_num=[3, 3, 3])).state_dict()
    path = tmp_path / "released.pth"
    torch.save({"epoch": 3, "model_pos": {f"module.{k}": v for k, v in state_dict.items()}}, path)
    loaded = load_released_checkpoint(path)
    assert set(loaded) == set(state_dict)
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt.pth"):
        load_released_checkpoint(tmp_path / "corrupt.pth")


def test_conversion_script_writes_loadable_folder(tmp_path):
    reference = _randomise(ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]))
    torch.save(reference.state_dict(), tmp_path / "released.pth")
    script = REPO_ROOT / "scripts" / "convert_mpm_original_checkpoint.py"
    command = [sys.executable, str(script), "--checkpoint", str(tmp_path / "released.pth"), "--task", "lifting",
               "--num-frames", "27", "--num-layers", "2", "--output", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    model = MPMForPoseLifting.from_pretrained(tmp_path / "out").eval()
    x = torch.randn(1, 27, 17, 2)
    torch.testing.assert_close(model(x).poses_3d[..., 1:, :], reference(x)[0][..., 1:, :], atol=1e-4, rtol=0)
    bad = subprocess.run([*command[:5], "pretrain", *command[6:]], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error:" in bad.stderr
