"""Mapping of the released MPM checkpoints (stage-I ``MPMmask2``, stage-II ``Model``, ``refine``) onto our classes.

The release stores pointwise ``Conv1d`` weights ``(out, in, 1)``, four separate attention projections
(``linears.0..3`` = query, key, value, output), a strided ``Conv1d`` ``(C, H, 3)``, LayerNorms as ``a_2``/``b_2``
and three strided position embeddings. We fuse Q/K/V into one projection, use ``Linear`` layers and stack the
strided embeddings; the numerics are the same (see ``tests/test_conversion.py``, which compares against a
re-implementation of the released design).

The release defines a final LayerNorm (``*.model.norm``) in every transformer that its forward never applies:
those tensors are dropped, and listed as such in the report.

A checkpoint that does not fit is refused with one ``ValueError`` that lists, by their release names, every tensor
it lacks (with the name it would have in our model), every tensor we have no place for, and every shape mismatch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .configuration_mpm import MPMConfig, default_strides

TASKS = ("pretrain", "lifting")


@dataclass
class ConversionReport:
    """What the conversion did: unused release tensors, our tensors the release does not have."""

    dropped: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def load_released_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a released ``.pth``: a plain state dict, or a dict holding one (``model``, ``state_dict``, ...).

    ``module.`` prefixes left by ``nn.DataParallel`` are stripped. Raises ``ValueError`` naming the file when it
    cannot be read or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--checkpoint: file not found: {path}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt / non-checkpoint files
        raise ValueError(f"--checkpoint {path}: not a readable PyTorch checkpoint ({error})") from error
    if isinstance(loaded, dict) and not any(isinstance(v, torch.Tensor) for v in loaded.values()):
        for key in ("state_dict", "model", "model_pos", "model_state_dict", "net"):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not loaded:
        raise ValueError(f"--checkpoint {path}: expected a state dict of tensors, got {type(loaded).__name__}")
    tensors = {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"--checkpoint {path}: expected a state dict of tensors, found none")
    return {re.sub(r"^module\.", "", key): value for key, value in tensors.items()}


def _transformer_layer_rules(source: str, target: str, strided: bool) -> list[tuple[str, str, str]]:
    """(release pattern, our pattern, transform) for the layers of one transformer."""
    rules = [
        (rf"{source}\.layers\.(\d+)\.self_attn\.linears\.3\.(weight|bias)",
         rf"{target}.layers.\1.attention.out_proj.\2", "copy"),
        (rf"{source}\.layers\.(\d+)\.sublayer\.0\.norm\.a_2", rf"{target}.layers.\1.attention_norm.weight", "copy"),
        (rf"{source}\.layers\.(\d+)\.sublayer\.0\.norm\.b_2", rf"{target}.layers.\1.attention_norm.bias", "copy"),
        (rf"{source}\.layers\.(\d+)\.sublayer\.1\.norm\.a_2", rf"{target}.layers.\1.feed_forward_norm.weight", "copy"),
        (rf"{source}\.layers\.(\d+)\.sublayer\.1\.norm\.b_2", rf"{target}.layers.\1.feed_forward_norm.bias", "copy"),
        (rf"{source}\.layers\.(\d+)\.feed_forward\.w_1\.(weight|bias)", rf"{target}.layers.\1.feed_forward.fc1.\2",
         "squeeze"),
        (rf"{source}\.norm\.(a_2|b_2)", "", "drop"),
    ]
    if strided:
        rules.append((rf"{source}\.layers\.(\d+)\.feed_forward\.w_2\.(weight|bias)",
                      rf"{target}.layers.\1.feed_forward.temporal_conv.\2", "flatten"))
    else:
        rules.append((rf"{source}\.layers\.(\d+)\.feed_forward\.w_2\.(weight|bias)",
                      rf"{target}.layers.\1.feed_forward.fc2.\2", "copy"))
    return rules


def _pose_encoder_rules(source: str, target: str) -> list[tuple[str, str, str]]:
    return [
        (rf"{source}\.fc_1\.(weight|bias)", rf"{target}.dense.\1", "squeeze"),
        (rf"{source}\.bn_1\.(\w+)", rf"{target}.batch_norm.\1", "copy"),
    ]


def _head_rules(source: str, target: str) -> list[tuple[str, str, str]]:
    return [
        (rf"{source}\.0\.(\w+)", rf"{target}.batch_norm.\1", "copy"),
        (rf"{source}\.1\.(weight|bias)", rf"{target}.dense.\1", "squeeze"),
    ]


SHARED_RULES = [
    *_pose_encoder_rules("encoder2d", "mpm.encoder_2d"),
    *_pose_encoder_rules("encoder3d", "mpm.encoder_3d"),
    (r"shared_layers_spatial\.layers\.0\.w1\.(weight|bias)", r"mpm.spatial_mlp.residual_block.dense1.\1", "squeeze"),
    (r"shared_layers_spatial\.layers\.0\.w2\.(weight|bias)", r"mpm.spatial_mlp.residual_block.dense2.\1", "squeeze"),
    (r"shared_layers_spatial\.layers\.0\.batch_norm1\.(\w+)", r"mpm.spatial_mlp.residual_block.batch_norm1.\1",
     "copy"),
    (r"shared_layers_spatial\.layers\.0\.batch_norm2\.(\w+)", r"mpm.spatial_mlp.residual_block.batch_norm2.\1",
     "copy"),
    (r"shared_layers_spatial\.fc_2\.(weight|bias)", r"mpm.spatial_mlp.projection.\1", "squeeze"),
    (r"shared_layers_temporal\.pos_embedding", "mpm.temporal_transformer.position_embeddings", "copy"),
    *_transformer_layer_rules(r"shared_layers_temporal\.model", "mpm.temporal_transformer", strided=False),
]

PRETRAIN_RULES = [
    *SHARED_RULES,
    (r"spatial_mask_token2d", "mpm.spatial_mask_token_2d", "flatten_token"),
    (r"spatial_mask_token3d", "mpm.spatial_mask_token_3d", "flatten_token"),
    (r"dec_pos_embedding", "decoder.position_embeddings", "copy"),
    (r"temporal_mask_token", "decoder.temporal_mask_token", "copy"),
    (r"encoder_LN\.a_2", "decoder.encoder_norm.weight", "copy"),
    (r"encoder_LN\.b_2", "decoder.encoder_norm.bias", "copy"),
    *_transformer_layer_rules(r"decoder2d\.model", "decoder.decoder_2d", strided=False),
    *_transformer_layer_rules(r"decoder3d\.model", "decoder.decoder_3d", strided=False),
    *_head_rules(r"fcn_dec2d", "decoder.decoder_2d.head"),
    *_head_rules(r"fcn_dec3d", "decoder.decoder_3d.head"),
]

LIFTING_RULES = [
    *SHARED_RULES,
    *_transformer_layer_rules(r"Transformer_reduce\.model", "strided_transformer", strided=True),
    *_head_rules(r"fcn", "centre_head"),
    *_head_rules(r"fcn_1", "sequence_head"),
]

REFINE_RULES = [
    (r"post_refine\.0\.(weight|bias)", r"refine.dense_in.\1", "copy"),
    (r"post_refine\.3\.(weight|bias)", r"refine.dense_out.\1", "copy"),
]

QKV_PATTERN = re.compile(r"^(.+)\.layers\.(\d+)\.self_attn\.linears\.([012])\.(weight|bias)$")
STRIDED_EMBEDDING_PATTERN = re.compile(r"^Transformer_reduce\.model\.pos_embedding_([123])$")
ATTENTION_PREFIXES = {
    "shared_layers_temporal.model": "mpm.temporal_transformer",
    "decoder2d.model": "decoder.decoder_2d",
    "decoder3d.model": "decoder.decoder_3d",
    "Transformer_reduce.model": "strided_transformer",
}


def _apply(transform: str, tensor: torch.Tensor) -> torch.Tensor:
    if transform == "squeeze":
        return tensor.squeeze(-1) if tensor.dim() == 3 else tensor
    if transform == "flatten":
        return tensor.reshape(tensor.shape[0], -1) if tensor.dim() == 3 else tensor
    if transform == "flatten_token":
        return tensor.reshape(-1)
    return tensor


def infer_config(state_dict: dict[str, torch.Tensor], task: str, num_frames: int, num_layers: int,
                 use_refine: bool = False, downsample: int = 1) -> MPMConfig:
    """An ``MPMConfig`` matching the released tensors; ``ValueError`` when they contradict the arguments."""
    encoder = state_dict.get("encoder2d.fc_1.weight")
    position = state_dict.get("shared_layers_temporal.pos_embedding")
    if encoder is None or position is None:
        raise ValueError("checkpoint: expected the released MPM tensors 'encoder2d.fc_1.weight' and "
                         "'shared_layers_temporal.pos_embedding', not found: is this an MPM checkpoint?")
    if position.shape[1] != num_frames:
        raise ValueError(f"--num-frames: expected {position.shape[1]} (the checkpoint's position embedding), "
                         f"got {num_frames}")
    layer_pattern = re.compile(r"shared_layers_temporal\.model\.layers\.(\d+)\.")
    layers = {int(m.group(1)) for k in state_dict if (m := layer_pattern.match(k))}
    if len(layers) != num_layers:
        raise ValueError(f"--num-layers: expected {len(layers)} (temporal layers in the checkpoint), got {num_layers}")
    spatial = encoder.shape[0]
    hidden = position.shape[2]
    # any temporal layer gives the width; without one the conversion lists every missing tensor by name
    ffn_weights = [v for k, v in state_dict.items() if re.fullmatch(r"shared_layers_temporal\.model\.layers\.\d+\."
                                                                    r"feed_forward\.w_1\.weight", k)]
    ffn = ffn_weights[0].shape[0] if ffn_weights else MPMConfig().intermediate_size
    decoder_layers = {int(m.group(1)) for k in state_dict if (m := re.match(r"decoder2d\.model\.layers\.(\d+)\.", k))}
    strides = default_strides(num_frames)  # strided layers missing or extra are listed by name by the conversion
    return MPMConfig(
        num_joints=encoder.shape[1] // 2,
        num_frames=num_frames,
        hidden_size=hidden,
        spatial_hidden_size=spatial,
        intermediate_size=ffn,
        num_hidden_layers=num_layers,
        num_decoder_layers=max(len(decoder_layers), 1),
        strides=strides,
        use_refine=use_refine,
        downsample=downsample,
    )


def convert_state_dict(
    state_dict: dict[str, torch.Tensor],
    task: str,
    refine_state_dict: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Rename and reshape released tensors into our names. Unknown keys raise ``ValueError`` listing them."""
    converted, report, _ = _convert(state_dict, task, refine_state_dict)
    if report.unexpected:
        raise ValueError(_unexpected_message(report.unexpected, task))
    return converted, report


def _unexpected_message(unexpected: list[str], task: str) -> str:
    return f"{len(unexpected)} tensors not part of the released {task} model: {unexpected}"


def _convert(
    state_dict: dict[str, torch.Tensor],
    task: str,
    refine_state_dict: dict[str, torch.Tensor] | None = None,
    num_strided_embeddings: int | None = None,
) -> tuple[dict[str, torch.Tensor], ConversionReport, dict[str, str]]:
    """``convert_state_dict`` that collects unknown keys in ``report.unexpected`` instead of raising; also returns
    the release name of each converted tensor (ours -> theirs). An attention without all of its three projections,
    or strided position embeddings that are not exactly ``1..num_strided_embeddings``, are left out (so listed as
    missing by the caller); embeddings beyond that range are unexpected."""
    if task not in TASKS:
        raise ValueError(f"--task: expected one of {TASKS}, got {task!r}")
    rules = [(re.compile(f"^{pattern}$"), target, transform)
             for pattern, target, transform in (PRETRAIN_RULES if task == "pretrain" else LIFTING_RULES)]
    converted: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    report = ConversionReport()
    qkv_parts: dict[tuple[str, str, str], dict[int, torch.Tensor]] = {}
    strided_embeddings: dict[int, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if (match := QKV_PATTERN.match(key)) and match.group(1) in ATTENTION_PREFIXES:
            prefix, layer, index, kind = match.groups()
            qkv_parts.setdefault((prefix, layer, kind), {})[int(index)] = tensor
            continue
        if task == "lifting" and (match := STRIDED_EMBEDDING_PATTERN.match(key)):
            strided_embeddings[int(match.group(1))] = tensor
            continue
        for pattern, target, transform in rules:
            if pattern.match(key):
                if transform == "drop":
                    report.dropped.append(key)
                else:
                    name = pattern.sub(target, key)
                    converted[name], origin[name] = _apply(transform, tensor), key
                break
        else:
            report.unexpected.append(key)
    for (prefix, layer, kind), parts in qkv_parts.items():
        if sorted(parts) == [0, 1, 2]:
            name = f"{ATTENTION_PREFIXES[prefix]}.layers.{layer}.attention.qkv.{kind}"
            converted[name] = torch.cat([parts[0], parts[1], parts[2]], dim=0)
            origin[name] = f"{prefix}.layers.{layer}.self_attn.linears.0-2.{kind}"
    if num_strided_embeddings is None:
        num_strided_embeddings = max(strided_embeddings, default=0)
    expected_embeddings = list(range(1, num_strided_embeddings + 1))
    if strided_embeddings and sorted(strided_embeddings) == expected_embeddings:
        converted["strided_transformer.position_embeddings"] = torch.cat(
            [strided_embeddings[i] for i in expected_embeddings], dim=0
        )
        origin["strided_transformer.position_embeddings"] = "Transformer_reduce.model.pos_embedding_*"
    else:
        report.unexpected.extend(f"Transformer_reduce.model.pos_embedding_{i}"
                                 for i in sorted(set(strided_embeddings) - set(expected_embeddings)))
    for key, tensor in (refine_state_dict or {}).items():
        for pattern, target, _ in REFINE_RULES:
            if re.match(f"^{pattern}$", key):
                name = re.sub(f"^{pattern}$", target, key)
                converted[name], origin[name] = tensor, f"--refine {key}"
                break
        else:
            report.unexpected.append(f"--refine {key}")
    return converted, report, origin


def _inverted(rules: list[tuple[str, str, str]]) -> list[tuple[re.Pattern, str]]:
    """(our-name regex, release-name template) of each renaming rule: ``{target}`` back to ``{source}``."""
    inverted = []
    for pattern, target, transform in rules:
        if transform == "drop":
            continue
        groups = re.findall(r"\([^()]*\)", pattern)
        pieces = re.split(r"\\(\d)", target)  # literal, group number, literal, ...
        regex = "".join(re.escape(piece) if i % 2 == 0 else f"(?P<g{piece}>{groups[int(piece) - 1][1:-1]})"
                        for i, piece in enumerate(pieces))
        literals = re.split(r"\([^()]*\)", pattern)  # the text around the groups
        template = "".join(literal.replace("\\.", ".") + (f"\\g<g{i + 1}>" if i < len(groups) else "")
                           for i, literal in enumerate(literals))
        inverted.append((re.compile(f"^{regex}$"), template))
    return inverted


def _release_names(name: str, task: str, num_strided_embeddings: int) -> list[str]:
    """The release tensors our tensor ``name`` is made from (``--refine ...`` for the refine module's)."""
    if match := re.fullmatch(r"(.+)\.layers\.(\d+)\.attention\.qkv\.(weight|bias)", name):
        prefix = {ours: theirs for theirs, ours in ATTENTION_PREFIXES.items()}[match.group(1)]
        return [f"{prefix}.layers.{match.group(2)}.self_attn.linears.{i}.{match.group(3)}" for i in range(3)]
    if name == "strided_transformer.position_embeddings":
        return [f"Transformer_reduce.model.pos_embedding_{i}" for i in range(1, num_strided_embeddings + 1)]
    rules = PRETRAIN_RULES if task == "pretrain" else LIFTING_RULES
    for rule_set, prefix in ((rules, ""), (REFINE_RULES, "--refine ")):
        for regex, template in _inverted(rule_set):
            if match := regex.match(name):
                return [prefix + match.expand(template)]
    return [name]


def convert_released_checkpoint(
    state_dict: dict[str, torch.Tensor],
    task: str,
    num_frames: int,
    num_layers: int,
    refine_state_dict: dict[str, torch.Tensor] | None = None,
    downsample: int = 1,
):
    """A ready model (``MPMForMaskedPoseModeling`` or ``MPMForPoseLifting``) holding the released weights.

    Every one of our tensors must come from the checkpoint except those the release does not have (the lifting
    model's 3D encoder, freshly initialised and unused, and its spatial mask tokens, zero: a missing joint goes in
    as (0, 0); both listed in ``report.initialised``). Unknown and missing tensors and shape mismatches raise one
    ``ValueError`` listing all of them by their release names (and ours).
    """
    from .modeling_mpm import MPMForMaskedPoseModeling, MPMForPoseLifting

    config = infer_config(state_dict, task, num_frames, num_layers, use_refine=refine_state_dict is not None,
                          downsample=downsample)
    num_embeddings = min(3, len(config.strides)) if task == "lifting" else 0  # of the first three strided layers
    converted, report, origin = _convert(state_dict, task, refine_state_dict, num_embeddings)
    model = (MPMForMaskedPoseModeling if task == "pretrain" else MPMForPoseLifting)(config)
    expected = model.state_dict()
    mismatched = [f"{origin[k]}: ours {k} {tuple(expected[k].shape)} vs checkpoint {tuple(v.shape)}"
                  for k, v in converted.items() if k in expected and expected[k].shape != v.shape]
    extra = sorted(origin[k] for k in set(converted) - set(expected))
    optional = ("mpm.encoder_3d.", "mpm.spatial_mask_token_") if task == "lifting" else ()
    provided = set(state_dict) | {f"--refine {key}" for key in refine_state_dict or {}}
    missing = [f"{theirs} (ours: {ours})" for ours in sorted(set(expected) - set(converted))
               if not ours.startswith(optional)
               for theirs in _release_names(ours, task, num_embeddings) if theirs not in provided]
    problems = []
    if report.unexpected:
        problems.append(_unexpected_message(report.unexpected, task))
    if extra:
        problems.append(f"{len(extra)} tensors with no place in a {num_layers}-layer, {num_frames}-frame model "
                        f"(strides {list(config.strides)}): {extra}")
    if missing:
        problems.append(f"{len(missing)} tensors missing from the checkpoint: {missing}")
    if mismatched:
        problems.append(f"shape mismatches: {mismatched}")
    if problems:
        raise ValueError("checkpoint does not match the released MPM layout; " + "; ".join(problems))
    report.initialised = sorted(set(expected) - set(converted))
    model.load_state_dict(converted, strict=False)
    with torch.no_grad():  # the release has no mask tokens: a missing joint goes in as (0, 0), the same every time
        for name in report.initialised:
            if name.startswith("mpm.spatial_mask_token_"):
                model.get_parameter(name).zero_()
    return model.eval(), report
