"""Command-line arguments shared by ``examples/``: every paper hyper-parameter is a flag defaulting to the paper.

``--config FILE.{yaml,json}`` sets defaults from a file; flags given on the command line still win. Every numeric
flag is range-checked when the arguments are parsed (``validate_arguments``), as are ``--init-from`` (a local folder
must exist) and ``--resume`` (a checkpoint must exist), so that a bad flag fails before any data is loaded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..configuration_mpm import INPUT_NORMALIZATIONS, MASK_STRATEGIES, MPMConfig
from .loop import OPTIMIZERS, TRAINING_RANGES, Interval, TrainingConfig, latest_checkpoint
from .tasks import DetectorNoise, VirtualCameras


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "model (architecture flags are used when not starting from a checkpoint; the objective and dropout flags "
        "also override a checkpoint's values)"
    )
    group.add_argument("--num-frames", type=int, default=243, help="window length T (paper: 243; also 27, 81)")
    group.add_argument("--hidden-size", type=int, default=256, help="channel C of the temporal transformer")
    group.add_argument("--intermediate-size", type=int, default=512, help="FFN width d_hid")
    group.add_argument("--num-layers", type=int, default=4, help="shared temporal transformer layers")
    group.add_argument("--num-heads", type=int, default=8)
    group.add_argument("--num-joints", type=int, default=17)
    group.add_argument("--input-normalization", choices=INPUT_NORMALIZATIONS, default="window",
                       help="window: person-centred, scale-normalised 2D per window (independent of the image size "
                            "and the person's scale / position); screen: the release's (converted checkpoints)")
    # Training-objective flags: None keeps the config's value (MPMConfig's default, or the --init-from checkpoint's)
    group.add_argument("--mask-strategy", choices=MASK_STRATEGIES, default=None, help="default spatio_temporal")
    group.add_argument("--spatial-mask-joints", type=int, default=None, help="r_s: joints masked per frame (5)")
    group.add_argument("--temporal-mask-ratio", type=float, default=None, help="r_t: fraction of frames masked (0.6)")
    group.add_argument("--loss-weight-2d", type=float, default=None, help="lambda_m2m (paper 2.0; release 5.0)")
    group.add_argument("--loss-weight-3d", type=float, default=None, help="lambda_m3m (paper 3.0; release 2.0)")
    group.add_argument("--loss-weight-lift", type=float, default=None, help="masked 2D->3D lifting (8.0)")
    group.add_argument("--loss-weight-centre", type=float, default=None, help="lambda_ft (1.0)")
    group.add_argument("--loss-weight-sequence", type=float, default=None, help="lambda_ft-seq (1.0)")
    group.add_argument("--dropout", type=float, default=None,
                       help="every dropout rate (default: the release's, 0.1 in the transformers and 0.2 in the pose "
                            "encoders and spatial MLP); with --init-from it overrides the checkpoint's rates")
    group.add_argument("--spatial-dropout", type=float, default=None,
                       help="the pose encoders' and spatial MLP's rate alone (after --dropout; release: 0.2)")


def add_data_arguments(parser: argparse.ArgumentParser, default_subjects: str = "S1,S5,S6,S7,S8") -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", type=_csv, default=["h36m"], help="corpora, comma separated: h36m,3dhp,amass")
    group.add_argument("--data-dir", default="../shared/data/h36m", help="folder of the corpus files")
    group.add_argument("--subjects", type=_csv, default=_csv(default_subjects), help="Human3.6M subjects")
    group.add_argument("--keypoints", type=_csv, default=["gt"],
                       help="2D sources, comma separated: gt, sh_pt_mpii, cpn_ft_h36m_dbb or a file; several give "
                            "one window set each, mixed per window (e.g. gt,sh_pt_mpii: half the windows detected)")
    group.add_argument("--downsample", type=int, default=None,
                       help="tds: frame step inside a window (default: the paper's for the corpora: 2 for Human3.6M, "
                            "AMASS and synthetic, 1 for MPI-INF-3DHP)")
    group.add_argument("--window-stride", type=int, default=1, help="step between training window centres")
    group.add_argument("--no-flip-augment", dest="flip_augment", action="store_false",
                       help="disable horizontal-flip augmentation")
    group.add_argument("--noise-std", type=float, default=0.0, help="2D jitter, normalised screen units")
    group.add_argument("--noise-outlier-prob", type=float, default=0.0)
    group.add_argument("--noise-outlier-std", type=float, default=0.05)
    group.add_argument("--noise-drop-prob", type=float, default=0.0, help="probability a 2D joint goes missing")
    group.add_argument("--noise-tube-drop-prob", type=float, default=0.0,
                       help="probability a window misses 1..--noise-tube-drop-joints joints in every frame")
    group.add_argument("--noise-tube-drop-joints", type=int, default=2)
    group.add_argument("--virtual-camera-prob", type=float, default=0.0,
                       help="fraction of ground-truth-2D windows re-projected through a random virtual camera "
                            "(rotated about the pelvis, random distance, offset and focal length; 3D labels turned "
                            "with it)")


def add_training_arguments(
    parser: argparse.ArgumentParser, learning_rate: float, epochs: int, batch_size: int = 1024
) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--config", help="YAML or JSON file of defaults for any flag (flag names with _)")
    group.add_argument("--output-dir", required=False, default="outputs/run")
    group.add_argument("--epochs", type=int, default=epochs)
    group.add_argument("--max-steps", type=int, default=None, help="optimizer steps; overrides --epochs")
    group.add_argument("--batch-size", type=int, default=batch_size, help="per process")
    group.add_argument("--lr", type=float, default=learning_rate)
    group.add_argument("--weight-decay", type=float, default=None,
                       help="default: 0.01 with adamw, 0 with adam_amsgrad (the release's Adam has none)")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw", help="adamw (paper) / adam_amsgrad")
    group.add_argument("--lr-decay", type=float, default=0.97, help="multiplied into the lr every epoch")
    group.add_argument("--lr-decay-steps", type=int, default=None, help="decay period in steps (default: epoch)")
    group.add_argument("--max-grad-norm", type=float, default=1.0)
    group.add_argument("--gradient-accumulation-steps", type=int, default=1)
    group.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"), default=None,
                       help="default: Accelerate's setting (accelerate launch --mixed_precision / accelerate config)")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (0: at the end)")
    group.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    group.add_argument("--log-every", type=int, default=10)
    group.add_argument("--num-workers", type=int, default=0)
    group.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across processes")
    group.add_argument("--trackers", type=_csv, default=["jsonl", "tensorboard"])
    group.add_argument("--no-progress", dest="progress", action="store_false")
    group.add_argument("--check-replicas", action="store_true",
                       help="log the largest weight difference between processes after every step")


def parse_with_config(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; values from ``--config`` become defaults, explicit flags override them. Out-of-range values,
    a missing ``--init-from`` folder and ``--resume`` without a checkpoint are usage errors (``parser.error``: exit
    status 2 and the message of ``validate_arguments``)."""
    preliminary, _ = parser.parse_known_args(argv)
    config_path = getattr(preliminary, "config", None)
    if config_path:
        parser.set_defaults(**load_config_file(config_path, parser))
    args = parser.parse_args(argv)
    try:
        validate_arguments(args)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    return args


# flag (argparse dest) -> TrainingConfig field, for the numeric training flags and the rest
_TRAINING_FLAGS = {
    "output_dir": "output_dir",
    "epochs": "epochs",
    "max_steps": "max_steps",
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
    "progress": "progress",
    "check_replicas": "check_replicas",
}

_PROBABILITY = Interval(low=0, high=1)
# a dropout rate or mask ratio (1 would leave nothing); None keeps the config's value
_RATE = Interval(low=0, high=1, high_open=True, optional=True)
_POSITIVE = Interval(low=1, integer=True)


def argument_ranges(num_joints: int = 17) -> dict[str, Interval]:
    """The range of every numeric flag of ``examples/``, by argparse dest; joint counts are checked against
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
            "loss_weight_2d", "loss_weight_3d", "loss_weight_lift", "loss_weight_centre", "loss_weight_sequence")},
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
        "part_prob": _PROBABILITY,
        **{flag: TRAINING_RANGES[field] for flag, field in _TRAINING_FLAGS.items() if field in TRAINING_RANGES},
    }


def flag_name(dest: str) -> str:
    """The command-line spelling of an argparse dest: ``noise_drop_prob`` -> ``--noise-drop-prob``."""
    return "--" + dest.replace("_", "-")


def validate_arguments(args: argparse.Namespace) -> None:
    """Check the parsed flags of ``args`` that it has: every numeric one against ``argument_ranges``
    (``ValueError`` naming the flag, the range and the value), ``--init-from`` (``init_from_source``) and
    ``--resume`` (``FileNotFoundError`` when ``--output-dir`` holds no complete checkpoint)."""
    num_joints = getattr(args, "num_joints", 17)
    if num_joints not in (16, 17):
        raise ValueError(f"--num-joints: expected 16 or 17, got {num_joints!r}")
    for dest, interval in argument_ranges(num_joints).items():
        if hasattr(args, dest):
            interval.check(flag_name(dest), getattr(args, dest))
    if getattr(args, "init_from", None):
        init_from_source(args.init_from)
    if getattr(args, "resume", False) and latest_checkpoint(args.output_dir) is None:
        raise FileNotFoundError(
            f"--resume: no checkpoint found in {Path(args.output_dir) / 'checkpoints'} (expected a complete "
            "checkpoint-<step> folder; leave out --resume for a fresh run)"
        )


def init_from_source(value: str) -> str:
    """What ``--init-from`` names: a local folder (returned with ``~`` expanded) or a Hub repo id (returned as is).

    A string is local when it exists as a folder, starts with ``.``, ``/`` or ``~``, has more than one ``/``, or
    its first component is an existing local folder (``runs/stage1`` while ``runs/`` exists); a local one that is
    missing (or a file) raises ``FileNotFoundError`` at once instead of being looked up on the Hub.
    """
    path = Path(value).expanduser()
    if path.is_dir():
        return str(path)
    first = value.split("/", 1)[0]
    local = value.startswith((".", "/", "~")) or value.count("/") > 1 or ("/" in value and Path(first).is_dir())
    if local or path.exists():
        what = "is a file, not a folder" if path.exists() else "folder not found"
        raise FileNotFoundError(
            f"--init-from: {what}: {value} (expected a saved MPM folder, or a Hub repo id such as user/model)"
        )
    return value


def load_config_file(path: str | Path, parser: argparse.ArgumentParser) -> dict[str, Any]:
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


def model_config_from_args(args: argparse.Namespace) -> MPMConfig:
    return MPMConfig(
        num_joints=args.num_joints,
        num_frames=args.num_frames,
        hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size,
        num_hidden_layers=args.num_layers,
        num_attention_heads=args.num_heads,
        input_normalization=getattr(args, "input_normalization", "screen"),
        **_objective_overrides(args),
    )


# flag -> config field of the training-objective flags (they apply to fresh and loaded models alike)
_OBJECTIVE_FLAGS = {
    "mask_strategy": "mask_strategy",
    "spatial_mask_joints": "spatial_mask_num_joints",
    "temporal_mask_ratio": "temporal_mask_ratio",
    "loss_weight_2d": "loss_weight_2d",
    "loss_weight_3d": "loss_weight_3d",
    "loss_weight_lift": "loss_weight_lift",
    "loss_weight_centre": "loss_weight_centre",
    "loss_weight_sequence": "loss_weight_sequence",
}


def _objective_overrides(args: argparse.Namespace) -> dict:
    """Config fields given on the command line: masking, loss weights and dropout rates."""
    given = {field: getattr(args, flag) for flag, field in _OBJECTIVE_FLAGS.items()
             if getattr(args, flag, None) is not None}
    return {**given, **_dropout_overrides(args)}


def _dropout_overrides(args: argparse.Namespace) -> dict:
    """The config's dropout rates set by ``--dropout`` (all of them) and ``--spatial-dropout``; empty when neither."""
    rates = {}
    if args.dropout is not None:
        rates = {"hidden_dropout": args.dropout, "attention_dropout": args.dropout, "spatial_dropout": args.dropout}
    if getattr(args, "spatial_dropout", None) is not None:
        rates["spatial_dropout"] = args.spatial_dropout
    return rates


# The paper's temporal downsampling (tds) per corpus: Human3.6M at 50 fps takes every 2nd frame, MPI-INF-3DHP
# every frame; AMASS is resampled to 50 fps by its loader and the synthetic corpus imitates Human3.6M.
CORPUS_DOWNSAMPLE = {"h36m": 2, "3dhp": 1, "amass": 2, "synthetic": 2}


def resolve_downsample(args: argparse.Namespace) -> int:
    """The run's tds: ``--downsample``, or the paper's for the corpora in ``--dataset``. One value per run, since the
    model's config records the tds it was trained with and inference uses it."""
    if args.downsample is not None:
        if args.downsample < 1:
            raise ValueError(f"--downsample: expected a positive integer, got {args.downsample}")
        return args.downsample
    defaults = {name: CORPUS_DOWNSAMPLE.get(name, 1) for name in args.dataset}
    if len(set(defaults.values())) > 1:
        raise ValueError(
            f"--downsample: the corpora of --dataset have different default tds ({defaults}); a model records one, "
            "so pass --downsample explicitly"
        )
    return next(iter(defaults.values()))


def build_model(model_class: type, args: argparse.Namespace):
    """The model a script trains: `--init-from` loaded into `model_class` (a stage-I or stage-II folder or Hub repo)
    or a fresh one built from the model flags. Explicit objective flags (masking, loss weights, `--dropout`,
    `--spatial-dropout`) override the loaded checkpoint's values (e.g. `--dropout`
    0 to keep fine-tuning a small model that underfits); the run's tds (`resolve_downsample`) is recorded in the
    config either way."""
    if getattr(args, "init_from", None):
        model = model_class.from_pretrained(init_from_source(args.init_from), **_objective_overrides(args))
    else:
        model = model_class(model_config_from_args(args))
    model.config.downsample = resolve_downsample(args)
    return model


def training_config_from_args(args: argparse.Namespace) -> TrainingConfig:
    return TrainingConfig(
        **{field: getattr(args, flag) for flag, field in _TRAINING_FLAGS.items()},
        trackers=tuple(args.trackers),
    )


def cameras_from_args(args: argparse.Namespace) -> VirtualCameras:
    """``--virtual-camera-prob`` (range-checked by ``validate_arguments``) as a ``VirtualCameras``."""
    return VirtualCameras(prob=args.virtual_camera_prob)


def noise_from_args(args: argparse.Namespace) -> DetectorNoise:
    return DetectorNoise(
        std=args.noise_std,
        outlier_prob=args.noise_outlier_prob,
        outlier_std=args.noise_outlier_std,
        drop_prob=args.noise_drop_prob,
        tube_drop_prob=args.noise_tube_drop_prob,
        tube_drop_max_joints=args.noise_tube_drop_joints,
    )
