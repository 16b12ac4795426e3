"""Evaluation reports -> the card's ``model-index`` and its evaluation table.

A report is the JSON written by ``examples/evaluate.py --json``: ``mpjpe`` / ``p_mpjpe`` in millimetres, ``pck`` /
``auc`` in %, ``mpjpe_by_occlusion`` (setting -> mm), with ``task``, ``dataset``, ``subjects`` (or ``split``),
``keypoints`` (the 2D source, e.g. ``gt`` or ``sh_pt_mpii``), ``mode``, ``flip_test``, ``frame_step`` (every N-th
frame scored; the protocol names it when N > 1) and ``keep_visible`` (partial 3D). A card takes one report, a list
of them, or ``{"results": [...]}``. Values are rounded to 0.01; a report without any metric, or with a NaN /
non-numeric value, is a ``ValueError``: numbers are never filled in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from huggingface_hub import EvalResult

from .licences import dataset_id, dataset_name

__all__ = ["EVAL_RESULTS_FILE", "PAPER_MPJPE", "TASKS", "ResultRow", "eval_results", "result_rows", "results_section"]

EVAL_RESULTS_FILE = "eval_results.json"
"""A checkpoint folder's evaluation report, read by ``push_model_to_hub`` when ``results`` is not given."""

TASKS = {  # report "task" -> (model-index task type, task name)
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


@dataclass(frozen=True)
class ResultRow:
    """One metric of one report: a row of the evaluation table and one ``EvalResult`` of the model-index."""

    task: str
    dataset_id: str
    split: str | None
    keypoints: str | None
    protocol: str | None
    metric_type: str
    metric_name: str
    metric_config: str | None
    value: float
    paper_value: float | None = None  # the paper's figure for the same setting and protocol (``PAPER_MPJPE``)


PAPER_MPJPE: dict[tuple[str, str], float] = {
    # (task, occlusion setting) -> MPJPE in mm reported by the paper on Human3.6M S9 and S11 (Zhang et al., Tables 3
    # and 4; its 243-frame model), shown beside a card's own rows. Settings are named as examples/evaluate.py names them
    # (its Table 3 / Table 4 rows, or the --occlusions items "legs" and "arms").
    ("completion_2d", "1 joint"): 40.5,
    ("completion_2d", "2 legs"): 62.1,
    ("completion_2d", "legs"): 62.1,
    ("completion_2d", "2 arms"): 77.0,
    ("completion_2d", "arms"): 77.0,
    ("completion_3d", "right leg"): 13.0,
    ("completion_3d", "left leg"): 12.4,
    ("completion_3d", "left arm"): 24.0,
    ("completion_3d", "right arm"): 21.6,
}
"""The paper's completion figures a card lists beside its own (only rows with the same task and setting)."""


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


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _metric_value(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return round(float(value), 2)


def result_rows(results: Any, default_task: str, default_dataset: str) -> list[ResultRow]:
    """The rows of ``results`` (see the module docstring), in report order then metric order.

    ``default_task`` / ``default_dataset`` fill reports without ``task`` / ``dataset``. Raises ``ValueError`` naming
    the report and field for an unknown task, a report without metrics or a non-finite value.
    """
    rows: list[ResultRow] = []
    for index, report in enumerate(_as_reports(results)):
        where = f"results[{index}]"
        task = str(report.get("task", default_task))
        if task not in TASKS:
            raise ValueError(f"{where}.task: expected one of {sorted(TASKS)}, got {task!r}")
        split = report.get("subjects", report.get("split"))
        split = ", ".join(split) if isinstance(split, (list, tuple)) else (str(split) if split else None)
        parts = [str(report["mode"])] if report.get("mode") else []
        if report.get("flip_test"):
            parts.append("flip test")
        if isinstance(report.get("frame_step"), int) and report["frame_step"] > 1:
            parts.append(f"every {_ordinal(report['frame_step'])} frame")  # a subset of the frames, not all
        if report.get("keep_visible") is not None and task == "completion_3d":
            # the given joints kept (the paper's protocol and the pipeline's output), or the model's output everywhere
            parts.append("given joints kept" if report["keep_visible"] else "every joint from the model")
        protocol = ", ".join(parts) or None
        common = dict(task=task, dataset_id=dataset_id(report.get("dataset", default_dataset)), split=split,
                      keypoints=str(report["keypoints"]) if report.get("keypoints") else None, protocol=protocol)
        found = False
        for key, metric_type, metric_name in _METRICS:
            if key in report:
                value = _metric_value(report[key], f"{where}.{key}")
                rows.append(ResultRow(**common, metric_type=metric_type, metric_name=metric_name,
                                      metric_config=None, value=value))
                found = True
        occlusions = report.get("mpjpe_by_occlusion") or {}
        if not isinstance(occlusions, Mapping):
            raise ValueError(f"{where}.mpjpe_by_occlusion: expected a dict of setting -> mm, got {occlusions!r}")
        # the paper scores partial 3D with the given joints kept: only such rows stand beside its figures
        papers = common["dataset_id"] == "human3.6m" and (task != "completion_3d" or report.get("keep_visible", True))
        for setting, value in occlusions.items():
            value = _metric_value(value, f"{where}.mpjpe_by_occlusion[{setting!r}]")
            rows.append(ResultRow(**common, metric_type="mpjpe", metric_name=f"MPJPE, {setting} occluded (mm)",
                                  metric_config=str(setting), value=value,
                                  paper_value=PAPER_MPJPE.get((task, str(setting))) if papers else None))
            found = True
        if not found:
            expected = [key for key, _, _ in _METRICS] + ["mpjpe_by_occlusion"]
            raise ValueError(f"{where}: expected at least one of {expected}, got keys {sorted(report)}")
    return rows


def eval_results(rows: Sequence[ResultRow]) -> list[EvalResult]:
    """The model-index entries of ``rows``: the 2D source is the dataset config and the protocol the metric
    config, so that results on ground-truth and detected 2D, with and without flip test, stay apart."""
    return [
        EvalResult(
            task_type=TASKS[row.task][0],
            task_name=TASKS[row.task][1],
            dataset_type=row.dataset_id,
            dataset_name=dataset_name(row.dataset_id),
            dataset_config=row.keypoints,
            dataset_split=row.split,
            metric_type=row.metric_type,
            metric_name=row.metric_name,
            metric_config="; ".join(part for part in (row.protocol, row.metric_config) if part) or None,
            metric_value=row.value,
        )
        for row in rows
    ]


def results_section(rows: Sequence[ResultRow], repo: str) -> str:
    """The card's "Evaluation" table (values in mm or %, two decimals), or how to measure them when empty."""
    if not rows:
        return (
            "Not evaluated: no evaluation results were supplied with this checkpoint, so none are reported. "
            f"Measure them with `python examples/evaluate.py --model {repo} --dataset h36m --subjects S9,S11 "
            f"--json {EVAL_RESULTS_FILE}` (mpm-hf repository)."
        )
    with_paper = any(row.paper_value is not None for row in rows)
    lines = ["| Task | Dataset | Split | 2D input | Protocol | Metric | Value |" + (" Paper |" if with_paper else ""),
             "|---|---|---|---|---|---|---:|" + ("---:|" if with_paper else "")]
    for row in rows:
        keypoints = "ground-truth 2D" if row.keypoints == "gt" else (row.keypoints or "-")
        paper_cell = (" - |" if row.paper_value is None else f" {row.paper_value:.1f} |") if with_paper else ""
        lines.append(
            f"| {TASKS[row.task][1]} | {dataset_name(row.dataset_id)} | {row.split or '-'} | {keypoints} "
            f"| {row.protocol or '-'} | {row.metric_name} | {row.value:.2f} |{paper_cell}"
        )
    if with_paper:
        lines.append("\nPaper: the MPJPE Zhang et al. report for the same setting (Tables 3 and 4: Human3.6M S9 "
                     "and S11, a 243-frame model), for comparison.")
    return "\n".join(lines)
