"""The worker processes of the peer benchmark's other contestants: Optuna TPE and random search.

`benchmarks/peers.py` starts N of these per run, each an OS process of its own, as smac-bridge
starts N workers. Each one draws configurations from the same PCS file smac-bridge reads
(through smac-bridge's own PCS reader, so the spaces are the same by construction: reals,
integers, log scales, categoricals, and conditional parameters drawn only when active),
runs the same target script as a subprocess with `--name value` flags, and takes the last
number of its output as the quality. Every evaluation is appended as one JSON line to
`<out>/evals-<worker>.jsonl`, which the harness reads.

    python benchmarks/peer_workers.py random --target T --pcs P --evals 100 --out DIR \
        --worker 0 --seed 1
    python benchmarks/peer_workers.py optuna ... --journal DIR/journal.log --study peers
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.hyperparameters import Hyperparameter

from smac_bridge.pcs import read_pcs

EVAL_TIMEOUT = 300.0
"""Seconds one evaluation may take; the smac-bridge contestants get the same cutoff."""
SUPPORTED = (UniformFloatHyperparameter, UniformIntegerHyperparameter, CategoricalHyperparameter)
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def read_space(pcs: Path) -> ConfigurationSpace:
    """The PCS file's space; only what the drawers below handle (no forbiddens, no ordinals)."""
    search_space = read_pcs(pcs)
    space = search_space.space
    if search_space.expressions or space.forbidden_clauses:
        raise ValueError(f"{pcs}: forbidden clauses are not supported by the peer benchmark")
    for hp in space.values():
        if not isinstance(hp, SUPPORTED):
            raise ValueError(f"{pcs}: {hp.name} is a {type(hp).__name__}; not supported here")
    return space


def active(space: ConfigurationSpace, name: str, values: dict[str, Any]) -> bool:
    """Whether every condition on `name` holds for the values drawn so far."""
    for condition in space.parent_conditions_of[name]:
        try:
            if not condition.satisfied_by_value(values):
                return False
        except KeyError:  # a parent is itself inactive
            return False
    return True


def draw(space: ConfigurationSpace, choose: Callable[[Hyperparameter], Any]) -> dict[str, Any]:
    """One configuration: `choose` gives each active parameter's value, parents first."""
    values: dict[str, Any] = {}
    for hp in space.values():  # ConfigSpace keeps parents before their children
        if active(space, hp.name, values):
            values[hp.name] = choose(hp)
    return values


def uniform_choice(rng: random.Random) -> Callable[[Hyperparameter], Any]:
    """Uniform values (log-uniform for log-scaled parameters) from `rng`."""

    def choose(hp: Hyperparameter) -> Any:
        if isinstance(hp, CategoricalHyperparameter):
            return rng.choice(list(hp.choices))
        if isinstance(hp, UniformIntegerHyperparameter):
            if not hp.log:
                return rng.randint(int(hp.lower), int(hp.upper))
            # log-uniform over the integers' half-open cells, as Optuna's log IntDistribution
            value = math.exp(rng.uniform(math.log(hp.lower - 0.5), math.log(hp.upper + 0.5)))
            return min(max(round(value), int(hp.lower)), int(hp.upper))
        if hp.log:
            return math.exp(rng.uniform(math.log(hp.lower), math.log(hp.upper)))
        return rng.uniform(float(hp.lower), float(hp.upper))

    return choose


def optuna_choice(trial: Any) -> Callable[[Hyperparameter], Any]:
    """Values suggested by an Optuna trial, with the parameter's type, range and log scale."""

    def choose(hp: Hyperparameter) -> Any:
        if isinstance(hp, CategoricalHyperparameter):
            return trial.suggest_categorical(hp.name, list(hp.choices))
        if isinstance(hp, UniformIntegerHyperparameter):
            return trial.suggest_int(hp.name, int(hp.lower), int(hp.upper), log=hp.log)
        return trial.suggest_float(hp.name, float(hp.lower), float(hp.upper), log=hp.log)

    return choose


def evaluate(target: Path, values: dict[str, Any]) -> float:
    """Run the target script with `--name value` flags; the last number it prints."""
    argv = [sys.executable, str(target)]
    for name, value in values.items():
        argv += [f"--{name}", repr(value) if isinstance(value, float) else str(value)]
    done = subprocess.run(
        argv, cwd=target.parent, capture_output=True, text=True, timeout=EVAL_TIMEOUT
    )
    numbers = NUMBER.findall(done.stdout)
    if done.returncode != 0 or not numbers:
        raise RuntimeError(f"{argv} failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(numbers[-1])


class Recorder:
    """Appends this worker's evaluations to `<out>/evals-<worker>.jsonl`, one line each."""

    def __init__(self, out: Path, worker: int) -> None:
        self.path = out / f"evals-{worker}.jsonl"
        self.worker = worker

    def run(self, target: Path, index: int, values: dict[str, Any]) -> float:
        started = time.time()
        quality = evaluate(target, values)
        record = {
            "index": index,
            "worker": self.worker,
            "config": values,
            "quality": quality,
            "started": started,
            "ended": time.time(),
        }
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return quality


def random_search(args: argparse.Namespace, space: ConfigurationSpace) -> None:
    """Claim evaluation slots until none is left; slot i always draws the same configuration.

    A slot is a file created with O_EXCL, so N workers run exactly `evals` evaluations in all,
    and which worker runs a slot does not change what is drawn.
    """
    recorder = Recorder(args.out, args.worker)
    slots = args.out / "slots"
    slots.mkdir(parents=True, exist_ok=True)
    for index in range(args.evals):
        try:
            os.close(os.open(slots / f"{index:05d}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        values = draw(space, uniform_choice(random.Random(f"{args.seed}-{index}")))
        recorder.run(args.target, index, values)


def optuna_tpe(args: argparse.Namespace, space: ConfigurationSpace) -> None:
    """One of N processes optimising one shared study, as Optuna's docs describe for one machine.

    The study lives in a journal file (`JournalFileBackend`). The sampler is TPE with this
    process's seed and Optuna 5's defaults for one objective, spelled out so that Optuna 4 runs
    the same sampler: multivariate TPE, and `constant_liar=True`, which penalises running
    trials so that parallel workers do not propose configurations next to them.
    `MaxTrialsCallback` stops the process once the study holds `evals` trials; a trial
    numbered `evals` or more, started in the race just before, stops the study and runs
    nothing, so exactly `evals` evaluations run.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.study import MaxTrialsCallback

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    recorder = Recorder(args.out, args.worker)
    study = optuna.create_study(
        study_name=args.study,
        storage=JournalStorage(JournalFileBackend(str(args.journal))),
        sampler=optuna.samplers.TPESampler(seed=args.seed, multivariate=True, constant_liar=True),
        direction="minimize",
        load_if_exists=True,  # the first of the N processes creates it
    )

    def objective(trial: optuna.Trial) -> float:
        if trial.number >= args.evals:
            trial.study.stop()
            raise optuna.TrialPruned()
        return recorder.run(args.target, trial.number, draw(space, optuna_choice(trial)))

    study.optimize(objective, callbacks=[MaxTrialsCallback(args.evals, states=None)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=["random", "optuna"])
    parser.add_argument("--target", type=Path, required=True, help="the target script")
    parser.add_argument("--pcs", type=Path, required=True, help="its PCS file")
    parser.add_argument("--evals", type=int, required=True, help="evaluations of all workers")
    parser.add_argument("--out", type=Path, required=True, help="folder of the evals files")
    parser.add_argument("--worker", type=int, required=True, help="this worker's index")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--journal", type=Path, help="optuna: the study's journal file")
    parser.add_argument("--study", default="peers", help="optuna: the study's name")
    args = parser.parse_args()
    space = read_space(args.pcs)
    (random_search if args.method == "random" else optuna_tpe)(args, space)


if __name__ == "__main__":
    main()
