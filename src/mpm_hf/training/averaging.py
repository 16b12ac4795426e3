"""Checkpoint averaging: the mean of the weights of several states of one training run.

The last checkpoints of a run with a small learning rate sit around one minimum; their mean is a point nearer its
centre than any one of them, and its accuracy moves less from one checkpoint to the next (Izmailov et al. 2018,
stochastic weight averaging, without its schedule). Floating-point tensors (weights, BatchNorm running statistics)
are averaged; integer ones (BatchNorm's ``num_batches_tracked``) are taken from the last state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..modeling_mpm import MPMPreTrainedModel


def average_state_dicts(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of ``states`` (the same keys and shapes each); integer tensors from the last one."""
    if not states:
        raise ValueError("states: expected at least one state dict, got none")
    keys = set(states[0])
    for index, state in enumerate(states[1:], start=1):
        if set(state) != keys:
            difference = sorted(keys.symmetric_difference(state))
            raise ValueError(f"states[{index}]: expected the keys of states[0], got a difference in {difference[:3]}")
    averaged = {}
    for name, last in states[-1].items():
        shapes = {tuple(state[name].shape) for state in states}
        if len(shapes) > 1:
            raise ValueError(f"{name}: expected one shape in every state, got {sorted(shapes)}")
        if last.is_floating_point():
            averaged[name] = torch.stack([state[name].float() for state in states]).mean(dim=0).to(last.dtype)
        else:
            averaged[name] = last.clone()
    return averaged


def average_checkpoints(model_class: type[MPMPreTrainedModel], folders: Sequence[str | Path]) -> MPMPreTrainedModel:
    """``model_class`` loaded from the last of ``folders`` (its config) with the mean weights of all of them."""
    if not folders:
        raise ValueError("folders: expected at least one checkpoint folder, got none")
    models = [model_class.from_pretrained(folder) for folder in folders]
    model = models[-1]
    model.load_state_dict(average_state_dicts([each.state_dict() for each in models]))
    return model
