"""Evaluate a lifting (or completion) model with the paper's protocols and write a JSON report.

    python examples/evaluate.py --model pretrained/mpm-h36m-27f --dataset h36m --data-dir ../shared/data/h36m \
        --subjects S9 --keypoints gt --flip-test --json outputs/eval_s9.json

Human3.6M: protocol #1 (MPJPE) and #2 (P-MPJPE) per action and averaged over actions (Table 1), each output frame
predicted from the window centred on it (``--mode per_frame``, the paper's protocol; ``--mode sequence`` is the
fast sequence-head mode). MPI-INF-3DHP (``--dataset 3dhp``): PCK@150 mm, AUC, MPJPE. ``--completion 2d|3d``: the
completion tables with named body parts occluded (Tables 3-4). Errors in millimetres.
"""

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from transformers import HfArgumentParser

from mpm_hf.auto import head_class_for
from mpm_hf.data.corpora import load_corpus
from mpm_hf.evaluation import evaluate_completion, evaluate_lifting, parse_occlusion_settings, resolve_keep_visible
from mpm_hf.metrics import format_markdown_table
from mpm_hf.runtime import keep_freed_memory


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class EvaluationArguments:
    model: str = field(metadata={"help": "save_pretrained folder or Hub repo id"})
    dataset: Literal["h36m", "3dhp", "synthetic"] = field(default="h36m", metadata={"help": "test corpus"})
    data_dir: str = field(default="../shared/data/h36m", metadata={"help": "folder of the corpus files"})
    subjects: str = field(default="S9,S11", metadata={"help": "Human3.6M test subjects, comma separated"})
    keypoints: str = field(default="gt", metadata={"help": "gt, sh_pt_mpii, cpn_ft_h36m_dbb or a 2D file"})
    mode: Literal["per_frame", "sequence"] = field(default="per_frame", metadata={
        "help": "per_frame: each frame from the window centred on it (the paper's protocol); sequence: fast"})
    fast: bool = field(default=False, metadata={"help": "shorthand for --mode sequence"})
    flip_test: bool = field(default=False, metadata={"help": "average with the mirrored input"})
    downsample: int | None = field(default=None, metadata={"help": "tds (default: model.config.downsample)"})
    frame_step: int = field(default=1, metadata={"help": "evaluate every n-th frame"})
    max_sequences: int | None = field(default=None, metadata={"help": "evaluate only the first n sequences"})
    batch_size: int = field(default=512, metadata={"help": "windows per forward pass"})
    completion: Literal["2d", "3d"] | None = field(default=None, metadata={"help": "completion tables instead"})
    occlusions: str | None = field(default=None, metadata={
        "help": "completion rows, e.g. left_arm,right_leg,random:2,none (default: the paper's table)"})
    keep_visible: bool = field(default=True, metadata={
        "help": "--completion 3d: score the given joints as given and the model's output at the hidden ones only "
                "(the paper's protocol, as the release's test and the pose-completion pipeline); --no-keep-visible "
                "scores the model's output at every joint"})
    device: str = field(default_factory=_default_device, metadata={"help": "default: cuda when available, else cpu"})
    json: str | None = field(default=None, metadata={"help": "write the report here"})
    progress: bool = field(default=True, metadata={"help": "progress bars (--no-progress hides them)"})


def build_parser() -> HfArgumentParser:
    return HfArgumentParser(EvaluationArguments, description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    sequences = load_corpus(args.dataset, args.data_dir, split="test", subjects=args.subjects.split(","),
                            keypoints=args.keypoints)
    if args.max_sequences:
        sequences = sequences[: args.max_sequences]
    if args.completion:
        model_class = _model_class(args.model, args.completion)
        model = model_class.from_pretrained(args.model).to(args.device).eval()
        settings = parse_occlusion_settings(args.occlusions) if args.occlusions else None
        # --keep-visible (the default) leaves the choice to the protocol: yes for 3D input, no for 2D
        keep_visible = resolve_keep_visible(args.completion, None if args.keep_visible else False)
        table = evaluate_completion(model, sequences, modality=args.completion, settings=settings,
                                    frame_step=max(args.frame_step, 1), keep_visible=keep_visible,
                                    downsample=args.downsample, progress=args.progress, flip_test=args.flip_test)
        report = {"task": f"completion_{args.completion}", "model": args.model, "dataset": args.dataset,
                  "subjects": _subjects(args), "keypoints": args.keypoints, "frame_step": max(args.frame_step, 1),
                  "keep_visible": keep_visible, "flip_test": args.flip_test, "mpjpe_by_occlusion": table}
        print(format_markdown_table({"MPJPE (mm)": table}))
    else:
        model = _model_class(args.model, None).from_pretrained(args.model).to(args.device).eval()
        result = evaluate_lifting(model, sequences, mode="sequence" if args.fast else args.mode,
                                  flip_test=args.flip_test, batch_size=args.batch_size,
                                  downsample=args.downsample, frame_step=args.frame_step,
                                  progress=args.progress, pck_auc=args.dataset == "3dhp")
        markdown = result.pop("markdown")
        report = {"task": "lifting", "model": args.model, "dataset": args.dataset, "subjects": _subjects(args),
                  "keypoints": args.keypoints, **result}
        print(f"\n{args.dataset} {_subjects(args) or 'test set'} ({args.keypoints} 2D), mode={result['mode']}, "
              f"flip_test={args.flip_test}, frames={result['num_frames']}, step={args.frame_step}\n")
        print(markdown)
        if "pck" in result:
            print(f"\nPCK@150mm {result['pck']:.1f} %  AUC {result['auc']:.1f} %  MPJPE {result['mpjpe']:.1f} mm "
                  "(pooled over frames, as the benchmark reports it; the table's Average is the mean of the scenes)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"\n[mpm-hf] report written to {args.json}")
    return report


def parse(argv: list[str] | None) -> EvaluationArguments:
    parser = build_parser()
    args, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True, look_for_args_file=False)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _model_class(path: str, completion: str | None) -> type:
    """The class to load ``path`` into (``mpm_hf.auto.head_class_for``); ``ValueError`` names the wrong head."""
    task = {None: "lifting", "3d": "completion", "2d": "completion_2d"}[completion]
    try:
        return head_class_for(path, task)
    except ValueError as error:
        raise ValueError(f"--model: {error}") from None


def _subjects(args: EvaluationArguments) -> str | None:
    """Human3.6M's test subjects; the other corpora have a fixed test split."""
    return args.subjects if args.dataset == "h36m" else None


if __name__ == "__main__":
    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    main()
