"""Checkpoint averaging: the mean of the weights of several states, saved and loaded as a model."""

import pytest
import torch

from mpm_hf import MPMConfig, MPMForPoseCompletion
from mpm_hf.training.averaging import average_checkpoints, average_state_dicts


def tiny(seed: int) -> MPMForPoseCompletion:
    torch.manual_seed(seed)
    config = MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1)
    return MPMForPoseCompletion(config).eval()


def test_the_average_of_checkpoints_is_the_mean_of_their_weights(tmp_path):
    models = [tiny(seed) for seed in range(3)]
    for index, model in enumerate(models):
        model.mpm.encoder_2d.dense.bias.data.fill_(float(index))  # 0, 1, 2 -> 1
        model.save_pretrained(tmp_path / f"checkpoint-{index}")
    averaged = average_checkpoints(MPMForPoseCompletion, [tmp_path / f"checkpoint-{index}" for index in range(3)])
    bias = averaged.mpm.encoder_2d.dense.bias
    torch.testing.assert_close(bias, torch.ones_like(bias))
    for name, tensor in averaged.state_dict().items():
        expected = torch.stack([model.state_dict()[name].float() for model in models]).mean(dim=0)
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, expected)
        else:
            torch.testing.assert_close(tensor, models[-1].state_dict()[name])
    # one checkpoint averages to itself
    single = average_checkpoints(MPMForPoseCompletion, [tmp_path / "checkpoint-1"])
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(tensor, models[1].state_dict()[name])


def test_states_that_do_not_match_are_refused():
    state = tiny(0).state_dict()
    with pytest.raises(ValueError, match="expected at least one state dict"):
        average_state_dicts([])
    with pytest.raises(ValueError, match=r"states\[1\]: expected the keys of states\[0\]"):
        average_state_dicts([state, {k: v for k, v in state.items() if "decoder" not in k}])
    wider = dict(state)
    name = next(iter(k for k, v in state.items() if v.dim() == 2))
    wider[name] = torch.zeros(state[name].shape[0] + 1, state[name].shape[1])
    with pytest.raises(ValueError, match=f"{name}: expected one shape in every state"):
        average_state_dicts([state, wider])
