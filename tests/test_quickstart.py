"""The quickstart target says what the best possible result is, and still ends with its quality."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest
from conftest import REPO

TARGET = REPO / "scripts" / "quickstart_target.py"


def target(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(TARGET), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_output_states_the_optimum_and_ends_with_the_quality():
    out = target("--x", str(math.pi), "--y", "2.275", "--sleep", "0")
    first, last = out.splitlines()
    gap = re.fullmatch(r"Branin's known minimum is 0\.397887; this point is (\S+) above it", first)
    # the wrapper's default rule, a number ending the last line, and the custom wrapper's regex
    quality = float(last.split()[-1])
    assert quality == pytest.approx(0.397887, abs=1e-6)  # the stated optimum is Branin's
    assert float(gap.group(1)) == pytest.approx(quality - 0.397887, rel=1e-5)
    assert float(re.search(r"validation loss: (\S+)", out).group(1)) == quality


def test_the_help_the_scenario_and_the_readme_state_the_optimum():
    assert "Branin's known minimum is 0.397887" in target("--help")
    assert "0.397887" in (REPO / "scenarios" / "quickstart.txt").read_text()
    assert "Branin's known optimum is 0.397887" in (REPO / "README.md").read_text()
