"""PyTorch MPM: a unified 2D-3D human pose representation via masked pose modeling (Zhang et al., 2023).

Reading order: output dataclasses, small blocks (normalisation, pose encoders, spatial MLP, attention, transformer
layers, strided layers, heads), the masked decoder, ``MPMPreTrainedModel``, ``MPMModel`` (the shared base: 2D/3D
encoders + shared spatial MLP + shared temporal transformer) and the heads ``MPMForMaskedPoseModeling`` (stage I),
``MPMForPoseLifting`` and ``MPMForPoseCompletion`` (stage II).

Tensors: 2D keypoints ``(batch, frames, joints, 2)`` in normalised screen coordinates; 3D poses
``(batch, frames, joints, 3)`` in camera-space metres, root-relative (pelvis, joint 0, at the origin). Joint
features are flattened joint-major (``joint * coords + coord``), as in the released models.

Masks are tensors: ``spatial_mask (batch, frames, joints)`` and ``temporal_mask (batch, frames)``, bool, ``True``
meaning *masked* (callers turn body-part names into masks with ``mpm_hf.masking``).

This file only imports its sibling ``configuration_mpm``, so that a saved folder (``configuration_mpm.py`` and
``modeling_mpm.py``) loads with ``trust_remote_code=True`` without the package installed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_mpm import MPMConfig

# ----------------------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class MPMModelOutput(ModelOutput):
    """Output of the shared base model.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_visible_frames, hidden_size)`):
            Shared temporal transformer output for the frames that were encoded (all frames when no temporal mask).
        visible_frame_indices (`torch.LongTensor` of shape `(batch_size, num_visible_frames)`, *optional*):
            Frame index of each encoded token; `None` when every frame was encoded.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*): input of every temporal layer and the final output,
            each `(batch_size, num_visible_frames, hidden_size)`, when `output_hidden_states=True`.
        input_centre (`torch.FloatTensor` of shape `(batch_size, 1, 1, 2)`, *optional*),
        input_scale (`torch.FloatTensor` of shape `(batch_size, 1, 1, 1)`, *optional*): with
            `config.input_normalization="window"` and 2D input, the encoder saw `(poses - input_centre) /
            input_scale` (units of the input).
    """

    last_hidden_state: torch.FloatTensor | None = None
    visible_frame_indices: torch.LongTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    input_centre: torch.FloatTensor | None = None
    input_scale: torch.FloatTensor | None = None


@dataclass
class MPMMaskedPoseModelingOutput(ModelOutput):
    """Output of stage-I masked pose modeling.

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): weighted sum of the losses below that apply.
        loss_2d (`torch.FloatTensor`, *optional*): MPJPE of the reconstructed 2D sequence (normalised screen units;
            with `input_normalization="window"`, units of the window's half box size).
        loss_3d (`torch.FloatTensor`, *optional*): MPJPE of the reconstructed 3D sequence (metres).
        loss_lift (`torch.FloatTensor`, *optional*): MPJPE of the 3D lifted from the masked 2D sequence (metres).
        reconstructed_2d (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 2)`, *optional*).
        reconstructed_3d (`torch.FloatTensor` of shape `(batch_size_3d, num_frames, num_joints, 3)`, *optional*).
        lifted_3d (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 3)`, *optional*): 3D decoded
            from the masked 2D input (masked 2D->3D lifting), when `lift_labels` are given.
        spatial_mask_2d, spatial_mask_3d (`torch.BoolTensor` of shape `(batch_size, num_frames, num_joints)`):
            joints replaced by the spatial mask token.
        temporal_mask_2d, temporal_mask_3d (`torch.BoolTensor` of shape `(batch_size, num_frames)`): frames dropped
            from the encoder.
    """

    loss: torch.FloatTensor | None = None
    loss_2d: torch.FloatTensor | None = None
    loss_3d: torch.FloatTensor | None = None
    loss_lift: torch.FloatTensor | None = None
    reconstructed_2d: torch.FloatTensor | None = None
    reconstructed_3d: torch.FloatTensor | None = None
    lifted_3d: torch.FloatTensor | None = None
    spatial_mask_2d: torch.BoolTensor | None = None
    temporal_mask_2d: torch.BoolTensor | None = None
    spatial_mask_3d: torch.BoolTensor | None = None
    temporal_mask_3d: torch.BoolTensor | None = None


@dataclass
class MPMPoseLiftingOutput(ModelOutput):
    """Output of stage-II 2D->3D lifting.

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): `loss_weight_centre * loss_centre +
            loss_weight_sequence * loss_sequence`, when `labels` are given.
        loss_centre, loss_sequence (`torch.FloatTensor`, *optional*): MPJPE (metres) of the centre frame and of all
            frames.
        poses_3d (`torch.FloatTensor` of shape `(batch_size, 1, num_joints, 3)`): the centre frame from the strided
            transformer, camera-space metres, pelvis at the origin.
        sequence_poses_3d (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 3)`): every frame
            from the sequence head.
        refined_poses_3d (`torch.FloatTensor` of shape `(batch_size, 1, num_joints, 3)`, *optional*): the centre
            frame after the refine module (only with `use_refine` and camera inputs).
    """

    loss: torch.FloatTensor | None = None
    loss_centre: torch.FloatTensor | None = None
    loss_sequence: torch.FloatTensor | None = None
    poses_3d: torch.FloatTensor | None = None
    sequence_poses_3d: torch.FloatTensor | None = None
    refined_poses_3d: torch.FloatTensor | None = None


@dataclass
class MPMPoseCompletionOutput(ModelOutput):
    """Output of stage-II pose completion (partial 2D->3D or partial 3D->3D).

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): MPJPE (metres) over all frames, when `labels` given.
        poses_3d (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 3)`): the completed sequence.
        spatial_mask (`torch.BoolTensor` of shape `(batch_size, num_frames, num_joints)`): the joints that were hidden.
    """

    loss: torch.FloatTensor | None = None
    poses_3d: torch.FloatTensor | None = None
    spatial_mask: torch.BoolTensor | None = None


# ----------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------


def mpjpe_loss(prediction: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean per-joint position error: the Euclidean distance over the last axis, averaged over everything else.

    This is the "L2" loss of the paper (a distance, not a squared error). Units are those of the inputs. With
    ``valid`` (the target's shape without the last axis, bool) the mean is over the valid joints only, and the
    target's invalid entries (NaN for a missing detection) are ignored.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"labels: expected shape {tuple(prediction.shape)}, got {tuple(target.shape)}")
    if valid is None:
        return torch.linalg.vector_norm(prediction - target, dim=-1).mean()
    if valid.shape != target.shape[:-1]:
        raise ValueError(f"valid: expected shape {tuple(target.shape[:-1])}, got {tuple(valid.shape)}")
    target = torch.where(valid[..., None], target, prediction.detach())
    errors = torch.linalg.vector_norm(prediction - target, dim=-1)
    return (errors * valid).sum() / valid.sum().clamp(min=1)


def window_normalization(keypoints: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and scale of person-centred, scale-normalised 2D (``config.input_normalization="window"``).

    Args:
        keypoints: ``(batch, frames, joints, 2)`` in any units (pixels, normalised screen coordinates).
        visible: ``(batch, frames, joints)`` bool, the joints that count (missing / masked ones may hold anything).

    Returns float32 ``centre (batch, 1, 1, 2)``: the mean over frames of the per-frame box centres, and ``scale
    (batch, 1, 1, 1)``: half the mean over frames of the per-frame boxes' larger side; frames with fewer than two
    visible joints are left out, and a window without any such frame (or a degenerate one) gets centre 0 and
    scale 1. Per window, not per frame, so the person's motion inside the window is kept; ``(keypoints - centre) /
    scale`` is the same for ``a * keypoints + b`` (any image size, person size or position).
    """
    keypoints = keypoints.float()  # float32 statistics: pixel sums overflow float16 (243 frames of 4K pixels)
    inside = visible[..., None]
    lowest = torch.where(inside, keypoints, torch.inf).amin(dim=2)  # (batch, frames, 2)
    highest = torch.where(inside, keypoints, -torch.inf).amax(dim=2)
    counted = visible.sum(dim=-1) >= 2  # (batch, frames)
    frames = counted.sum(dim=1).clamp(min=1)
    size = torch.where(counted, (highest - lowest).amax(dim=-1), 0.0).sum(dim=1) / frames  # (batch,)
    centre = torch.where(counted[..., None], (highest + lowest) / 2, 0.0).sum(dim=1) / frames[:, None]
    usable = size > 0
    scale = torch.where(usable, size / 2, 1.0)
    centre = torch.where(usable[:, None], centre, 0.0)
    return centre[:, None, None, :], scale[:, None, None, None]


def zero_root(poses: torch.Tensor) -> torch.Tensor:
    """Set the root joint (index 0) to the origin: ``(..., joints, coords)`` -> same shape."""
    return torch.cat([torch.zeros_like(poses[..., :1, :]), poses[..., 1:, :]], dim=-2)


def visible_frame_indices(temporal_mask: torch.Tensor) -> torch.Tensor:
    """Indices of the unmasked frames of each row, in frame order: ``(batch, frames)`` -> ``(batch, visible)``."""
    batch_size = temporal_mask.shape[0]
    return (~temporal_mask).nonzero()[:, 1].reshape(batch_size, -1)


def token_batch_norm(batch_norm: nn.BatchNorm1d, hidden_states: torch.Tensor) -> torch.Tensor:
    """BatchNorm over every token: ``(batch, length, channels)``, statistics over batch and length.

    Identical to the release's ``BatchNorm1d`` on ``(batch, channels, length)``, without the permutes.
    """
    shape = hidden_states.shape
    return batch_norm(hidden_states.reshape(-1, shape[-1])).view(shape)


def check_poses(poses: torch.Tensor, config: MPMConfig, name: str, coords: tuple[int, ...]) -> None:
    """Raise ``ValueError`` for a pose tensor that does not match the configuration."""
    if not isinstance(poses, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(poses).__name__}")
    if poses.dim() != 4:
        raise ValueError(
            f"{name}: expected 4 dimensions (batch, frames, joints, coords), got shape {tuple(poses.shape)}"
        )
    batch_size, num_frames, num_joints, num_coords = poses.shape
    if batch_size == 0:
        raise ValueError(f"{name}: expected a non-empty batch, got batch size 0")
    if num_frames != config.num_frames:
        raise ValueError(f"{name}: expected {config.num_frames} frames (config.num_frames), got {num_frames}")
    if num_joints != config.num_joints:
        raise ValueError(f"{name}: expected {config.num_joints} joints (config.num_joints), got {num_joints}")
    if num_coords not in coords:
        raise ValueError(f"{name}: expected coordinates per joint in {coords}, got {num_coords}")


def check_mask(mask: torch.Tensor | None, expected_shape: tuple[int, ...], name: str) -> torch.Tensor | None:
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name}: expected a bool torch.Tensor, got {type(mask).__name__}")
    if tuple(mask.shape) != tuple(expected_shape):
        raise ValueError(f"{name}: expected shape {tuple(expected_shape)}, got {tuple(mask.shape)}")
    return mask.bool()


# ----------------------------------------------------------------------------------------------------------------
# Mask sampling (stage I)
# ----------------------------------------------------------------------------------------------------------------
# Stage I draws its masks inside ``forward`` (``config.mask_strategy``), so the samplers live with the model: a saved
# folder needs no other file. Vectorised, each with an optional ``torch.Generator`` for reproducible runs; every row
# masks exactly the same number of joints per frame / frames. ``mpm_hf.masking`` re-exports them.


def _rank_mask(scores: torch.Tensor, num_masked: int) -> torch.Tensor:
    """``True`` at the ``num_masked`` smallest scores of the last axis (exactly that many per row)."""
    if num_masked <= 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    ranks = scores.argsort(dim=-1).argsort(dim=-1)
    return ranks < num_masked


def sample_spatial_mask(
    batch_size: int,
    num_frames: int,
    num_joints: int,
    num_masked: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Random joints per frame: ``(batch, frames, joints)`` with exactly ``num_masked`` joints masked per frame."""
    if not 0 <= num_masked < num_joints:
        raise ValueError(f"num_masked: expected an integer in [0, {num_joints}), got {num_masked}")
    scores = torch.rand(batch_size, num_frames, num_joints, generator=generator, device=device)
    return _rank_mask(scores, num_masked)


def sample_tube_mask(
    batch_size: int,
    num_frames: int,
    num_joints: int,
    num_masked: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The same random joints in every frame of a window: ``(batch, frames, joints)``."""
    if not 0 <= num_masked < num_joints:
        raise ValueError(f"num_masked: expected an integer in [0, {num_joints}), got {num_masked}")
    scores = torch.rand(batch_size, 1, num_joints, generator=generator, device=device)
    return _rank_mask(scores, num_masked).expand(batch_size, num_frames, num_joints)


def sample_temporal_mask(
    batch_size: int,
    num_frames: int,
    num_masked: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Random whole frames: ``(batch, frames)`` with exactly ``num_masked`` frames masked per row."""
    if not 0 <= num_masked < num_frames:
        raise ValueError(f"num_masked: expected an integer in [0, {num_frames}), got {num_masked}")
    scores = torch.rand(batch_size, num_frames, generator=generator, device=device)
    return _rank_mask(scores, num_masked)


def sample_masks(
    strategy: str,
    batch_size: int,
    num_frames: int,
    num_joints: int,
    num_masked_joints: int,
    num_masked_frames: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spatial_mask (B, T, J), temporal_mask (B, T))`` for a stage-I strategy.

    ``spatio_temporal``: random joints per frame and random frames; ``spatial``: tube masking (the same joints in
    every frame, no frames dropped); ``temporal``: whole frames only.
    """
    no_joints = torch.zeros(batch_size, num_frames, num_joints, dtype=torch.bool, device=device)
    no_frames = torch.zeros(batch_size, num_frames, dtype=torch.bool, device=device)
    if strategy == "spatio_temporal":
        spatial = sample_spatial_mask(batch_size, num_frames, num_joints, num_masked_joints, generator, device)
        temporal = sample_temporal_mask(batch_size, num_frames, num_masked_frames, generator, device)
        return spatial, temporal
    if strategy == "spatial":
        return sample_tube_mask(batch_size, num_frames, num_joints, num_masked_joints, generator, device), no_frames
    if strategy == "temporal":
        return no_joints, sample_temporal_mask(batch_size, num_frames, num_masked_frames, generator, device)
    raise ValueError(f"strategy: expected one of ('spatio_temporal', 'spatial', 'temporal'), got {strategy!r}")


# ----------------------------------------------------------------------------------------------------------------
# Blocks
# ----------------------------------------------------------------------------------------------------------------


# Dropout on CPU. ``F.dropout`` draws one double per element and saves a float mask; this kernel draws 15 random bits
# per element and saves a bool mask. A/B in one process, 1 thread, 27-frame config (hidden 128, batch 256, default
# dropout rates), 30 interleaved lifting training steps each, thread CPU time, two runs: 667 / 629 ms with this
# kernel, 755 / 713 ms with ``F.dropout`` everywhere (-12 % per step; paired ratios 0.886, 0.879). On CUDA and under
# ``torch.compile`` it is ``F.dropout``.


class _MaskedScale(torch.autograd.Function):
    """``inputs * keep * scale`` that saves only the bool mask for the backward pass."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        # A bool operand makes the CPU multiply convert element by element; viewed as uint8 it is ~2x faster.
        return inputs.mul(keep.view(torch.uint8)).mul_(scale)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (keep,) = ctx.saved_tensors
        return grad_output.mul(keep.view(torch.uint8)).mul_(ctx.scale), None, None


def bernoulli_keep_mask(shape: tuple[int, ...], p: float, device: torch.device) -> tuple[torch.Tensor, float]:
    """A Bernoulli(1 - p) keep mask from 15 random bits per element, and the matching ``1 / (1 - p)`` scale.

    ``torch.nn.functional.dropout`` on CPU spends ~8 ns per element drawing a double; this draws 64-bit words
    (four elements each; the generator leaves the top bit of a word at 0, so 15 bits of every 16 are used) and
    compares them with an integer threshold: ~5x cheaper. ``p`` is quantised to a multiple of 2^-15
    (0.1 -> 0.100006) and the scale uses the quantised value, so the expectation stays exact.
    """
    numel = math.prod(shape)
    threshold = round(p * 32768)
    words = torch.empty((numel + 3) // 4, dtype=torch.int64, device=device).random_()
    quarters = words.view(torch.int16)[:numel].view(shape)
    return quarters.bitwise_and(0x7FFF) >= threshold, 32768.0 / (32768 - threshold)


def fast_dropout(hidden_states: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout; on CPU in eager mode it uses the cheap integer mask of `bernoulli_keep_mask`."""
    if not training or p == 0.0:
        return hidden_states
    if hidden_states.device.type != "cpu" or p >= 1.0 or torch.compiler.is_compiling():
        return F.dropout(hidden_states, p=p, training=True)
    keep, scale = bernoulli_keep_mask(hidden_states.shape, p, hidden_states.device)
    return _MaskedScale.apply(hidden_states, keep, scale)


class MPMDropout(nn.Module):
    """``nn.Dropout`` with the fast CPU mask of `fast_dropout` (same distribution, different random stream)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability: expected a value in [0, 1], got {p}")
        self.p = p

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return fast_dropout(hidden_states, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MPMLayerNorm(nn.Module):
    """The release's LayerNorm: ``weight * (x - mean) / (std + eps) + bias`` with the *unbiased* std.

    It differs from ``nn.LayerNorm`` (biased variance, eps inside the square root); converted checkpoints only
    reproduce the released outputs with this formula.
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.bias = nn.Parameter(torch.zeros(hidden_size))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        # Two passes (mean, then the norm of the centred values): on CPU ``torch.var_mean`` / ``std`` with
        # ``correction=1`` is about 10x slower than this, which made LayerNorm 15-30 % of a forward pass.
        mean = hidden_states.mean(dim=-1, keepdim=True)
        centred = hidden_states - mean
        std = torch.linalg.vector_norm(centred, dim=-1, keepdim=True) / math.sqrt(hidden_states.shape[-1] - 1)
        return torch.addcmul(self.bias, centred / (std + self.eps), self.weight)


class MPMPoseEncoder(nn.Module):
    """Light per-modality encoder, frame by frame: ``(B, T, J * coords)`` -> ``(B, T, spatial_hidden_size)``.

    Linear (the release's pointwise Conv1d), BatchNorm, LeakyReLU, Dropout.
    """

    def __init__(self, config: MPMConfig, coords: int):
        super().__init__()
        self.dense = nn.Linear(config.num_joints * coords, config.spatial_hidden_size)
        self.batch_norm = nn.BatchNorm1d(config.spatial_hidden_size, momentum=config.batch_norm_momentum)
        self.activation = nn.LeakyReLU(config.leaky_relu_slope)
        self.dropout = MPMDropout(config.spatial_dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.activation(token_batch_norm(self.batch_norm, self.dense(features))))


class MPMResidualBlock(nn.Module):
    """``x + [Linear, BN, LeakyReLU, Dropout] x 2 (x)`` on ``(B, T, spatial_hidden_size)``."""

    def __init__(self, config: MPMConfig):
        super().__init__()
        width = config.spatial_hidden_size
        self.dense1 = nn.Linear(width, width)
        self.batch_norm1 = nn.BatchNorm1d(width, momentum=config.batch_norm_momentum)
        self.dense2 = nn.Linear(width, width)
        self.batch_norm2 = nn.BatchNorm1d(width, momentum=config.batch_norm_momentum)
        self.activation = nn.LeakyReLU(config.leaky_relu_slope)
        self.dropout = MPMDropout(config.spatial_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = self.dropout(self.activation(token_batch_norm(self.batch_norm1, self.dense1(hidden_states))))
        residual = self.dropout(self.activation(token_batch_norm(self.batch_norm2, self.dense2(residual))))
        return hidden_states + residual


class MPMSpatialMLP(nn.Module):
    """Shared spatial MLP: one residual block on ``spatial_hidden_size``, then a projection to ``hidden_size``."""

    def __init__(self, config: MPMConfig):
        super().__init__()
        self.residual_block = MPMResidualBlock(config)
        self.projection = nn.Linear(config.spatial_hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.projection(self.residual_block(hidden_states))


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(Q K^T / sqrt(head_dim)) V`` computed explicitly: ``config._attn_implementation="eager"``.

    ``query``, ``key``, ``value``: ``(batch, heads, length, head_dim)``. Returns the context ``(batch, length, heads,
    head_dim)`` and the attention probabilities ``(batch, heads, length, length)``, as every function of
    ``transformers``' attention interface. Without ``scaling`` the scores are divided by ``sqrt(head_dim)`` as the
    release does, which reproduces its attention bit for bit (``* head_dim ** -0.5`` differs in the last bit).
    """
    scores = torch.matmul(query, key.transpose(2, 3))
    scores = scores / math.sqrt(query.shape[-1]) if scaling is None else scores * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    probabilities = fast_dropout(scores.softmax(dim=-1), dropout, module.training)
    context = torch.matmul(probabilities, value).transpose(1, 2).contiguous()
    return context, probabilities


class MPMSelfAttention(nn.Module):
    """Multi-head self-attention over frames with one fused QKV projection: ``(B, L, C)`` -> ``(B, L, C)``.

    The product goes through ``transformers``' attention interface (``ALL_ATTENTION_FUNCTIONS``), chosen by
    ``config._attn_implementation``: ``"sdpa"`` (the default) is ``scaled_dot_product_attention``, ``"eager"`` is
    `eager_attention_forward`, the release's arithmetic, for checking.
    """

    def __init__(self, config: MPMConfig):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.attention_dropout = config.attention_dropout
        self.is_causal = False
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch_size, length, hidden_size = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch_size, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        dropout = self.attention_dropout if self.training else 0.0
        implementation = self.config._attn_implementation
        if implementation == "sdpa" and dropout > 0 and hidden_states.device.type == "cpu":
            # SDPA with dropout on CPU falls back to a generic kernel, slower than the explicit product with the
            # fast dropout mask (the A/B set-up of `fast_dropout`: SDPA with dropout 673 ms, this path 628 ms, -7 %).
            # On CUDA SDPA handles dropout itself.
            implementation = "eager"
        attention: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        context, _ = attention(self, query, key, value, None, scaling=None, dropout=dropout, is_causal=False)
        return self.out_proj(context.reshape(batch_size, length, hidden_size))


class MPMFeedForward(nn.Module):
    """Position-wise feed-forward: Linear(C -> H), ReLU, Dropout, Linear(H -> C)."""

    def __init__(self, config: MPMConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = MPMDropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.relu(self.fc1(hidden_states))))


class MPMTransformerLayer(GradientCheckpointingLayer):
    """Pre-norm transformer layer: ``x + attn(LN(x))`` then ``x + FFN(LN(x))`` on ``(B, L, C)``."""

    def __init__(self, config: MPMConfig):
        super().__init__()
        self.attention_norm = MPMLayerNorm(config.hidden_size, config.layer_norm_eps)
        self.attention = MPMSelfAttention(config)
        self.feed_forward_norm = MPMLayerNorm(config.hidden_size, config.layer_norm_eps)
        self.feed_forward = MPMFeedForward(config)
        self.dropout = MPMDropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = hidden_states + self.dropout(self.attention(self.attention_norm(hidden_states)))
        return hidden_states + self.dropout(self.feed_forward(self.feed_forward_norm(hidden_states)))


class MPMStridedFeedForward(nn.Module):
    """Feed-forward whose second projection is a temporal convolution (kernel 3, stride ``s``, padding 1).

    The convolution is computed as an unfold over time followed by one matrix multiply on ``(B, L, C)``; its
    weight ``(C, H * 3)`` is the release's ``Conv1d`` weight ``(C, H, 3)`` reshaped.
    """

    def __init__(self, config: MPMConfig, stride: int):
        super().__init__()
        self.stride = stride
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.temporal_conv = nn.Linear(config.intermediate_size * 3, config.hidden_size)
        self.dropout = MPMDropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(F.relu(self.fc1(hidden_states)))
        padded = F.pad(hidden_states, (0, 0, 1, 1))
        windows = padded.unfold(1, 3, self.stride)  # (B, L_out, H, 3)
        return self.temporal_conv(windows.flatten(2))


class MPMStridedLayer(GradientCheckpointingLayer):
    """Strided transformer layer: ``x + attn(LN(x))``, then ``x[:, ::s] + StridedFFN(LN(x))``; length -> ceil(L/s)."""

    def __init__(self, config: MPMConfig, stride: int):
        super().__init__()
        self.stride = stride
        self.attention_norm = MPMLayerNorm(config.hidden_size, config.layer_norm_eps)
        self.attention = MPMSelfAttention(config)
        self.feed_forward_norm = MPMLayerNorm(config.hidden_size, config.layer_norm_eps)
        self.feed_forward = MPMStridedFeedForward(config, stride)
        self.dropout = MPMDropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = hidden_states + self.dropout(self.attention(self.attention_norm(hidden_states)))
        residual = hidden_states[:, :: self.stride]
        return residual + self.dropout(self.feed_forward(self.feed_forward_norm(hidden_states)))


class MPMTemporalTransformer(nn.Module):
    """Shared temporal transformer: learned position embedding ``(1, T, C)`` then ``num_hidden_layers`` layers.

    With a temporal mask only the visible frames are encoded (MAE style); their position embeddings are gathered.
    """

    def __init__(self, config: MPMConfig):
        super().__init__()
        self.position_embeddings = nn.Parameter(torch.zeros(1, config.num_frames, config.hidden_size))
        self.layers = nn.ModuleList([MPMTransformerLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states: torch.Tensor,
        visible_frames: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        position = self.position_embeddings
        if visible_frames is not None:
            position = position.expand(hidden_states.shape[0], -1, -1)
            position = position.gather(1, visible_frames[..., None].expand(-1, -1, position.shape[-1]))
        hidden_states = hidden_states + position
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for layer in self.layers:
            hidden_states = layer(hidden_states)
            if output_hidden_states:
                all_hidden_states = all_hidden_states + (hidden_states,)
        return hidden_states, all_hidden_states


class MPMStridedTransformer(nn.Module):
    """Strided transformer of the lifting head: ``(B, T, C)`` -> ``(B, 1, C)``, one layer per stride.

    Learned position embeddings, sliced to the current length, are added before the first three layers.
    """

    def __init__(self, config: MPMConfig):
        super().__init__()
        num_embeddings = min(3, len(config.strides))
        # One learned (T, C) embedding per early layer, stacked: (num_embeddings, T, C).
        self.position_embeddings = nn.Parameter(torch.zeros(num_embeddings, config.num_frames, config.hidden_size))
        self.layers = nn.ModuleList([MPMStridedLayer(config, stride) for stride in config.strides])

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            if index < self.position_embeddings.shape[0]:
                hidden_states = hidden_states + self.position_embeddings[index, : hidden_states.shape[1]]
            hidden_states = layer(hidden_states)
        return hidden_states


class MPMPoseHead(nn.Module):
    """BatchNorm + Linear from ``(B, L, C)`` to poses ``(B, L, J, coords)`` (joint-major features)."""

    def __init__(self, config: MPMConfig, coords: int):
        super().__init__()
        self.coords = coords
        self.batch_norm = nn.BatchNorm1d(config.hidden_size, momentum=config.batch_norm_momentum)
        self.dense = nn.Linear(config.hidden_size, config.num_joints * coords)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        poses = self.dense(token_batch_norm(self.batch_norm, hidden_states))
        return poses.unflatten(-1, (-1, self.coords))


class MPMDecoderBranch(nn.Module):
    """One modality's stage-I decoder: ``num_decoder_layers`` transformer layers then a pose head."""

    def __init__(self, config: MPMConfig, coords: int):
        super().__init__()
        self.layers = nn.ModuleList([MPMTransformerLayer(config) for _ in range(config.num_decoder_layers)])
        self.head = MPMPoseHead(config, coords)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden_states = layer(hidden_states)
        return self.head(hidden_states)


class MPMMaskedPoseDecoder(nn.Module):
    """Stage-I decoder shared by masked pose modeling and pose completion.

    The encoder output is normalised, visible tokens get the decoder position embedding, dropped frames come back as
    the learned temporal mask token plus their position embedding, in frame order; then the 2D or the 3D branch.
    """

    def __init__(self, config: MPMConfig):
        super().__init__()
        self.encoder_norm = MPMLayerNorm(config.hidden_size, config.layer_norm_eps)
        self.position_embeddings = nn.Parameter(torch.zeros(1, config.num_frames, config.hidden_size))
        self.temporal_mask_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.decoder_2d = MPMDecoderBranch(config, coords=2)
        self.decoder_3d = MPMDecoderBranch(config, coords=3)

    def restore_frames(self, hidden_states: torch.Tensor, visible_frames: torch.Tensor | None) -> torch.Tensor:
        """``(B, visible, C)`` -> ``(B, T, C)``: the decoder input with mask tokens at the dropped frames."""
        hidden_states = self.encoder_norm(hidden_states)
        batch_size, _, hidden_size = hidden_states.shape
        position = self.position_embeddings.expand(batch_size, -1, -1)
        if visible_frames is None:
            return hidden_states + position
        index = visible_frames[..., None].expand(-1, -1, hidden_size)
        full = self.temporal_mask_token + position
        return full.scatter(1, index, hidden_states + position.gather(1, index))

    def forward(self, hidden_states: torch.Tensor, coords: int) -> torch.Tensor:
        """Decode the restored sequence ``(B, T, C)`` into 2D or 3D poses ``(B, T, J, coords)``."""
        return self.decoder_2d(hidden_states) if coords == 2 else self.decoder_3d(hidden_states)


class MPMRefine(nn.Module):
    """The release's optional refine module for the centre frame (Human3.6M).

    Back-projects the 2D input with the predicted depth (plus the root depth) through normalised intrinsics, and
    blends the predicted x, y with the back-projected x, y using learned per-joint weights in (0, 1).
    """

    def __init__(self, config: MPMConfig):
        super().__init__()
        self.num_joints = config.num_joints
        self.dense_in = nn.Linear(config.num_joints * 3 * 2, config.refine_hidden_size)
        self.dropout = MPMDropout(0.5)
        self.dense_out = nn.Linear(config.refine_hidden_size, config.num_joints * 2)

    def forward(
        self,
        poses_3d: torch.Tensor,
        keypoints_2d: torch.Tensor,
        camera_intrinsics: torch.Tensor,
        root_depth: torch.Tensor,
    ) -> torch.Tensor:
        """Refine ``poses_3d (B, 1, J, 3)`` (metres, root-relative) given ``keypoints_2d (B, 1, J, 2)``
        (normalised screen coordinates), ``camera_intrinsics (B, 4)`` = normalised ``[fx, fy, cx, cy]`` and
        ``root_depth (B,)`` (metres, camera z of the pelvis)."""
        focal = camera_intrinsics[:, None, None, :2]
        centre = camera_intrinsics[:, None, None, 2:4]
        depth = poses_3d[..., 2:] + root_depth[:, None, None, None]
        back_projected = torch.cat([(keypoints_2d - centre) * depth / focal, depth], dim=-1)
        back_projected = back_projected - back_projected[..., :1, :]
        features = torch.cat([poses_3d, back_projected], dim=-1).flatten(1)
        score = torch.sigmoid(self.dense_out(self.dropout(F.relu(self.dense_in(features)))))
        score = score.view_as(poses_3d[..., :2])
        refined_xy = score * poses_3d[..., :2] + (1 - score) * back_projected[..., :2]
        return torch.cat([refined_xy, poses_3d[..., 2:]], dim=-1)


# ----------------------------------------------------------------------------------------------------------------
# Pre-trained model and base model
# ----------------------------------------------------------------------------------------------------------------


class MPMPreTrainedModel(PreTrainedModel):
    config_class = MPMConfig
    config: MPMConfig
    base_model_prefix = "mpm"
    main_input_name = "poses"
    supports_gradient_checkpointing = True
    _no_split_modules = ["MPMTransformerLayer", "MPMStridedLayer"]
    _supports_sdpa = True

    def __init__(self, config: MPMConfig, *inputs, **kwargs):
        # ``from_pretrained(..., num_frames=81)`` and attribute edits change a config after its own checks ran
        config.validate_mpm()
        super().__init__(config, *inputs, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.trunc_normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            if module.running_mean is not None:
                init.zeros_(module.running_mean)
                init.ones_(module.running_var)
                init.zeros_(module.num_batches_tracked)
        elif isinstance(module, MPMLayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, (MPMTemporalTransformer, MPMMaskedPoseDecoder, MPMStridedTransformer)):
            init.trunc_normal_(module.position_embeddings, mean=0.0, std=std)
            if isinstance(module, MPMMaskedPoseDecoder):
                init.trunc_normal_(module.temporal_mask_token, mean=0.0, std=std)
        elif isinstance(module, MPMModel):
            init.trunc_normal_(module.spatial_mask_token_2d, mean=0.0, std=std)
            init.trunc_normal_(module.spatial_mask_token_3d, mean=0.0, std=std)

    # ``mpm_hf`` sets these on import. The copy of this file in a model folder (``trust_remote_code``) may import
    # only its siblings: without the package a model saves and loads without them.
    # ``_checkpoint_integrity``: the ``mpm_hf.checksums`` module (checksums.json written on save, verified on load).
    _checkpoint_integrity = None
    # ``_declare_custom_pipeline(model, save_directory)``: puts the head's pipeline file in the folder and declares
    # it in ``config.custom_pipelines`` (``mpm_hf.auto.declare_custom_pipeline``).
    _declare_custom_pipeline: Callable[[PreTrainedModel, str | os.PathLike], None] | None = None

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """``PreTrainedModel.save_pretrained`` plus ``checksums.json``: the sha256 of ``config.json`` and every weight
        file, verified by ``from_pretrained``. A ``save_directory`` that is an existing file is a ``ValueError``.

        ``config.auto_map`` names the configuration and this class only (a config loaded from another head's folder
        would keep naming that head too); with the package imported, a lifting or completion head also declares its
        pipeline (``custom_pipelines``, see ``mpm_hf.auto.declare_custom_pipeline``).
        """
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory: expected a folder, got the existing file {os.fspath(save_directory)}")
        is_main_process = args[0] if args else kwargs.get("is_main_process", True)
        if is_main_process and self._auto_class is not None:
            self.config.auto_map = None  # ``save_pretrained`` writes the config's and this class's entries back
        if is_main_process and self._declare_custom_pipeline is not None:
            self._declare_custom_pipeline(self, save_directory)
        super().save_pretrained(save_directory, *args, **kwargs)
        if self._checkpoint_integrity is not None and is_main_process:
            self._checkpoint_integrity.write_checksums(save_directory)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """``PreTrainedModel.from_pretrained`` after the checks of ``mpm_hf.checksums``: a local path that does not
        exist is a ``FileNotFoundError`` at once, and the files ``checksums.json`` lists are hashed before anything is
        parsed (a mismatch or a malformed ``checksums.json`` is a ``ValueError`` naming the file).

        The load report is kept, not only logged: ``model.missing_weights`` lists the weights the checkpoint did not
        have (or had with another shape), which are randomly initialised; the pipelines refuse a model whose task
        needs any of them."""
        if cls._checkpoint_integrity is not None and pretrained_model_name_or_path is not None:
            pretrained_model_name_or_path = cls._checkpoint_integrity.check_local_path(pretrained_model_name_or_path)
            cls._checkpoint_integrity.verify_checksums(pretrained_model_name_or_path, **kwargs)
        wants_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True, **kwargs)
        mismatched = {entry[0] if isinstance(entry, (tuple, list)) else entry for entry in info["mismatched_keys"]}
        model.missing_weights = tuple(sorted(set(info["missing_keys"]) | mismatched))
        return (model, info) if wants_info else model

    @torch.no_grad()
    def fuse(self) -> MPMPreTrainedModel:
        """Fold every BatchNorm into its neighbouring Linear for inference (``eval()`` first; in place).

        Encoders and residual blocks compute ``BN(Linear(x))``: the BN is folded into the Linear that precedes it.
        Pose heads compute ``Linear(BN(x))``: the BN is folded into the Linear that follows it. The folded
        BatchNorms become ``nn.Identity``; outputs are unchanged up to float rounding. Training a fused model is
        not supported (the BN statistics are gone).
        """
        if self.training:
            raise ValueError("fuse(): expected a model in eval mode (call model.eval() first), got training mode")
        for module in self.modules():
            if isinstance(module, MPMPoseEncoder):
                _fold_batch_norm_after(module.dense, module.batch_norm)
                module.batch_norm = nn.Identity()
            elif isinstance(module, MPMResidualBlock):
                _fold_batch_norm_after(module.dense1, module.batch_norm1)
                _fold_batch_norm_after(module.dense2, module.batch_norm2)
                module.batch_norm1, module.batch_norm2 = nn.Identity(), nn.Identity()
            elif isinstance(module, MPMPoseHead):
                _fold_batch_norm_before(module.batch_norm, module.dense)
                module.batch_norm = nn.Identity()
        self.is_fused = True
        return self


def _batch_norm_affine(batch_norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """``BN(x) = scale * x + shift`` in eval mode."""
    scale = batch_norm.weight / torch.sqrt(batch_norm.running_var + batch_norm.eps)
    return scale, batch_norm.bias - batch_norm.running_mean * scale


def _fold_batch_norm_after(dense: nn.Linear, batch_norm: nn.BatchNorm1d) -> None:
    scale, shift = _batch_norm_affine(batch_norm)
    dense.weight.mul_(scale[:, None])
    dense.bias.mul_(scale).add_(shift)


def _fold_batch_norm_before(batch_norm: nn.BatchNorm1d, dense: nn.Linear) -> None:
    scale, shift = _batch_norm_affine(batch_norm)
    dense.bias.add_(dense.weight @ shift)
    dense.weight.mul_(scale[None, :])


class MPMModel(MPMPreTrainedModel):
    """The shared MPM base: 2D and 3D pose encoders, the shared spatial MLP and the shared temporal transformer.

    Masked joints (``spatial_mask``) have their coordinates replaced by the learned per-modality spatial mask token
    before the encoder; temporally masked frames (``temporal_mask``) are dropped before encoding (MAE style).
    """

    def __init__(self, config: MPMConfig):
        super().__init__(config)
        self.spatial_mask_token_2d = nn.Parameter(torch.zeros(2))
        self.spatial_mask_token_3d = nn.Parameter(torch.zeros(3))
        self.encoder_2d = MPMPoseEncoder(config, coords=2)
        self.encoder_3d = MPMPoseEncoder(config, coords=3)
        self.spatial_mlp = MPMSpatialMLP(config)
        self.temporal_transformer = MPMTemporalTransformer(config)
        self.post_init()

    def prepare_poses(
        self, poses: torch.Tensor, spatial_mask: torch.Tensor | None, temporal_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """What the encoder reads, without input checks: 2D windows normalised (``input_normalization="window"``,
        statistics over the joints neither masked nor in masked frames) and masked joints replaced by the spatial
        mask token. Returns ``(poses, input_centre, input_scale)`` (centre and scale ``None`` when not normalised)."""
        coords = poses.shape[-1]
        centre = scale = None
        if coords == 2 and self.config.input_normalization == "window":
            visible = torch.isfinite(poses).all(dim=-1)
            if spatial_mask is not None:
                visible = visible & ~spatial_mask
            if temporal_mask is not None:
                visible = visible & ~temporal_mask[..., None]
            centre, scale = window_normalization(poses.detach(), visible)
            # in float32, then the model's dtype: a float16 / bfloat16 model gets normalised values, not rounded pixels
            poses = ((poses.float() - centre) / scale).to(self.spatial_mask_token_2d.dtype)
        if spatial_mask is not None:
            token = self.spatial_mask_token_2d if coords == 2 else self.spatial_mask_token_3d
            poses = torch.where(spatial_mask[..., None], token.to(poses.dtype), poses)
        return poses, centre, scale

    def encode_poses(
        self, poses: torch.Tensor, visible_frames: torch.Tensor | None = None, output_hidden_states: bool = False
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        """Prepared poses ``(batch, frames, joints, coords)`` (of the visible frames) -> the pose encoder, the shared
        spatial MLP and the shared temporal transformer: ``(batch, frames, hidden_size)`` and the hidden states."""
        encoder = self.encoder_2d if poses.shape[-1] == 2 else self.encoder_3d
        hidden_states = self.spatial_mlp(encoder(poses.flatten(2).to(self.spatial_mask_token_2d.dtype)))
        return self.temporal_transformer(hidden_states, visible_frames, output_hidden_states)

    def forward(
        self,
        poses: torch.Tensor,
        spatial_mask: torch.Tensor | None = None,
        temporal_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> MPMModelOutput | tuple:
        r"""
        Args:
            poses (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 2 or 3)`):
                2D keypoints (normalised screen coordinates) or 3D poses (metres, root-relative). Entries of masked
                joints may be NaN; any other NaN/inf is an error.
            spatial_mask (`torch.BoolTensor` of shape `(batch_size, num_frames, num_joints)`, *optional*):
                `True` where a joint is masked (replaced by the spatial mask token).
            temporal_mask (`torch.BoolTensor` of shape `(batch_size, num_frames)`, *optional*):
                `True` where a frame is dropped from the encoder; every row must mask the same number of frames.
        """
        check_poses(poses, self.config, "poses", coords=(2, 3))
        batch_size, num_frames, num_joints, coords = poses.shape
        spatial_mask = check_mask(spatial_mask, (batch_size, num_frames, num_joints), "spatial_mask")
        temporal_mask = check_mask(temporal_mask, (batch_size, num_frames), "temporal_mask")

        poses, centre, scale = self.prepare_poses(poses, spatial_mask, temporal_mask)
        if not torch.isfinite(poses).all():
            raise ValueError(
                "poses: expected finite values at every unmasked joint, got NaN/inf; pass the missing joints in "
                "spatial_mask so that they are fed as masked joints"
            )

        visible_frames = None
        if temporal_mask is not None and temporal_mask.any():
            counts = temporal_mask.sum(dim=1)
            if not (counts == counts[0]).all():
                raise ValueError(
                    f"temporal_mask: expected the same number of masked frames in every row, got {counts.tolist()}"
                )
            if int(counts[0]) >= num_frames:
                raise ValueError(f"temporal_mask: expected at least one visible frame, got {num_frames} masked")
            visible_frames = visible_frame_indices(temporal_mask)
            poses = poses.gather(1, visible_frames[:, :, None, None].expand(-1, -1, num_joints, coords))

        hidden_states, all_hidden_states = self.encode_poses(poses, visible_frames, bool(output_hidden_states))
        output = MPMModelOutput(
            last_hidden_state=hidden_states,
            visible_frame_indices=visible_frames,
            hidden_states=all_hidden_states,
            input_centre=centre,
            input_scale=scale,
        )
        return output if return_dict is not False else output.to_tuple()


# ----------------------------------------------------------------------------------------------------------------
# Heads
# ----------------------------------------------------------------------------------------------------------------


class MPMForMaskedPoseModeling(MPMPreTrainedModel):
    """Stage I: masked 2D modelling, masked 3D modelling and (with paired 3D) masked 2D->3D lifting.

    The 2D and the 3D clip of a batch need not come from the same sequences (the release draws them unpaired);
    ``lift_labels`` is the 3D of the 2D clip when pairs exist.
    """

    main_input_name = "keypoints_2d"

    def __init__(self, config: MPMConfig):
        super().__init__(config)
        self.mpm = MPMModel(config)
        self.decoder = MPMMaskedPoseDecoder(config)
        self.post_init()

    def _sample_masks(
        self, poses: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch_size, num_frames, num_joints, _ = poses.shape
        return sample_masks(
            self.config.mask_strategy,
            batch_size,
            num_frames,
            num_joints,
            self.config.num_spatially_masked_joints,
            self.config.num_masked_frames,
            generator=generator,
            device=poses.device,
        )

    def _encode_masked(
        self,
        poses: torch.Tensor,
        spatial_mask: torch.Tensor | None,
        temporal_mask: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> tuple[MPMModelOutput, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mask, encode and restore one modality: returns the encoder output, the decoder input ``(B, T, C)`` and
        the masks used."""
        if spatial_mask is None or temporal_mask is None:
            sampled_spatial, sampled_temporal = self._sample_masks(poses, generator)
            spatial_mask = sampled_spatial if spatial_mask is None else spatial_mask
            temporal_mask = sampled_temporal if temporal_mask is None else temporal_mask
        encoded = self.mpm(poses, spatial_mask=spatial_mask, temporal_mask=temporal_mask)
        restored = self.decoder.restore_frames(encoded.last_hidden_state, encoded.visible_frame_indices)
        return encoded, restored, spatial_mask.bool(), temporal_mask.bool()

    def forward(
        self,
        keypoints_2d: torch.Tensor | None = None,
        poses_3d: torch.Tensor | None = None,
        lift_labels: torch.Tensor | None = None,
        labels_2d: torch.Tensor | None = None,
        valid_2d: torch.Tensor | None = None,
        spatial_mask_2d: torch.Tensor | None = None,
        temporal_mask_2d: torch.Tensor | None = None,
        spatial_mask_3d: torch.Tensor | None = None,
        temporal_mask_3d: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        return_dict: bool | None = None,
    ) -> MPMMaskedPoseModelingOutput | tuple:
        r"""
        Args:
            keypoints_2d (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 2)`, *optional*):
                2D clips in normalised screen coordinates; reconstructed from their masked version.
            poses_3d (`torch.FloatTensor` of shape `(batch_size_3d, num_frames, num_joints, 3)`, *optional*):
                3D clips in metres, root-relative; reconstructed from their masked version.
            lift_labels (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 3)`, *optional*):
                the 3D of `keypoints_2d`; adds the masked 2D->3D lifting loss.
            labels_2d (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 2)`, *optional*):
                the 2D to reconstruct when `keypoints_2d` is a corrupted copy (detector noise, dropped joints);
                default `keypoints_2d` itself.
            valid_2d (`torch.BoolTensor` of shape `(batch_size, num_frames, num_joints)`, *optional*): the joints of
                `labels_2d` the 2D loss scores (missing detections have no target); default: every finite joint.
            spatial_mask_2d, spatial_mask_3d (`torch.BoolTensor` `(batch, num_frames, num_joints)`, *optional*),
            temporal_mask_2d, temporal_mask_3d (`torch.BoolTensor` `(batch, num_frames)`, *optional*):
                masks to use; sampled with `config.mask_strategy` (and `generator`) when not given.
            generator (`torch.Generator`, *optional*): seeds the mask samplers.
        """
        if keypoints_2d is None and poses_3d is None:
            raise ValueError("keypoints_2d / poses_3d: expected at least one of them, got neither")
        if lift_labels is not None and keypoints_2d is None:
            raise ValueError("lift_labels: expected keypoints_2d to lift from, got keypoints_2d=None")
        output = MPMMaskedPoseModelingOutput()
        losses = []
        if keypoints_2d is not None:
            check_poses(keypoints_2d, self.config, "keypoints_2d", coords=(2,))
            encoded, restored, output.spatial_mask_2d, output.temporal_mask_2d = self._encode_masked(
                keypoints_2d, spatial_mask_2d, temporal_mask_2d, generator
            )
            reconstructed = self.decoder(restored, coords=2)
            target_2d = keypoints_2d if labels_2d is None else labels_2d
            if encoded.input_scale is not None:  # the decoder works in the window-normalised space of the encoder
                target_2d = (target_2d - encoded.input_centre) / encoded.input_scale
                output.reconstructed_2d = reconstructed * encoded.input_scale + encoded.input_centre
            else:
                output.reconstructed_2d = reconstructed
            if valid_2d is None:
                valid_2d = torch.isfinite(target_2d).all(dim=-1)
            valid_2d = check_mask(valid_2d, tuple(target_2d.shape[:-1]), "valid_2d")
            if valid_2d.any():
                output.loss_2d = mpjpe_loss(reconstructed, target_2d, valid_2d)
                losses.append(self.config.loss_weight_2d * output.loss_2d)
            if lift_labels is not None:
                output.lifted_3d = zero_root(self.decoder(restored, coords=3))
                output.loss_lift = mpjpe_loss(output.lifted_3d, lift_labels)
                losses.append(self.config.loss_weight_lift * output.loss_lift)
        if poses_3d is not None:
            check_poses(poses_3d, self.config, "poses_3d", coords=(3,))
            _, restored, output.spatial_mask_3d, output.temporal_mask_3d = self._encode_masked(
                poses_3d, spatial_mask_3d, temporal_mask_3d, generator
            )
            output.reconstructed_3d = zero_root(self.decoder(restored, coords=3))
            if torch.isfinite(poses_3d).all():
                output.loss_3d = mpjpe_loss(output.reconstructed_3d, poses_3d)
                losses.append(self.config.loss_weight_3d * output.loss_3d)
        if losses:
            output.loss = torch.stack(losses).sum()
        return output if return_dict is not False else output.to_tuple()


class MPMForPoseLifting(MPMPreTrainedModel):
    """Stage II: 2D->3D lifting. The shared base, a sequence head for every frame, and a strided transformer that
    reduces the window to its centre frame (plus the optional refine module)."""

    def __init__(self, config: MPMConfig):
        super().__init__(config)
        self.mpm = MPMModel(config)
        self.sequence_head = MPMPoseHead(config, coords=3)
        self.strided_transformer = MPMStridedTransformer(config)
        self.centre_head = MPMPoseHead(config, coords=3)
        self.refine = MPMRefine(config) if config.use_refine else None
        self.post_init()

    def forward(
        self,
        poses: torch.Tensor,
        spatial_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        camera_intrinsics: torch.Tensor | None = None,
        root_depth: torch.Tensor | None = None,
        predict_centre: bool = True,
        return_dict: bool | None = None,
    ) -> MPMPoseLiftingOutput | tuple:
        r"""
        Args:
            poses (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 2)`):
                2D keypoints in normalised screen coordinates.
            spatial_mask (`torch.BoolTensor` of shape `(batch_size, num_frames, num_joints)`, *optional*):
                missing joints (NaN or low-confidence detections), fed through the learned spatial mask token.
            labels (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 3)`, *optional*):
                ground-truth 3D (metres, root-relative) of every frame of the window.
            camera_intrinsics (`torch.FloatTensor` of shape `(batch_size, 4)`, *optional*): normalised
                `[fx, fy, cx, cy]`, for the refine module.
            root_depth (`torch.FloatTensor` of shape `(batch_size,)`, *optional*): camera-space depth of the pelvis
                in metres, for the refine module.
            predict_centre (`bool`, defaults to `True`): run the strided transformer and the centre head; `False`
                returns the sequence head alone (`poses_3d` is then `None`; the fast mode of
                `mpm_hf.inference.lift_sequence`). Training (`labels`) needs both heads.
        """
        check_poses(poses, self.config, "poses", coords=(2,))
        if labels is not None and not predict_centre:
            raise ValueError("predict_centre: expected True when labels are given (the loss needs both heads)")
        hidden_states = self.mpm(poses, spatial_mask=spatial_mask).last_hidden_state
        sequence_poses = zero_root(self.sequence_head(hidden_states))
        if not predict_centre:
            output = MPMPoseLiftingOutput(sequence_poses_3d=sequence_poses)
            return output if return_dict is not False else output.to_tuple()
        centre_poses = zero_root(self.centre_head(self.strided_transformer(hidden_states)))
        output = MPMPoseLiftingOutput(poses_3d=centre_poses, sequence_poses_3d=sequence_poses)

        if self.refine is not None and camera_intrinsics is not None and root_depth is not None:
            centre = self.config.num_frames // 2
            centre_2d = poses[:, centre : centre + 1]
            if spatial_mask is not None:
                centre_2d = torch.where(spatial_mask[:, centre : centre + 1, :, None], 0.0, centre_2d)
            output.refined_poses_3d = self.refine(centre_poses, centre_2d, camera_intrinsics, root_depth)

        if labels is not None:
            check_poses(labels, self.config, "labels", coords=(3,))
            centre = self.config.num_frames // 2
            prediction = output.refined_poses_3d if output.refined_poses_3d is not None else centre_poses
            output.loss_centre = mpjpe_loss(prediction, labels[:, centre : centre + 1])
            output.loss_sequence = mpjpe_loss(sequence_poses, labels)
            output.loss = (
                self.config.loss_weight_centre * output.loss_centre
                + self.config.loss_weight_sequence * output.loss_sequence
            )
        return output if return_dict is not False else output.to_tuple()


class MPMForPoseCompletion(MPMPreTrainedModel):
    """Stage II: pose completion. Partial 2D->3D or partial 3D->3D: hidden joints (a spatial mask: occluded body
    parts, missing detections) are fed as masked joints and the 3D decoder outputs the full sequence.

    Body-part names become a mask outside the model: ``mpm_hf.masking.body_part_mask`` / ``resolve_joints``.
    """

    def __init__(self, config: MPMConfig):
        super().__init__(config)
        self.mpm = MPMModel(config)
        self.decoder = MPMMaskedPoseDecoder(config)
        self.post_init()

    def forward(
        self,
        poses: torch.Tensor,
        spatial_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> MPMPoseCompletionOutput | tuple:
        r"""
        Args:
            poses (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 2 or 3)`):
                partial 2D keypoints (normalised screen coordinates) or partial 3D poses (metres, root-relative).
            spatial_mask (`torch.BoolTensor` of shape `(batch_size, num_frames, num_joints)`, *optional*):
                `True` at the hidden joints (occluded body parts, NaN entries); none hidden when not given.
            labels (`torch.FloatTensor` of shape `(batch_size, num_frames, num_joints, 3)`, *optional*):
                the complete 3D sequence (metres, root-relative). The loss follows the paper: every frame for
                partial 3D->3D, the centre frame for partial 2D->3D (plus `loss_weight_completion_sequence` times
                every frame's).
        """
        check_poses(poses, self.config, "poses", coords=(2, 3))
        batch_size, num_frames, num_joints, _ = poses.shape
        mask = check_mask(spatial_mask, (batch_size, num_frames, num_joints), "spatial_mask")
        if mask is None:
            mask = torch.zeros(batch_size, num_frames, num_joints, dtype=torch.bool, device=poses.device)
        encoded = self.mpm(poses, spatial_mask=mask)
        restored = self.decoder.restore_frames(encoded.last_hidden_state, None)
        completed = zero_root(self.decoder(restored, coords=3))
        output = MPMPoseCompletionOutput(poses_3d=completed, spatial_mask=mask)
        if labels is not None:
            check_poses(labels, self.config, "labels", coords=(3,))
            if poses.shape[-1] == 2:
                centre = self.config.num_frames // 2
                output.loss = mpjpe_loss(completed[:, centre : centre + 1], labels[:, centre : centre + 1])
                if self.config.loss_weight_completion_sequence:
                    output.loss = output.loss + self.config.loss_weight_completion_sequence * mpjpe_loss(
                        completed, labels)
            else:
                output.loss = mpjpe_loss(completed, labels)
        return output if return_dict is not False else output.to_tuple()
