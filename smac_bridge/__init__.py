"""smac-bridge: tune a training script with SMAC, in parallel, on GPUs, with classic SMAC files.

The package root stays light because every trial imports it: `report` and `Wrapper` are
loaded on first use.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Wrapper", "report", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "report":
        from smac_bridge.reporting import report

        return report
    if name == "Wrapper":
        from smac_bridge.wrapper import Wrapper

        return Wrapper
    raise AttributeError(f"module 'smac_bridge' has no attribute {name!r}")
