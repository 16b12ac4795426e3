"""The paper's evaluation protocols: Human3.6M protocol #1/#2 per action, MPI-INF-3DHP PCK/AUC, completion.

Every output frame is predicted from the window centred on it (``mode="per_frame"``, the paper's protocol) or,
in the fast mode, by the sequence head over windows that tile the sequence at the model's frame step
(``mode="sequence"``, see :mod:`mpm_hf.windowing`); reports say which.
Errors are in millimetres.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .completion import predict_completion
from .inference import lift_sequence
from .masking import resolve_joints
from .metrics import MetricAccumulator, auc, mpjpe, pck
from .windowing import batch_slices, centred_windows

COMPLETION_SETTINGS_2D: dict[str, tuple] = {
    "1 joint": ("random", 1),
    "2 joints": ("random", 2),
    "2 legs": (("legs",), 0),
    "2 arms": (("arms",), 0),
    "left leg + left arm": (("left_arm_left_leg",), 0),
    "right leg + right arm": (("right_arm_right_leg",), 0),
}
COMPLETION_SETTINGS_3D: dict[str, tuple] = {
    "left arm": (("left_arm",), 0),
    "right arm": (("right_arm",), 0),
    "left leg": (("left_leg",), 0),
    "right leg": (("right_leg",), 0),
    "2 random joints": ("random", 2),
}


def _frames(sequence: dict, frame_step: int) -> np.ndarray:
    """Indices of the evaluated frames (every ``frame_step``-th; ``valid_frames`` honoured when present)."""
    frames = np.arange(0, len(sequence["poses_3d"]), frame_step)
    if "valid_frames" in sequence:
        frames = frames[np.asarray(sequence["valid_frames"], dtype=bool)[frames]]
    return frames


def evaluate_lifting(
    model: torch.nn.Module,
    sequences: Sequence[dict],
    mode: str = "per_frame",
    flip_test: bool = False,
    batch_size: int = 512,
    downsample: int | None = None,
    frame_step: int = 1,
    progress: bool = True,
    pck_auc: bool = False,
    margin: int | None = None,
) -> dict:
    """Lift every sequence and score it against its ground truth.

    Args:
        sequences: dicts with ``keypoints_2d (N, J, 2)``, ``poses_3d (N, J, 3)`` metres root-relative,
            optional ``valid (N, J)`` (invalid 2D joints are fed masked), ``action``, ``valid_frames (N,)``.
        downsample: tds, the frame step inside a window (default: ``model.config.downsample``, the tds it was
            trained with).
        frame_step: evaluate every ``frame_step``-th frame (1 = all); windows are still centred on each of them.
        margin: ``mode="sequence"``: context positions per window side (default
            :func:`mpm_hf.inference.default_margin`).
        pck_auc: MPI-INF-3DHP: report PCK@150 mm and AUC, and ``mpjpe`` over all frames pooled as that benchmark
            does (``per_action`` still has the per-scene means; ``p_mpjpe`` stays their mean).

    Returns:
        ``{"mpjpe", "p_mpjpe", "per_action", "num_frames", "mode", "flip_test", "wall_time_s", "lift_time_s", ...}``
        (mm; ``lift_time_s``: the seconds spent lifting, without the scoring, which costs the same in both modes).
    """
    model.eval()
    accumulator = MetricAccumulator()
    predictions, targets = [], []
    started, lifting = time.time(), 0.0
    total = sum(len(_frames(s, frame_step)) for s in sequences)
    bar = tqdm(total=total, desc=f"evaluating ({mode})", disable=not progress, dynamic_ncols=True)
    for sequence in sequences:
        frames = _frames(sequence, frame_step)
        if frames.size == 0:
            continue
        keypoints = np.asarray(sequence["keypoints_2d"], dtype=np.float32)
        missing = ~np.asarray(sequence["valid"], dtype=bool) if "valid" in sequence else None
        lift_started = time.perf_counter()
        if mode == "per_frame":
            predicted = lift_sequence(model, keypoints, missing, mode=mode, batch_size=batch_size,
                                      flip_test=flip_test, downsample=downsample, frames=frames)
        else:
            predicted = lift_sequence(model, keypoints, missing, mode=mode, batch_size=batch_size,
                                      flip_test=flip_test, downsample=downsample, margin=margin)[frames]
        lifting += time.perf_counter() - lift_started
        target = np.asarray(sequence["poses_3d"], dtype=np.float32)[frames]
        accumulator.update(predicted, target, actions=sequence.get("action", "all"))
        if pck_auc:
            predictions.append(predicted)
            targets.append(target)
        bar.update(frames.size)
    bar.close()
    result = accumulator.summary()
    result.update({"mode": mode, "flip_test": flip_test, "frame_step": frame_step, "margin": margin,
                   "wall_time_s": time.time() - started, "lift_time_s": lifting, "markdown": accumulator.markdown()})
    if pck_auc and predictions:
        result.update(evaluate_pck(np.concatenate(predictions), np.concatenate(targets)))
    return result


def resolve_keep_visible(modality: str, keep_visible: bool | None) -> bool:
    """The ``keep_visible`` that :func:`evaluate_completion` applies: ``None`` means yes for 3D input (the paper's
    protocol) and no for 2D, whose given joints are not 3D; ``True`` with 2D is a ``ValueError``."""
    if keep_visible is None:
        return modality == "3d"
    if keep_visible and modality != "3d":
        raise ValueError(f"keep_visible: only meaningful for modality='3d' (the given joints are 3D), got {modality!r}")
    return keep_visible


@torch.inference_mode()
def evaluate_completion(
    model: torch.nn.Module,
    sequences: Sequence[dict],
    modality: str = "2d",
    settings: dict[str, tuple] | None = None,
    frame_step: int = 10,
    batch_size: int = 256,
    downsample: int | None = None,
    seed: int = 0,
    progress: bool = True,
    keep_visible: bool | None = None,
    flip_test: bool = False,
) -> dict[str, float]:
    """Centre-frame MPJPE (mm) of a completion model with named body parts occluded (the paper's Tables 3-4).

    ``model`` is an ``MPMForPoseCompletion`` (or a lifting model for ``modality="2d"``: occluded 2D joints are
    then fed masked to the lifting head). ``settings`` maps a row name to (body parts, 0) or ("random", k).
    Joints missing from the input (non-finite coordinates, or for 2D ``valid`` False, e.g. the neck of the
    MPII-format detections) are fed masked in every setting. ``downsample`` defaults to ``model.config.downsample``.
    ``keep_visible`` (3D only): the visible joints are scored as given, the model's output only at the hidden ones.
    That is the paper's protocol and the default (``None``) for 3D: the release's 3D completion test scores the
    input with only its masked joints replaced by the model's output (``pretrain_epoch.py``, ``comp3d``), as the
    pose-completion pipeline returns it; ``False`` scores the model's output at every joint. ``flip_test`` averages
    each prediction with that of the mirrored input (:func:`mpm_hf.completion.predict_completion`).
    """
    keep_visible = resolve_keep_visible(modality, keep_visible)
    settings = settings or (COMPLETION_SETTINGS_2D if modality == "2d" else COMPLETION_SETTINGS_3D)
    if downsample is None:
        downsample = int(getattr(model.config, "downsample", 1))
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    num_frames, num_joints = model.config.num_frames, model.config.num_joints
    key = "keypoints_2d" if modality == "2d" else "poses_3d"
    results = {}
    for name, (parts, count) in tqdm(settings.items(), desc="completion", disable=not progress):
        errors = []
        for sequence in sequences:
            frames = _frames(sequence, frame_step)
            inputs = np.asarray(sequence[key], dtype=np.float32)
            missing = ~np.isfinite(inputs).all(axis=-1)
            if "valid" in sequence and modality == "2d":  # ``valid`` flags the 2D detections
                missing |= ~np.asarray(sequence["valid"], dtype=bool)
            index = centred_windows(len(inputs), num_frames, downsample, centres=frames)
            target = torch.from_numpy(np.asarray(sequence["poses_3d"], dtype=np.float32)[frames])
            for part in batch_slices(len(index), batch_size):
                rows = index[part]
                mask = np.zeros((len(rows), num_frames, num_joints), dtype=bool)
                if parts == "random":
                    choice = np.argsort(rng.random((len(rows), num_joints - 1)), axis=1)[:, :count] + 1
                    mask[np.arange(len(rows))[:, None], :, choice] = True
                else:
                    mask[..., resolve_joints(parts, num_joints)] = True
                mask |= missing[rows]
                windows = torch.from_numpy(np.where(mask[..., None], 0.0, inputs[rows]).astype(np.float32))
                predicted = predict_completion(model, windows.to(device), torch.from_numpy(mask).to(device), flip_test)
                centre = predicted[:, 0] if predicted.shape[1] == 1 else predicted[:, num_frames // 2]
                if keep_visible:
                    given = torch.from_numpy(inputs[rows[:, num_frames // 2]]).to(centre.device)
                    centre = torch.where(torch.from_numpy(mask[:, num_frames // 2, :, None]).to(centre.device),
                                         centre, given - given[:, :1])
                errors.append(mpjpe(centre.float().cpu(), target[part], reduce="none"))
        results[name] = 1000.0 * float(torch.cat(errors).mean())
    return results


def parse_occlusion_settings(text: str) -> dict[str, tuple]:
    """``"left_arm,right_leg,random:2,none"`` -> completion settings for `evaluate_completion`.

    Comma-separated items: body parts of ``mpm_hf.masking.BODY_PARTS`` joined with ``+`` (``left_arm+left_leg``),
    ``random:K`` (K random joints other than the pelvis, per window) or ``none``. Row names read like the
    paper's tables: ``left arm``, ``left arm + left leg``, ``2 random joints``, ``none``.
    """
    settings: dict[str, tuple] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item == "none":
            settings["none"] = ((), 0)
        elif item.startswith("random:"):
            count = item.split(":", 1)[1]
            if not count.isdigit() or int(count) < 1:
                raise ValueError(f"occlusion setting {item!r}: expected random:K with K >= 1")
            settings[f"{count} random joint{'s' if int(count) > 1 else ''}"] = ("random", int(count))
        else:
            parts = tuple(item.split("+"))
            resolve_joints(parts)  # raises ValueError naming an unknown body part
            settings[" + ".join(part.replace("_", " ") for part in parts)] = (parts, 0)
    if not settings:
        raise ValueError(f"occlusion settings: expected at least one item, got {text!r}")
    return settings


def evaluate_pck(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MPI-INF-3DHP summary: PCK@150 mm (%), AUC over 0-150 mm (%), MPJPE (mm)."""
    return {"pck": float(pck(predicted, target)), "auc": float(auc(predicted, target)),
            "mpjpe": 1000.0 * float(mpjpe(predicted, target))}
