"""Growing a trained model into a larger one (``mpm_hf.training.growth``): same function, trainable new capacity."""

from __future__ import annotations

import pytest
import torch

from mpm_hf import MPMConfig, MPMForMaskedPoseModeling, MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.masking import body_part_mask
from mpm_hf.training.growth import grow_model, grow_state_dict

SIZES = dict(num_hidden_layers=4, intermediate_size=96, spatial_hidden_size=80)


def trained(model_class: type) -> torch.nn.Module:
    """A tiny model whose every weight and BatchNorm statistic is non-trivial, as after training."""
    torch.manual_seed(0)
    model = model_class(MPMConfig(num_frames=27, hidden_size=32, intermediate_size=64, spatial_hidden_size=48,
                                  num_attention_heads=4, num_hidden_layers=2, input_normalization="window"))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor + 0.1 * torch.randn(tensor.shape, generator=generator))
                if tensor.dim() == 1:
                    tensor.abs_()  # BatchNorm variances must stay positive
    return model.eval()


def keypoints(coords: int = 2) -> torch.Tensor:
    return 0.3 * torch.randn(3, 27, 17, coords, generator=torch.Generator().manual_seed(2))


def test_grown_lifting_model_computes_the_same_poses():
    model = trained(MPMForPoseLifting)
    grown = grow_model(model, **SIZES)
    assert (grown.config.num_hidden_layers, grown.config.intermediate_size, grown.config.spatial_hidden_size) == (
        4, 96, 80)
    assert grown.num_parameters() > 1.5 * model.num_parameters()
    assert not grown.training
    with torch.no_grad():
        before, after = model(keypoints()), grown(keypoints())
    torch.testing.assert_close(after.poses_3d, before.poses_3d, rtol=0, atol=1e-6)
    torch.testing.assert_close(after.sequence_poses_3d, before.sequence_poses_3d, rtol=0, atol=1e-6)
    # the model as given is untouched
    assert model.config.num_hidden_layers == 2 and len(model.mpm.temporal_transformer.layers) == 2


def test_grown_completion_and_stage_one_models_compute_the_same_outputs():
    completion = trained(MPMForPoseCompletion)
    grown = grow_model(completion, num_hidden_layers=3, intermediate_size=96)
    legs = body_part_mask(["left_leg", "right_leg"], batch_size=3, num_frames=27)
    for coords in (2, 3):
        with torch.no_grad():
            before = completion(poses=keypoints(coords), spatial_mask=legs).poses_3d
            after = grown(poses=keypoints(coords), spatial_mask=legs).poses_3d
        torch.testing.assert_close(after, before, rtol=0, atol=1e-6)

    stage_one = trained(MPMForMaskedPoseModeling)
    grown = grow_model(stage_one, spatial_hidden_size=64)
    with torch.no_grad():
        before = stage_one(keypoints_2d=keypoints(), poses_3d=keypoints(3), generator=torch.Generator().manual_seed(3))
        after = grown(keypoints_2d=keypoints(), poses_3d=keypoints(3), generator=torch.Generator().manual_seed(3))
    for name in ("reconstructed_2d", "reconstructed_3d", "lifted_3d"):
        torch.testing.assert_close(getattr(after, name), getattr(before, name), rtol=0, atol=1e-6)


def test_new_capacity_receives_gradients():
    grown = grow_model(trained(MPMForPoseLifting), **SIZES).train()
    output = grown(keypoints())
    output.poses_3d.square().sum().backward()
    new_layer = grown.mpm.temporal_transformer.layers[3]
    assert new_layer.attention.out_proj.weight.grad.abs().sum() > 0
    assert new_layer.feed_forward.fc2.weight.grad.abs().sum() > 0
    old_layer_fc2 = grown.mpm.temporal_transformer.layers[0].feed_forward.fc2.weight
    assert old_layer_fc2.grad[:, 64:].abs().sum() > 0  # the zero weights from the new FFN channels learn
    projection = grown.mpm.spatial_mlp.projection.weight
    assert projection.grad[:, 48:].abs().sum() > 0


def test_growth_is_deterministic_and_saves_and_loads(tmp_path):
    model = trained(MPMForPoseLifting)
    first, second = grow_model(model, seed=5, **SIZES), grow_model(model, seed=5, **SIZES)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    first.save_pretrained(tmp_path)
    loaded = MPMForPoseLifting.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(keypoints()).poses_3d, model(keypoints()).poses_3d, rtol=0, atol=1e-6)


def test_growth_refuses_to_shrink_or_change_other_fields():
    model = trained(MPMForPoseLifting)
    with pytest.raises(ValueError, match="intermediate_size: expected an integer of at least the current 64, got 32"):
        grow_model(model, intermediate_size=32)
    with pytest.raises(ValueError, match=r"sizes: expected fields among .* got \['hidden_size'\]"):
        grow_model(model, hidden_size=64)
    with pytest.raises(ValueError, match=r"dense.weight: expected a tensor of at most \(4, 4\)"):
        grow_state_dict({"dense.weight": torch.zeros(5, 4)}, {"dense.weight": torch.zeros(4, 4)})
