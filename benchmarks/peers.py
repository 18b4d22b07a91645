"""Peer benchmark: smac-bridge against Optuna TPE and random search at equal evaluations.

Each problem is a target script with argparse flags and a PCS file (`benchmarks/targets/`):
Branin, Hartmann-6, and MLPClassifier on scikit-learn's digits data (a mixed space with
categorical, integer, log-scaled and conditional parameters; 3-fold CV error). Every
contestant gets the same number of evaluations of the same space, N workers, and runs every
evaluation as a subprocess of the same script:

- smac-bridge: a real `smac-bridge launch` (N shared workers, N independent workers, and one
  worker), each trial through `smac-bridge wrap`; results read from the run records;
- Optuna TPE: N processes optimising one study in a `JournalFileBackend` journal;
- random search: N processes drawing uniformly (log-uniform on log scales).

Per problem and contestant it prints the mean, median and spread of the final regret (best
value found minus the known optimum; for the training task, the best CV error) and the
median wall time, then checks the targets: smac-bridge's N shared workers no worse than
Optuna TPE, shared <= 0.7 x independent, and N shared workers <= 1.5 x one worker.

    .venv/bin/python benchmarks/peers.py --reps 5 --json peers.json

`--json` accumulates finished runs: running the same command again skips them, so a long
benchmark can be stopped and continued. Needs the `bench` extra (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launching import POLL, child_env, exit_on_sigterm, kill_session, run_launch
from peer_workers import EVAL_TIMEOUT
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from targets.functions import BRANIN_OPTIMUM, HARTMANN6_OPTIMUM

from smac_bridge.rundata import RunGroup

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "targets"
PEER_WORKERS = HERE / "peer_workers.py"


@dataclass(frozen=True)
class Problem:
    name: str
    script: str
    optimum: float | None  # None: no known optimum, the table shows the error itself

    @property
    def target(self) -> Path:
        return TARGETS / self.script

    @property
    def pcs(self) -> Path:
        return self.target.with_suffix(".pcs")

    @property
    def measure(self) -> str:
        return "regret" if self.optimum is not None else "CV error"


PROBLEMS = {
    problem.name: problem
    for problem in (
        Problem("branin", "branin.py", BRANIN_OPTIMUM),
        Problem("hartmann6", "hartmann6.py", HARTMANN6_OPTIMUM),
        Problem("mlp-digits", "mlp_digits.py", None),
    )
}


@dataclass(frozen=True)
class SmacBridge:
    """One smac-bridge contestant: a launch with these extra options ({n}: --workers)."""

    key: str
    label: str
    args: tuple[str, ...] = ()
    parallel: int | None = None  # None: --workers


SMAC_BRIDGE = {  # one line per contestant; `args` go to `smac-bridge launch` as they are
    spec.key: spec
    for spec in (
        SmacBridge("shared", "smac-bridge {n} shared", ("--set", "shared-model-mode=true")),
        SmacBridge(
            "independent", "smac-bridge {n} independent", ("--set", "shared-model-mode=false")
        ),
        SmacBridge("one", "smac-bridge 1 worker", parallel=1),
    )
}
PEERS = {"optuna": "Optuna TPE, {n} processes", "random": "random search, {n} processes"}
CONTESTANTS = [*SMAC_BRIDGE, *PEERS]


@dataclass(frozen=True)
class Settings:
    evals: int
    workers: int
    extra_set: tuple[str, ...]

    def extra_for(self, contestant: str) -> list[str]:
        """The --extra-set options that apply to a contestant (only smac-bridge's take them)."""
        return list(self.extra_set) if contestant in SMAC_BRIDGE else []

    def label(self, contestant: str) -> str:
        template = SMAC_BRIDGE[contestant].label if contestant in SMAC_BRIDGE else PEERS[contestant]
        extra = self.extra_for(contestant)
        return template.format(n=self.workers) + (f" [{', '.join(extra)}]" if extra else "")

    def matches(self, entry: dict[str, Any]) -> bool:
        """Whether a stored entry was measured with these settings."""
        return (
            entry["evals"] == self.evals
            and entry["workers"] == self.workers
            and entry["extra_set"] == self.extra_for(entry["contestant"])
        )


@dataclass
class Outcome:
    trials: list[dict[str, Any]]  # in the order they ended
    wall: float
    reused: int = 0  # smac-bridge: proposals answered from another worker's identical run


# ---- running one contestant ---------------------------------------------------------------


def write_scenario(folder: Path, problem: Problem, evals: int) -> Path:
    """A classic scenario that runs the problem's script through `smac-bridge wrap`.

    The scripts run in `benchmarks/targets` (execdir), so the command holds no path to quote.
    """
    scenario = folder / f"{problem.name}.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "python {problem.script}"\n'
        f"execdir = {TARGETS}\nparamfile = {problem.pcs}\n"
        f"run_obj = quality\ndeterministic = true\ncutoff_time = {EVAL_TIMEOUT:g}\n"
        f"runcount_limit = {evals}\ncheck-sat-consistency = false\n",
        encoding="utf-8",
    )
    return scenario


def run_smac_bridge(
    spec: SmacBridge,
    scenario: Path,
    outdir: Path,
    rep: int,
    settings: Settings,
    on_poll: Callable[[int], None],
) -> Outcome:
    """One real launch; the trials from its run records."""
    parallel = spec.parallel or settings.workers
    options = ["--parallel", str(parallel), "--seed-offset", str(100 * rep), *spec.args]
    for item in settings.extra_set:
        options += ["--set", item]
    wall = run_launch(scenario, outdir, options, on_poll)
    group = RunGroup(outdir / scenario.stem)
    records = group.records()
    trials = [
        {
            "config": record["config"],
            "quality": record["quality"] if record["status"] == "SAT" else None,
            "status": record["status"],
            "worker": record["worker"],
            "started": record["started"],
            "ended": record["ended"],
        }
        for record in records
    ]
    return Outcome(trials, wall, reused=len(group.records(include_reused=True)) - len(records))


def read_evals(folder: Path) -> list[dict[str, Any]]:
    """The evaluations the peer workers appended (complete lines), in the order they ended."""
    trials = []
    for path in folder.glob("evals-*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.endswith("\n"):
                trials.append({"status": "SAT", **json.loads(line)})
    return sorted(trials, key=lambda trial: trial["ended"])


def run_peer(
    method: str,
    problem: Problem,
    folder: Path,
    rep: int,
    settings: Settings,
    on_poll: Callable[[int], None],
) -> Outcome:
    """N worker processes of peer_workers.py; each in a session of its own, with its targets."""
    folder.mkdir(parents=True)
    argv = [sys.executable, str(PEER_WORKERS), method, "--target", str(problem.target)]
    argv += ["--pcs", str(problem.pcs), "--evals", str(settings.evals), "--out", str(folder)]
    if method == "optuna":
        argv += ["--journal", str(folder / "journal.log")]
    processes: list[subprocess.Popen[bytes]] = []
    start = time.monotonic()
    with contextlib.ExitStack() as logs:
        try:
            for worker in range(settings.workers):
                # random search: one seed for all, as slot i draws the same whoever runs it
                seed = 100 * rep + (worker + 1 if method == "optuna" else 0)
                log = logs.enter_context(open(folder / f"worker-{worker}.log", "wb"))
                processes.append(
                    subprocess.Popen(
                        [*argv, "--worker", str(worker), "--seed", str(seed)],
                        env=child_env(),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            while any(process.poll() is None for process in processes):
                on_poll(len(read_evals(folder)))
                check_workers(method, folder, processes)
                time.sleep(POLL)
        finally:
            for process in processes:
                if process.returncode is None or process.returncode < 0:
                    kill_session(process)  # with any target it was running
    wall = time.monotonic() - start
    check_workers(method, folder, processes)
    return Outcome(read_evals(folder), wall)


def check_workers(method: str, folder: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    """Raise with the end of its log when a peer worker has ended with an error."""
    for worker, process in enumerate(processes):
        if process.returncode not in (None, 0):
            tail = (folder / f"worker-{worker}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{method} worker {worker} failed ({process.returncode}): {tail}")


# ---- results ------------------------------------------------------------------------------


def duplicates(trials: Iterable[dict[str, Any]]) -> int:
    """Evaluations of a configuration evaluated before in the same run (exact values)."""
    seen: set[str] = set()
    count = 0
    for trial in trials:
        key = json.dumps(trial["config"], sort_keys=True)
        count += key in seen
        seen.add(key)
    return count


def run_fields(problem: Problem, contestant: str, rep: int, settings: Settings) -> dict[str, Any]:
    """What identifies a run in the JSON file: the problem, contestant, repetition, settings."""
    return {
        "problem": problem.name,
        "contestant": contestant,
        "label": settings.label(contestant),
        "rep": rep,
        "evals": settings.evals,
        "workers": settings.workers,
        "extra_set": settings.extra_for(contestant),
    }


def entry_of(
    problem: Problem, contestant: str, rep: int, settings: Settings, outcome: Outcome
) -> dict[str, Any]:
    """What the JSON file keeps of one run: its fields, the score and every evaluation."""
    qualities = [t["quality"] for t in outcome.trials if t["quality"] is not None]
    best = min(qualities) if qualities else float("inf")
    return {
        **run_fields(problem, contestant, rep, settings),
        "best": best,
        "score": best - problem.optimum if problem.optimum is not None else best,
        "wall": outcome.wall,
        "n_evals": len(outcome.trials),
        "reused": outcome.reused,
        "duplicates": duplicates(outcome.trials),
        "trials": outcome.trials,
    }


def failure_of(
    problem: Problem, contestant: str, rep: int, settings: Settings, error: str
) -> dict[str, Any]:
    """A run that failed: kept with its error (the table counts it), and run again next time."""
    return {**run_fields(problem, contestant, rep, settings), "error": error[-6000:]}


def last_error(error: BaseException) -> str:
    """The line that names the exception in an error's (possibly long) text; the JSON has all."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Interrupt)\b", line)]
    return (named or lines or [repr(error)])[-1]


def same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("problem", "contestant", "rep", "evals", "workers", "extra_set")
    return all(a[key] == b[key] for key in keys)


def load_entries(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["entries"]


def save_entries(path: Path | None, entries: list[dict[str, Any]]) -> None:
    """Rewrite the JSON file whole and atomically, so an interrupted save loses nothing."""
    if path is None:
        return
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"entries": entries}, indent=1), encoding="utf-8")
    os.replace(partial, path)


def fmt(value: float) -> str:
    return f"{value:.4g}"


@dataclass
class Cell:
    """The runs of one contestant on one problem, failed ones included."""

    entries: list[dict[str, Any]]

    @property
    def scores(self) -> list[float]:
        return [entry["score"] for entry in self.entries if "error" not in entry]

    @property
    def failed(self) -> int:
        return sum("error" in entry for entry in self.entries)

    def median(self) -> float | None:
        """The median score; None when every run failed."""
        return statistics.median(self.scores) if self.scores else None


def table(cells: dict[tuple[str, str], Cell], settings: Settings) -> str:
    lines = [
        "| problem | contestant | runs | measure | mean | median | min – max | median wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, contestant), cell in cells.items():
        if not cell.entries:
            continue
        runs = f"{len(cell.scores)}" + (f" + {cell.failed} failed" if cell.failed else "")
        row = f"| {name} | {settings.label(contestant)} | {runs} | {PROBLEMS[name].measure} |"
        scores = cell.scores
        if not scores:
            lines.append(row + " every run failed | – | – | – |")
            continue
        walls = [entry["wall"] for entry in cell.entries if "error" not in entry]
        lines.append(
            f"{row} {fmt(statistics.mean(scores))} | {fmt(statistics.median(scores))}"
            f" | {fmt(min(scores))} – {fmt(max(scores))} | {statistics.median(walls):.0f} |"
        )
    return "\n".join(lines)


def compare(
    name: str,
    label: str,
    medians: dict[str, float | None],
    ours: str,
    theirs: str,
    factor: float,
) -> str:
    """`name: label: PASS (a vs factor × b)` when medians[ours] <= factor × medians[theirs]."""
    if ours not in medians or theirs not in medians:
        return f"{name}: {label}: n/a (not measured)"
    a, b = medians[ours], medians[theirs]
    if a is None:
        return f"{name}: {label}: MISS (every run of smac-bridge {ours} failed)"
    if b is None:
        return f"{name}: {label}: n/a (every run of {theirs} failed)"
    verdict = "PASS" if a <= factor * b else "MISS"
    times = f"{factor:g} × " if factor != 1 else ""
    return f"{name}: {label}: {verdict} ({fmt(a)} vs {times}{fmt(b)})"


def target_checks(cells: dict[tuple[str, str], Cell], settings: Settings) -> list[str]:
    """One PASS/MISS line per target and problem, with the medians compared.

    Without a known optimum (the training task) the ratio targets compare the CV error above
    the lowest error any run of any contestant found: a ratio of raw errors would mostly
    measure the error that no configuration avoids.
    """
    n = settings.workers
    lines = []
    for name in dict.fromkeys(problem for problem, _ in cells):
        mine = {c: cell for (p, c), cell in cells.items() if p == name and cell.entries}
        medians = {contestant: cell.median() for contestant, cell in mine.items()}
        above, note = dict(medians), ""
        scores = [score for cell in mine.values() for score in cell.scores]
        if PROBLEMS[name].optimum is None and scores:
            floor = min(scores)
            above = {c: None if m is None else m - floor for c, m in medians.items()}
            note = f" (CV error above the lowest any run found, {fmt(floor)})"
        shared = f"smac-bridge {n} shared median ≤ Optuna TPE median"
        lines += [
            compare(name, shared, medians, "shared", "optuna", 1.0),
            compare(name, "shared ≤ 0.7 × independent", above, "shared", "independent", 0.7) + note,
            compare(name, f"{n} shared ≤ 1.5 × 1 worker", above, "shared", "one", 1.5) + note,
        ]
    return lines


def versions() -> str:
    found = []
    for dist in ("smac", "optuna", "scikit-learn"):
        try:
            found.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{dist} not installed")
    return f"Python {platform.python_version()}, " + ", ".join(found)


# ---- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument(
        "--contestants", nargs="+", choices=CONTESTANTS, default=CONTESTANTS, metavar="NAME",
        help=f"any of {', '.join(CONTESTANTS)} (default: all)",
    )  # fmt: skip
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--evals", type=int, default=100, help="evaluations per run (100)")
    parser.add_argument("--workers", type=int, default=4, help="parallel workers (default 4)")
    parser.add_argument(
        "--extra-set", action="append", default=[], metavar="KEY=VALUE",
        help="passed to every smac-bridge launch as --set KEY=VALUE (repeatable)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="raw results; finished runs there are skipped")
    args = parser.parse_args(argv)
    if "optuna" in args.contestants:
        try:
            import optuna  # noqa: F401
        except ImportError:
            parser.error('Optuna is missing: pip install -e ".[bench]" (or leave out optuna)')
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    exit_on_sigterm()
    settings = Settings(args.evals, args.workers, tuple(args.extra_set))
    entries = load_entries(args.json)
    done = {
        (e["problem"], e["contestant"], e["rep"])
        for e in entries
        if settings.matches(e) and "error" not in e
    }
    todo = [
        (rep, PROBLEMS[name], contestant)  # interleaved, so drifting load hits all alike
        for rep in range(args.reps)
        for name in args.problems
        for contestant in args.contestants
        if (name, contestant, rep) not in done
    ]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with tempfile.TemporaryDirectory() as tmp, Progress(*columns, TimeElapsedColumn()) as progress:
        folder = Path(tmp)
        overall = progress.add_task("runs", total=len(todo))
        current = progress.add_task("evaluations", total=args.evals)
        for index, (rep, problem, contestant) in enumerate(todo):
            description = f"{problem.name}, {settings.label(contestant)}, rep {rep + 1}"
            progress.update(current, completed=0, description=description)

            def on_poll(count: int) -> None:
                progress.update(current, completed=count)

            run_dir = folder / f"{index}-{problem.name}-{contestant}-{rep}"
            try:
                if contestant in SMAC_BRIDGE:
                    scenario = write_scenario(folder, problem, args.evals)
                    outcome = run_smac_bridge(
                        SMAC_BRIDGE[contestant], scenario, run_dir, rep, settings, on_poll
                    )
                else:
                    outcome = run_peer(contestant, problem, run_dir, rep, settings, on_poll)
                entry = entry_of(problem, contestant, rep, settings, outcome)
            except RuntimeError as error:  # one broken run must not end a long benchmark
                progress.console.print(f"[red]{description} failed[/red]: {last_error(error)}")
                entry = failure_of(problem, contestant, rep, settings, str(error))
            entries = [e for e in entries if not same_run(e, entry)] + [entry]
            save_entries(args.json, entries)
            progress.advance(overall)

    cells = {
        (name, contestant): Cell([]) for name in args.problems for contestant in args.contestants
    }
    for entry in entries:
        key = (entry["problem"], entry["contestant"])
        if key in cells and entry["rep"] < args.reps and settings.matches(entry):
            cells[key].entries.append(entry)
    print(
        f"\nup to {args.reps} repetitions of {args.evals} evaluations, {args.workers} workers, "
        f"{os.cpu_count()} CPUs; {versions()}\n"
    )
    print(table(cells, settings))
    print()
    for line in target_checks(cells, settings):
        print(line)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; the same command with --json FILE continues", file=sys.stderr)
        sys.exit(130)
