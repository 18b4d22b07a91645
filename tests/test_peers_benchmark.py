"""benchmarks/peers.py end to end on a tiny setting, and the peers' draws from a PCS space."""

from __future__ import annotations

import importlib
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, smac_bridge_env

BENCHMARKS = REPO / "benchmarks"
BRANIN_OPTIMUM = 0.397887357729739


def run_peers(out: Path, *contestants: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(BENCHMARKS / "peers.py"), "--problems", "branin"]
    argv += ["--evals", "8", "--reps", "1", "--workers", "2", "--json", str(out)]
    argv += ["--contestants", *contestants]
    return subprocess.run(
        argv, cwd=REPO, env=smac_bridge_env(), capture_output=True, text=True, timeout=120
    )


def check_entry(entry: dict[str, Any], contestant: str) -> None:
    """One finished Branin run of 8 evaluations by 2 workers, with sane numbers."""
    assert entry["contestant"] == contestant
    assert "error" not in entry, entry.get("error")
    assert (entry["problem"], entry["rep"], entry["evals"], entry["workers"]) == ("branin", 0, 8, 2)
    assert entry["n_evals"] == len(entry["trials"]) == 8
    qualities = [trial["quality"] for trial in entry["trials"]]
    assert all(math.isfinite(q) and q >= BRANIN_OPTIMUM - 1e-9 for q in qualities)
    assert entry["best"] == min(qualities)
    assert entry["score"] == pytest.approx(entry["best"] - BRANIN_OPTIMUM)
    assert 0 < entry["wall"] < 120
    for trial in entry["trials"]:
        assert set(trial["config"]) == {"x", "y"}
        assert -5 <= trial["config"]["x"] <= 10 and 0 <= trial["config"]["y"] <= 15


@pytest.mark.slow
def test_smac_bridge_and_random_search_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    done = run_peers(out, "shared", "random")
    assert done.returncode == 0, done.stdout + done.stderr
    entries = json.loads(out.read_text())["entries"]
    assert [entry["contestant"] for entry in entries] == ["shared", "random"]
    check_entry(entries[0], "shared")
    check_entry(entries[1], "random")
    assert {trial["worker"] for trial in entries[0]["trials"]} <= {1, 2}  # seeds 1 and 2
    assert "| branin | smac-bridge 2 shared | 1 | regret |" in done.stdout
    assert "| branin | random search, 2 processes | 1 | regret |" in done.stdout
    assert "branin: smac-bridge 2 shared median ≤ Optuna TPE median: n/a" in done.stdout

    again = run_peers(out, "shared", "random")  # every run is in the JSON: nothing runs again
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(out.read_text())["entries"] == entries
    assert "| branin | smac-bridge 2 shared | 1 | regret |" in again.stdout


@pytest.mark.slow
def test_optuna_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    out = tmp_path / "peers.json"
    done = run_peers(out, "optuna")
    assert done.returncode == 0, done.stdout + done.stderr
    (entry,) = json.loads(out.read_text())["entries"]
    check_entry(entry, "optuna")
    assert sorted(trial["index"] for trial in entry["trials"]) == list(range(8))


def test_peer_draws_follow_the_pcs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random search draws the PCS space: bounds, integers, and momentum only with sgd."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    peer_workers = importlib.import_module("peer_workers")
    space = peer_workers.read_space(BENCHMARKS / "targets" / "mlp_digits.pcs")
    rng = random.Random(0)
    draws = [peer_workers.draw(space, peer_workers.uniform_choice(rng)) for _ in range(400)]
    for values in draws:
        assert ("momentum" in values) == (values["solver"] == "sgd")
        assert 8 <= values["hidden"] <= 128 and isinstance(values["hidden"], int)
        assert 32 <= values["batch_size"] <= 256 and isinstance(values["batch_size"], int)
        assert 1e-4 <= values["learning_rate_init"] <= 1 and 1e-6 <= values["alpha"] <= 0.1
        assert values["activation"] in {"relu", "tanh", "logistic"}
    # log scale: about half the learning rates below the geometric middle, 1e-2
    below = sum(values["learning_rate_init"] < 1e-2 for values in draws) / len(draws)
    assert 0.4 < below < 0.6
    assert {values["hidden"] for values in draws} >= {8, 128}  # both ends are reachable
