"""A cheap training-script stand-in for the quickstart: the Branin function with argparse flags.

It behaves like a real training script (flags in, metric out, a little noise and a little
work) so that a whole optimisation finishes in a minute without TensorFlow. Unlike a real
script, its best possible result is known: the minimum of Branin is 0.397887, at (-pi, 12.275),
(pi, 2.275) and (9.42478, 2.475), so a best quality of 0.40 is as good as it gets.
"""

from __future__ import annotations

import argparse
import math
import random
import time

#: The global minimum of the Branin function, to judge how close the search came.
OPTIMUM = 0.397887


def branin(x: float, y: float) -> float:
    """The Branin-Hoo function, the classic two-parameter SMAC example."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=f"Branin's known minimum is {OPTIMUM} (at (-pi, 12.275), (pi, 2.275) and "
        "(9.42478, 2.475)): a best quality of 0.40 is the optimum.",
    )
    parser.add_argument("--x", type=float, required=True, help="first coordinate, in [-5, 10]")
    parser.add_argument("--y", type=float, required=True, help="second coordinate, in [0, 15]")
    parser.add_argument("--noise", type=float, default=0.0, help="std-dev of Gaussian noise")
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds of pretend training")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    time.sleep(args.sleep)
    value = branin(args.x, args.y) + random.Random(args.seed).gauss(0, args.noise)
    print(f"Branin's known minimum is {OPTIMUM}; this point is {value - OPTIMUM:.6g} above it")
    print(f"validation loss: {value}")  # the wrapper takes the last number as the quality


if __name__ == "__main__":
    main()
