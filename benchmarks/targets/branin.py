"""Branin behind argparse flags: prints the function value (lower is better, optimum 0.397887)."""

from __future__ import annotations

import argparse

from functions import branin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x", type=float, required=True, help="in [-5, 10]")
    parser.add_argument("--y", type=float, required=True, help="in [0, 15]")
    args = parser.parse_args()
    print(f"branin: {branin(args.x, args.y)!r}")


if __name__ == "__main__":
    main()
