"""Average the weights of several checkpoints of one architecture (a "model soup" / stochastic weight averaging).

    python docs/training_runs/s9/average_weights.py OUT MODEL [MODEL ...]

Floating-point tensors (weights and BatchNorm running statistics) are averaged; the others (BatchNorm's step
counters) are taken from the first model. The config and remote code of the first model are kept.
"""

from __future__ import annotations

import sys

import torch

import mpm_hf
from mpm_hf import MPMConfig


def main(argv: list[str]) -> None:
    out, paths = argv[0], argv[1:]
    config = MPMConfig.from_pretrained(paths[0])
    model_class = getattr(mpm_hf, config.architectures[0])
    models = [model_class.from_pretrained(path) for path in paths]
    states = [model.state_dict() for model in models]
    averaged = {name: torch.stack([state[name] for state in states]).mean(dim=0) if tensor.is_floating_point()
                else tensor for name, tensor in states[0].items()}
    models[0].load_state_dict(averaged)
    models[0].save_pretrained(out)
    print(f"averaged {len(paths)} checkpoints -> {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
