"""Hartmann-6 with argparse flags: prints its value (lower is better; optimum -3.32237)."""

from __future__ import annotations

import argparse

from functions import hartmann6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for i in range(6):
        parser.add_argument(f"--x{i}", type=float, required=True, help="in [0, 1]")
    args = parser.parse_args()
    print(f"hartmann6: {hartmann6([getattr(args, f'x{i}') for i in range(6)])!r}")


if __name__ == "__main__":
    main()
