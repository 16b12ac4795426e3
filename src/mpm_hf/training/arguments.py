"""Command-line arguments of the training scripts in ``examples/``: dataclasses parsed by ``HfArgumentParser``.

``ModelArguments``, ``DataArguments`` and ``TrainingArguments`` (``training_arguments(learning_rate, epochs)`` gives
a stage's paper schedule as defaults) are shared by the training scripts, which add a dataclass of their own. Every
paper hyper-parameter is a flag defaulting to the paper; each field's ``help`` is its ``--help`` text.

``--config FILE.{yaml,json}`` sets defaults from a file; flags given on the command line still win. Every numeric
flag is range-checked when the arguments are parsed (``validate_arguments``), as are ``--init-from`` (a local folder
must exist) and ``--resume`` (a checkpoint must exist), so that a bad flag fails before any data is loaded.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any, get_type_hints

from transformers import HfArgumentParser

from ..checksums import looks_like_local_path
from ..configuration_mpm import INPUT_NORMALIZATIONS, MASK_STRATEGIES, MPMConfig
from ..data.corpora import CORPUS_DOWNSAMPLE, corpora_fps
from .loop import OPTIMIZERS, TRAINING_RANGES, Interval, TrainingConfig, latest_checkpoint
from .tasks import DetectorNoise, VirtualCameras


class CommaSeparated(tuple):
    """Names given as one comma-separated flag value (``--keypoints gt,sh_pt_mpii``) or as a list (a config file);
    blanks around the names and empty names are dropped."""

    def __new__(cls, value: str | Iterable[str] = ()) -> CommaSeparated:
        items = value.split(",") if isinstance(value, str) else value
        return super().__new__(cls, (name for name in (str(item).strip() for item in items) if name))

    def __str__(self) -> str:
        return ",".join(self)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The script's docstring as written, and each flag's default after its help where the help does not say it
    (``None`` defaults mean "the config's" or "off", which the help explains; ``--no-*`` switches have none)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, argparse.SUPPRESS) or action.nargs == 0 or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


@dataclass
class ModelArguments:
    """The architecture (used when not starting from a checkpoint) and the training objective (masking, loss
    weights, dropout: ``None`` keeps the config's value, ``MPMConfig``'s default or the ``--init-from``
    checkpoint's; a value given overrides a checkpoint's too)."""

    _argument_group_name = (
        "model (architecture flags are used when not starting from a checkpoint; the objective and dropout flags "
        "also override a checkpoint's values)"
    )

    num_frames: int = field(default=243, metadata={"help": "window length T (paper: 243; also 27, 81)"})
    hidden_size: int = field(default=256, metadata={"help": "channel C of the temporal transformer"})
    intermediate_size: int = field(default=512, metadata={"help": "FFN width d_hid"})
    num_layers: int = field(default=4, metadata={"help": "shared temporal transformer layers"})
    num_heads: int = field(default=8, metadata={"help": "attention heads of every transformer layer"})
    num_joints: int = field(default=17, metadata={"help": "joints per pose: 17 (Human3.6M) or 16 (MPI-INF-3DHP)"})
    input_normalization: str = field(default="window", metadata={"help":
        "window: person-centred, scale-normalised 2D per window (independent of the image size and the person's "
        "scale / position); screen: the release's (converted checkpoints)", "choices": INPUT_NORMALIZATIONS})
    mask_strategy: str | None = field(default=None, metadata={"help":
        "default spatio_temporal", "choices": MASK_STRATEGIES})
    spatial_mask_joints: int | None = field(default=None, metadata={"help": "r_s: joints masked per frame (5)"})
    temporal_mask_ratio: float | None = field(default=None, metadata={"help":
        "r_t: fraction of frames masked (0.6)"})
    loss_weight_2d: float | None = field(default=None, metadata={"help": "lambda_m2m (paper 2.0; release 5.0)"})
    loss_weight_3d: float | None = field(default=None, metadata={"help": "lambda_m3m (paper 3.0; release 2.0)"})
    loss_weight_lift: float | None = field(default=None, metadata={"help": "masked 2D->3D lifting (8.0)"})
    loss_weight_centre: float | None = field(default=None, metadata={"help": "lambda_ft (1.0)"})
    loss_weight_sequence: float | None = field(default=None, metadata={"help": "lambda_ft-seq (1.0)"})
    loss_weight_completion_sequence: float | None = field(default=None, metadata={"help":
        "partial 2D->3D completion: weight of the all-frame MPJPE added to the centre frame's (paper: 0.0)"})
    dropout: float | None = field(default=None, metadata={"help":
        "every dropout rate (default: the release's, 0.1 in the transformers and 0.2 in the pose encoders and "
        "spatial MLP); with --init-from it overrides the checkpoint's rates"})
    spatial_dropout: float | None = field(default=None, metadata={"help":
        "the pose encoders' and spatial MLP's rate alone (after --dropout; release: 0.2)"})

    def to_config(self) -> MPMConfig:
        """The config of a model trained from scratch."""
        return MPMConfig(
            num_joints=self.num_joints,
            num_frames=self.num_frames,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            input_normalization=self.input_normalization,
            **self.config_overrides(),
        )

    def config_overrides(self) -> dict[str, Any]:
        """The config fields given on the command line: masking, loss weights and dropout rates (they apply to
        fresh and loaded models alike)."""
        given = {name: getattr(self, flag) for flag, name in _OBJECTIVE_FLAGS.items()
                 if getattr(self, flag) is not None}
        if self.dropout is not None:
            given.update(hidden_dropout=self.dropout, attention_dropout=self.dropout, spatial_dropout=self.dropout)
        if self.spatial_dropout is not None:
            given["spatial_dropout"] = self.spatial_dropout
        return given


# flag -> config field of the training-objective flags
_OBJECTIVE_FLAGS = {
    "mask_strategy": "mask_strategy",
    "spatial_mask_joints": "spatial_mask_num_joints",
    "temporal_mask_ratio": "temporal_mask_ratio",
    "loss_weight_2d": "loss_weight_2d",
    "loss_weight_3d": "loss_weight_3d",
    "loss_weight_lift": "loss_weight_lift",
    "loss_weight_centre": "loss_weight_centre",
    "loss_weight_sequence": "loss_weight_sequence",
    "loss_weight_completion_sequence": "loss_weight_completion_sequence",
}


@dataclass
class DataArguments:
    """The corpora, the windows cut from them and the on-the-fly augmentation of their 2D."""

    _argument_group_name = "data"

    dataset: CommaSeparated = field(default=CommaSeparated("h36m"), metadata={"help":
        "corpora, comma separated: h36m,3dhp,amass"})
    data_dir: str = field(default="../shared/data/h36m", metadata={"help": "folder of the corpus files"})
    subjects: CommaSeparated = field(default=CommaSeparated("S1,S5,S6,S7,S8"), metadata={"help":
        "Human3.6M subjects"})
    keypoints: CommaSeparated = field(default=CommaSeparated("gt"), metadata={"help":
        "2D sources, comma separated: gt, sh_pt_mpii, cpn_ft_h36m_dbb or a file; several give one window set each, "
        "mixed per window (e.g. gt,sh_pt_mpii: half the windows detected)"})
    downsample: int | None = field(default=None, metadata={"help":
        "tds: frame step inside a window (default: the paper's for the corpora: 2 for Human3.6M, AMASS and "
        "synthetic, 1 for MPI-INF-3DHP)"})
    window_stride: int = field(default=1, metadata={"help": "step between training window centres"})
    flip_augment: bool = field(default=True, metadata={"help":
        "horizontal-flip augmentation (--no-flip-augment disables it)"})
    noise_std: float = field(default=0.0, metadata={"help": "2D jitter, normalised screen units"})
    noise_outlier_prob: float = field(default=0.0, metadata={"help":
        "probability a 2D joint gets a large error (--noise-outlier-std) instead of the jitter"})
    noise_outlier_std: float = field(default=0.05, metadata={"help":
        "standard deviation of those large errors, normalised screen units"})
    noise_drop_prob: float = field(default=0.0, metadata={"help": "probability a 2D joint goes missing"})
    noise_tube_drop_prob: float = field(default=0.0, metadata={"help":
        "probability a window misses 1..--noise-tube-drop-joints joints in every frame"})
    noise_tube_drop_joints: int = field(default=2, metadata={"help": "the most joints a tube drop hides"})
    virtual_camera_prob: float = field(default=0.0, metadata={"help":
        "fraction of ground-truth-2D windows re-projected through a random virtual camera (rotated about the "
        "pelvis, random distance, offset and focal length; 3D labels turned with it)"})
    virtual_camera_look_down: float = field(default=20.0, metadata={"help":
        "degrees: how far a virtual camera may look down at the subject, above Human3.6M's own cameras' view"})
    virtual_camera_look_up: float = field(default=20.0, metadata={"help":
        "degrees: how far a virtual camera may look up at the subject"})

    def __post_init__(self) -> None:
        # a config file may give these as lists
        for name in ("dataset", "subjects", "keypoints"):
            setattr(self, name, CommaSeparated(getattr(self, name)))

    def detector_noise(self) -> DetectorNoise:
        """The ``--noise-*`` flags (range-checked by ``validate_arguments``) as a ``DetectorNoise``."""
        return DetectorNoise(
            std=self.noise_std,
            outlier_prob=self.noise_outlier_prob,
            outlier_std=self.noise_outlier_std,
            drop_prob=self.noise_drop_prob,
            tube_drop_prob=self.noise_tube_drop_prob,
            tube_drop_max_joints=self.noise_tube_drop_joints,
        )

    def virtual_cameras(self) -> VirtualCameras:
        """``--virtual-camera-*`` as a ``VirtualCameras``."""
        pitch = (-math.radians(self.virtual_camera_look_up), math.radians(self.virtual_camera_look_down))
        return VirtualCameras(prob=self.virtual_camera_prob, pitch=pitch)


@dataclass
class TrainingArguments:
    """The training loop's settings (``TrainingConfig``, run by Accelerate; not ``transformers.TrainingArguments``)
    and ``--config``."""

    _argument_group_name = "training"

    config: str | None = field(default=None, metadata={"help":
        "YAML or JSON file of defaults for any flag (flag names with _)"})
    output_dir: str = field(default="outputs/run", metadata={"help":
        "run folder: checkpoints/, logs/, the final model and loss_curves.png"})
    epochs: int = field(default=1, metadata={"help": "passes over the data"})
    max_steps: int | None = field(default=None, metadata={"help": "optimizer steps; overrides --epochs"})
    max_time: float | None = field(default=None, metadata={"help":
        "seconds of training after which the run stops at the next log step and saves its model (a deadline)"})
    batch_size: int = field(default=1024, metadata={"help": "windows per process per forward pass"})
    lr: float = field(default=1e-4, metadata={"help": "peak learning rate"})
    weight_decay: float | None = field(default=None, metadata={"help":
        "default: 0.01 with adamw, 0 with adam_amsgrad (the release's Adam has none)"})
    optimizer: str = field(default="adamw", metadata={"help":
        "adamw (paper) / adam_amsgrad (release)", "choices": OPTIMIZERS})
    lr_decay: float = field(default=0.97, metadata={"help": "multiplied into the lr every epoch"})
    lr_decay_steps: int | None = field(default=None, metadata={"help": "decay period in steps (default: epoch)"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm (0: no clipping)"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help":
        "forward/backward passes per optimizer step"})
    mixed_precision: str | None = field(default=None, metadata={"help":
        "default: Accelerate's setting (accelerate launch --mixed_precision / accelerate config)",
        "choices": ("no", "bf16", "fp16")})
    seed: int = field(default=0, metadata={"help": "seeds the initial weights, the data order, dropout and masks"})
    save_every: int = field(default=0, metadata={"help": "checkpoint every N steps (0: at the end)"})
    resume: bool = field(default=False, metadata={"help": "continue from the latest checkpoint"})
    log_every: int = field(default=10, metadata={"help": "steps between tracker logs"})
    num_workers: int = field(default=0, metadata={"help": "DataLoader workers"})
    sync_bn: bool = field(default=False, metadata={"help": "SyncBatchNorm across processes"})
    freeze_batch_norm: bool = field(default=False, metadata={"help":
        "keep BatchNorm statistics fixed (eval mode; the affine weights still train): fine-tuning from a model "
        "whose statistics are right, and completion --modality both, whose 2D and 3D halves differ"})
    trackers: CommaSeparated = field(default=CommaSeparated("jsonl,tensorboard"), metadata={"help":
        "comma separated: jsonl, tensorboard, wandb"})
    progress: bool = field(default=True, metadata={"help": "progress bar (--no-progress hides it)"})
    check_replicas: bool = field(default=False, metadata={"help":
        "log the largest weight difference between processes after every step"})

    def __post_init__(self) -> None:
        self.trackers = CommaSeparated(self.trackers)  # a config file may give a list

    def to_training_config(self) -> TrainingConfig:
        """The loop's ``TrainingConfig`` (which checks the values again)."""
        return TrainingConfig(
            **{name: getattr(self, flag) for flag, name in _TRAINING_FLAGS.items()}, trackers=tuple(self.trackers)
        )


# flag -> TrainingConfig field
_TRAINING_FLAGS = {
    "output_dir": "output_dir",
    "epochs": "epochs",
    "max_steps": "max_steps",
    "max_time": "max_time",
    "batch_size": "batch_size",
    "lr": "learning_rate",
    "weight_decay": "weight_decay",
    "optimizer": "optimizer",
    "lr_decay": "lr_decay",
    "lr_decay_steps": "lr_decay_steps",
    "max_grad_norm": "max_grad_norm",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "mixed_precision": "mixed_precision",
    "seed": "seed",
    "save_every": "save_every",
    "resume": "resume",
    "log_every": "log_every",
    "num_workers": "num_workers",
    "sync_bn": "sync_bn",
    "freeze_batch_norm": "freeze_batch_norm",
    "progress": "progress",
    "check_replicas": "check_replicas",
}


def training_arguments(learning_rate: float, epochs: int) -> type[TrainingArguments]:
    """``TrainingArguments`` whose ``--lr`` and ``--epochs`` default to a stage's paper schedule."""
    schedule = {"lr": learning_rate, "epochs": epochs}
    hints = get_type_hints(TrainingArguments)
    redefined = [(item.name, hints[item.name], field(default=schedule[item.name], metadata=item.metadata))
                 for item in fields(TrainingArguments) if item.name in schedule]
    return make_dataclass(TrainingArguments.__name__, redefined, bases=(TrainingArguments,))


def parse_arguments(parser: HfArgumentParser, argv: list[str] | None = None) -> tuple[Any, ...]:
    """Parse ``argv`` (default ``sys.argv``) into one instance of each of the parser's dataclasses.

    Values from ``--config`` become defaults and explicit flags override them. Unknown flags, out-of-range values, a
    missing ``--init-from`` folder and ``--resume`` without a checkpoint are usage errors (``parser.error``: exit
    status 2 and the message of ``validate_arguments``).
    """
    preliminary, _ = parser.parse_known_args(argv)
    config_path = getattr(preliminary, "config", None)
    if config_path:
        parser.set_defaults(**load_config_file(config_path, parser))
    # look_for_args_file=False: no hidden <script>.args file adds flags
    *arguments, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True,
                                                             look_for_args_file=False)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        validate_arguments(*arguments)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    return tuple(arguments)


_PROBABILITY = Interval(low=0, high=1)
# a dropout rate or mask ratio (1 would leave nothing); None keeps the config's value
_RATE = Interval(low=0, high=1, high_open=True, optional=True)
_POSITIVE = Interval(low=1, integer=True)


def argument_ranges(num_joints: int = 17) -> dict[str, Interval]:
    """The range of every numeric flag of ``examples/``, by field name; joint counts are checked against
    ``num_joints`` (``--num-joints``; a model loaded with ``--init-from`` checks its own count again)."""
    joints = f"--num-joints {num_joints}"
    return {
        "num_frames": _POSITIVE,
        "hidden_size": _POSITIVE,
        "intermediate_size": _POSITIVE,
        "num_layers": _POSITIVE,
        "num_heads": _POSITIVE,
        "spatial_mask_joints": Interval(low=0, high=num_joints, high_open=True, integer=True, optional=True,
                                        note=joints),
        "temporal_mask_ratio": _RATE,
        **{name: Interval(low=0, optional=True) for name in (
            "loss_weight_2d", "loss_weight_3d", "loss_weight_lift", "loss_weight_centre", "loss_weight_sequence",
            "loss_weight_completion_sequence")},
        "dropout": _RATE,
        "spatial_dropout": _RATE,
        "downsample": Interval(low=1, integer=True, optional=True, note="None: the corpora's"),
        "window_stride": _POSITIVE,
        "noise_std": Interval(low=0),
        "noise_outlier_prob": _PROBABILITY,
        "noise_outlier_std": Interval(low=0),
        "noise_drop_prob": _PROBABILITY,
        "noise_tube_drop_prob": _PROBABILITY,
        "noise_tube_drop_joints": Interval(low=1, high=num_joints, high_open=True, integer=True, note=joints),
        "virtual_camera_prob": _PROBABILITY,
        "virtual_camera_look_down": Interval(low=0, high=90),
        "virtual_camera_look_up": Interval(low=0, high=90),
        "part_prob": _PROBABILITY,
        **{flag: TRAINING_RANGES[name] for flag, name in _TRAINING_FLAGS.items() if name in TRAINING_RANGES},
    }


def flag_name(dest: str) -> str:
    """The command-line spelling of a field: ``noise_drop_prob`` -> ``--noise-drop-prob``."""
    return "--" + dest.replace("_", "-")


def validate_arguments(*arguments: Any) -> None:
    """Check the fields of ``arguments`` (parsed dataclasses, or namespaces) that they have: every numeric one
    against ``argument_ranges`` (``ValueError`` naming the flag, the range and the value), ``--init-from``
    (``init_from_source``) and ``--resume`` (``FileNotFoundError`` when ``--output-dir`` holds no complete
    checkpoint)."""
    values = {name: value for group in arguments for name, value in vars(group).items()}
    num_joints = values.get("num_joints", 17)
    if num_joints not in (16, 17):
        raise ValueError(f"--num-joints: expected 16 or 17, got {num_joints!r}")
    for name, interval in argument_ranges(num_joints).items():
        if name in values:
            interval.check(flag_name(name), values[name])
    if values.get("init_from"):
        init_from_source(values["init_from"])
    if values.get("resume") and latest_checkpoint(values["output_dir"]) is None:
        raise FileNotFoundError(
            f"--resume: no checkpoint found in {Path(values['output_dir']) / 'checkpoints'} (expected a complete "
            "checkpoint-<step> folder; leave out --resume for a fresh run)"
        )


def init_from_source(value: str) -> str:
    """What ``--init-from`` names: a local folder (returned with ``~`` expanded) or a Hub repo id (returned as is).

    A string is local when it exists as a folder or :func:`mpm_hf.checksums.looks_like_local_path` says so
    (``runs/stage1`` while ``runs/`` exists); a local one that is missing (or a file) raises ``FileNotFoundError``
    at once instead of being looked up on the Hub.
    """
    path = Path(value).expanduser()
    if path.is_dir():
        return str(path)
    if looks_like_local_path(value) or path.exists():
        what = "is a file, not a folder" if path.exists() else "folder not found"
        raise FileNotFoundError(
            f"--init-from: {what}: {value} (expected a saved MPM folder, or a Hub repo id such as user/model)"
        )
    return value


def load_config_file(path: str | Path, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The values of a ``--config`` file, by field name (``-`` in a key read as ``_``); a key the parser has no flag
    for is a ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config: file not found: {path}")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        values = yaml.safe_load(text) or {}
    else:
        values = json.loads(text)
    if not isinstance(values, dict):
        raise ValueError(f"--config {path}: expected a mapping of flag names to values, got {type(values).__name__}")
    known = {action.dest for action in parser._actions}
    values = {key.replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"--config {path}: unknown keys {unknown}")
    return values


def resolve_downsample(data_args: DataArguments) -> int:
    """The run's tds: ``--downsample``, or the paper's for the corpora in ``--dataset``. One value per run, since the
    model's config records the tds it was trained with and inference uses it."""
    if data_args.downsample is not None:
        if data_args.downsample < 1:
            raise ValueError(f"--downsample: expected a positive integer, got {data_args.downsample}")
        return data_args.downsample
    defaults = {name: CORPUS_DOWNSAMPLE.get(name, 1) for name in data_args.dataset}
    if len(set(defaults.values())) > 1:
        raise ValueError(
            f"--downsample: the corpora of --dataset have different default tds ({defaults}); a model records one, "
            "so pass --downsample explicitly"
        )
    return next(iter(defaults.values()))


def build_model(model_class: type, model_args: ModelArguments, data_args: DataArguments, init_from: str | None = None):
    """The model a script trains: ``init_from`` loaded into ``model_class`` (a stage-I or stage-II folder or Hub repo)
    or a fresh one built from the model flags. Explicit objective flags (masking, loss weights, ``--dropout``,
    ``--spatial-dropout``) override the loaded checkpoint's values (e.g. ``--dropout 0`` to keep fine-tuning a small
    model that underfits); the run's tds (``resolve_downsample``) is recorded in the config either way."""
    if init_from:
        model = model_class.from_pretrained(init_from_source(init_from), **model_args.config_overrides())
    else:
        model = model_class(model_args.to_config())
    model.config.downsample = resolve_downsample(data_args)
    # the frame rate of this run's data, which goes with this run's tds (a checkpoint's rate belongs to its corpora)
    model.config.fps = corpora_fps(data_args.dataset)
    return model
