"""The training loop shared by ``examples/``: Accelerate does devices, processes, precision and checkpoints.

One loop for every stage: a *step function* turns a batch into a loss (stage I, lifting, completion), the loop does
the rest: seeded data order (``use_seedable_sampler``), gradient accumulation, clipping, AdamW or the release's
Adam+amsgrad, a per-epoch learning-rate decay, ``save_state`` checkpoints and exact ``--resume``, trackers
(JSON lines and TensorBoard by default, W&B when installed and asked for), a progress bar, ``save_pretrained`` of
the final model and a PNG of the loss curves.

Interruptions are survivable: a checkpoint is written to ``checkpoints/.tmp-checkpoint-<step>`` and renamed to
``checkpoint-<step>`` only when complete, so a run killed while saving resumes from its last complete checkpoint;
a NaN or infinite loss stops the run (``NonFiniteLossError``) before anything computed from it is saved.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.tracking import GeneralTracker
from accelerate.utils import (
    DataLoaderConfiguration,
    DistributedDataParallelKwargs,
    ProjectConfiguration,
    set_seed,
)
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..runtime import flush_denormals
from .sync_batch_norm import convert_sync_batchnorm, revert_sync_batchnorm

StepFunction = Callable[[torch.nn.Module, dict[str, torch.Tensor], torch.Generator], tuple[torch.Tensor, dict]]
StepCallback = Callable[[Accelerator, torch.nn.Module, int], None]

OPTIMIZERS = ("adamw", "adam_amsgrad")
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
# A save in progress (or killed midway) lives under this prefix until it is complete and renamed.
TEMPORARY_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Interval:
    """The allowed values of a numeric setting: ``check`` raises ``ValueError`` naming the setting, this range and
    the value (``"lr_decay: expected a value in (0, 1], got 1.5"``).

    Attributes:
        low, high: the bounds (``None``: unbounded on that side).
        low_open, high_open: exclude the bound itself.
        integer: only integers are allowed.
        optional: ``None`` is allowed (it means "off" or "the default"; ``note`` says which).
        note: what special values mean, appended to the message (``"0: only at the end"``).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False
    note: str = ""

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            text = (f"a value in {'(' if self.low_open else '['}{self.low}, {self.high}"
                    f"{')' if self.high_open else ']'}")
        elif self.low is not None:
            text = f"{'>' if self.low_open else '>='} {self.low}"
        else:
            text = f"{'<' if self.high_open else '<='} {self.high}"
        return f"{text} ({self.note})" if self.note else text

    def contains(self, value: Any) -> bool:
        if value is None:
            return self.optional
        kind = numbers.Integral if self.integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def check(self, name: str, value: Any) -> None:
        if not self.contains(value):
            kind = "an integer " if self.integer and not isinstance(value, numbers.Integral) else ""
            raise ValueError(f"{name}: expected {kind}{self.describe()}, got {value!r}")


# The range of every numeric field of ``TrainingConfig``; ``mpm_hf.training.arguments`` checks the command-line
# flags against the same table.
TRAINING_RANGES: dict[str, Interval] = {
    "epochs": Interval(low=1, integer=True),
    "max_steps": Interval(low=1, integer=True, optional=True, note="None: from epochs"),
    "max_time": Interval(low=0, low_open=True, optional=True, note="None: no time limit"),
    "batch_size": Interval(low=1, integer=True),
    "learning_rate": Interval(low=0, low_open=True),
    "weight_decay": Interval(low=0, optional=True),
    "lr_decay": Interval(low=0, high=1, low_open=True),
    "lr_decay_steps": Interval(low=1, integer=True, optional=True, note="None: every epoch"),
    "max_grad_norm": Interval(low=0, optional=True, note="0 or None: no clipping"),
    "gradient_accumulation_steps": Interval(low=1, integer=True),
    "seed": Interval(low=0, high=2**32, high_open=True, integer=True),
    "save_every": Interval(low=0, integer=True, note="0: only at the end"),
    "checkpoints_total_limit": Interval(low=0, integer=True, optional=True, note="0 or None: keep all"),
    "log_every": Interval(low=1, integer=True),
    "num_workers": Interval(low=0, integer=True),
}


class NonFiniteLossError(FloatingPointError):
    """A step's loss was NaN or infinite; the run stopped before saving anything computed from it."""


@dataclass
class TrainingConfig:
    """Hyper-parameters of a run; defaults are the paper's where it gives one.

    Attributes:
        output_dir: run folder: ``checkpoints/``, ``logs/``, the final ``save_pretrained`` model, ``loss_curves.png``.
        epochs: passes over the dataset (ignored when ``max_steps`` is set).
        max_steps: optimizer steps to run; overrides ``epochs``.
        max_time: seconds of training (this process's segment, from its first step; data loading not counted)
            after which the run stops at the next log step and saves as it does at the end, so a run that has to
            end by a deadline (a lent machine, a job slot) ends with its model written. ``None``: no limit. The
            learning-rate schedule is the same as without it: the run is the first steps of the longer one.
        batch_size: windows per process per forward pass (global batch = batch_size x processes x accumulation).
        learning_rate: 1e-4 for stage I, 1.6e-3 (paper) / 7e-4 (release README) for lifting.
        weight_decay: decoupled weight decay of AdamW, or the L2 term of Adam (amsgrad); default (None) 0.01 for
            AdamW and 0 for Adam, as in the paper and the release.
        optimizer: ``adamw`` (paper) or ``adam_amsgrad`` (release).
        lr_decay: multiplicative decay in (0, 1] applied every ``lr_decay_steps`` optimizer steps (default: every
            epoch).
        max_grad_norm: gradient clipping norm; ``None`` or 0 disables clipping.
        gradient_accumulation_steps: forward/backward passes per optimizer step.
        mixed_precision: ``no``, ``bf16`` or ``fp16`` (where the device supports it); None: Accelerate's setting
            (``accelerate launch --mixed_precision``, ``accelerate config``, ``ACCELERATE_MIXED_PRECISION``).
        seed: seeds the model init, the data order, dropout and the mask samplers.
        save_every: write a ``save_state`` checkpoint every this many steps (0: only at the end).
        checkpoints_total_limit: keep at most this many checkpoints (0 or None: all); the newest is always kept.
        resume: continue from the latest complete checkpoint in ``output_dir/checkpoints``; an error when there is
            none (a fresh start would silently retrain from step 0).
        log_every: steps between tracker logs.
        num_workers: DataLoader workers (0: fetch in the training process; batched fetching is fast).
        sync_bn: convert BatchNorm to SyncBatchNorm for multi-process runs.
        freeze_batch_norm: keep every BatchNorm in eval mode (its running statistics fixed, its affine weights still
            trained). For fine-tuning a model whose statistics are right already, and for batches that go through
            the model in parts with different statistics (a completion step's 2D and 3D halves: in train mode the
            shared BatchNorms normalise each half by its own batch statistics, but at inference by running
            statistics averaged over both, which fit neither).
        trackers: ``jsonl``, ``tensorboard``, ``wandb`` (those not installed are skipped with a warning).
        progress: show a progress bar on the main process.
        check_replicas: after every step, gather a per-tensor checksum of the weights from every process and
            write the largest difference between processes to ``replica_check.jsonl`` (diagnostics for
            multi-process runs; 0.0 means the replicas are identical).
        flush_denormals: on CPU, flush denormal floats to zero for the process (``mpm_hf.runtime.flush_denormals``:
            the attention backward pass otherwise spends much of its time on them).
    """

    output_dir: str = "outputs/run"
    epochs: int = 1
    max_steps: int | None = None
    max_time: float | None = None
    batch_size: int = 1024
    learning_rate: float = 1e-4
    weight_decay: float | None = None
    optimizer: str = "adamw"
    lr_decay: float = 0.97
    lr_decay_steps: int | None = None
    max_grad_norm: float | None = 1.0
    gradient_accumulation_steps: int = 1
    mixed_precision: str | None = None
    seed: int = 0
    save_every: int = 0
    checkpoints_total_limit: int | None = 3
    resume: bool = False
    log_every: int = 10
    num_workers: int = 0
    sync_bn: bool = False
    freeze_batch_norm: bool = False
    trackers: Sequence[str] = field(default_factory=lambda: ("jsonl", "tensorboard"))
    progress: bool = True
    check_replicas: bool = False
    flush_denormals: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.mixed_precision not in (None, "no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision: expected 'no', 'bf16' or 'fp16', got {self.mixed_precision!r}")
        for name, interval in TRAINING_RANGES.items():
            interval.check(name, getattr(self, name))


class JSONLinesTracker(GeneralTracker):
    """Writes one JSON object per ``log`` call to ``<logging_dir>/<run_name>.jsonl`` (appends on resume)."""

    name = "jsonl"
    requires_logging_directory = True

    def __init__(self, run_name: str, logging_dir: str | os.PathLike):
        super().__init__()
        self.path = Path(logging_dir) / f"{run_name}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def tracker(self) -> Path:
        return self.path

    def store_init_configuration(self, values: dict) -> None:
        (self.path.parent / "config.json").write_text(json.dumps(values, indent=2, default=str))

    def log(self, values: dict, step: int | None = None, **kwargs) -> None:
        record = {"step": step, "time": time.time(), **{k: _to_python(v) for k, v in values.items()}}
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def _to_python(value: Any) -> Any:
    return value.item() if isinstance(value, torch.Tensor) else value


def _make_trackers(names: Sequence[str], logging_dir: Path) -> list:
    trackers: list = []
    for name in names:
        if name == "jsonl":
            trackers.append(JSONLinesTracker("metrics", logging_dir))
        elif name == "tensorboard":
            try:
                import tensorboard  # noqa: F401
            except ImportError:
                try:
                    import tensorboardX  # noqa: F401
                except ImportError:
                    print("[mpm-hf] tensorboard is not installed: the TensorBoard tracker is skipped")
                    continue
            trackers.append("tensorboard")
        elif name == "wandb":
            try:
                import wandb  # noqa: F401
            except ImportError:
                print("[mpm-hf] wandb is not installed: the W&B tracker is skipped")
                continue
            trackers.append("wandb")
        else:
            raise ValueError(f"trackers: expected names among ('jsonl', 'tensorboard', 'wandb'), got {name!r}")
    return trackers


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The complete ``checkpoint-<step>`` folder with the highest step under ``output_dir/checkpoints``, if any.

    Temporary folders (a save in progress or killed midway) and checkpoint folders without a readable
    ``trainer_state.json`` (the last file a save writes) are skipped.
    """
    complete = _complete_checkpoints(Path(output_dir) / "checkpoints")
    return complete[-1][1] if complete else None


def _trainer_state(checkpoint: Path) -> dict | None:
    """The ``trainer_state.json`` of a checkpoint folder; None when missing or unreadable (an unfinished save)."""
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("global_step"), int) else None


def _complete_checkpoints(root: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of the complete checkpoints under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name)) and p.is_dir()]
    return sorted((step, path) for step, path in found if _trainer_state(path) is not None)


def _unfinished_checkpoints(root: Path) -> list[Path]:
    """Folders left by saves that did not finish: temporary ones, and ``checkpoint-<step>`` ones without a
    readable ``trainer_state.json`` (a save killed midway before saves went through a temporary folder)."""
    if not root.is_dir():
        return []
    return sorted(
        path for path in root.iterdir()
        if path.is_dir() and (path.name.startswith(TEMPORARY_PREFIX)
                              or (CHECKPOINT_PATTERN.match(path.name) and _trainer_state(path) is None))
    )


def checkpoint_to_resume(output_dir: str | os.PathLike) -> Path:
    """The checkpoint a ``resume`` run continues from: the latest complete one under ``output_dir/checkpoints``.

    Raises ``FileNotFoundError`` when there is none (as ``transformers``' Trainer does): a resumed run that silently
    started from step 0 would retrain what was already trained. Warns about newer unfinished saves it skips.
    """
    root = Path(output_dir) / "checkpoints"
    checkpoint = latest_checkpoint(output_dir)
    if checkpoint is None:
        raise FileNotFoundError(
            f"resume: no checkpoint found in {root} (expected a complete checkpoint-<step> folder; start without "
            "resume for a fresh run)"
        )
    unfinished = [path.name for path in _unfinished_checkpoints(root)]
    if unfinished:
        warnings.warn(
            f"resume: skipping unfinished checkpoint folders {unfinished} in {root} (saves interrupted midway); "
            f"resuming from {checkpoint.name}",
            stacklevel=2,
        )
    return checkpoint


FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def build_optimizer(
    model: torch.nn.Module, config: TrainingConfig, device_type: str = "cpu"
) -> torch.optim.Optimizer:
    """AdamW (paper) or Adam with amsgrad (release); no weight decay on biases, norms, embeddings and tokens.

    On the devices where torch has it (``device_type`` is where training runs) the optimizer is the fused
    implementation: the same update in one kernel over all tensors (a 7 M-parameter Adam-amsgrad step: 20 -> 8 ms
    on one CPU thread).
    """
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "embedding" in name or "token" in name else decay).append(parameter)
    weight_decay = config.weight_decay
    if weight_decay is None:
        weight_decay = 0.01 if config.optimizer == "adamw" else 0.0
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = {"fused": True} if device_type in FUSED_OPTIMIZER_DEVICES else {}
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.learning_rate, **fused)
    return torch.optim.Adam(groups, lr=config.learning_rate, amsgrad=True, **fused)


def _prune_checkpoints(root: Path, limit: int | None) -> None:
    """Delete unfinished saves and all but the newest ``limit`` complete checkpoints (0 / None: keep them all).
    Only complete checkpoints count towards ``limit``, so the newest complete one always stays."""
    for path in _unfinished_checkpoints(root):
        shutil.rmtree(path)
    if limit:
        for _, path in _complete_checkpoints(root)[:-limit]:
            shutil.rmtree(path)


class _LossWatch:
    """Finds the first optimizer step whose loss is NaN or infinite, checked at log and save steps only: the
    losses stay on the device in between (no host synchronisation per step)."""

    # checked at least this often (forward passes) when logs and saves are rare, to bound what is kept
    max_pending = 1024

    def __init__(self) -> None:
        self.pending: list[tuple[int, dict[str, torch.Tensor]]] = []

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.max_pending

    def observe(self, step: int, values: dict[str, torch.Tensor]) -> None:
        """Record a forward pass of optimizer step ``step``: ``values`` holds ``loss`` and the step's logged values."""
        self.pending.append((step, {key: value.detach() for key, value in values.items()}))

    def check(self, accelerator: Accelerator, output_dir: Path, history: dict[str, list[tuple[int, float]]]) -> None:
        """Raise ``NonFiniteLossError`` on every process when any process saw a non-finite loss since the last
        check. All processes call this at the same steps (it gathers)."""
        if not self.pending:
            return
        losses = torch.stack([values["loss"].float().reshape(()) for _, values in self.pending])
        bad = (~torch.isfinite(losses)).nonzero()
        local = self.pending[int(bad[0])] if len(bad) else None
        first = torch.tensor([local[0] if local else -1], device=accelerator.device)
        self.pending = []
        steps = accelerator.gather(first).tolist()
        if max(steps) < 0:
            return
        step = min(s for s in steps if s >= 0)
        process = steps.index(step)
        if local is not None and local[0] == step:
            seen = ", ".join(f"{key}={value.float().mean().item():.6g}" for key, value in local[1].items())
        else:
            seen = f"on process {process}"
        last = f"; last logged loss {history['loss'][-1][1]:.6g} at step {history['loss'][-1][0]}" \
            if history.get("loss") else ""
        kept = latest_checkpoint(output_dir)
        raise NonFiniteLossError(
            f"non-finite loss at step {step} ({seen}){last}. Training stopped; the last good checkpoint "
            f"{kept if kept else '(none saved yet)'} is kept and the final model was not written (resume from it, "
            "e.g. with a lower --lr or --max-grad-norm)"
        )


def train(
    model: torch.nn.Module,
    dataset: Dataset,
    step_fn: StepFunction,
    config: TrainingConfig,
    collate_fn: Callable | None = None,
    callbacks: Sequence[StepCallback] = (),
    run_config: dict | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``dataset`` with ``step_fn`` and return a summary (steps, time, last losses, paths).

    Works unchanged on one CPU, one GPU, several GPUs or several nodes (``accelerate launch``). Killed and
    restarted with ``resume=True``, a run continues from its latest checkpoint with the same data order and the same
    random state, and reaches the same weights as an uninterrupted run.
    """
    output_dir = Path(config.output_dir)
    checkpoint = checkpoint_to_resume(output_dir) if config.resume else None
    accelerator = Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        mixed_precision=config.mixed_precision,
        log_with=_make_trackers(config.trackers, output_dir / "logs"),
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed),
        # Mask tokens and the unused modality's encoder get no gradient in some steps.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    set_seed(config.seed)
    if config.flush_denormals and accelerator.device.type == "cpu":
        flush_denormals()
    if config.sync_bn and accelerator.num_processes > 1:
        model = convert_sync_batchnorm(model, accelerator.device)

    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=collate_fn,
        num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed),
    )
    batches_per_epoch = len(loader) // accelerator.num_processes
    if batches_per_epoch < 1:
        raise ValueError(
            f"dataset: expected at least batch_size x processes = {config.batch_size * accelerator.num_processes} "
            f"windows, got {len(dataset)}"
        )
    # accelerate also steps the optimizer at the end of the data when the last accumulation window is partial
    steps_per_epoch = math.ceil(batches_per_epoch / config.gradient_accumulation_steps)
    max_steps = config.max_steps or config.epochs * steps_per_epoch
    # A prepared scheduler is stepped once per process at every optimizer step (accelerate's AcceleratedScheduler,
    # batches not split): count the decay period in those calls.
    decay_steps = (config.lr_decay_steps or steps_per_epoch) * accelerator.num_processes

    optimizer = build_optimizer(model, config, accelerator.device.type)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: config.lr_decay ** (step // decay_steps))
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    global_step, previous_time = 0, 0.0
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        state = _trainer_state(checkpoint)
        global_step, previous_time = state["global_step"], state.get("wall_time_s", 0.0)
        accelerator.print(f"[mpm-hf] resumed from {checkpoint} at step {global_step}")

    run_values = {**asdict(config), **(run_config or {})}
    accelerator.init_trackers("mpm", config={k: v for k, v in run_values.items() if _is_hparam(v)})

    progress = tqdm(
        total=max_steps,
        initial=global_step,
        disable=not (config.progress and accelerator.is_main_process),
        desc="training",
        dynamic_ncols=True,
    )
    history: dict[str, list[tuple[int, float]]] = {}
    watch = _LossWatch()
    started = time.time()
    stopped_by_time = False
    model.train()
    if config.freeze_batch_norm:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
    epoch = global_step // steps_per_epoch
    done = global_step >= max_steps
    while not done:
        loader.set_epoch(epoch)
        skip = (global_step - epoch * steps_per_epoch) * config.gradient_accumulation_steps
        epoch_loader = accelerator.skip_first_batches(loader, skip) if skip > 0 else loader
        micro_step = skip  # the batch's index in the epoch: a resumed run draws the same masks and noise
        for batch in epoch_loader:
            with accelerator.accumulate(model):
                generator = _step_generator(config.seed, global_step, micro_step, accelerator, batch)
                loss, logs = step_fn(model, batch, generator)
                watch.observe(global_step + 1, {"loss": loss, **logs})
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            micro_step += 1
            if not accelerator.sync_gradients:
                continue
            global_step += 1
            progress.update(1)
            values = {"loss": loss.detach().float(), **{k: v.detach().float() for k, v in logs.items()}}
            log_now = global_step % config.log_every == 0 or global_step == max_steps
            if log_now or watch.full:
                _check_losses(watch, accelerator, output_dir, history, progress)
            if log_now:
                values = {k: accelerator.reduce(v, reduction="mean").item() for k, v in values.items()}
                values["lr"] = scheduler.get_last_lr()[0]
                accelerator.log(values, step=global_step)
                for key, value in values.items():
                    history.setdefault(key, []).append((global_step, value))
                progress.set_postfix(loss=f"{values['loss']:.4f}", lr=f"{values['lr']:.2e}")
                if config.max_time is not None and _out_of_time(accelerator, time.time() - started, config.max_time):
                    stopped_by_time = True
                    done = True
            if config.check_replicas:
                _check_replicas(accelerator, model, global_step, output_dir)
            for callback in callbacks:
                callback(accelerator, model, global_step)
            # (a run stopped by --max-time saves once, after the loop)
            if config.save_every and global_step % config.save_every == 0 and global_step < max_steps and not done:
                _check_losses(watch, accelerator, output_dir, history, progress)
                _save_checkpoint(accelerator, model, output_dir, global_step, config.checkpoints_total_limit,
                                 previous_time + time.time() - started)
            if global_step >= max_steps:
                done = True
            if done:
                break
        epoch += 1
    _check_losses(watch, accelerator, output_dir, history, progress)
    progress.close()
    elapsed = previous_time + time.time() - started

    _save_checkpoint(accelerator, model, output_dir, global_step, config.checkpoints_total_limit, elapsed)
    accelerator.wait_for_everyone()
    summary: dict[str, Any] = {
        "global_step": global_step,
        "epochs": global_step / steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "wall_time_s": elapsed,  # cumulative over resumed segments
        "stopped_by_time": stopped_by_time,
        "num_processes": accelerator.num_processes,
        "windows_seen": global_step * config.batch_size * config.gradient_accumulation_steps
        * accelerator.num_processes,
        "last": {k: v[-1][1] for k, v in history.items()},
    }
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        if config.sync_bn and accelerator.num_processes > 1:
            unwrapped = revert_sync_batchnorm(unwrapped)
        unwrapped.save_pretrained(output_dir, safe_serialization=True)
        (output_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        curves = _read_history(output_dir / "logs" / "metrics.jsonl") or history
        if curves:
            from ..visualization import plot_loss_curves

            plot_loss_curves({k: v for k, v in curves.items() if k.startswith("loss")}, output_dir / "loss_curves.png")
    accelerator.end_training()
    return summary


def _check_losses(
    watch: _LossWatch, accelerator: Accelerator, output_dir: Path, history: dict, progress: tqdm
) -> None:
    """``watch.check``; on a non-finite loss, close the progress bar and the trackers before raising."""
    try:
        watch.check(accelerator, output_dir, history)
    except NonFiniteLossError:
        progress.close()
        accelerator.end_training()
        raise


def _out_of_time(accelerator: Accelerator, elapsed: float, limit: float) -> bool:
    """Whether ``elapsed`` seconds passed ``limit`` on any process: every process stops at the same step."""
    late = torch.tensor([float(elapsed >= limit)], device=accelerator.device)
    return bool(accelerator.reduce(late, reduction="sum").item() > 0)


def _is_hparam(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str)) or value is None


def _step_generator(
    seed: int, step: int, micro_step: int, accelerator: Accelerator, batch: dict[str, torch.Tensor]
) -> torch.Generator:
    """A generator for this step's masks that depends only on (seed, step, micro-step, process): resumable."""
    device = next((v.device for v in batch.values() if isinstance(v, torch.Tensor)), torch.device("cpu"))
    generator = torch.Generator(device=device)
    mixed = (seed * 1_000_003 + step * 7_919 + micro_step * 104_729 + accelerator.process_index) % (2**63 - 1)
    return generator.manual_seed(mixed)


def _check_replicas(accelerator: Accelerator, model: torch.nn.Module, step: int, output_dir: Path) -> None:
    checksum = torch.stack([p.detach().double().sum() for p in accelerator.unwrap_model(model).parameters()])
    gathered = accelerator.gather(checksum[None].to(accelerator.device)).cpu()
    difference = float((gathered - gathered[:1]).abs().max())
    if accelerator.is_main_process:
        with (output_dir / "replica_check.jsonl").open("a") as handle:
            handle.write(json.dumps({"step": step, "processes": gathered.shape[0], "max_abs_diff": difference}) + "\n")


def _save_checkpoint(
    accelerator: Accelerator, model: torch.nn.Module, output_dir: Path, step: int, limit: int | None,
    wall_time_s: float,
) -> None:
    """``save_state`` plus the model's ``config.json`` (the folder then also loads with ``from_pretrained``) and
    ``trainer_state.json``, written to ``checkpoints/.tmp-checkpoint-<step>`` and renamed to ``checkpoint-<step>``
    once complete: a save killed midway leaves only a temporary folder, which resuming skips."""
    root = output_dir / "checkpoints"
    name = f"checkpoint-{step}"
    temporary = root / f"{TEMPORARY_PREFIX}{name}"
    if accelerator.is_main_process and temporary.exists():
        shutil.rmtree(temporary)  # left by a save of this step that was killed
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()  # every process has written its random states
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        # what model.save_pretrained records: the class the weights belong to (a run started --init-from a stage-I
        # folder would otherwise keep the stage-I class name)
        unwrapped.config.architectures = [type(unwrapped).__name__]
        unwrapped.config.save_pretrained(temporary)
        (temporary / "trainer_state.json").write_text(json.dumps({"global_step": step, "wall_time_s": wall_time_s}))
        _publish(temporary, root / name)
        _prune_checkpoints(root, limit)
    accelerator.wait_for_everyone()


def _publish(temporary: Path, final: Path) -> None:
    """Rename a finished save to its final name; a folder already there (the same step saved again, e.g. a
    finished run resumed, or an unfinished save) is moved aside first and deleted after."""
    if not final.exists():
        temporary.rename(final)
        return
    aside = final.with_name(f"{TEMPORARY_PREFIX}replaced-{final.name}")
    if aside.exists():
        shutil.rmtree(aside)
    final.rename(aside)
    temporary.rename(final)
    shutil.rmtree(aside)


def _read_history(path: Path) -> dict[str, list[tuple[int, float]]]:
    if not path.is_file():
        return {}
    history: dict[str, list[tuple[int, float]]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        for key, value in record.items():
            if key not in ("step", "time") and isinstance(value, (int, float)) and math.isfinite(value):
                history.setdefault(key, []).append((record["step"], value))
    return history
