"""Reference MPM that follows the released research code's design (github.com/vvirgooo2/MPM).

Not for users. This file exists for two jobs: equivalence tests (a converted release checkpoint
loaded here and into ``mpm_hf`` must give the same outputs) and CPU benchmarks of our model against
the released design. It therefore keeps what the release does, inefficiencies included:

- the module tree, parameter names and shapes (``state_dict`` keys equal the release's, in order),
  and the construction order, so a seeded initialisation draws random numbers as the release does
  (including its ``copy.deepcopy`` clones, which start all transformer layers, and the four
  attention projections of a layer, from identical weights);
- the numerics: Conv1d(kernel 1) as per-frame linear layers behind permutes, hand-written
  attention (``softmax(q k^T / sqrt(d_k))``, dropout on the probabilities), ReLU feed-forward,
  LayerNorm ``a_2 * (x - mean) / (std + eps) + b_2`` with the *unbiased* std and ``eps`` on the std,
  joint-major feature flattening (``feature = joint * coords + coord``);
- unused parameters: every transformer ``Encoder`` defines a final ``norm`` it never applies.

What differs from the release, none of it numerical: CPU only, torch bool masks instead of numpy,
keyword constructors instead of an ``args`` namespace, no attention ``mask`` argument (never used),
and tensors laid out ``(batch, frames, joints, coords)`` instead of ``(batch, coords, frames, joints, 1)``.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
from torch import nn

RELEASED_KEYS_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "docs" / "official_mpm_state_dict_keys.txt"
)

# The release's stride schedule per window length (``common/opt.py``).
RELEASED_STRIDES = {
    1: [1],
    9: [1, 3, 3],
    27: [3, 3, 3],
    81: [3, 3, 3, 3],
    243: [3, 3, 3, 3, 3],
    351: [3, 9, 13],
}


def released_key_shapes(section: str, path: str | Path | None = None) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of one section of ``official_mpm_state_dict_keys.txt``, in file order.

    ``section`` is a heading of the file: ``"stage2_Model"``, ``"stage1_MPMmask2"`` or ``"refine"``.
    """
    path = Path(path) if path is not None else RELEASED_KEYS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"released state_dict key list not found: {path}")
    sections: dict[str, dict[str, tuple[int, ...]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), {})
        elif line:
            if current is None:
                raise ValueError(f"{path}: tensor line before any '## section' heading: {line!r}")
            name, shape = line.split(" ", 1)
            current[name] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
    if section not in sections:
        raise KeyError(f"section {section!r} not in {path}; sections: {sorted(sections)}")
    return sections[section]


def _clones(module: nn.Module, n: int) -> nn.ModuleList:
    return nn.ModuleList(copy.deepcopy(module) for _ in range(n))


def _to_channels_first(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 1).contiguous()


# --------------------------------------------------------------------------- transformer blocks


class LayerNorm(nn.Module):
    """The release's LayerNorm: unbiased std, ``eps`` added to the std (not to the variance)."""

    def __init__(self, features: int, eps: float = 1e-6):
        super().__init__()
        self.a_2 = nn.Parameter(torch.ones(features))
        self.b_2 = nn.Parameter(torch.zeros(features))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        return self.a_2 * (x - mean) / (std + self.eps) + self.b_2


class MultiHeadedAttention(nn.Module):
    """Self-attention with ``linears.0..2`` = query, key, value and ``linears.3`` = output."""

    def __init__(self, h: int, d_model: int, dropout: float = 0.1):
        super().__init__()
        if d_model % h:
            raise ValueError(f"d_model ({d_model}) must be divisible by the number of heads ({h})")
        self.d_k = d_model // h
        self.h = h
        self.linears = _clones(nn.Linear(d_model, d_model), 4)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.size(0)
        query, key, value = (
            linear(x).view(batch, -1, self.h, self.d_k).transpose(1, 2) for linear in self.linears[:3]
        )
        scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(self.d_k)
        probs = self.dropout(torch.softmax(scores, dim=-1))
        out = torch.matmul(probs, value).transpose(1, 2).contiguous().view(batch, -1, self.h * self.d_k)
        return self.linears[3](out)


class PositionwiseFeedForward(nn.Module):
    """Linear -> ReLU -> dropout -> Linear (the release names its ReLU ``gelu``)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1):
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.dropout(self.activation(self.w_1(x))))


class StridedFeedForward(nn.Module):
    """Conv1d(k=1) -> ReLU -> dropout -> Conv1d(k=3, stride, padding 1) over frames."""

    def __init__(self, d_model: int, d_ff: int, stride: int, dropout: float = 0.1):
        super().__init__()
        self.w_1 = nn.Conv1d(d_model, d_ff, kernel_size=1, stride=1)
        self.w_2 = nn.Conv1d(d_ff, d_model, kernel_size=3, stride=stride, padding=1)
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.w_2(self.dropout(self.activation(self.w_1(x.permute(0, 2, 1)))))
        return x.permute(0, 2, 1)


class SublayerConnection(nn.Module):
    """Pre-norm residual ``res(x) + dropout(sublayer(norm(x)))``.

    With ``stride > 1`` the residual is ``MaxPool1d(kernel 1, stride)`` over frames, i.e. every
    ``stride``-th frame, so it matches the strided convolution's output length.
    """

    def __init__(self, size: int, dropout: float, stride: int = 1):
        super().__init__()
        self.norm = LayerNorm(size)
        self.dropout = nn.Dropout(dropout)
        self.pooling = nn.MaxPool1d(1, stride) if stride != 1 else None

    def forward(self, x: torch.Tensor, sublayer) -> torch.Tensor:
        residual = x if self.pooling is None else self.pooling(x.permute(0, 2, 1)).permute(0, 2, 1)
        return residual + self.dropout(sublayer(self.norm(x)))


class EncoderLayer(nn.Module):
    """Pre-norm attention then feed-forward; ``stride`` pools the feed-forward residual."""

    def __init__(
        self, size: int, self_attn: nn.Module, feed_forward: nn.Module, dropout: float, stride: int = 1
    ):
        super().__init__()
        self.self_attn = self_attn
        self.feed_forward = feed_forward
        self.sublayer = nn.ModuleList(
            [SublayerConnection(size, dropout), SublayerConnection(size, dropout, stride)]
        )
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sublayer[0](x, self.self_attn)
        return self.sublayer[1](x, self.feed_forward)


class Encoder(nn.Module):
    """``N`` deep copies of one layer; ``norm`` exists (checkpoint key) but is never applied."""

    def __init__(self, layer: EncoderLayer, n: int):
        super().__init__()
        self.layers = _clones(layer, n)
        self.norm = LayerNorm(layer.size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def _encoder(n_layers: int, d_model: int, d_ff: int, h: int, dropout: float) -> Encoder:
    # The release builds one attention (dropout fixed at 0.1) and one feed-forward, then deep-copies.
    attn = MultiHeadedAttention(h, d_model)
    ff = PositionwiseFeedForward(d_model, d_ff, dropout)
    return Encoder(EncoderLayer(d_model, copy.deepcopy(attn), copy.deepcopy(ff), dropout), n_layers)


class Transformer(nn.Module):
    """Shared temporal transformer: ``+ pos_embedding``, optional MAE frame dropping, ``layers`` layers.

    ``mask_MAE`` (frames,) bool, True = masked: masked frames are removed *after* the position
    embedding is added and before the first layer, so only visible frames are encoded.
    """

    def __init__(
        self, n_layers: int, d_model: int, d_ff: int, h: int = 8, dropout: float = 0.1, length: int = 27
    ):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.randn(1, length, d_model))
        self.model = _encoder(n_layers, d_model, d_ff, h, dropout)

    def forward(self, x: torch.Tensor, mask_MAE: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.pos_embedding
        if mask_MAE is not None:
            batch, _, channels = x.shape
            x = x[:, ~mask_MAE].reshape(batch, -1, channels)
        return self.model(x)


class TransformerDec(nn.Module):
    """Stage-I decoder transformer (release ``Transformer_dec``): no position embedding of its own."""

    def __init__(self, n_layers: int, d_model: int, d_ff: int, h: int = 8, dropout: float = 0.1):
        super().__init__()
        self.model = _encoder(n_layers, d_model, d_ff, h, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class StridedEncoder(nn.Module):
    """Strided layers; ``pos_embedding_1..3`` (sliced to the current length) precede layers 0, 1, 2."""

    def __init__(self, layers: nn.ModuleList, length: int, d_model: int):
        super().__init__()
        self.layers = layers
        self.norm = LayerNorm(d_model)  # never applied, as in the release
        self.pos_embedding_1 = nn.Parameter(torch.randn(1, length, d_model))
        self.pos_embedding_2 = nn.Parameter(torch.randn(1, length, d_model))
        self.pos_embedding_3 = nn.Parameter(torch.randn(1, length, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pos_embeddings = (self.pos_embedding_1, self.pos_embedding_2, self.pos_embedding_3)
        for i, layer in enumerate(self.layers):
            if i < len(pos_embeddings):
                x = x + pos_embeddings[i][:, : x.shape[1]]
            x = layer(x)
        return x


class TransformerReduce(nn.Module):
    """Strided transformer (release ``strided_transformer_encoder.Transformer``): T -> T / prod(strides)."""

    def __init__(
        self,
        n_layers: int,
        d_model: int,
        d_ff: int,
        h: int = 8,
        length: int = 27,
        stride_num: list[int] | None = None,
        dropout: float = 0.1,
    ):
        super().__init__()
        if stride_num is None or len(stride_num) != n_layers:
            raise ValueError(f"need one stride per layer: {n_layers} layers, stride_num={stride_num}")
        self.stride_num = list(stride_num)
        attn = MultiHeadedAttention(h, d_model)
        layers = []
        for stride in self.stride_num:
            ff = StridedFeedForward(d_model, d_ff, stride, dropout)
            layers.append(EncoderLayer(d_model, copy.deepcopy(attn), copy.deepcopy(ff), dropout, stride))
        self.model = StridedEncoder(nn.ModuleList(layers), length, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# --------------------------------------------------------------------------- per-frame MLPs


class SimpleMLP(nn.Module):
    """Modality encoder (release ``Simplemlp``): Conv1d(k=1) -> BN -> LeakyReLU(0.2) -> dropout."""

    def __init__(self, channel_in: int, linear_size: int, p_dropout: float):
        super().__init__()
        self.fc_1 = nn.Conv1d(channel_in, linear_size, kernel_size=1)
        self.bn_1 = nn.BatchNorm1d(linear_size)
        self.relu = nn.LeakyReLU(0.2)
        self.dropout = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.relu(self.bn_1(self.fc_1(x))))


class ResidualLinear(nn.Module):
    """Release ``Linear``: x + [Conv1d(k=1), BN, LeakyReLU(0.2), dropout] x 2."""

    def __init__(self, linear_size: int, p_dropout: float):
        super().__init__()
        self.relu = nn.LeakyReLU(0.2)
        self.dropout = nn.Dropout(p_dropout)
        self.w1 = nn.Conv1d(linear_size, linear_size, kernel_size=1)
        self.batch_norm1 = nn.BatchNorm1d(linear_size)
        self.w2 = nn.Conv1d(linear_size, linear_size, kernel_size=1)
        self.batch_norm2 = nn.BatchNorm1d(linear_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(self.relu(self.batch_norm1(self.w1(x))))
        y = self.dropout(self.relu(self.batch_norm2(self.w2(y))))
        return x + y


class FCBlock(nn.Module):
    """Shared spatial MLP: ``block_num`` residual blocks, then Conv1d(k=1) to ``channel_out``."""

    def __init__(self, channel_out: int, linear_size: int, block_num: int, p_dropout: float):
        super().__init__()
        blocks = [ResidualLinear(linear_size, p_dropout) for _ in range(block_num)]
        # Registration order as in the release (``fc_2`` before ``layers`` in the state_dict).
        self.fc_2 = nn.Conv1d(linear_size, channel_out, kernel_size=1)
        self.layers = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.fc_2(x)


def _pose_head(channel: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm1d(channel, momentum=0.1), nn.Conv1d(channel, out_features, kernel_size=1)
    )


def _check_input(x: torch.Tensor, frames: int, n_joints: int, coords: tuple[int, ...]) -> None:
    if x.dim() != 4 or x.shape[1] != frames or x.shape[2] != n_joints or x.shape[3] not in coords:
        raise ValueError(
            f"expected input (batch, {frames}, {n_joints}, {'|'.join(map(str, coords))}), "
            f"got {tuple(x.shape)}"
        )


# --------------------------------------------------------------------------- stage II


class ReferenceMPMLift(nn.Module):
    """Release stage-II lifting model (``model/MPM.py: Model``).

    ``forward(x)`` with ``x`` (batch, frames, joints, 2) normalised screen coordinates returns
    ``(centre, sequence)``: ``centre`` (batch, 1, joints, 3) from the strided transformer + ``fcn``,
    ``sequence`` (batch, frames, joints, 3) from ``fcn_1`` on every frame (root-relative, the unit of
    the training targets: metres). ``mlp_dropout`` 0.2 is the release's stage-II value.
    """

    def __init__(
        self,
        *,
        layers: int = 4,
        channel: int = 256,
        d_hid: int = 512,
        frames: int = 243,
        n_joints: int = 17,
        stride_num: list[int] | None = None,
        mlp_dropout: float = 0.2,
    ):
        super().__init__()
        stride_num = list(stride_num) if stride_num is not None else RELEASED_STRIDES[frames]
        self.frames, self.num_joints = frames, n_joints
        self.encoder2d = SimpleMLP(2 * n_joints, 2 * channel, mlp_dropout)
        self.shared_layers_spatial = FCBlock(channel, 2 * channel, 1, mlp_dropout)
        self.shared_layers_temporal = Transformer(layers, channel, d_hid, length=frames)
        self.Transformer_reduce = TransformerReduce(
            len(stride_num), channel, d_hid, length=frames, stride_num=stride_num
        )
        self.fcn = _pose_head(channel, 3 * n_joints)
        self.fcn_1 = _pose_head(channel, 3 * n_joints)

    def _to_poses(self, head: nn.Sequential, features: torch.Tensor) -> torch.Tensor:
        out = head(_to_channels_first(features))  # (B, J*3, T), channel = joint * 3 + coord
        return out.view(out.shape[0], self.num_joints, 3, out.shape[2]).permute(0, 3, 1, 2).contiguous()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_input(x, self.frames, self.num_joints, (2,))
        batch, frames = x.shape[:2]
        x = _to_channels_first(x.reshape(batch, frames, -1))
        x = self.shared_layers_spatial(self.encoder2d(x))
        x = self.shared_layers_temporal(_to_channels_first(x))
        sequence = self._to_poses(self.fcn_1, x)
        centre = self._to_poses(self.fcn, self.Transformer_reduce(x))
        return centre, sequence


# --------------------------------------------------------------------------- stage I


class ReferenceMPMPretrain(nn.Module):
    """Release stage-I masked pose model (``model/MPMLift.py: MPMmask2``).

    ``forward(x, spatial_mask, temporal_mask, lift=False)``, ``x`` (batch, frames, joints, 2 or 3):

    - ``spatial_mask`` bool, True = joint replaced by ``spatial_mask_token2d``/``3d`` before the
      encoder. Joint masking (``tube_mask=False``, the release's pre-training): (frames, joints) shared
      by the batch, as the release, or (batch, frames, joints); each sample must mask
      ``spatial_mask_num * frames`` joints in total (the release's ``expand`` requires it; its
      ``MaskGen`` draws ``spatial_mask_num`` per frame). Tube masking (``tube_mask=True``, the release's
      completion runs): (joints,) or (batch, joints), the same joints in every frame. ``None``: no
      spatial masking (the release always passes a mask).
    - ``temporal_mask`` (frames,) bool shared by the batch, True = frame dropped before the temporal
      transformer and replaced by ``temporal_mask_token`` before the decoder. ``None`` = all visible.

    Returns the reconstruction (batch, frames, joints, d) from the decoder of the input's modality;
    for 2D input with ``lift=True`` the tuple ``(poses_2d, poses_3d)``, the second from ``decoder3d``.
    An empty batch is returned unchanged, as in the release. ``mlp_dropout`` 0.1 is the release's
    stage-I value (``model/component/Encoder.py``).
    """

    def __init__(
        self,
        *,
        layers: int = 4,
        channel: int = 256,
        d_hid: int = 512,
        frames: int = 243,
        n_joints: int = 17,
        spatial_mask_num: int = 5,
        tube_mask: bool = False,
        mlp_dropout: float = 0.1,
    ):
        super().__init__()
        self.frames, self.num_joints = frames, n_joints
        self.spatial_mask_num, self.tube_mask = spatial_mask_num, tube_mask
        self.encoder2d = SimpleMLP(2 * n_joints, 2 * channel, mlp_dropout)
        self.encoder3d = SimpleMLP(3 * n_joints, 2 * channel, mlp_dropout)
        self.shared_layers_spatial = FCBlock(channel, 2 * channel, 1, mlp_dropout)
        self.shared_layers_temporal = Transformer(layers, channel, d_hid, length=frames)
        self.encoder_LN = LayerNorm(channel)
        self.dec_pos_embedding = nn.Parameter(torch.randn(1, frames, channel))
        self.temporal_mask_token = nn.Parameter(torch.randn(1, 1, channel))
        self.spatial_mask_token3d = nn.Parameter(torch.randn(1, 1, 3))
        self.spatial_mask_token2d = nn.Parameter(torch.randn(1, 1, 2))
        self.decoder2d = TransformerDec(1, channel, d_hid)
        self.decoder3d = TransformerDec(1, channel, d_hid)
        self.fcn_dec2d = _pose_head(channel, 2 * n_joints)
        self.fcn_dec3d = _pose_head(channel, 3 * n_joints)

    def _joint_mask(self, spatial_mask: torch.Tensor, batch: int) -> torch.Tensor:
        """The spatial mask as (batch or 1, frames, joints) bool."""
        frames, joints = self.frames, self.num_joints
        mask = spatial_mask.to(torch.bool)
        if self.tube_mask:
            if mask.shape not in ((joints,), (batch, joints)):
                raise ValueError(
                    f"tube mask must be ({joints},) or ({batch}, {joints}), got {tuple(mask.shape)}"
                )
            return mask.view(-1, 1, joints)
        if mask.shape not in ((frames, joints), (batch, frames, joints)):
            raise ValueError(
                f"joint mask must be ({frames}, {joints}) or ({batch}, {frames}, {joints}), "
                f"got {tuple(mask.shape)}"
            )
        mask = mask.view(-1, frames, joints)
        counts = mask.flatten(1).sum(1)
        if not bool((counts == self.spatial_mask_num * frames).all()):
            raise ValueError(
                f"joint mask must mask spatial_mask_num * frames = {self.spatial_mask_num * frames} joints "
                f"per sample, got {counts.tolist()}"
            )
        return mask

    def _decode(
        self, decoder: TransformerDec, head: nn.Sequential, tokens: torch.Tensor, coords: int
    ) -> torch.Tensor:
        out = head(_to_channels_first(decoder(tokens)))  # (B, J*coords, T)
        return _to_channels_first(out).view(out.shape[0], self.frames, self.num_joints, coords)

    def forward(
        self,
        x: torch.Tensor,
        spatial_mask: torch.Tensor | None = None,
        temporal_mask: torch.Tensor | None = None,
        lift: bool = False,
    ):
        if x.shape[0] == 0:
            return x
        _check_input(x, self.frames, self.num_joints, (2, 3))
        batch, frames, _, coords = x.shape
        if spatial_mask is not None:
            token = self.spatial_mask_token2d if coords == 2 else self.spatial_mask_token3d
            x = torch.where(self._joint_mask(spatial_mask, batch)[..., None], token.view(coords), x)

        x = _to_channels_first(x.reshape(batch, frames, -1))
        x = self.shared_layers_spatial((self.encoder2d if coords == 2 else self.encoder3d)(x))

        if temporal_mask is None:
            temporal_mask = torch.zeros(frames, dtype=torch.bool, device=x.device)
        temporal_mask = temporal_mask.to(device=x.device, dtype=torch.bool)
        if temporal_mask.shape != (frames,):
            raise ValueError(f"temporal mask must be ({frames},), got {tuple(temporal_mask.shape)}")
        features = self.encoder_LN(self.shared_layers_temporal(_to_channels_first(x), mask_MAE=temporal_mask))

        # MAE decoder input: [visible frames | masked frames], then back to frame order.
        pos = self.dec_pos_embedding.expand(batch, -1, -1)
        tokens = torch.cat(
            [features + pos[:, ~temporal_mask], self.temporal_mask_token + pos[:, temporal_mask]], dim=1
        )
        order = torch.cat([torch.nonzero(~temporal_mask).flatten(), torch.nonzero(temporal_mask).flatten()])
        tokens = tokens[:, torch.argsort(order)]

        if coords == 3:
            return self._decode(self.decoder3d, self.fcn_dec3d, tokens, 3)
        poses_2d = self._decode(self.decoder2d, self.fcn_dec2d, tokens, 2)
        if lift:
            return poses_2d, self._decode(self.decoder3d, self.fcn_dec3d, tokens, 3)
        return poses_2d


# --------------------------------------------------------------------------- refine


class ReferenceRefine(nn.Module):
    """Release refine module (``model/component/refine.py``), one output frame.

    ``forward(x, x_1)``: ``x`` (batch, 1, joints, 3) the predicted centre frame, ``x_1`` (batch, 1,
    joints, 3) the same pose back-projected from the 2D input (``released_uvd_to_xyz``). The MLP reads
    ``cat(x, x_1, -1)`` flattened joint-major (6 values per joint) and gives a per-joint, per-axis
    weight ``s`` in (0, 1); the output is ``x`` with x,y replaced by ``s * x + (1 - s) * x_1``.
    """

    def __init__(
        self, *, n_joints: int = 17, in_channels: int = 2, out_channels: int = 3, hidden: int = 1024
    ):
        super().__init__()
        self.post_refine = nn.Sequential(
            nn.Linear(out_channels * 2 * n_joints, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, in_channels * n_joints),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor, x_1: torch.Tensor) -> torch.Tensor:
        batch, frames, joints, _ = x.shape
        score = self.post_refine(torch.cat((x, x_1), -1).view(batch, -1)).view(batch, frames, joints, 2)
        xy = score * x[..., :2] + (1 - score) * x_1[..., :2]
        return torch.cat((xy, x[..., 2:]), -1)


def released_uvd_to_xyz(uvd: torch.Tensor, gt_3d: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """The release's ``common/camera.py: get_uvd2xyz``: back-project (u, v, depth) to root-relative xyz.

    - ``uvd`` (batch, frames, joints, 3): u, v = the 2D *input* (normalised screen coordinates,
      ``x / w * 2 - 1``, ``y / w * 2 - h / w``) of the centre frame; d = the *predicted* root-relative
      depth (metres) of the centre frame. The root's d is ignored.
    - ``gt_3d`` (batch, frames, joints, 3): only ``gt_3d[:, :, 0, 2]`` is read, the ground-truth
      absolute camera-space depth of the root (metres); the release's Human3.6M loader keeps joint 0
      absolute and makes joints 1.. root-relative.
    - ``cam`` (batch, >= 4): normalised intrinsics ``[fx, fy, cx, cy, ...]`` with
      ``f = f_px / w * 2`` and ``c = c_px / w * 2 - [1, h / w]`` (distortion terms unused).

    Depth z = root depth (+ predicted depth for non-root joints); x, y = (uv - c) * z / f; the result
    is relative to the root (root row exactly 0).
    """
    root_z = gt_3d[:, :, :1, 2:3]
    z = torch.cat((root_z, uvd[:, :, 1:, 2:3] + root_z), dim=2)
    focal, centre = cam[:, None, None, :2], cam[:, None, None, 2:4]
    xyz = torch.cat(((uvd[..., :2] - centre) * z / focal, z), -1)
    return xyz - xyz[:, :, :1]
