"""A training stand-in whose best configurations cannot finish within the cutoff.

As with a CNN on a CPU: wider nets end better but train slower, and the widest cannot finish
their epoch before the cutoff, although their partial error after most of it beats every
net that finishes. The run trains 5 steps of `width / 256 × --step-seconds` each and reports
its validation error after each step (`partial=True`), then once more at the end.
"""

from __future__ import annotations

import argparse
import math
import time

from smac_bridge import report

STEPS = 5


def final_error(width: int, lr: float) -> float:
    """Best for the widest net and a learning rate of 0.01."""
    return 0.02 + 0.1 * (1 - math.log2(width) / 8) + 0.05 * math.log10(lr / 0.01) ** 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--step-seconds", type=float, default=0.8)
    args = parser.parse_args()
    final = final_error(args.width, args.lr)
    for step in range(1, STEPS + 1):
        time.sleep(args.width / 256 * args.step_seconds)
        report(final + 0.03 * (1 - step / STEPS), step=step, partial=True)
    report(final)


if __name__ == "__main__":
    main()
