"""Branin or Hartmann-6 as a classic SMAC 2.10 target that takes a fixed time.

The trial of `benchmarks/shared_model.py`: it answers with SMAC 2.10's result line itself, so
it runs without the wrapper, and it sleeps, so that every trial costs the same.

    python classic_function.py FUNCTION SLEEP INSTANCE INFO CUTOFF LENGTH SEED -name value ...
"""

from __future__ import annotations

import sys
import time

from functions import branin, hartmann6


def main() -> None:
    start = time.time()
    function, sleep, params = sys.argv[1], float(sys.argv[2]), sys.argv[8:]
    values = {params[i].lstrip("-"): float(params[i + 1]) for i in range(0, len(params), 2)}
    if function == "branin":
        value = branin(values["x"], values["y"])
    else:
        value = hartmann6([values[f"x{i}"] for i in range(6)])
    time.sleep(sleep)
    print(f"Result of this algorithm run: SAT, {time.time() - start:.3f}, 0, {value!r}, -1")


if __name__ == "__main__":
    main()
