"""The benchmark scripts run end to end on tiny settings and write the JSON they document.

They run as subprocesses, the way they are used: ``start_run`` changes process-wide settings (threads, the C
allocator, denormal flushing) that must not leak into the test process. Timings are not asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


def run_benchmark(script: str, *arguments: str, json_path: Path) -> dict:
    command = [sys.executable, str(BENCHMARKS / script), *arguments, "--threads", "1", "--json", str(json_path)]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert f"wrote {json_path}" in completed.stdout
    return json.loads(json_path.read_text())


def test_bench_model_compares_ours_with_the_reference_and_counts_equal_flops(tmp_path):
    result = run_benchmark(
        "bench_model.py",
        *("--frames", "27", "--layers", "1", "--modes", "inference,training", "--batch-sizes", "2"),
        *("--train-batch-sizes", "2", "--dtypes", "fp32", "--repeats", "2", "--min-time", "0.01"),
        *("--peak-size", "256", "--peak-repeats", "2", "--no-memory", "--no-breakdown"),
        json_path=tmp_path / "model.json",
    )
    assert result["args"]["frames"] == [27] and result["args"]["json"] == str(tmp_path / "model.json")
    assert result["machine"]["keep_freed_memory"] is True and result["machine"]["flush_denormals"] is True
    assert result["machine"]["threads"] == 1
    rows = {(row["mode"], row["model"]): row for row in result["rows"]}
    assert set(rows) == {
        ("inference", "ours"), ("inference", "ours+fuse"), ("inference", "reference"),
        ("training", "ours"), ("training", "reference"),
    }
    for mode in ("inference", "training"):
        # same architecture, same arithmetic: the FLOP counts of ours and of the released design agree
        assert rows[mode, "ours"]["gflop_per_window"] == pytest.approx(rows[mode, "reference"]["gflop_per_window"])
        assert rows[mode, "reference"]["ratio_to_reference"] == pytest.approx(1.0)
    assert rows["training", "ours"]["gflop_per_window"] > 2.5 * rows["inference", "ours"]["gflop_per_window"]
    for row in result["rows"]:
        assert row["windows_per_s"] > 0 and len(row["samples"]) == 2
        assert 0 < row["fraction_of_fp32_peak"] == pytest.approx(row["gflop_per_s"] / result["fp32_peak_gflops"])


def test_bench_pipeline_times_both_modes_and_checks_the_naive_loop(tmp_path):
    result = run_benchmark(
        "bench_pipeline.py",
        *("--frames", "400", "--naive-frames", "6", "--repeats", "1", "--batch-size", "64"),
        *("--default-allocator", "--keep-denormals"),
        json_path=tmp_path / "pipeline.json",
    )
    assert result["machine"]["keep_freed_memory"] is False and result["machine"]["flush_denormals"] is False
    assert result["num_frames"] == 400 and result["check_frames"] == 6
    assert result["check_max_difference_mm"] < 0.01
    variants = [row["variant"] for row in result["rows"]]
    assert len(variants) == 3 and any("sequence" in v for v in variants) and any("naive" in v for v in variants)
    # the sequence mode runs ~T/1 fewer windows than frames: it beats one batch-1 window per frame
    assert result["sequence_x_naive"] > 1.0


@pytest.mark.shared_data
def test_bench_eval_runs_both_modes_on_human36m(tmp_path, shared_data_dir):
    result = run_benchmark(
        "bench_eval.py",
        *("--data-dir", str(shared_data_dir / "h36m"), "--fraction", "0.02", "--frame-step", "50"),
        *("--batch-size", "64"),
        json_path=tmp_path / "eval.json",
    )
    assert result["subjects"] == ["S9"] and result["sequences"] >= 2
    rows = {row["mode"]: row for row in result["rows"]}
    assert set(rows) == {"per_frame", "sequence"}
    # per-frame mode lifts one window per scored frame; sequence mode lifts every frame of the sequences
    assert rows["per_frame"]["frames_lifted"] == rows["per_frame"]["frames_evaluated"]
    assert rows["sequence"]["frames_lifted"] > 10 * rows["sequence"]["frames_evaluated"]
    assert rows["per_frame"]["frames_evaluated"] == rows["sequence"]["frames_evaluated"] > 0
