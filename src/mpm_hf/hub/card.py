"""The model card (the Hub repo's ``README.md``) of an MPM checkpoint.

    from mpm_hf.hub import build_model_card, generate_model_card

    card = build_model_card(model, repo_id="my-org/mpm-h36m-243", results=report)  # a huggingface_hub.ModelCard
    card.data.eval_results, card.save("README.md")
    text = generate_model_card(model, repo_id="my-org/mpm-h36m-243", results=report)  # the same, as README.md text

The body is the package's ``model_card_template.md`` filled from the model's config (frames, layers, width,
parameters), the evaluation report and a training summary. The metadata is a ``huggingface_hub.ModelCardData``
that the Hub renders: ``library_name: transformers`` (the checkpoint loads with ``AutoModel`` and
``trust_remote_code``, hence the ``custom_code`` tag), ``pipeline_tag``, the tags, the licence, the training
datasets, ``base_model`` and, when results are given, a ``model-index`` with MPJPE / P-MPJPE (mm) and PCK / AUC (%)
(``mpm_hf.hub.eval_results``). Without results the card says that the checkpoint was not evaluated.

The Hub has no pose-lifting task, so ``pipeline_tag`` is ``keypoint-detection``, the Hub task whose sub-task is
pose estimation (where 2D and 3D human pose models are filed); a value outside the Hub's task list would not be
recognised. ``pose-lifting`` is a tag and the model-index task type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard, ModelCardData

from .. import modeling_mpm
from ..configuration_mpm import MPMConfig
from .eval_results import eval_results, result_rows, results_section
from .licences import DEFAULT_LICENSE_NAME, dataset_id, licence_section, training_data_section

__all__ = ["LIBRARY_NAME", "PIPELINE_TAGS", "TAGS", "TEMPLATE", "build_model_card", "generate_model_card"]

LIBRARY_NAME = "transformers"
TAGS = ("custom_code", "mpm", "mpm-hf", "pose-estimation", "3d-human-pose", "pose-lifting", "masked-pose-modeling")
PIPELINE_TAGS = {  # architecture -> Hub pipeline_tag (see the module docstring)
    "MPMForPoseLifting": "keypoint-detection",
    "MPMForPoseCompletion": "keypoint-detection",
    "MPMForMaskedPoseModeling": "keypoint-detection",
    "MPMModel": "feature-extraction",
}
TEMPLATE = resources.files(__package__) / "model_card_template.md"
"""The card template, package data of ``mpm_hf.hub`` (installed with the wheel)."""

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_TEMPLATE_COMMENT = re.compile(r"\A\s*<!--.*?-->\s*", re.DOTALL)

_ARCHITECTURES = {
    "MPMForPoseLifting": (
        "2D keypoint sequences in, 3D poses out. The shared model, a sequence head for every frame and a strided "
        "transformer that predicts the centre frame of each window."
    ),
    "MPMForPoseCompletion": (
        "partial 2D or 3D pose sequences in, complete 3D sequences out. Hidden joints are fed as masked joints and "
        "the 3D decoder predicts every joint of every frame."
    ),
    "MPMForMaskedPoseModeling": (
        "the stage-I (pre-training) model, i.e. the shared encoders and transformer with the masked 2D/3D "
        "decoders. It is a starting point for fine-tuning, not a lifting model."
    ),
    "MPMModel": (
        "the shared base model alone (pose encoders, spatial MLP, temporal transformer), without a task head; it "
        "outputs features."
    ),
}
_SUMMARIES = {
    "MPMForPoseLifting": "MPM model for 3D human pose lifting",
    "MPMForPoseCompletion": "MPM model for 3D human pose completion",
    "MPMForMaskedPoseModeling": "MPM stage-I model (masked 2D/3D pose modeling), to be fine-tuned",
    "MPMModel": "MPM base model (shared 2D/3D pose representation)",
}


def _architecture(model: torch.nn.Module | None, config: MPMConfig) -> str:
    if model is not None:  # the nearest MPM class, for subclasses of our heads
        names = [cls.__name__ for cls in type(model).__mro__ if cls.__name__ in _ARCHITECTURES]
    else:
        names = [name for name in (config.architectures or []) if name in _ARCHITECTURES]
    return names[0] if names else "MPMModel"


def _count_parameters(model: torch.nn.Module | None, config: MPMConfig, architecture: str) -> int:
    if model is None:
        with torch.device("meta"):  # shapes only: nothing is allocated or initialised
            model = getattr(modeling_mpm, architecture)(config)
    return sum(parameter.numel() for parameter in model.parameters())


def _usage(architecture: str, repo: str) -> str:
    if architecture == "MPMForPoseLifting":
        return f"""```python
from transformers import pipeline
import mpm_hf  # registers the "pose-lifting" pipeline

lifter = pipeline("pose-lifting", model="{repo}")
result = lifter(keypoints_2d, image_size=(1920, 1080), keypoint_format="coco")  # (T, 17, 2|3) pixels
result["poses_3d"]  # (T, 17, 3) float32, camera-space metres, pelvis at the origin
result["missing"]   # (T, 17) joints fed through the mask token (NaN / low confidence)
```"""
    if architecture == "MPMForPoseCompletion":
        return f"""```python
from transformers import pipeline
import mpm_hf  # registers the "pose-completion" pipeline

completer = pipeline("pose-completion", model="{repo}")
result = completer(poses_3d, occluded_joints=["left_arm"])  # (T, 17, 3) metres, NaN at hidden joints
result["poses_3d"]  # (T, 17, 3) float32, every joint, pelvis at the origin
# partial 2D -> 3D: keypoints read as the pose-lifting pipeline reads them (detector formats, scores, pixels)
result = completer(keypoints_2d, modality="2d", keypoint_format="coco", occluded_joints="legs")
```"""
    if architecture == "MPMForMaskedPoseModeling":
        return f"""```python
from mpm_hf import MPMForPoseLifting

model = MPMForPoseLifting.from_pretrained("{repo}")  # shared weights loaded; the lifting heads start untrained
```

Fine-tune it for lifting with `accelerate launch examples/finetune_lifting.py --init-from {repo} ...` (or
`examples/finetune_completion.py` for completion) from the mpm-hf repository."""
    return f"""```python
from mpm_hf import MPMModel

features = MPMModel.from_pretrained("{repo}")(poses).last_hidden_state  # (batch, frames, hidden_size)
```"""


def _direct_input_units(config: MPMConfig) -> str:
    """What 2D a direct call takes: any units when the model normalises its windows itself, else screen units."""
    if getattr(config, "input_normalization", "screen") == "window":
        return ("2D inputs may be in any units (pixels, normalised screen coordinates): the model centres and scales "
                "each window itself (person-centred, scale-normalised)")
    return ("2D inputs are normalised screen coordinates (`x / w * 2 - 1`, `y / w * 2 - h / w`; the pipeline "
            "converts pixels itself)")


def _window_span_note(config: MPMConfig) -> str:
    """The time one window covers, and what happens to inputs shorter than that."""
    span = (config.num_frames - 1) * config.downsample + 1
    fps = getattr(config, "fps", None)
    duration = ""
    if fps:
        duration = (f" ({span / fps:.1f} s at {fps:g} fps; input at other frame rates is read with another frame step "
                    "or resampled)")
    return (f"Each output frame is read from a window spanning {span} video frames{duration}. Near the ends of a "
            "sequence, and in clips shorter than that, windows repeat the first or last frame, so the first and "
            "last half-window of every input gets less temporal context.")


def _training_details(training: Mapping[str, Any] | None) -> str:
    if not training:
        return "Not recorded with this checkpoint."
    return "\n".join(f"- **{key}**: {value}" for key, value in training.items())


def _read_template(template: str | Path | None) -> str:
    source = Path(template) if template is not None else TEMPLATE
    if not source.is_file():
        raise FileNotFoundError(f"model card template not found: {source}")
    return source.read_text(encoding="utf-8")


def _render(template: str, values: Mapping[str, Any]) -> str:
    """``template`` without its leading comment, every ``{{name}}`` replaced by ``values[name]``."""
    body = _TEMPLATE_COMMENT.sub("", template, count=1)
    missing = sorted({name for name in _PLACEHOLDER.findall(body) if name not in values})
    if missing:
        raise ValueError(f"model card template: no value for placeholders {missing}")
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), body)


def build_model_card(
    model_or_config: torch.nn.Module | MPMConfig,
    repo_id: str | None = None,
    results: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    training: Mapping[str, Any] | None = None,
    datasets: Sequence[str] = ("human3.6m",),
    license: str = "other",
    base_model: str | None = None,
    *,
    license_name: str | None = DEFAULT_LICENSE_NAME,
    license_link: str | None = None,
    template: str | Path | None = None,
) -> ModelCard:
    """The ``huggingface_hub.ModelCard`` (metadata + Markdown) of an MPM checkpoint.

    Args:
        model_or_config: an MPM model (its class names the task, its parameters are counted) or an ``MPMConfig``
            (the task is ``config.architectures[0]``; parameters are counted on the meta device).
        repo_id: ``org/name`` used in the usage snippets and as the model-index name.
        results: the JSON report of ``examples/evaluate.py`` (``mpjpe``/``p_mpjpe`` in mm, ``pck``/``auc`` in %,
            ``mpjpe_by_occlusion``, with ``dataset``, ``subjects``, ``keypoints``, ``mode``, ``flip_test``), or a
            list of them. Without it the card says "not evaluated"; nothing is made up.
        training: free-form summary (``{"stage I": "...", "epochs": 40}``), listed as given.
        datasets: training corpora (``human3.6m``, ``mpi-inf-3dhp``, ``amass``; ``h36m``/``3dhp`` accepted).
        license: Hub licence id of the weights; ``"other"`` (default) with ``license_name`` because the training
            data are licensed for non-commercial research only.
        base_model: the repo this checkpoint was fine-tuned from (YAML ``base_model``).
        template: path of another template instead of the package's ``model_card_template.md``.

    Raises ``ValueError`` on malformed results (missing metrics, non-finite values) or unfilled placeholders, and
    ``FileNotFoundError`` when ``template`` does not exist.
    """
    model = model_or_config if isinstance(model_or_config, torch.nn.Module) else None
    config = model.config if model is not None else model_or_config
    if not isinstance(config, MPMConfig):
        raise ValueError(f"model_or_config: expected an MPM model or MPMConfig, got {type(model_or_config).__name__}")
    architecture = _architecture(model, config)
    dataset_ids = list(dict.fromkeys(dataset_id(name) for name in datasets))
    default_task = "completion_3d" if architecture == "MPMForPoseCompletion" else "lifting"
    default_dataset = dataset_ids[0] if dataset_ids else "human3.6m"
    rows = [] if results is None else result_rows(results, default_task, default_dataset)
    model_name = repo_id.split("/")[-1] if repo_id else "mpm"
    repo = repo_id or "path/to/checkpoint"

    card_data = ModelCardData(
        library_name=LIBRARY_NAME,
        pipeline_tag=PIPELINE_TAGS[architecture],
        license=license,
        license_name=license_name if license == "other" else None,
        license_link=license_link if license == "other" else None,
        tags=list(TAGS),
        datasets=dataset_ids or None,
        base_model=base_model,
        model_name=model_name,
        eval_results=eval_results(rows) or None,
    )
    num_parameters = _count_parameters(model, config, architecture)
    values = {
        "model_name": model_name,
        "repo_id": repo,
        "summary": (f"{_SUMMARIES[architecture]}: {config.num_frames}-frame windows, "
                    f"{num_parameters / 1e6:.2f} M parameters, in the mpm-hf format."),
        "architecture": architecture,
        "task_description": _ARCHITECTURES[architecture],
        "num_frames": config.num_frames,
        "downsample": config.downsample,
        "receptive_field": (config.num_frames - 1) * config.downsample + 1,
        "num_joints": config.num_joints,
        "num_layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_heads": config.num_attention_heads,
        "spatial_hidden_size": config.spatial_hidden_size,
        "strides": config.strides,
        "num_parameters": f"{num_parameters / 1e6:.2f} M ({num_parameters:,})",
        "base_model_note": f"Fine-tuned from `{base_model}`." if base_model else "",
        "usage": _usage(architecture, repo),
        "direct_input_units": _direct_input_units(config),
        "window_span_note": _window_span_note(config),
        "training_data": training_data_section(dataset_ids),
        "training_details": _training_details(training),
        "results_table": results_section(rows, repo),
        "licence": licence_section(license, license_name, dataset_ids),
    }
    body = re.sub(r"\n{3,}", "\n\n", _render(_read_template(template), values))
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n{body.strip()}\n")


def generate_model_card(
    model_or_config: torch.nn.Module | MPMConfig,
    repo_id: str | None = None,
    results: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    training: Mapping[str, Any] | None = None,
    datasets: Sequence[str] = ("human3.6m",),
    license: str = "other",
    base_model: str | None = None,
    *,
    license_name: str | None = DEFAULT_LICENSE_NAME,
    license_link: str | None = None,
    template: str | Path | None = None,
) -> str:
    """The README.md text of :func:`build_model_card` (same arguments): YAML metadata, then the Markdown body."""
    return str(build_model_card(model_or_config, repo_id, results, training, datasets, license, base_model,
                                license_name=license_name, license_link=license_link, template=template))
