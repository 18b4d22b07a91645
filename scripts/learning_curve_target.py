"""A cheap training-script stand-in with learning curves, for multi-fidelity and pruning.

Each epoch is a short sleep; the validation error falls from about 1 towards a final value
that depends on the configuration, at a speed that depends on it too, so the curves cross
as real ones do: the fastest starters (learning rates near 0.03, small nets) end a little
worse than slower ones. As in real trainings, the error after a few epochs ranks the
configurations roughly as the final error does (rank correlation about 0.8 after 1 and 3 of
27 epochs, 0.9 after 9, over random configurations), but not exactly. It reports every epoch
(`smac_bridge.report(error, step=epoch, partial=True)`), saves a checkpoint (the epochs done)
in its artifacts and, when promoted (SMAC_BRIDGE_RESUME_FROM), continues from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

from smac_bridge import report


def final_error(lr: float, width: int, momentum: float, optimizer: str) -> float:
    """Where the curve ends: best near lr 0.01, a wide net, momentum 0.9 and adam."""
    error = 0.02 + 0.08 * math.log10(lr / 0.01) ** 2 + 0.05 * (1 - math.log2(width) / 8)
    error += 0.03 * abs(momentum - 0.9) + (0.0 if optimizer == "adam" else 0.015)
    return error


def speed(lr: float, width: int) -> float:
    """How fast the curve falls: fastest at a learning rate of 0.03, three times the one
    that ends best, and for small nets, which end worse."""
    return 0.05 + 0.5 * math.exp(-2 * math.log10(lr / 0.03) ** 2) + 0.3 / math.log2(width)


def error_after(epoch: int, args: argparse.Namespace) -> float:
    final = final_error(args.lr, args.width, args.momentum, args.optimizer)
    return final + (1.0 - final) * math.exp(-speed(args.lr, args.width) * epoch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True, help="learning rate, log scale")
    parser.add_argument("--width", type=int, required=True, help="units per layer")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--epochs", type=int, default=27, help="the budget")
    parser.add_argument("--epoch-seconds", type=float, default=0.2, help="pretend training")
    args = parser.parse_args()

    artifacts = Path(os.environ.get("SMAC_BRIDGE_ARTIFACTS", "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    done = 0
    resume = os.environ.get("SMAC_BRIDGE_RESUME_FROM")
    if resume and (Path(resume) / "checkpoint.json").exists():
        done = json.loads((Path(resume) / "checkpoint.json").read_text())["epochs"]
    print(f"training epochs {done + 1}..{args.epochs} (resumed after {done})", flush=True)
    for epoch in range(done + 1, args.epochs + 1):
        time.sleep(args.epoch_seconds)
        error = error_after(epoch, args)
        # whole or not at all: a pruning rule's SIGTERM may end the script mid-write, and a
        # promotion or a re-run continues from this file
        (artifacts / "checkpoint.json.tmp").write_text(json.dumps({"epochs": epoch}))
        os.replace(artifacts / "checkpoint.json.tmp", artifacts / "checkpoint.json")
        print(f"epoch {epoch}: validation error {error:.4f}", flush=True)
        report(error, step=epoch, partial=True)
    report(error_after(args.epochs, args), epochs_trained=args.epochs - done)


if __name__ == "__main__":
    main()
