"""The training path refuses bad input early and survives interruptions: range-checked flags, ``--resume`` without a
checkpoint, saves killed midway, non-finite losses and a missing ``--init-from`` folder."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil

import pytest
import torch
from accelerate import Accelerator
from safetensors.torch import load_file

from mpm_hf import MPMForPoseLifting
from mpm_hf.data.windows import collate_windows
from mpm_hf.training.arguments import (
    CommaSeparated,
    DataArguments,
    TrainingArguments,
    build_model,
    init_from_source,
    parse_arguments,
    validate_arguments,
)
from mpm_hf.training.loop import NonFiniteLossError, TrainingConfig, latest_checkpoint, train
from mpm_hf.training.tasks import LiftingStep

from .conftest import REPO_ROOT
from .test_training import TINY_FLAGS, run, tiny_model, tiny_windows

# The flags of the long runs in runs/common.sh: they must keep parsing.
RUN_FLAGS = ("--data-dir ../shared/data/h36m --subjects S1,S5,S6,S7,S8 --keypoints gt,sh_pt_mpii --num-frames 27 "
             "--hidden-size 128 --intermediate-size 256 --num-layers 3 --downsample 2 --batch-size 256 --lr 1e-3 "
             "--lr-decay 0.97 --lr-decay-steps 150 --log-every 25 --seed 0 --no-progress --trackers jsonl "
             "--dropout 0 --save-every 500 --virtual-camera-prob 0.5 --noise-std 0.004 --noise-outlier-prob 0.01 "
             "--noise-drop-prob 0.05 --noise-tube-drop-prob 0.3 --noise-tube-drop-joints 2").split()


def load_example(name: str):
    """An ``examples/`` script as a module (its ``build_parser`` and ``main``)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", REPO_ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(argv: list[str], script: str = "pretrain") -> tuple:
    """The script's dataclasses (model, data, training, its own) parsed from ``argv``, not yet range-checked."""
    return load_example(script).build_parser().parse_args_into_dataclasses(argv, look_for_args_file=False)


BAD_FLAGS = [
    ("--noise-drop-prob", "1.5", "a value in [0, 1]", "1.5"),
    ("--noise-outlier-prob", "-0.1", "a value in [0, 1]", "-0.1"),
    ("--noise-tube-drop-prob", "2", "a value in [0, 1]", "2.0"),
    ("--virtual-camera-prob", "1.01", "a value in [0, 1]", "1.01"),
    ("--virtual-camera-look-down", "91", "a value in [0, 90]", "91.0"),
    ("--virtual-camera-look-up", "-5", "a value in [0, 90]", "-5.0"),
    ("--temporal-mask-ratio", "1", "a value in [0, 1)", "1.0"),
    ("--spatial-mask-joints", "17", "a value in [0, 17) (--num-joints 17)", "17"),
    ("--spatial-mask-joints", "-1", "a value in [0, 17) (--num-joints 17)", "-1"),
    ("--dropout", "1", "a value in [0, 1)", "1.0"),
    ("--spatial-dropout", "-0.1", "a value in [0, 1)", "-0.1"),
    ("--noise-std", "-0.01", ">= 0", "-0.01"),
    ("--noise-outlier-std", "-1", ">= 0", "-1.0"),
    ("--noise-tube-drop-joints", "0", "a value in [1, 17) (--num-joints 17)", "0"),
    ("--noise-tube-drop-joints", "17", "a value in [1, 17) (--num-joints 17)", "17"),
    ("--loss-weight-2d", "-1", ">= 0", "-1.0"),
    ("--window-stride", "0", ">= 1", "0"),
    ("--num-frames", "0", ">= 1", "0"),
    ("--lr", "0", "> 0", "0.0"),
    ("--lr", "nan", "> 0", "nan"),
    ("--lr", "inf", "> 0", "inf"),
    ("--max-grad-norm", "-1", ">= 0 (0 or None: no clipping)", "-1.0"),
    ("--lr-decay", "0", "a value in (0, 1]", "0.0"),
    ("--lr-decay", "1.5", "a value in (0, 1]", "1.5"),
    ("--lr-decay-steps", "0", ">= 1 (None: every epoch)", "0"),
    ("--batch-size", "0", ">= 1", "0"),
    ("--max-steps", "0", ">= 1 (None: from epochs)", "0"),
    ("--epochs", "0", ">= 1", "0"),
    ("--save-every", "-1", ">= 0 (0: only at the end)", "-1"),
    ("--log-every", "0", ">= 1", "0"),
    ("--gradient-accumulation-steps", "0", ">= 1", "0"),
    ("--weight-decay", "-0.1", ">= 0", "-0.1"),
    ("--seed", "-1", "a value in [0, 4294967296)", "-1"),
    ("--num-workers", "-1", ">= 0", "-1"),
]


@pytest.mark.parametrize(("flag", "value", "expected", "got"), BAD_FLAGS, ids=[f"{f}={v}" for f, v, *_ in BAD_FLAGS])
def test_an_out_of_range_flag_names_the_flag_the_range_and_the_value(flag, value, expected, got):
    with pytest.raises(ValueError, match=re.escape(f"{flag}: expected {expected}, got {got}")):
        validate_arguments(*parse([flag, value]))


def test_the_joint_ranges_follow_num_joints_and_the_bounds_themselves_are_allowed():
    with pytest.raises(ValueError, match=re.escape("--spatial-mask-joints: expected a value in [0, 16) "
                                                   "(--num-joints 16), got 16")):
        validate_arguments(*parse(["--num-joints", "16", "--spatial-mask-joints", "16"]))
    with pytest.raises(ValueError, match=re.escape("--num-joints: expected 16 or 17, got 18")):
        validate_arguments(*parse(["--num-joints", "18"]))
    edges = ["--dropout", "0", "--spatial-dropout", "0", "--max-grad-norm", "0", "--temporal-mask-ratio", "0",
             "--spatial-mask-joints", "0", "--noise-drop-prob", "1", "--noise-tube-drop-prob", "1",
             "--virtual-camera-prob", "1", "--noise-outlier-prob", "0", "--lr-decay", "1", "--save-every", "0",
             "--noise-tube-drop-joints", "16", "--num-joints", "17", "--seed", str(2**32 - 1)]
    validate_arguments(*parse(edges))
    validate_arguments(*parse(["--spatial-mask-joints", "16", "--temporal-mask-ratio", "0.99"]))


def test_a_bad_flag_or_config_file_value_is_a_usage_error_before_any_data_is_loaded(tmp_path, capsys):
    pretrain = load_example("pretrain")
    # --data-dir does not exist: the run would fail there if validation came after the data
    missing_data = ["--data-dir", str(tmp_path / "no-data"), "--output-dir", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as exit_info:
        pretrain.main([*missing_data, "--noise-drop-prob", "3"])
    assert exit_info.value.code == 2
    assert "--noise-drop-prob: expected a value in [0, 1], got 3.0" in capsys.readouterr().err
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"lr_decay": 0, "noise_std": 0.01}))
    with pytest.raises(SystemExit):
        pretrain.main([*missing_data, "--config", str(config)])
    assert "--lr-decay: expected a value in (0, 1], got 0" in capsys.readouterr().err
    completion = load_example("finetune_completion")
    with pytest.raises(SystemExit):
        completion.main([*missing_data, "--temporal-mask-ratio", "1.0"])
    assert "--temporal-mask-ratio: expected a value in [0, 1), got 1.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        completion.main([*missing_data, "--part-prob", "1.5"])
    assert "--part-prob: expected a value in [0, 1], got 1.5" in capsys.readouterr().err
    # body parts are checked before the data too
    with pytest.raises(ValueError, match=r"occluded: expected body parts among .*got \['tail'\]"):
        completion.main([*TINY_FLAGS[:8], *missing_data, "--occlude", "left_arm,tail"])
    with pytest.raises(ValueError, match=r"--part-weights: expected part=weight items such as legs=3, got 'legs'"):
        completion.main([*TINY_FLAGS[:8], *missing_data, "--part-prob", "0.5", "--part-weights", "legs"])
    with pytest.raises(ValueError, match=r"part_weights: expected parts among .*got \['tail'\]"):
        completion.main([*TINY_FLAGS[:8], *missing_data, "--part-prob", "0.5", "--part-weights", "tail=2"])


def test_a_config_file_sets_defaults_and_the_command_line_overrides_them(tmp_path, capsys):
    pretrain = load_example("pretrain")
    config = tmp_path / "stage1.yaml"
    config.write_text("lr: 0.002\nnum-frames: 81\nkeypoints: [gt, sh_pt_mpii]\ntrackers: jsonl\nflip_augment: false\n"
                      "no_3d: true\nnoise_std: 0.01\n")
    model, data, training, stage = parse_arguments(pretrain.build_parser(), [
        "--config", str(config), "--lr", "5e-4", "--noise-std", "0.02"])
    assert (training.lr, data.noise_std) == (5e-4, 0.02)  # given on the command line: the flag wins
    assert (model.num_frames, data.keypoints, training.trackers) == (81, ("gt", "sh_pt_mpii"), ("jsonl",))
    assert not data.flip_augment and stage.no_3d and training.epochs == 15  # the rest keeps the script's defaults
    as_json = tmp_path / "stage1.json"
    as_json.write_text(json.dumps({"subjects": "S1, S5", "epochs": 3}))
    _, data, training, _ = parse_arguments(pretrain.build_parser(), ["--config", str(as_json), "--epochs", "4"])
    assert (data.subjects, training.epochs) == (("S1", "S5"), 4)
    as_json.write_text(json.dumps({"num_frame": 81}))
    with pytest.raises(ValueError, match=re.escape(f"--config {as_json}: unknown keys ['num_frame']")):
        parse_arguments(pretrain.build_parser(), ["--config", str(as_json)])
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments(pretrain.build_parser(), ["--num-franes", "81", "--typo"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --num-franes 81 --typo" in capsys.readouterr().err


def test_comma_separated_flags_read_one_string_or_a_list():
    assert CommaSeparated("gt, sh_pt_mpii,,") == ("gt", "sh_pt_mpii")
    assert CommaSeparated(["S1", " S5 "]) == ("S1", "S5") and str(CommaSeparated("S1,S5")) == "S1,S5"
    assert DataArguments(keypoints=["gt"], dataset="h36m,amass").dataset == ("h36m", "amass")
    _, data, training, _ = parse(["--no-flip-augment", "--trackers", "jsonl,tensorboard", "--dataset", "synthetic"])
    assert (data.flip_augment, training.trackers, data.dataset) == (False, ("jsonl", "tensorboard"), ("synthetic",))
    assert type(training).__name__ == "TrainingArguments" and isinstance(training, TrainingArguments)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("learning_rate", 0.0, "learning_rate: expected > 0, got 0.0"),
        ("learning_rate", float("nan"), "learning_rate: expected > 0, got nan"),
        ("lr_decay", 1.5, "lr_decay: expected a value in (0, 1], got 1.5"),
        ("max_grad_norm", -0.5, "max_grad_norm: expected >= 0 (0 or None: no clipping), got -0.5"),
        ("batch_size", 2.5, "batch_size: expected an integer >= 1, got 2.5"),
        ("max_steps", 0, "max_steps: expected >= 1 (None: from epochs), got 0"),
        ("gradient_accumulation_steps", 0, "gradient_accumulation_steps: expected >= 1, got 0"),
        ("checkpoints_total_limit", -1, "checkpoints_total_limit: expected >= 0 (0 or None: keep all), got -1"),
        ("seed", 2**32, "seed: expected a value in [0, 4294967296), got 4294967296"),
    ],
)
def test_training_config_checks_every_numeric_field(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainingConfig(**{field: value})


def test_the_command_lines_of_the_running_experiments_still_parse(tmp_path):
    stage_one = tmp_path / "s4-stage1-2d3d"
    tiny_model().save_pretrained(stage_one)
    resumed = tmp_path / "s4-lift-c"
    (resumed / "checkpoints" / "checkpoint-500").mkdir(parents=True)
    (resumed / "checkpoints" / "checkpoint-500" / "trainer_state.json").write_text('{"global_step": 500}')
    pretrain = load_example("pretrain")
    model, data, training, stage = parse_arguments(pretrain.build_parser(), [
        *RUN_FLAGS, "--max-steps", "1000", "--masked-lift", "--rotate-3d", "--output-dir", str(tmp_path / "s1")])
    assert data.keypoints == ("gt", "sh_pt_mpii") and data.subjects == ("S1", "S5", "S6", "S7", "S8")
    assert stage.rotate_3d and stage.masked_lift and not stage.no_3d and not stage.paired
    assert (model.dropout, model.num_frames, data.downsample, data.flip_augment) == (0.0, 27, 2, True)
    assert (data.noise_tube_drop_joints, data.virtual_camera_prob, training.trackers) == (2, 0.5, ("jsonl",))
    assert not training.progress and training.epochs == 15 and training.output_dir == str(tmp_path / "s1")
    _, _, _, no_3d = parse_arguments(pretrain.build_parser(), [*RUN_FLAGS, "--max-steps", "1000", "--no-3d"])
    assert no_3d.no_3d
    lifting = load_example("finetune_lifting")
    _, data, training, lifting_args = parse_arguments(lifting.build_parser(), [
        *RUN_FLAGS, "--init-from", str(stage_one), "--max-steps", "12000", "--resume", "--output-dir", str(resumed)])
    assert lifting_args.init_from == str(stage_one) and training.epochs == 40
    config = training.to_training_config()
    assert (config.resume, config.save_every, config.max_steps, config.learning_rate) == (True, 500, 12000, 1e-3)
    assert (config.lr_decay_steps, config.batch_size, config.log_every) == (150, 256, 25)
    assert (config.progress, config.trackers, config.lr_decay) == (False, ("jsonl",), 0.97)


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    expected = f"resume: no checkpoint found in {tmp_path / 'fresh' / 'checkpoints'}"
    with pytest.raises(FileNotFoundError, match=re.escape(expected)):
        run(tmp_path, "fresh", resume=True)
    assert not (tmp_path / "fresh").exists()  # refused before anything was written
    # an unfinished save (no trainer_state.json) is not a checkpoint either
    half = tmp_path / "half" / "checkpoints" / "checkpoint-4"
    half.mkdir(parents=True)
    (half / "model.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(FileNotFoundError, match="resume: no checkpoint found in"):
        run(tmp_path, "half", resume=True)
    with pytest.raises(SystemExit) as exit_info:
        load_example("finetune_lifting").main([*TINY_FLAGS, "--resume", "--output-dir", str(tmp_path / "cli")])
    assert exit_info.value.code == 2
    assert f"--resume: no checkpoint found in {tmp_path / 'cli' / 'checkpoints'}" in capsys.readouterr().err


def test_a_save_killed_midway_is_skipped_and_resuming_is_still_exact(tmp_path, monkeypatch):
    run(tmp_path, "full", max_steps=8, save_every=2)

    class Killed(RuntimeError):
        pass

    save_state = Accelerator.save_state

    def killed_while_saving_step_6(self, output_dir=None, **kwargs):
        save_state(self, output_dir, **kwargs)  # the optimizer, weights and random states are written ...
        if output_dir.endswith("checkpoint-6"):
            raise Killed  # ... but not the config and trainer state

    monkeypatch.setattr(Accelerator, "save_state", killed_while_saving_step_6)
    with pytest.raises(Killed):
        run(tmp_path, "killed", max_steps=8, save_every=2)
    monkeypatch.undo()
    root = tmp_path / "killed" / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == [".tmp-checkpoint-6", "checkpoint-2", "checkpoint-4"]
    assert not (tmp_path / "killed" / "model.safetensors").exists()
    # a save killed midway before saves went through a temporary folder: a checkpoint folder without its state
    shutil.copytree(root / ".tmp-checkpoint-6", root / "checkpoint-7")
    assert latest_checkpoint(tmp_path / "killed").name == "checkpoint-4"

    with pytest.warns(UserWarning, match=r"skipping unfinished checkpoint folders \['.tmp-checkpoint-6', "
                                         r"'checkpoint-7'\].*resuming from checkpoint-4"):
        summary = run(tmp_path, "killed", max_steps=8, save_every=2, resume=True, checkpoints_total_limit=1)
    assert summary["global_step"] == 8
    full, resumed = load_file(tmp_path / "full/model.safetensors"), load_file(tmp_path / "killed/model.safetensors")
    for key, tensor in full.items():
        assert torch.equal(tensor, resumed[key]), key
    # unfinished folders are cleaned up and pruning kept the newest complete checkpoint
    assert sorted(p.name for p in root.iterdir()) == ["checkpoint-8"]
    assert json.loads((root / "checkpoint-8" / "trainer_state.json").read_text())["global_step"] == 8

    # a finished run resumed saves its last step again: the complete folder is replaced, never lost
    before = load_file(tmp_path / "full/checkpoints/checkpoint-8/model.safetensors")
    assert run(tmp_path, "full", max_steps=8, save_every=2, resume=True)["global_step"] == 8
    names = sorted(p.name for p in (tmp_path / "full" / "checkpoints").iterdir())
    assert names == ["checkpoint-4", "checkpoint-6", "checkpoint-8"]
    again = load_file(tmp_path / "full/checkpoints/checkpoint-8/model.safetensors")
    assert all(torch.equal(before[key], again[key]) for key in before)


class NaNAtStep:
    """``LiftingStep`` whose loss is NaN at one optimizer step (one forward pass per step here)."""

    def __init__(self, step: int):
        self.step, self.calls = step, 0

    def __call__(self, model, batch, generator):
        self.calls += 1
        loss, logs = LiftingStep()(model, batch, generator)
        return (loss * float("nan") if self.calls == self.step else loss), logs


@pytest.mark.parametrize(("bad_step", "log_every", "kept", "logged_step"), [(5, 4, 4, 4), (8, 3, 6, 6)],
                         ids=["found-before-a-save", "found-at-a-log-step"])
def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tmp_path, bad_step, log_every, kept, logged_step
):
    run(tmp_path, "clean", max_steps=8, save_every=2, log_every=log_every)
    config = TrainingConfig(output_dir=str(tmp_path / "nan"), batch_size=32, learning_rate=3e-3, max_steps=8,
                            save_every=2, seed=0, trackers=("jsonl",), progress=False, log_every=log_every)
    with pytest.raises(NonFiniteLossError, match=rf"non-finite loss at step {bad_step} \(loss=nan, "
                                                 rf"loss_centre=[0-9.]+, loss_sequence=[0-9.]+\)") as error:
        train(tiny_model(), tiny_windows(), NaNAtStep(bad_step), config, collate_fn=collate_windows)
    assert f"checkpoint-{kept} is kept and the final model was not written" in str(error.value)
    assert re.search(rf"last logged loss [0-9.]+ at step {logged_step}\.", str(error.value))
    assert not (tmp_path / "nan" / "model.safetensors").exists()
    root = tmp_path / "nan" / "checkpoints"
    assert latest_checkpoint(tmp_path / "nan") == root / f"checkpoint-{kept}"
    assert sorted(p.name for p in root.iterdir())[-1] == f"checkpoint-{kept}"  # nothing saved after the NaN
    good = load_file(root / f"checkpoint-{kept}" / "model.safetensors")
    clean = load_file(tmp_path / "clean" / "checkpoints" / f"checkpoint-{kept}" / "model.safetensors")
    for key, tensor in clean.items():
        assert torch.equal(tensor, good[key]), key
    logged = [json.loads(line) for line in (tmp_path / "nan/logs/metrics.jsonl").read_text().splitlines()]
    assert all(record["step"] < bad_step and math.isfinite(record["loss"]) for record in logged)


def test_init_from_a_missing_local_folder_fails_at_once_and_hub_ids_pass_through(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "weights.bin").write_bytes(b"\0")
    for value in (str(tmp_path / "missing"), "./missing", "../missing", "~/no-such-mpm-folder", "a/b/c",
                  "runs/stage1"):
        with pytest.raises(FileNotFoundError, match=re.escape(f"--init-from: folder not found: {value} ")):
            init_from_source(value)
    with pytest.raises(FileNotFoundError, match=re.escape("--init-from: is a file, not a folder: weights.bin")):
        init_from_source("weights.bin")
    assert init_from_source("user/mpm-h36m") == "user/mpm-h36m"  # a Hub repo id is not a local path
    assert init_from_source("mpm-h36m") == "mpm-h36m"
    tiny_model().save_pretrained(tmp_path / "runs" / "stage1")
    assert init_from_source("runs/stage1") == "runs/stage1"
    model_args, data_args, _, lifting_args = parse([*TINY_FLAGS[:8], "--init-from", "runs/stage1"],
                                                   "finetune_lifting")
    model = build_model(MPMForPoseLifting, model_args, data_args, init_from=lifting_args.init_from)
    assert model.config.hidden_size == 16
    with pytest.raises(FileNotFoundError, match="--init-from: folder not found: runs/stage2"):
        build_model(MPMForPoseLifting, model_args, data_args, init_from="runs/stage2")
    with pytest.raises(SystemExit) as exit_info:
        load_example("finetune_lifting").main(["--init-from", "runs/stage2", "--output-dir", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "--init-from: folder not found: runs/stage2" in capsys.readouterr().err
