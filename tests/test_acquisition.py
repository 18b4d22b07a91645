"""The Gaussian process's fast proposals (smac_bridge/acquisition.py) cost less, never worth less.

On generated spaces of every parameter kind a Gaussian process is fitted to random runs, and
the vectorised acquisition search must find acquisition values as high as SMAC3's own search
from the same random challengers, and only legal configurations that no forbidden clause
rejects; the lean fit must end exactly where SMAC3's fit ends.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from ConfigSpace import Configuration
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from smac import BlackBoxFacade
from smac import Scenario as SmacScenario
from smac.acquisition.function import EI
from smac.model.gaussian_process.gaussian_process import GaussianProcess
from smac.utils.configspace import convert_configurations_to_array

from smac_bridge.acquisition import (
    VectorAcquisitionSearch,
    make_acquisition_search,
    make_gaussian_process,
)
from smac_bridge.pcs import parse_pcs, plain_values

RUNS = 30


@st.composite
def pcs_texts(draw: st.DrawFn) -> str:
    """A PCS of reals, integers (linear and log), categoricals and ordinals, at times with a
    forbidden clause."""
    lines = []
    for i in range(draw(st.integers(1, 3))):
        log = draw(st.booleans())
        lines.append(f"r{i} [{'0.001' if log else '-5'}, 10] [1]{'l' if log else ''}")
    for i in range(draw(st.integers(0, 2))):
        log = draw(st.booleans())
        lines.append(f"i{i} [1, {draw(st.sampled_from([3, 50, 1000]))}] [2]i{'l' if log else ''}")
    categoricals = draw(st.integers(0, 2))
    for i in range(categoricals):
        lines.append(f"c{i} {{a, b, c}} [a]")
    if draw(st.booleans()):
        lines.append("o ordinal {low, mid, high} [mid]")
    if categoricals and draw(st.booleans()):
        lines.append("{c0=b}")
    return "\n".join(lines) + "\n"


def cost(values: dict[str, object]) -> float:
    """A smooth cost with an effect of every parameter (a category by its characters)."""
    total = 0.0
    for name, value in sorted(values.items()):
        number = sum(map(ord, value)) % 5 if isinstance(value, str) else float(value)  # type: ignore[arg-type]
        total += math.sin(math.log1p(abs(number)) * 3 + len(name)) + 0.01 * number
    return total


def fitted(pcs: str, folder: Path, seed: int) -> tuple[SmacScenario, EI, list]:
    """A scenario, EI on a lean Gaussian process fitted to RUNS random runs, and the runs."""
    space = parse_pcs(pcs).space
    scenario = SmacScenario(space, output_directory=folder, deterministic=True, seed=seed)
    space.seed(seed)
    configs = space.sample_configuration(RUNS)
    costs = np.array([[cost(plain_values(config))] for config in configs])
    model = make_gaussian_process(scenario)
    model.train(convert_configurations_to_array(configs), costs)
    acquisition = EI()
    acquisition.update(model=model, eta=float(costs.min()))
    return scenario, acquisition, configs


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # an example costs seconds: no shrinking
)
@given(pcs=pcs_texts(), seed=st.integers(0, 1000))
def test_the_vector_search_finds_what_smac3s_search_finds(
    tmp_path: Path, pcs: str, seed: int
) -> None:
    scenario, acquisition, previous = fitted(pcs, tmp_path, seed)
    searches = {
        "vector": make_acquisition_search(scenario),
        "smac3": BlackBoxFacade.get_acquisition_maximizer(scenario),
    }
    assert isinstance(searches["vector"], VectorAcquisitionSearch)
    best = {}
    for name, search in searches.items():
        search.acquisition_function = acquisition
        found = [
            (float(np.ravel(value)[0]), config)
            for value, config in search._maximize(previous, 1000)
        ]
        best[name] = found[0][0]
        for value, config in found:
            config.check_valid_configuration()  # legal and not forbidden
            assert math.isclose(value, float(acquisition([config])[0][0]), rel_tol=1e-6)
    assert best["vector"] >= best["smac3"] * 0.95, best


def test_the_lean_fit_ends_where_smac3s_fit_ends(tmp_path: Path) -> None:
    pcs = "x [-5, 10] [0]\ny [0.001, 15] [1]l\nc0 {a, b, c} [a]\n"
    scenario, acquisition, configs = fitted(pcs, tmp_path, seed=4)
    lean = acquisition.model
    stock = BlackBoxFacade.get_model(scenario)
    assert isinstance(stock, GaussianProcess) and type(lean) is not GaussianProcess
    rows = convert_configurations_to_array(configs)
    stock.train(rows, np.array([[cost(plain_values(c))] for c in configs]))
    np.testing.assert_allclose(lean._hypers, stock._hypers)
    probe = convert_configurations_to_array(scenario.configspace.sample_configuration(20))
    for covariance in ("diagonal", "std", None):  # the lean prediction is SMAC3's
        mine, theirs = lean.predict(probe, covariance), stock.predict(probe, covariance)
        np.testing.assert_allclose(mine[0], theirs[0])
        if covariance is None:
            assert mine[1] is None and theirs[1] is None
        else:
            np.testing.assert_allclose(mine[1], theirs[1])


def test_the_lean_fit_searches_less_and_fits_almost_as_well(tmp_path: Path) -> None:
    """Between searches the hyperparameters are a few runs old: the fit's log marginal
    likelihood stays within a tenth of SMAC3's, for a fraction of the likelihood evaluations."""
    space = parse_pcs("r0 [-5, 10] [1]\nr1 [-5, 10] [1]\ni0 [1, 50] [2]i\n").space
    space.seed(3)
    scenario = SmacScenario(space, output_directory=tmp_path, deterministic=True, seed=3)
    lean, stock = make_gaussian_process(scenario), BlackBoxFacade.get_model(scenario)
    configs = space.sample_configuration(40)
    rows = convert_configurations_to_array(configs)
    costs = np.array([[cost(plain_values(config))] for config in configs])
    for size in range(10, 41, 5):
        lean.train(rows[:size], costs[:size])
        stock.train(rows[:size], costs[:size])
        fits = lean._gp.log_marginal_likelihood_value_, stock._gp.log_marginal_likelihood_value_
        assert fits[0] >= fits[1] - 0.1 * abs(fits[1]), (size, fits)
    assert lean._n_ll_evals < stock._n_ll_evals / 2, (lean._n_ll_evals, stock._n_ll_evals)


def test_a_climber_at_the_bound_of_a_tiny_space_proposes(tmp_path: Path) -> None:
    """One real and a categorical of one value: all four steps from the upper bound clip back
    onto it in one round of sixteen, and such a round must not stop the search."""
    scenario, acquisition, _ = fitted("c0 {env} [env]\nx [0, 1] [1]\n", tmp_path, 1)
    search = VectorAcquisitionSearch(scenario)
    search.acquisition_function = acquisition
    for _ in range(30):  # a round without neighbours in (almost) every run of 30
        points, values = search._local_search.climb(np.array([[0.0, 1.0]]))
        assert points.shape == (1, 2) and np.isfinite(values).all()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pcs=pcs_texts(), seed=st.integers(0, 1000))
def test_random_challengers_are_legal_and_cover_every_value(
    tmp_path: Path, pcs: str, seed: int
) -> None:
    """The challengers drawn as rows are configurations ConfigSpace accepts, none forbidden,
    and every category and both ends of every range come up, as in ConfigSpace's draws."""
    space = parse_pcs(pcs).space
    scenario = SmacScenario(space, output_directory=tmp_path, deterministic=True, seed=seed)
    rows = VectorAcquisitionSearch(scenario)._vector_search.random_rows(600)
    assert rows.shape == (600, len(space))
    configs = [Configuration(space, vector=row) for row in rows]
    for config in configs:
        config.check_valid_configuration()
    for name, hp in space.items():
        seen = [config[name] for config in configs]
        if hasattr(hp, "choices") or hasattr(hp, "sequence"):
            values = set(getattr(hp, "choices", None) or hp.sequence)
            if name == "c0" and space.forbidden_clauses:
                values.discard("b")
            assert set(seen) == values, name
        else:
            span = hp.upper - hp.lower
            assert min(seen) < hp.lower + span / 2 < max(seen), name


def test_smac3s_local_search_log_line_leaves_no_numpy_warning_in_a_workers_log() -> None:
    """SMAC3's local search logs np.mean of its climbers' step times, an empty list when none
    moved; a worker (which imports this module) does not print numpy's warnings about it."""

    def mean_of_nothing(imports: str) -> subprocess.CompletedProcess[str]:
        code = f"import {imports}; numpy.mean([])"
        argv = [sys.executable, "-W", "error::RuntimeWarning", "-c", code]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    quiet = mean_of_nothing("smac_bridge.acquisition, numpy")
    assert quiet.returncode == 0, quiet.stderr
    loud = mean_of_nothing("numpy")  # without it the warning is an error here
    assert loud.returncode == 1 and "Mean of empty slice" in loud.stderr
