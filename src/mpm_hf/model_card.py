"""Model cards and Hub uploads for MPM checkpoints.

    from mpm_hf.model_card import generate_model_card, push_model_to_hub

    card = generate_model_card(model, repo_id="my-org/mpm-h36m-243", results=report)  # README.md text
    commit = push_model_to_hub("converted/mpm-h36m-243", "my-org/mpm-h36m-243")      # weights + card, one commit
    commit.oid, commit.commit_url

The card body is the top-level ``MODEL_CARD.md`` template filled from the model's config (frames, layers, width,
parameters), the evaluation report and a training summary. Its YAML front matter is built with
``huggingface_hub.ModelCardData``: ``library_name: mpm-hf``, the licence, the tags, the training datasets,
``base_model`` and, when results are given, a ``model-index`` with MPJPE / P-MPJPE (mm) and PCK / AUC (%).
Numbers come only from ``results`` (the JSON report of ``examples/evaluate.py``); without them the card says that
the checkpoint was not evaluated.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import CommitInfo, EvalResult, HfApi, ModelCardData

from .configuration_mpm import MPMConfig

__all__ = [
    "EVAL_RESULTS_FILE",
    "LIBRARY_NAME",
    "TAGS",
    "TEMPLATE_PATH",
    "generate_model_card",
    "push_model_to_hub",
    "read_model_folder_config",
]

LIBRARY_NAME = "mpm-hf"
TAGS = ("pose-estimation", "3d-human-pose", "pose-lifting", "masked-pose-modeling", "mpm")
TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "MODEL_CARD.md"
"""The card template at the top of the repository (an editable install reads it in place)."""
EVAL_RESULTS_FILE = "eval_results.json"
"""A checkpoint folder's evaluation report, read by :func:`push_model_to_hub` when ``results`` is not given."""

DEFAULT_LICENSE_NAME = "academic-non-commercial"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_TEMPLATE_COMMENT = re.compile(r"\A\s*<!--.*?-->\s*", re.DOTALL)
_SKIPPED_FILES = ("README.md",)


@dataclass(frozen=True)
class _Dataset:
    name: str
    url: str
    content: str
    licence: str


KNOWN_DATASETS = {
    "human3.6m": _Dataset(
        "Human3.6M",
        "http://vision.imar.ro/human3.6m/",
        "indoor motion-capture studio, 4 calibrated cameras, 11 actors (7 with public 3D ground truth), 15 actions",
        "academic, non-commercial use only (Human3.6M licence agreement)",
    ),
    "mpi-inf-3dhp": _Dataset(
        "MPI-INF-3DHP",
        "https://vcai.mpi-inf.mpg.de/3dhp-dataset/",
        "8 actors filmed by 14 cameras in a green-screen studio; test set of 6 sequences, some outdoors",
        "non-commercial research use only (MPI-INF-3DHP licence)",
    ),
    "amass": _Dataset(
        "AMASS",
        "https://amass.is.tue.mpg.de/",
        "optical motion-capture datasets unified as SMPL-family body models; 3D only (masked 3D pose modeling)",
        "non-commercial scientific research only (AMASS licence and those of the datasets it unifies)",
    ),
}
DATASET_ALIASES = {"h36m": "human3.6m", "human36m": "human3.6m", "3dhp": "mpi-inf-3dhp", "mpi_inf_3dhp": "mpi-inf-3dhp"}

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
_TASKS = {  # report "task" -> (model-index task type, task name)
    "lifting": ("pose-lifting", "3D human pose lifting"),
    "completion_2d": ("pose-completion", "3D pose completion from occluded 2D keypoints"),
    "completion_3d": ("pose-completion", "3D pose completion"),
}
_METRICS = (  # report key -> (model-index metric type, display name)
    ("mpjpe", "mpjpe", "MPJPE (mm)"),
    ("p_mpjpe", "p-mpjpe", "P-MPJPE (mm)"),
    ("pck", "pck", "PCK@150mm (%)"),
    ("auc", "auc", "AUC (%)"),
)


# ---------------------------------------------------------------------------------------------------------------
# Reading a checkpoint folder
# ---------------------------------------------------------------------------------------------------------------


def read_model_folder_config(folder: str | Path) -> MPMConfig:
    """The ``MPMConfig`` of a ``save_pretrained`` folder, checked before anything is uploaded.

    Raises ``FileNotFoundError`` when the folder, its ``config.json`` or its weights are missing, and ``ValueError``
    when the config is not JSON, is not an MPM config (``model_type``) or has invalid values.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected the output of save_pretrained)")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder}: no config.json (expected the output of save_pretrained)")
    try:
        values = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_file}: not valid JSON ({error})") from error
    if not isinstance(values, dict):
        raise ValueError(f"{config_file}: expected a JSON object, got {type(values).__name__}")
    model_type = values.get("model_type")
    if model_type != MPMConfig.model_type:
        raise ValueError(
            f"{config_file}: model_type {model_type!r}, expected {MPMConfig.model_type!r} (an mpm-hf checkpoint)"
        )
    if not any((folder / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json")):
        raise FileNotFoundError(f"{folder}: no model.safetensors (expected the output of save_pretrained)")
    return MPMConfig.from_dict(values)


def read_json_file(path: str | Path, label: str | None = None) -> Any:
    """The parsed JSON of ``path``; ``FileNotFoundError`` / ``ValueError`` name the file (after ``label``, e.g. the
    command-line flag it came from)."""
    path = Path(path)
    where = f"{label} {path}" if label else str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{where}: file not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{where}: not valid JSON ({error})") from error


# ---------------------------------------------------------------------------------------------------------------
# Evaluation results
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ResultRow:
    task: str
    dataset_id: str
    split: str | None
    keypoints: str | None
    protocol: str | None
    metric_type: str
    metric_name: str
    metric_config: str | None
    value: float


def _as_reports(results: Any) -> list[Mapping[str, Any]]:
    """One report, ``{"results": [reports]}`` or a list of reports -> a list of reports."""
    if isinstance(results, Mapping) and "results" in results:
        results = results["results"]
    reports = [results] if isinstance(results, Mapping) else results
    if not isinstance(reports, Sequence) or isinstance(reports, str) or not reports:
        raise ValueError(
            "results: expected an evaluation report (a dict with mpjpe / p_mpjpe ...) or a non-empty list of them, "
            f"got {type(results).__name__}"
        )
    for index, report in enumerate(reports):
        if not isinstance(report, Mapping):
            raise ValueError(f"results[{index}]: expected a dict, got {type(report).__name__}")
    return list(reports)


def _metric_value(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return round(float(value), 2)


def _dataset_id(name: str) -> str:
    key = str(name).strip().lower()
    return DATASET_ALIASES.get(key, key)


def _result_rows(results: Any, default_task: str, default_dataset: str) -> list[_ResultRow]:
    rows: list[_ResultRow] = []
    for index, report in enumerate(_as_reports(results)):
        where = f"results[{index}]"
        task = str(report.get("task", default_task))
        if task not in _TASKS:
            raise ValueError(f"{where}.task: expected one of {sorted(_TASKS)}, got {task!r}")
        dataset_id = _dataset_id(report.get("dataset", default_dataset))
        split = report.get("subjects", report.get("split"))
        split = ", ".join(split) if isinstance(split, (list, tuple)) else (str(split) if split else None)
        keypoints = str(report["keypoints"]) if report.get("keypoints") else None
        protocol = None
        if report.get("mode"):
            protocol = str(report["mode"]) + (", flip test" if report.get("flip_test") else "")
        common = dict(task=task, dataset_id=dataset_id, split=split, keypoints=keypoints, protocol=protocol)
        found = False
        for key, metric_type, metric_name in _METRICS:
            if key in report:
                value = _metric_value(report[key], f"{where}.{key}")
                rows.append(_ResultRow(**common, metric_type=metric_type, metric_name=metric_name,
                                       metric_config=None, value=value))
                found = True
        occlusions = report.get("mpjpe_by_occlusion") or {}
        if not isinstance(occlusions, Mapping):
            raise ValueError(f"{where}.mpjpe_by_occlusion: expected a dict of setting -> mm, got {occlusions!r}")
        for setting, value in occlusions.items():
            value = _metric_value(value, f"{where}.mpjpe_by_occlusion[{setting!r}]")
            rows.append(_ResultRow(**common, metric_type="mpjpe", metric_name=f"MPJPE, {setting} occluded (mm)",
                                   metric_config=str(setting), value=value))
            found = True
        if not found:
            expected = [key for key, _, _ in _METRICS] + ["mpjpe_by_occlusion"]
            raise ValueError(f"{where}: expected at least one of {expected}, got keys {sorted(report)}")
    return rows


def _dataset_name(dataset_id: str) -> str:
    known = KNOWN_DATASETS.get(dataset_id)
    return known.name if known else dataset_id


def _eval_results(rows: list[_ResultRow]) -> list[EvalResult]:
    return [
        EvalResult(
            task_type=_TASKS[row.task][0],
            task_name=_TASKS[row.task][1],
            dataset_type=row.dataset_id,
            dataset_name=_dataset_name(row.dataset_id),
            dataset_config=row.keypoints,  # the 2D source: results on gt and detected 2D stay apart
            dataset_split=row.split,
            metric_type=row.metric_type,
            metric_name=row.metric_name,
            metric_config="; ".join(part for part in (row.protocol, row.metric_config) if part) or None,
            metric_value=row.value,
        )
        for row in rows
    ]


def _results_table(rows: list[_ResultRow], repo: str) -> str:
    if not rows:
        return (
            "Not evaluated: no evaluation results were supplied with this checkpoint, so none are reported. "
            f"Measure them with `python examples/evaluate.py --model {repo} --dataset h36m --subjects S9,S11 "
            "--json eval_results.json` (mpm-hf repository)."
        )
    lines = ["| Task | Dataset | Split | 2D input | Protocol | Metric | Value |", "|---|---|---|---|---|---|---:|"]
    for row in rows:
        keypoints = "ground-truth 2D" if row.keypoints == "gt" else (row.keypoints or "-")
        lines.append(
            f"| {_TASKS[row.task][1]} | {_dataset_name(row.dataset_id)} | {row.split or '-'} | {keypoints} "
            f"| {row.protocol or '-'} | {row.metric_name} | {row.value:.2f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Card sections
# ---------------------------------------------------------------------------------------------------------------


def _architecture(model: torch.nn.Module | None, config: MPMConfig) -> str:
    if model is not None:  # the nearest MPM class, for subclasses of our heads
        names = [cls.__name__ for cls in type(model).__mro__ if cls.__name__ in _ARCHITECTURES]
    else:
        names = [name for name in (config.architectures or []) if name in _ARCHITECTURES]
    return names[0] if names else "MPMModel"


def _count_parameters(model: torch.nn.Module | None, config: MPMConfig, architecture: str) -> int:
    if model is None:
        from . import modeling_mpm

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


def _training_data(dataset_ids: list[str]) -> str:
    if not dataset_ids:
        return "Not recorded with this checkpoint."
    lines = ["| Dataset | Content | Licence |", "|---|---|---|"]
    for dataset_id in dataset_ids:
        known = KNOWN_DATASETS.get(dataset_id)
        if known is None:
            lines.append(f"| {dataset_id} | - | see the dataset's own terms |")
        else:
            lines.append(f"| [{known.name}]({known.url}) | {known.content} | {known.licence} |")
    lines.append("")
    lines.append("mpm-hf does not redistribute any of these datasets; each is obtained from its authors under its "
                 "own licence.")
    return "\n".join(lines)


def _training_details(training: Mapping[str, Any] | None) -> str:
    if not training:
        return "Not recorded with this checkpoint."
    return "\n".join(f"- **{key}**: {value}" for key, value in training.items())


def _licence(license: str, license_name: str | None, dataset_ids: list[str]) -> str:
    names = ", ".join(_dataset_name(d) for d in dataset_ids) or "the data listed above"
    if license == "other":
        weights = (f"The weights are released as `other` (`{license_name or DEFAULT_LICENSE_NAME}`): they were "
                   f"trained on {names}, whose licences allow non-commercial research use only, and the same "
                   "restriction applies to them.")
    else:
        weights = (f"The weights are released under `{license}`; check that the licences of their training data "
                   f"({names}) allow your use.")
    return f"{weights} The mpm-hf code, including the modeling files stored here, is Apache-2.0."


def _render(template: str, values: Mapping[str, str]) -> str:
    body = _TEMPLATE_COMMENT.sub("", template, count=1)
    missing = sorted({name for name in _PLACEHOLDER.findall(body) if name not in values})
    if missing:
        raise ValueError(f"model card template: no value for placeholders {missing}")
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), body)


# ---------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------


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
    """The README.md (YAML metadata + Markdown) of an MPM checkpoint.

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
        template: path of another template instead of the top-level ``MODEL_CARD.md``.

    Raises ``ValueError`` on malformed results (missing metrics, non-finite values) or unfilled placeholders.
    """
    model = model_or_config if isinstance(model_or_config, torch.nn.Module) else None
    config = model.config if model is not None else model_or_config
    if not isinstance(config, MPMConfig):
        raise ValueError(f"model_or_config: expected an MPM model or MPMConfig, got {type(model_or_config).__name__}")
    architecture = _architecture(model, config)
    dataset_ids = list(dict.fromkeys(_dataset_id(name) for name in datasets))
    default_task = "completion_3d" if architecture == "MPMForPoseCompletion" else "lifting"
    default_dataset = dataset_ids[0] if dataset_ids else "human3.6m"
    rows = [] if results is None else _result_rows(results, default_task, default_dataset)
    model_name = repo_id.split("/")[-1] if repo_id else "mpm"
    repo = repo_id or "path/to/checkpoint"

    card_data = ModelCardData(
        library_name=LIBRARY_NAME,
        license=license,
        license_name=license_name if license == "other" else None,
        license_link=license_link if license == "other" else None,
        tags=list(TAGS),
        datasets=dataset_ids or None,
        base_model=base_model,
        model_name=model_name,
        eval_results=_eval_results(rows) or None,
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
        "training_data": _training_data(dataset_ids),
        "training_details": _training_details(training),
        "results_table": _results_table(rows, repo),
        "licence": _licence(license, license_name, dataset_ids),
    }
    template = Path(template) if template is not None else TEMPLATE_PATH
    if not template.is_file():
        raise FileNotFoundError(f"model card template not found: {template}")
    body = re.sub(r"\n{3,}", "\n\n", _render(template.read_text(), values))
    return f"---\n{card_data.to_yaml()}\n---\n\n{body.strip()}\n"


def push_model_to_hub(
    folder_or_model: str | Path | torch.nn.Module,
    repo_id: str,
    private: bool = False,
    results: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    commit_message: str = "Upload MPM model",
    *,
    training: Mapping[str, Any] | None = None,
    datasets: Sequence[str] = ("human3.6m",),
    license: str = "other",
    base_model: str | None = None,
    card: str | None = None,
    token: str | None = None,
    revision: str | None = None,
) -> CommitInfo:
    """Upload a ``save_pretrained`` folder (or a model, saved first) with its model card, in one commit.

    The repository is created when needed (``private`` applies then). ``README.md`` is the card generated by
    :func:`generate_model_card` (``card`` replaces it with your own text; a README.md in the folder is not
    uploaded). When ``results`` is not given, ``eval_results.json`` in the folder is used if present.

    Returns the ``CommitInfo``: a ``str`` (the commit URL) with ``.oid`` (the commit sha) and ``.commit_url``.
    Raises ``FileNotFoundError``/``ValueError`` for a folder that is not an MPM checkpoint, before any upload.
    """
    with tempfile.TemporaryDirectory(prefix="mpm-hf-push-") as staging:
        staging = Path(staging)
        if isinstance(folder_or_model, torch.nn.Module):
            model: torch.nn.Module | None = folder_or_model
            if not isinstance(getattr(model, "config", None), MPMConfig):
                raise ValueError(f"folder_or_model: expected an MPM model, got {type(model).__name__}")
            model.save_pretrained(staging)
            config = model.config
        else:
            model = None
            folder = Path(folder_or_model)
            config = read_model_folder_config(folder)
            for path in sorted(folder.rglob("*")):
                relative = path.relative_to(folder)
                if path.is_file() and not _is_skipped(relative):
                    (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, staging / relative)
        if results is None and (staging / EVAL_RESULTS_FILE).is_file():
            results = read_json_file(staging / EVAL_RESULTS_FILE)
        if card is None:
            card = generate_model_card(model if model is not None else config, repo_id=repo_id, results=results,
                                       training=training, datasets=datasets, license=license,
                                       base_model=base_model)
        (staging / "README.md").write_text(card)

        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        return api.upload_folder(folder_path=staging, repo_id=repo_id, commit_message=commit_message,
                                 revision=revision)


def _is_skipped(relative: Path) -> bool:
    """README.md (replaced by the card), hidden files, Python caches and a training run's ``checkpoints/``
    (accelerate states with optimizer moments and RNG states) are not uploaded."""
    if relative.as_posix() in _SKIPPED_FILES or relative.parts[0] == "checkpoints":
        return True
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
