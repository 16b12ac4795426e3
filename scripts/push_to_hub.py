"""Push an MPM checkpoint folder (``save_pretrained`` output) to the Hugging Face Hub with a generated model card.

    python scripts/push_to_hub.py converted/mpm-h36m-243 --repo-id my-org/mpm-h36m-243 \
        [--private] [--results outputs/eval_s9_s11.json] [--token hf_...] [--card README.md]

The folder is checked first (it must hold ``config.json`` with ``model_type: mpm`` and ``model.safetensors``);
``README.md`` on the Hub is the card built by ``mpm_hf.hub``, with the evaluation report of
``examples/evaluate.py --json`` (``--results``, else ``eval_results.json`` in the folder, else "not evaluated").
The token defaults to ``HF_TOKEN`` / ``hf auth login``. Prints the commit URL; errors print one line and exit with
2 (bad input) or 1 (the upload failed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huggingface_hub.errors import HfHubHTTPError

from mpm_hf.hub import push_model_to_hub, read_json_file, read_model_folder_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", metavar="DIR", help="save_pretrained folder of an MPM model")
    parser.add_argument("--repo-id", required=True, help="ORG/NAME on the Hub (created when missing)")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--results", default=None, help="evaluation report (JSON of examples/evaluate.py --json)")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    parser.add_argument("--card", default=None, help="upload this README.md instead of the generated card")
    parser.add_argument("--commit-message", default="Upload MPM model")
    parser.add_argument("--datasets", default="h36m",
                        help="comma-separated training corpora for the card: h36m, 3dhp, amass (h36m)")
    return parser


def _datasets(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        read_model_folder_config(args.folder)
        results = read_json_file(args.results, "--results") if args.results else None
        card = None
        if args.card:
            if not Path(args.card).is_file():
                raise FileNotFoundError(f"--card {args.card}: file not found")
            card = Path(args.card).read_text()
        commit = push_model_to_hub(args.folder, args.repo_id, private=args.private, results=results,
                                   commit_message=args.commit_message, card=card, token=args.token,
                                   datasets=_datasets(args.datasets))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (HfHubHTTPError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"error: upload to {args.repo_id} failed: {first_line}", file=sys.stderr)
        return 1
    print(f"pushed {args.folder} to {args.repo_id}: {commit.commit_url}")
    print(f"commit {commit.oid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
