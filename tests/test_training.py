"""Training with Accelerate: losses go down, resume is exact, 2 processes equal 1, reports have their schema."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import HfArgumentParser

from mpm_hf import MPMConfig, MPMForPoseLifting
from mpm_hf.data.synthetic import synthetic_sequences
from mpm_hf.data.windows import PoseWindows, collate_windows
from mpm_hf.training.arguments import DataArguments, ModelArguments
from mpm_hf.training.loop import TrainingConfig, latest_checkpoint, train
from mpm_hf.training.tasks import DetectorNoise, LiftingStep

from .conftest import REPO_ROOT

TINY_FLAGS = ["--num-frames", "9", "--hidden-size", "16", "--intermediate-size", "32", "--num-layers", "1",
              "--num-heads", "2", "--dataset", "synthetic", "--no-progress", "--trackers", "jsonl"]


def tiny_model(seed: int = 0) -> MPMForPoseLifting:
    torch.manual_seed(seed)
    return MPMForPoseLifting(MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                       num_hidden_layers=1))


def tiny_windows() -> PoseWindows:
    return PoseWindows.from_sequences(synthetic_sequences(num_sequences=4, num_frames=120, seed=0), num_frames=9,
                                      stride=2, flip_augment=True)


def run(tmp_path, name: str, **overrides) -> dict:
    values = dict(output_dir=str(tmp_path / name), batch_size=32, learning_rate=3e-3, max_steps=6, seed=0,
                  trackers=("jsonl",), progress=False, log_every=1)
    values.update(overrides)
    return train(tiny_model(), tiny_windows(), LiftingStep(), TrainingConfig(**values), collate_fn=collate_windows)


def test_loss_decreases_over_50_steps(tmp_path):
    summary = run(tmp_path, "fifty", max_steps=50, log_every=1)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "fifty/logs/metrics.jsonl").read_text().splitlines()]
    assert summary["global_step"] == 50 and len(losses) == 50
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert (tmp_path / "fifty/model.safetensors").is_file() and (tmp_path / "fifty/loss_curves.png").is_file()
    assert MPMForPoseLifting.from_pretrained(tmp_path / "fifty").config.num_frames == 9


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path):
    run(tmp_path, "full", max_steps=8, save_every=3)

    class Killed(RuntimeError):
        pass

    def kill_at_step_5(accelerator, model, step):
        if step == 5:
            raise Killed

    with pytest.raises(Killed):
        train(tiny_model(), tiny_windows(), LiftingStep(),
              TrainingConfig(output_dir=str(tmp_path / "killed"), batch_size=32, learning_rate=3e-3, max_steps=8,
                             save_every=3, seed=0, trackers=("jsonl",), progress=False),
              collate_fn=collate_windows, callbacks=[kill_at_step_5])
    assert latest_checkpoint(tmp_path / "killed").name == "checkpoint-3"
    summary = run(tmp_path, "killed", max_steps=8, save_every=3, resume=True)
    assert summary["global_step"] == 8
    full = load_file(tmp_path / "full/model.safetensors")
    resumed = load_file(tmp_path / "killed/model.safetensors")
    for key, tensor in full.items():
        assert torch.equal(tensor, resumed[key]), key
    # a checkpoint folder is also a model folder: the weights of step 8 load with from_pretrained
    checkpoint = MPMForPoseLifting.from_pretrained(tmp_path / "full" / "checkpoints" / "checkpoint-8")
    assert checkpoint.config.architectures == ["MPMForPoseLifting"]  # evaluate.py picks the head from it
    for key, tensor in checkpoint.state_dict().items():
        assert torch.equal(tensor, full[key]), key


def test_a_batch_smaller_than_the_dataset_is_required(tmp_path):
    with pytest.raises(ValueError, match="dataset: expected at least"):
        run(tmp_path, "small", batch_size=100_000)
    with pytest.raises(ValueError, match="optimizer"):
        TrainingConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="log_every: expected >= 1, got 0"):
        TrainingConfig(log_every=0)
    with pytest.raises(ValueError, match="save_every: expected >= 0"):
        TrainingConfig(save_every=-1)


def test_gradient_accumulation_counts_the_partial_window_and_resumes_exactly(tmp_path):
    # 4 sequences x 120 frames, stride 2, flipped: 480 windows = 15 batches of 32; with 4 micro-batches per step
    # accelerate steps 4 times per epoch (the last step after 3 batches)
    summary = run(tmp_path, "ga", max_steps=None, epochs=2, gradient_accumulation_steps=4, log_every=1)
    assert summary["steps_per_epoch"] == 4 and summary["global_step"] == 8 and summary["epochs"] == 2.0
    # resumed mid-epoch with noise and masks drawn per step: the same weights as without the interruption
    noise = DetectorNoise(std=0.01, drop_prob=0.2)

    def lifting(name: str, **overrides) -> None:
        values = dict(output_dir=str(tmp_path / name), batch_size=32, learning_rate=3e-3, max_steps=6, seed=0,
                      trackers=("jsonl",), progress=False, save_every=2, gradient_accumulation_steps=2)
        train(tiny_model(), tiny_windows(), LiftingStep(noise), TrainingConfig(**{**values, **overrides}),
              collate_fn=collate_windows)

    lifting("whole")
    lifting("first", max_steps=3)  # stops after step 3: checkpoints 2 and 3 (the final one)
    shutil.rmtree(tmp_path / "first" / "checkpoints" / "checkpoint-3")
    lifting("first", resume=True)  # from step 2, in the middle of the first epoch (8 steps per epoch)
    whole, resumed = load_file(tmp_path / "whole/model.safetensors"), load_file(tmp_path / "first/model.safetensors")
    for key, tensor in whole.items():
        assert torch.equal(tensor, resumed[key]), key


# Parameters whose gradient is analytically zero (a bias feeding a BatchNorm, which removes any constant shift;
# the last decoder FFN bias, feeding the head's BatchNorm): Adam turns their float noise into +-lr steps, so they
# cannot be compared between runs.
ZERO_GRADIENT = re.compile(
    r"(encoder_[23]d\.dense|residual_block\.dense[12]|decoder_[23]d\.layers\.0\.feed_forward\.fc2)\.bias$"
)


def _launch(args: list[str], processes: int, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    script = str(REPO_ROOT / "examples" / "pretrain.py")
    if processes == 1:
        command = [sys.executable, script, *args]
    else:
        launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or "accelerate"
        command = [launcher, "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517", script, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.mark.slow
def test_two_processes_keep_identical_replicas_and_match_one_process(tmp_path):
    # deterministic stage I: no masks, no dropout, paired clips, so that 2 x 16 windows == 1 x 32 windows
    common = [*TINY_FLAGS, "--spatial-mask-joints", "0", "--temporal-mask-ratio", "0", "--paired", "--dropout", "0",
              # the release's normalisation: with "window" (per window, so a batch split cannot change it) the first
              # encoder's near-zero gradients came out beyond this tolerance after Adam's division by |g|
              "--input-normalization", "screen",
              "--downsample", "1", "--max-grad-norm", "0", "--lr", "1e-2", "--seed", "3", "--log-every", "1"]
    two = _launch([*common, "--batch-size", "16", "--max-steps", "3", "--sync-bn", "--check-replicas",
                   "--lr-decay", "0.5", "--lr-decay-steps", "1", "--output-dir", str(tmp_path / "two")], 2, tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    # the lr decays once per optimizer step, not once per process (accelerate steps a prepared scheduler per process)
    logged = [json.loads(line) for line in (tmp_path / "two/logs/metrics.jsonl").read_text().splitlines()]
    assert [round(record["lr"], 8) for record in logged] == [5e-3, 2.5e-3, 1.25e-3]
    checks = [json.loads(line) for line in (tmp_path / "two/replica_check.jsonl").read_text().splitlines()]
    assert [c["step"] for c in checks] == [1, 2, 3] and all(c["processes"] == 2 for c in checks)
    assert all(c["max_abs_diff"] == 0.0 for c in checks)

    two_first = _launch([*common, "--batch-size", "16", "--max-steps", "1", "--sync-bn",
                         "--output-dir", str(tmp_path / "two_first")], 2, tmp_path)
    one_first = _launch([*common, "--batch-size", "32", "--max-steps", "1", "--output-dir", str(tmp_path / "one")],
                        1, tmp_path)
    assert two_first.returncode == 0 and one_first.returncode == 0, two_first.stderr[-2000:] + one_first.stderr[-2000:]
    two_weights = load_file(tmp_path / "two_first/model.safetensors")
    one_weights = load_file(tmp_path / "one/model.safetensors")
    compared = 0
    for key, tensor in one_weights.items():
        if tensor.dtype.is_floating_point and not ZERO_GRADIENT.search(key):
            if key.endswith("attention.qkv.bias"):  # the key bias cannot change a softmax: zero gradient
                third = tensor.shape[0] // 3
                tensor, other = torch.cat([tensor[:third], tensor[2 * third:]]), two_weights[key]
                two_weights[key] = torch.cat([other[:third], other[2 * third:]])
            # Adam divides by |g|: near-zero gradients amplify float-order noise, so allow 10 % of one lr step
            torch.testing.assert_close(two_weights[key], tensor, atol=1e-3, rtol=0, msg=key)
            compared += 1
    assert compared > 60


def test_evaluation_json_schema(tmp_path):
    model = tiny_model().eval()
    model.save_pretrained(tmp_path / "model")
    out = tmp_path / "report.json"
    command = [sys.executable, str(REPO_ROOT / "examples" / "evaluate.py"), "--model", str(tmp_path / "model"),
               "--dataset", "synthetic", "--frame-step", "20", "--json", str(out), "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert {"mpjpe", "p_mpjpe", "per_action", "num_frames", "mode", "flip_test"} <= set(report)
    assert report["mode"] == "per_frame" and report["num_frames"] > 0
    assert 0 < report["p_mpjpe"] <= report["mpjpe"]
    assert "| MPJPE (mm)" in done.stdout


def test_evaluation_imports_no_training_code():
    probe = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('evaluate', sys.argv[1]); "
             "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
             "print(sorted(name for name in sys.modules if name.startswith('mpm_hf.training')))")
    done = subprocess.run([sys.executable, "-c", probe, str(REPO_ROOT / "examples" / "evaluate.py")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_detector_noise_tube_drops_hide_joints_in_every_frame():
    from mpm_hf.training.tasks import DetectorNoise

    keypoints = torch.zeros(64, 9, 17, 2)
    valid = torch.ones(64, 9, 17, dtype=torch.bool)
    noise = DetectorNoise(tube_drop_prob=0.5, tube_drop_max_joints=2)
    _, new_valid = noise(keypoints, valid, torch.Generator().manual_seed(0))
    hidden = ~new_valid
    assert (hidden == hidden[:, :1]).all()  # the same joints in every frame of a window
    per_window = hidden[:, 0].sum(-1)
    assert per_window.max() <= 2 and 10 < (per_window > 0).sum() < 54
    jitter, same_valid = DetectorNoise(std=0.01)(keypoints, valid, torch.Generator().manual_seed(0))
    assert same_valid.all() and 0.005 < jitter.std() < 0.015


def _model_and_data_arguments(argv: list[str]) -> tuple[ModelArguments, DataArguments]:
    return HfArgumentParser((ModelArguments, DataArguments)).parse_args_into_dataclasses(argv, look_for_args_file=False)


def test_the_run_tds_follows_the_corpora_and_is_recorded_in_the_config():
    from mpm_hf.training.arguments import build_model, resolve_downsample
    from mpm_hf.training.datasets import build_windows

    def tds(argv: list[str]) -> int:
        return resolve_downsample(_model_and_data_arguments(argv)[1])

    assert tds([]) == 2  # Human3.6M: the paper's tds 2
    assert tds(["--dataset", "3dhp"]) == 1  # MPI-INF-3DHP: tds 1
    assert tds(["--dataset", "h36m,amass"]) == 2
    assert tds(["--dataset", "3dhp", "--downsample", "3"]) == 3
    with pytest.raises(ValueError, match="--downsample: the corpora of --dataset have different default tds"):
        tds(["--dataset", "h36m,3dhp"])
    with pytest.raises(ValueError, match="--downsample: expected a positive integer, got 0"):
        tds(["--downsample", "0"])
    model_args, data_args = _model_and_data_arguments(TINY_FLAGS[:8] + ["--dataset", "synthetic", "--downsample", "3"])
    windows = build_windows(data_args, num_frames=9)
    model = build_model(MPMForPoseLifting, model_args, data_args)
    assert windows.downsample == model.config.downsample == 3  # the windows trained on = what inference uses


def test_init_from_keeps_the_checkpoint_and_an_explicit_dropout_overrides_it(tmp_path):
    from mpm_hf.training.arguments import build_model

    def model_from(argv: list[str], init_from: str | None = None) -> MPMForPoseLifting:
        return build_model(MPMForPoseLifting, *_model_and_data_arguments(argv), init_from=init_from)

    fresh = model_from(TINY_FLAGS[:8] + ["--downsample", "2"])
    assert fresh.config.hidden_dropout == 0.1 and fresh.config.downsample == 2 and fresh.config.hidden_size == 16
    assert fresh.config.spatial_dropout == 0.2  # the release's encoder / spatial MLP rate
    spatial = model_from(TINY_FLAGS[:8] + ["--dropout", "0.3", "--spatial-dropout", "0.05"])
    assert (spatial.config.hidden_dropout, spatial.config.spatial_dropout) == (0.3, 0.05)
    saved = str(tmp_path / "saved")
    fresh.save_pretrained(saved)
    kept = model_from([], init_from=saved)
    # objective flags apply to a loaded checkpoint too; the ones not given keep the checkpoint's values
    tuned = model_from(["--spatial-mask-joints", "3", "--loss-weight-centre", "2.5"], init_from=saved)
    assert (tuned.config.spatial_mask_num_joints, tuned.config.loss_weight_centre) == (3, 2.5)
    assert tuned.config.temporal_mask_ratio == fresh.config.temporal_mask_ratio == 0.6
    assert kept.config.attention_dropout == 0.1 and kept.config.hidden_size == 16
    torch.testing.assert_close(kept.state_dict(), fresh.state_dict())
    no_dropout = model_from(["--dropout", "0"], init_from=saved)
    assert (no_dropout.config.hidden_dropout, no_dropout.config.attention_dropout,
            no_dropout.config.spatial_dropout) == (0.0, 0.0, 0.0)
    no_dropout.train()
    x = torch.randn(2, 9, 17, 2)
    assert torch.equal(no_dropout(poses=x).poses_3d, no_dropout(poses=x).poses_3d)  # no dropout module is active


def test_stage_one_reconstructs_the_clean_2d_and_skips_missing_detections():
    from mpm_hf import MPMForMaskedPoseModeling
    from mpm_hf.modeling_mpm import mpjpe_loss
    from mpm_hf.training.tasks import PretrainStep

    torch.manual_seed(0)
    model = MPMForMaskedPoseModeling(MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32,
                                               num_attention_heads=2, num_hidden_layers=1))
    clean = torch.randn(4, 9, 17, 2) * 0.3
    clean[:, :, 9] = float("nan")  # a detector without the neck/nose joint
    batch = {"keypoints_2d": clean, "poses_3d": torch.randn(4, 9, 17, 3) * 0.2,
             "valid": torch.isfinite(clean).all(-1)}
    seen = {}

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def _sample_masks(self, poses, generator):
            return model._sample_masks(poses, generator)

        def forward(self, **kwargs):
            seen.update(kwargs)
            output = model(**kwargs)
            seen["reconstructed_2d"] = output.reconstructed_2d
            return output

    step = PretrainStep(noise=DetectorNoise(std=0.05, drop_prob=0.3))
    loss, logs = step(Recorder(), batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and torch.isfinite(logs["loss_2d"])
    fed = seen["keypoints_2d"]
    assert (fed[:, :, 9] == 0).all() and not torch.allclose(fed[:, :, :9], clean[:, :, :9])  # corrupted input
    # the loss scores the reconstruction against the clean 2D of the joints the detector has
    expected = torch.linalg.vector_norm(seen["reconstructed_2d"] - clean, dim=-1)[:, :, torch.arange(17) != 9].mean()
    torch.testing.assert_close(logs["loss_2d"], expected)
    # mpjpe_loss with a validity mask: NaN targets of invalid joints do not reach the loss or its gradient
    prediction = torch.zeros(2, 3, 2, requires_grad=True)
    target = torch.tensor([[[3.0, 4.0], [float("nan"), 0.0], [0.0, 0.0]]] * 2)
    valid = torch.tensor([[True, False, True]] * 2)
    value = mpjpe_loss(prediction, target, valid)
    value.backward()
    assert value.item() == pytest.approx(2.5) and torch.isfinite(prediction.grad).all()
    assert (prediction.grad[:, 1] == 0).all()


def test_optimizers_decay_weights_as_the_paper_and_the_release():
    from mpm_hf.training.loop import build_optimizer

    model = tiny_model()
    adamw = build_optimizer(model, TrainingConfig(optimizer="adamw"))
    adam = build_optimizer(model, TrainingConfig(optimizer="adam_amsgrad"))
    assert isinstance(adamw, torch.optim.AdamW) and [g["weight_decay"] for g in adamw.param_groups] == [0.01, 0.0]
    # the release's Adam(amsgrad) has no weight decay (in Adam it would be an L2 term added to the gradient)
    assert type(adam) is torch.optim.Adam and adam.defaults["amsgrad"]
    assert [g["weight_decay"] for g in adam.param_groups] == [0.0, 0.0]
    explicit = build_optimizer(model, TrainingConfig(optimizer="adam_amsgrad", weight_decay=1e-4))
    assert [g["weight_decay"] for g in explicit.param_groups] == [1e-4, 0.0]
    # biases, norms, embeddings and mask tokens are never decayed; weight matrices are
    no_decay = {id(p) for p in adamw.param_groups[1]["params"]}

    def exempt(name: str, parameter: torch.Tensor) -> bool:
        return parameter.ndim < 2 or "embedding" in name or "token" in name

    for name, parameter in model.named_parameters():
        assert (id(parameter) in no_decay) == exempt(name, parameter), name
    assert len(no_decay) > 10 and len(adamw.param_groups[0]["params"]) > 5


def test_mixed_precision_defaults_to_accelerates_setting(tmp_path):
    script = f"""
import torch
from tests.test_training import tiny_model, tiny_windows
from mpm_hf.data.windows import collate_windows
from mpm_hf.training.loop import TrainingConfig, train
from mpm_hf.training.tasks import LiftingStep
seen = []
train(tiny_model(), tiny_windows(), LiftingStep(),
      TrainingConfig(output_dir={str(tmp_path / "run")!r}, batch_size=32, max_steps=1, progress=False, trackers=()),
      collate_fn=collate_windows, callbacks=[lambda accelerator, model, step: seen.append(accelerator.mixed_precision)])
print("mixed_precision", seen[0])
"""
    env = {**os.environ, "ACCELERATE_MIXED_PRECISION": "bf16", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mixed_precision bf16" in done.stdout  # e.g. `accelerate launch --mixed_precision bf16` reaches the run
    with pytest.raises(ValueError, match="mixed_precision"):
        TrainingConfig(mixed_precision="fp8")


def test_freeze_batch_norm_keeps_the_statistics_and_trains_the_rest(tmp_path):
    run(tmp_path, "frozen", max_steps=4, freeze_batch_norm=True)
    run(tmp_path, "free", max_steps=4)
    start = tiny_model().state_dict()
    frozen, free = load_file(tmp_path / "frozen/model.safetensors"), load_file(tmp_path / "free/model.safetensors")
    statistics = [key for key in start if key.endswith(("running_mean", "running_var"))]
    assert statistics
    for key in statistics:
        torch.testing.assert_close(frozen[key], start[key])  # the statistics the model started with
    assert any(not torch.equal(free[key], start[key]) for key in statistics)  # train mode would have moved them
    affine = [key.replace("running_mean", "weight") for key in statistics if key.endswith("running_mean")]
    assert any(not torch.equal(frozen[key], start[key]) for key in affine)  # the affine weights still train
    assert not torch.equal(frozen["mpm.temporal_transformer.layers.0.attention.qkv.weight"],
                           start["mpm.temporal_transformer.layers.0.attention.qkv.weight"])


def test_max_time_stops_at_the_next_log_step_and_saves_the_model(tmp_path, monkeypatch):
    from mpm_hf.training import loop

    saved, save = [], loop._save_checkpoint

    def counting_save(accelerator, model, output_dir, step, *rest):
        saved.append(step)
        save(accelerator, model, output_dir, step, *rest)

    monkeypatch.setattr(loop, "_save_checkpoint", counting_save)
    timed = run(tmp_path, "timed", max_steps=20, log_every=3, max_time=1e-9, save_every=3)
    assert saved == [3]  # once, not once in the loop and again at the end
    assert timed["global_step"] == 3 and timed["stopped_by_time"] is True  # the first log step after the deadline
    steps = [json.loads(line)["step"] for line in (tmp_path / "timed/logs/metrics.jsonl").read_text().splitlines()]
    assert steps == [3]
    assert MPMForPoseLifting.from_pretrained(tmp_path / "timed").config.num_frames == 9
    assert (tmp_path / "timed/checkpoints/checkpoint-3").is_dir()
    # the same first steps as a run without a deadline: the schedule does not depend on it
    untimed = run(tmp_path, "untimed", max_steps=3, log_every=3)
    assert untimed["stopped_by_time"] is False
    timed_weights = load_file(tmp_path / "timed/model.safetensors")
    untimed_weights = load_file(tmp_path / "untimed/model.safetensors")
    for key, value in untimed_weights.items():
        torch.testing.assert_close(timed_weights[key], value)
    assert run(tmp_path, "roomy", max_steps=4, log_every=1, max_time=3600)["global_step"] == 4


def test_max_time_must_be_positive():
    with pytest.raises(ValueError, match="max_time"):
        TrainingConfig(max_time=0)
