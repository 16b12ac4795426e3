"""ONNX export of the lifting and completion heads, for inference with onnxruntime alone (no torch, no mpm-hf).

``export_onnx(model, "mpm.onnx")`` writes one self-contained ``.onnx`` file (weights inside) with a dynamic batch
dimension:

- inputs: ``poses (batch, frames, joints, 2)`` float32, 2D keypoints (normalised screen coordinates with
  ``config.input_normalization="screen"``; any units with ``"window"``, whose normalisation is part of the graph),
  and ``spatial_mask (batch, frames, joints)`` bool, the missing joints (fed through the learned spatial mask token;
  their coordinates may hold anything, NaN included). The mask input is always present: pass all-False for
  windows without missing joints.
- outputs, in camera-space metres, root-relative (pelvis, joint 0, at the origin): ``MPMForPoseLifting`` ->
  ``poses_3d (batch, 1, joints, 3)`` (the centre frame, the paper's per-frame protocol) and ``sequence_poses_3d
  (batch, frames, joints, 3)``; ``MPMForPoseCompletion`` -> ``poses_3d (batch, frames, joints, 3)``.

The graph is the model's own arithmetic: a small wrapper calls the model's layers on full windows without the
Python-side input checks of ``forward`` (``torch.isfinite(...).all()`` and friends are data-dependent and cannot be
traced). The caller is therefore responsible for what those checks catch: ``num_frames`` frames, ``num_joints``
joints, and finite coordinates at every joint that is not in ``spatial_mask`` (an unmasked NaN gives NaN output).

Everything a user needs to build the inputs (window length, frame step, input normalisation, joint order, the
full config) is written into the ONNX ``metadata_props`` (``onnxruntime``:
``session.get_modelmeta().custom_metadata_map``); ``docs/deployment.md`` shows a numpy-only inference loop.

Needs the optional dependencies ``pip install "mpm-hf[onnx]"`` (onnx, onnxscript for torch's exporter,
onnxruntime for the check after export).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from .keypoints import model_skeleton
from .modeling_mpm import MPMForPoseCompletion, MPMForPoseLifting, MPMModel, zero_root

__all__ = ["MIN_OPSET", "VERIFY_TOLERANCE", "export_onnx", "onnx_metadata"]

MIN_OPSET = 18
"""Lowest ONNX opset: torch's exporter writes opset 18+ and cannot convert MPM's reductions further down."""

EXPORT_BATCH_SIZE = 2
"""Batch of the example inputs: ``torch.export`` specialises a dimension whose example size is 1."""

VERIFY_BATCH_SIZE = 3
"""Batch of the check after export, different from ``EXPORT_BATCH_SIZE`` so that a fixed batch would show."""

VERIFY_TOLERANCE = 1e-4
"""Largest accepted difference (metres) between onnxruntime and torch in the check after export."""

INPUT_NAMES = ("poses", "spatial_mask")
OUTPUT_NAMES = {"lifting": ("poses_3d", "sequence_poses_3d"), "completion": ("poses_3d",)}
_TASKS = {MPMForPoseLifting: "lifting", MPMForPoseCompletion: "completion"}


# ----------------------------------------------------------------------------------------------------------------
# The exported graphs
# ----------------------------------------------------------------------------------------------------------------


def _encode(mpm: MPMModel, poses: torch.Tensor, spatial_mask: torch.Tensor) -> torch.Tensor:
    """``MPMModel.forward`` on full windows (no temporal mask) without its input checks: ``(B, T, C)``; the model's
    own ``prepare_poses`` (window normalisation, spatial mask token) and ``encode_poses``."""
    prepared, _, _ = mpm.prepare_poses(poses, spatial_mask)
    return mpm.encode_poses(prepared)[0]


class _LiftingGraph(nn.Module):
    """``MPMForPoseLifting.forward`` without checks, labels or refine: ``(poses_3d, sequence_poses_3d)``."""

    def __init__(self, model: MPMForPoseLifting):
        super().__init__()
        self.model = model

    def forward(self, poses: torch.Tensor, spatial_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden_states = _encode(self.model.mpm, poses, spatial_mask)
        sequence_poses = zero_root(self.model.sequence_head(hidden_states))
        centre_poses = zero_root(self.model.centre_head(self.model.strided_transformer(hidden_states)))
        return centre_poses, sequence_poses


class _CompletionGraph(nn.Module):
    """``MPMForPoseCompletion.forward`` without checks or labels: the completed ``poses_3d``."""

    def __init__(self, model: MPMForPoseCompletion):
        super().__init__()
        self.model = model

    def forward(self, poses: torch.Tensor, spatial_mask: torch.Tensor) -> torch.Tensor:
        hidden_states = _encode(self.model.mpm, poses, spatial_mask)
        restored = self.model.decoder.restore_frames(hidden_states, None)
        return zero_root(self.model.decoder(restored, coords=3))


# ----------------------------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------------------------


def export_onnx(
    model: MPMForPoseLifting | MPMForPoseCompletion,
    output_path: str | os.PathLike,
    opset: int | None = None,
    *,
    input_coords: int = 2,
    fuse: bool = True,
    verify: bool = True,
) -> Path:
    """Write ``model`` (eval mode, float32, CPU) as an ONNX file with a dynamic batch dimension.

    Args:
        model: an ``MPMForPoseLifting`` or an ``MPMForPoseCompletion`` (load a stage-I checkpoint with
            ``MPMForPoseCompletion.from_pretrained``). It is copied; the caller's model is left as it is.
        output_path: the ``.onnx`` file to write (its folder is created; an existing file is replaced).
        opset: ONNX opset, ``MIN_OPSET`` (18) or more; default: torch's exporter's.
        input_coords: 2 (2D keypoints) or, for completion models only, 3 (partial 3D poses, metres,
            root-relative).
        fuse: fold the BatchNorms into the neighbouring Linears (``model.fuse()`` on the copy) first: fewer nodes,
            same outputs up to float rounding.
        verify: run the written file with onnxruntime on a batch of ``VERIFY_BATCH_SIZE`` windows with missing
            joints and compare with the model's own ``forward``; ``RuntimeError`` (and no file) when they differ by
            more than ``VERIFY_TOLERANCE`` metres.

    The lifting head's optional refine module (``config.use_refine``) needs camera inputs and is left out, with a
    warning. Returns the path written. Raises ``ValueError`` for another model class, a bad ``opset`` or
    ``input_coords``, or an output path that is not a writable ``.onnx`` file; ``ImportError`` when the ``onnx``
    extra is not installed.
    """
    task = _task_of(model)
    if input_coords not in (2, 3) or (input_coords == 3 and task == "lifting"):
        allowed = "2 (lifting models take 2D keypoints)" if task == "lifting" else "2 or 3"
        raise ValueError(f"input_coords: expected {allowed}, got {input_coords!r}")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET):
        raise ValueError(f"opset: expected an integer >= {MIN_OPSET} (torch's ONNX exporter), got {opset!r}")
    if task == "lifting" and model.config.use_refine:
        warnings.warn(
            "config.use_refine: the refine module needs camera intrinsics and the root depth and is not exported; "
            "poses_3d is the centre frame before refinement", stacklevel=2,
        )
    output = _check_output_path(output_path)
    onnx = _require("onnx")
    _require("onnxscript")

    reference = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    exported = reference
    if fuse and not getattr(reference, "is_fused", False):
        exported = copy.deepcopy(reference).fuse()
    graph = (_LiftingGraph if task == "lifting" else _CompletionGraph)(exported).eval()
    config = reference.config
    example = _example_inputs(config, EXPORT_BATCH_SIZE, input_coords, missing_ratio=0.0)

    # dynamo=True (torch.export): the legacy TorchScript exporter cannot export the strided transformer with a
    # dynamic batch ("Unsupported: ONNX export of operator Unfold, input size not accessible"); torch.export keeps
    # the batch symbolic through every reshape, and the exported graph runs at any batch size.
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter(), torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(
            graph,
            example,
            dynamo=True,
            opset_version=opset,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES[task]),
            dynamic_shapes={"poses": {0: batch}, "spatial_mask": {0: batch}},
            verbose=False,
        )
    proto = program.model_proto
    _describe(proto, reference, task, input_coords)
    onnx.checker.check_model(proto)
    onnx.save_model(proto, output)
    if verify:
        try:
            _verify(output, reference, task, input_coords)
        except BaseException:
            output.unlink(missing_ok=True)
            raise
    return output


def _task_of(model: nn.Module) -> str:
    for model_class, task in _TASKS.items():
        if isinstance(model, model_class):
            return task
    raise ValueError(
        f"model: expected an MPMForPoseLifting or an MPMForPoseCompletion (a stage-I checkpoint loads into "
        f"MPMForPoseCompletion), got {type(model).__name__}"
    )


def _check_output_path(output_path: str | os.PathLike) -> Path:
    output = Path(output_path).expanduser()
    if output.suffix.lower() != ".onnx":
        raise ValueError(f"output_path: expected a .onnx file, got {os.fspath(output_path)!r}")
    if output.is_dir():
        raise ValueError(f"output_path: expected a file, got the existing folder {output}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"output_path: cannot create the folder {output.parent} ({error.strerror})") from None
    if not os.access(output.parent, os.W_OK):
        raise ValueError(f"output_path: the folder {output.parent} is not writable")
    return output


def _require(name: str):
    try:
        return __import__(name)
    except ImportError as error:
        raise ImportError(
            f"ONNX export needs {name}: install the optional dependencies with pip install 'mpm-hf[onnx]'"
        ) from error


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what torch's exporter prints on every export and that says nothing about this model: torch's own
    deprecation warning, the note that both inputs share the batch axis, and the skipped torchvision operators."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r"# The axis name: .* will not be used", category=UserWarning)
            yield
    finally:
        registration.setLevel(level)


def _example_inputs(
    config, batch_size: int, coords: int, missing_ratio: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plausible windows: 2D in normalised screen coordinates (about +-0.5), 3D in metres; ``missing_ratio`` of the
    joints masked, their coordinates NaN (the graph must not let them through)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch_size, config.num_frames, config.num_joints)
    poses = 0.3 * torch.randn(*shape, coords, generator=generator)
    spatial_mask = torch.rand(shape, generator=generator) < missing_ratio
    poses = poses.masked_fill(spatial_mask[..., None], float("nan"))
    return poses, spatial_mask


def onnx_metadata(model: MPMForPoseLifting | MPMForPoseCompletion, input_coords: int = 2) -> dict[str, str]:
    """The ``metadata_props`` written by `export_onnx`: everything needed to feed the graph, as strings."""
    config = model.config
    task = _task_of(model)
    if input_coords == 3:
        input_units = "metres, camera space, root-relative (partial 3D poses)"
    elif config.input_normalization == "screen":
        input_units = "normalised screen coordinates: x / w * 2 - 1, y / w * 2 - h / w (w, h: image size in pixels)"
    else:
        input_units = "any (pixels or normalised screen coordinates): each window is centred and scaled in the graph"
    return {
        "task": task,
        "architecture": type(model).__name__,
        "num_frames": str(config.num_frames),
        "num_joints": str(config.num_joints),
        "downsample": str(config.downsample),
        "input_normalization": config.input_normalization,
        "input_coords": str(input_coords),
        "input_units": input_units,
        "output_units": "metres, camera space, root-relative (joint 0, the pelvis, at the origin)",
        "joint_names": json.dumps(list(model_skeleton(config.num_joints).joint_names)),
        "outputs": json.dumps(list(OUTPUT_NAMES[task])),
        "mpm_config": config.to_json_string(use_diff=False),
        "mpm_hf_version": __version__,
    }


_INPUT_DOCS = {
    "poses": "(batch, frames, joints, coords) float32 windows; units in metadata input_units",
    "spatial_mask": "(batch, frames, joints) bool, True at missing joints (any value, NaN included); all False "
    "when none is missing",
}
_OUTPUT_DOCS = {
    "lifting": {
        "poses_3d": "(batch, 1, joints, 3) float32, the centre frame; metres, camera space, pelvis at the origin",
        "sequence_poses_3d": "(batch, frames, joints, 3) float32, every frame of the window (sequence head); metres",
    },
    "completion": {"poses_3d": "(batch, frames, joints, 3) float32, the completed window; metres, pelvis at 0"},
}


def _describe(proto, model: nn.Module, task: str, input_coords: int) -> None:
    """Write the metadata, the model's doc string and one doc string per graph input / output into ``proto``."""
    del proto.metadata_props[:]
    for key, value in onnx_metadata(model, input_coords).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = (
        f"MPM {type(model).__name__} exported by mpm-hf {__version__}: windows of {model.config.num_frames} "
        f"frames (every {model.config.downsample} source frames) of {model.config.num_joints} joints -> 3D poses "
        "in metres; see metadata_props."
    )
    for value in proto.graph.input:
        value.doc_string = _INPUT_DOCS[value.name]
    for value in proto.graph.output:
        value.doc_string = _OUTPUT_DOCS[task][value.name]


def _verify(path: Path, model: nn.Module, task: str, input_coords: int) -> None:
    """Compare onnxruntime on ``path`` with ``model.forward`` on windows with missing joints (module docstring)."""
    onnxruntime = _require("onnxruntime")
    poses, spatial_mask = _example_inputs(model.config, VERIFY_BATCH_SIZE, input_coords, missing_ratio=0.1, seed=1)
    with torch.inference_mode():
        output = model(poses, spatial_mask=spatial_mask)
    expected = [output.poses_3d] if task == "completion" else [output.poses_3d, output.sequence_poses_3d]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    actual = session.run(None, {"poses": poses.numpy(), "spatial_mask": spatial_mask.numpy()})
    for name, got, want in zip(OUTPUT_NAMES[task], actual, expected, strict=True):
        difference = float(np.abs(got - want.numpy()).max()) if got.shape == tuple(want.shape) else float("inf")
        if not difference <= VERIFY_TOLERANCE:
            raise RuntimeError(
                f"{path}: onnxruntime's {name} {got.shape} differs from torch's {tuple(want.shape)} by up to "
                f"{difference:.3g} m (expected at most {VERIFY_TOLERANCE:g} m); the file was removed"
            )
