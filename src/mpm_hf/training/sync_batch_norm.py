"""BatchNorm synchronised across processes, on any device.

``torch.nn.SyncBatchNorm`` only runs on GPUs; CPU multi-process runs (gloo) need the same statistics too, so that
a 2-process step equals a 1-process step on the same global batch. On CUDA we use ``torch.nn.SyncBatchNorm``;
elsewhere ``DistributedBatchNorm1d`` all-reduces the per-channel sums (differentiable, through
``torch.distributed.nn``) and normalises with the global mean and biased variance, updating the running statistics
with the unbiased variance exactly as ``nn.BatchNorm1d`` does.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn as dist_nn
from torch import nn


class DistributedBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` over ``(N, C)`` whose training statistics cover the batch of every process."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        if x.dim() != 2:
            raise ValueError(f"DistributedBatchNorm1d: expected (N, C) input, got shape {tuple(x.shape)}")
        stats = torch.cat([x.sum(0), (x * x).sum(0), x.new_tensor([x.shape[0]])])
        stats = dist_nn.all_reduce(stats)
        channels = x.shape[1]
        count = stats[-1]
        mean = stats[:channels] / count
        variance = stats[channels : 2 * channels] / count - mean * mean
        if self.track_running_stats:
            with torch.no_grad():
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked + 1)
                self.num_batches_tracked.add_(1)
                unbiased = variance * count / (count - 1).clamp(min=1)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean)
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased)
        normalised = (x - mean) / torch.sqrt(variance + self.eps)
        return normalised * self.weight + self.bias if self.affine else normalised


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every ``BatchNorm1d`` by its synchronised counterpart for ``device`` (state dict unchanged)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            synced = DistributedBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                            child.track_running_stats)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced)
        else:
            convert_sync_batchnorm(child, device)
    return module


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Back to plain ``BatchNorm1d`` so that the saved model is an ordinary MPM model."""
    for name, child in module.named_children():
        if isinstance(child, (nn.SyncBatchNorm, DistributedBatchNorm1d)):
            plain = nn.BatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                   child.track_running_stats)
            plain.load_state_dict(child.state_dict())
            setattr(module, name, plain)
        else:
            revert_sync_batchnorm(child)
    return module
