"""A custom smac-bridge wrapper: its own training command and its own result parsing.

Use it as a scenario's algo: `algo = python scripts/custom_wrapper_example.py --grace 2`.
Everything but the two methods (limits, GPU slot, run directory, signals, the one result
line) comes from `smac_bridge.Wrapper`.
"""

import re
import sys
from pathlib import Path

from smac_bridge.wrapper import Wrapper

TARGET = Path(__file__).with_name("quickstart_target.py")


class BraninWrapper(Wrapper):
    def build_command(self, call):
        """SMAC's -x and -y become the target's flags; its pretend training is skipped."""
        flags = [f"--{name}={value}" for name, value in call.params.items()]
        return [sys.executable, str(TARGET), *flags, "--sleep", "0", "--seed", str(call.seed)]

    def read_result(self, run):
        """The quality is the printed validation loss; None keeps the wrapper's own decision."""
        match = re.search(r"validation loss: (\S+)", run.output())
        if run.exit_code != 0 or match is None:
            return None
        return {"quality": float(match.group(1)), "loss_source": "stdout"}


if __name__ == "__main__":
    BraninWrapper.main()
