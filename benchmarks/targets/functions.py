"""Branin and Hartmann-6 with their known optima, shared by the benchmarks' target scripts."""

from __future__ import annotations

import math
from collections.abc import Sequence

BRANIN_OPTIMUM = 0.397887357729739
"""At (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475)."""
HARTMANN6_OPTIMUM = -3.32236801141551
"""At (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)."""

_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]
_ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(x: float, y: float) -> float:
    """The Branin-Hoo function on [-5, 10] x [0, 15]."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def hartmann6(x: Sequence[float]) -> float:
    """The 6-d Hartmann function on [0, 1]^6 (negative; minimum -3.32237)."""
    return -sum(
        _ALPHA[i] * math.exp(-sum(_A[i][j] * (x[j] - _P[i][j]) ** 2 for j in range(6)))
        for i in range(4)
    )
