"""Turn a trained run into a self-contained model folder: weights, modeling code, card and results.

    python scripts/ship_model.py runs/lifting-27f-phase4 pretrained/mpm-h36m-27f \
        --results eval_gt.json eval_sh.json eval_gt_flip.json eval_completion.json \
        --training training.json --repo-id mpm-hf/mpm-h36m-27f

``RUN`` is a ``save_pretrained`` folder (the final model of ``examples/pretrain.py``,
``examples/finetune_lifting.py`` or ``examples/finetune_completion.py``, or one of their ``checkpoints/checkpoint-N``
states), loaded into the head its config names. ``--fps`` records the frame rate the model was trained at when the
run's config has none. ``OUT`` receives ``config.json``, ``model.safetensors`` + ``checksums.json``,
the ``trust_remote_code`` modeling files, ``eval_results.json`` (the ``examples/evaluate.py --json`` reports, in the
order given) and ``README.md``, the card of ``mpm_hf.hub.generate_model_card`` with those results and the training
summary (``--training``: a JSON object of ``"stage": "what was done"`` lines). Files of ``OUT`` that the new model
does not write (stale weights from an older layout) are removed; anything else there is kept. Errors print one line
and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mpm_hf import MPMConfig, modeling_mpm
from mpm_hf.hub import EVAL_RESULTS_FILE, generate_model_card, read_json_file

STALE_WEIGHT_FILES = ("pytorch_model.bin", "model.safetensors.index.json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="RUN", help="save_pretrained folder of a trained MPM model")
    parser.add_argument("output", metavar="OUT", help="folder to write (created when missing)")
    parser.add_argument("--results", nargs="*", default=[], help="JSON reports of examples/evaluate.py --json")
    parser.add_argument("--training", default=None, help="JSON object: training stage -> description")
    parser.add_argument("--repo-id", default=None, help="ORG/NAME used in the card's snippets and model-index")
    parser.add_argument("--base-model", default=None, help="the card's base_model (a Hub repo id)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of the training data, recorded in config.json when the run has none")
    parser.add_argument("--datasets", default="h36m",
                        help="comma-separated training corpora for the card: h36m, 3dhp, amass (h36m)")
    return parser


def ship(run: str, output: str, results: list[dict], training: dict | None, repo_id: str | None = None,
         base_model: str | None = None, datasets: tuple[str, ...] = ("h36m",), fps: float | None = None) -> Path:
    """Write the folder (see the module docstring) and return its path."""
    architecture = (MPMConfig.from_pretrained(run).architectures or ["MPMForPoseLifting"])[0]
    model_class = getattr(modeling_mpm, architecture, None)
    if not isinstance(model_class, type) or not issubclass(model_class, modeling_mpm.MPMPreTrainedModel):
        raise ValueError(f"RUN {run}: config.json names {architecture!r}, not an MPM model class")
    model = model_class.from_pretrained(run)
    if fps is not None and model.config.fps is None:
        model.config.fps = fps
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    for name in STALE_WEIGHT_FILES:
        (folder / name).unlink(missing_ok=True)
    model.save_pretrained(folder)
    card = generate_model_card(model, repo_id=repo_id or folder.name, results=results or None, training=training,
                               base_model=base_model, datasets=datasets)
    if results:
        (folder / EVAL_RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    (folder / "README.md").write_text(card)
    return folder


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not (Path(args.run) / "config.json").is_file():
            raise FileNotFoundError(f"RUN {args.run}: no config.json (expected a save_pretrained folder)")
        results = []
        for path in args.results:  # a file holds one report or a list of them
            report = read_json_file(path, "--results")
            results.extend(report if isinstance(report, list) else [report])
        training = read_json_file(args.training, "--training") if args.training else None
        if training is not None and not isinstance(training, dict):
            raise ValueError(f"--training {args.training}: expected a JSON object, got {type(training).__name__}")
        datasets = tuple(item.strip() for item in args.datasets.split(",") if item.strip())
        folder = ship(args.run, args.output, results, training, args.repo_id, args.base_model, datasets, args.fps)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"shipped {args.run} -> {folder} ({len(results)} evaluation reports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
