"""Do two revisions of smac-bridge make the same proposals? A check for refactorings.

Runs the quickstart (Branin, one worker, no noise) with each git revision's code and compares
the configurations of the runs in order. SMAC3's proposals depend on Python's string hashing
(set iteration order), so both launches run with PYTHONHASHSEED=0; with that fixed, a
revision that changes nothing SMAC3 is told proposes exactly the same configurations.

    .venv/bin/python benchmarks/same_proposals.py 32a4aed HEAD --runs 25
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def proposals(revision: str, runs: int, folder: Path) -> list[dict[str, Any]]:
    """The configurations of the quickstart's runs, in run order, with REVISION's code."""
    tree = folder / f"tree-{revision}"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), revision],
        check=True,
        capture_output=True,
    )
    try:
        outdir = folder / f"out-{revision}"
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(tree)}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        subprocess.run(
            [sys.executable, "-m", "smac_bridge.cli", "launch", "scenarios/quickstart.txt"]
            + ["--parallel", "1", "--quiet", "--gpus", "none", "--outdir", str(outdir)]
            + ["--set", f"runcount_limit={runs}"],
            cwd=tree,
            env=env,
            check=True,
            capture_output=True,
        )
        records = []
        for path in (outdir / "quickstart").glob("runs-*.jsonl"):
            records += [json.loads(line) for line in path.read_text().splitlines() if line]
        return [r["config"] for r in sorted(records, key=lambda r: r["run_id"])]
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
            capture_output=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="a git revision, e.g. a commit id")
    parser.add_argument("after", help="another git revision, e.g. HEAD")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        before = proposals(args.before, args.runs, Path(folder))
        after = proposals(args.after, args.runs, Path(folder))
    same = sum(a == b for a, b in zip(before, after, strict=True))
    print("| revision | runs | proposals equal to the first revision's |")
    print("|---|---|---|")
    print(f"| {args.before} | {len(before)} | - |")
    print(f"| {args.after} | {len(after)} | {same} of {len(before)} |")
    first = next((i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b), None)
    if first is not None:
        print(f"first difference at run {first + 1}: {before[first]} != {after[first]}")


if __name__ == "__main__":
    main()
