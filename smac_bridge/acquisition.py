"""Acquisition searches: the Gaussian process's at array speed, every facade's reproducible.

With the Gaussian process (SMAC3's BlackBox facade) every `ask()` refits the model and
maximises the acquisition function. At zero-cost trials that is a launch's whole pace: at 50
runs an ask took 2–3 s, about 70 % of it SMAC3's local search, which walks ConfigSpace
neighbourhoods one `Configuration` object at a time, and most of the rest the kernel fit,
where scikit-learn clones the kernel at each of some 200 likelihood evaluations
(benchmarks/README.md, facade_ask_cost.py).

- `VectorLocalSearch` climbs the acquisition function from start points as SMAC3's local
  search takes them (the configurations with the best predicted cost, and the best of the
  random challengers; SMAC3 also adds those with the best acquisition value), but in
  ConfigSpace's vector encoding: every neighbour of every climber is one
  row of one array, judged in one call of the acquisition function. A neighbour changes one
  parameter: a number moves by a Gaussian step in the unit interval (snapped to an integer's
  grid), an integer or ordinal to the next value, a categorical to each other value. A climber that
  finds no better neighbour halves its step and stops at a step too small to matter.
  Forbidden clauses are checked on the arrays. `VectorAcquisitionSearch` draws SMAC3's 1000
  random challengers as rows too (each parameter's own vector distribution, as ConfigSpace
  draws them), where building a `Configuration` for each had cost a tenth of every ask.
  Spaces with conditions or other parameter types keep SMAC3's search.
- `LeanGaussianProcess` is SMAC3's Gaussian process with the search for its kernel's
  hyperparameters (maximising the marginal likelihood by L-BFGS from the last optimum and,
  in SMAC3, from 10 more starting points drawn from the prior) done when it is worth it.
  SMAC3 searches at every ask, and in a launch of 4 workers that was 80 % of each ask's CPU
  time: 0.3–0.9 s per search at 40–90 runs. Here the hyperparameters are searched when the
  data grew by a fifth since the last search, starting from its optimum, and from the prior's
  starting points too at the first search and whenever the data doubled; in between the
  process is refitted to the new data at the current hyperparameters (SMAC3's own path for
  that, a Cholesky factorisation). Hyperparameters move slowly as data accumulate, so the
  last optimum is where a new search would end. Each likelihood is evaluated on the fitted
  kernel in place of a clone (the same values, at a third of the cost), and predictions
  skip scikit-learn's input checks (the same values, at half the cost).
- `OrderedLocalSearch` is SMAC3's local search with its start points in a fixed order, for
  the facades that keep SMAC3's search: the same seed and history propose the same
  configurations in every process (`docs/launch.md`).
- `ContinuedSearch` is SMAC3's random-then-local search for those facades, searched once per
  fit of the model: configurations asked with nothing learnt in between (a new Hyperband
  bracket's first stage) come from one search.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
from ConfigSpace import (
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from scipy.linalg import solve_triangular
from sklearn.gaussian_process import GaussianProcessRegressor
from smac import BlackBoxFacade
from smac import Scenario as SmacScenario
from smac.acquisition.maximizer import LocalAndSortedRandomSearch, LocalSearch
from smac.acquisition.maximizer.abstract_acquisition_maximizer import (
    AbstractAcquisitionMaximizer,
)
from smac.constants import VERY_SMALL_NUMBER
from smac.facade.abstract_facade import AbstractFacade
from smac.model.gaussian_process.gaussian_process import GaussianProcess
from smac.random_design.abstract_random_design import AbstractRandomDesign
from smac.utils.configspace import convert_configurations_to_array

NUMBERS = (UniformFloatHyperparameter, UniformIntegerHyperparameter)
SUPPORTED = (*NUMBERS, CategoricalHyperparameter, OrdinalHyperparameter, Constant)
SEARCH_GROWTH = 1.2
"""Search the kernel's hyperparameters again once the data grew by this factor."""
GAIN = 1e-4
"""A move must raise the acquisition value by this fraction, or the climber's step halves."""
ORIGIN = "Acquisition Function Maximizer: Local Search"
DRAWS = 20
"""How many times random rows are drawn again to replace forbidden ones."""

# SMAC3's local search logs the mean duration of its climbers' steps, np.mean of an empty list
# when none moved, and numpy's two warnings about it landed in every worker's log.
warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning, "numpy")
warnings.filterwarnings(
    "ignore", "invalid value encountered in scalar divide", RuntimeWarning, "numpy"
)


def supports(space: ConfigurationSpace) -> bool:
    """Whether VectorLocalSearch can search SPACE: no conditions, known parameter types."""
    return not space.conditions and all(isinstance(hp, SUPPORTED) for hp in space.values())


class VectorLocalSearch(AbstractAcquisitionMaximizer):
    """Hill climbing on the acquisition function, all climbers in one array (module doc)."""

    def __init__(
        self,
        configspace: ConfigurationSpace,
        seed: int = 0,
        *,
        steps_per_number: int = 4,
        step_init: float = 0.1,
        step_min: float = 1e-3,
        max_rounds: int = 100,
    ) -> None:
        super().__init__(configspace, challengers=0, seed=seed)
        self._parameters = list(configspace.values())
        self._number_columns = [
            column for column, hp in enumerate(self._parameters) if isinstance(hp, NUMBERS)
        ]
        self._steps_per_number = steps_per_number
        self._step_init = step_init
        self._step_min = step_min
        self._max_rounds = max_rounds

    def _maximize(
        self,
        previous_configs: list[Configuration],
        n_points: int,
        additional_start_points: list[tuple[float, Configuration]] | None = None,
    ) -> list[tuple[float, Configuration]]:
        extra = [config for _, config in additional_start_points or []]
        rows = convert_configurations_to_array(extra) if extra else self._empty()
        return self.search(previous_configs, n_points, rows)

    def search(
        self, previous: list[Configuration], n_points: int, extra: np.ndarray
    ) -> list[tuple[float, Configuration]]:
        """Climb from the N_POINTS previous configurations the model predicts best and from
        the EXTRA rows; the end points, best first, as configurations."""
        vectors, values = self.climb(self._start_points(previous, n_points, extra))
        order = np.argsort(-values, kind="stable")
        return [
            (
                float(values[i]),
                Configuration(self._configspace, vector=vectors[i], origin=ORIGIN),
            )
            for i in order
        ]

    def _start_points(
        self, previous: list[Configuration], n_points: int, extra: np.ndarray
    ) -> np.ndarray:
        """The N_POINTS previous configurations the model predicts best (random ones when
        there are fewer), and the EXTRA rows, each once."""
        rows = convert_configurations_to_array(previous) if previous else self._empty()
        model = self._acquisition_function.model if self._acquisition_function else None
        if len(rows) > n_points and model is not None:
            means = model.predict_marginalized(rows)[0][:, 0]
            rows = rows[np.argsort(means, kind="stable")[:n_points]]
        missing = n_points - len(rows)
        if missing > 0:
            rows = np.vstack([rows, self.random_rows(missing)])
        return np.unique(np.vstack([rows, extra]), axis=0)

    def random_rows(self, n: int) -> np.ndarray:
        """N uniformly drawn legal configurations as rows, drawn as ConfigSpace draws them
        (each parameter's own vector distribution, forbidden rows drawn again, DRAWS times
        at most: fewer when nearly every configuration is forbidden), without building a
        `Configuration` for each."""
        rows = self._empty()
        for _ in range(DRAWS):
            if len(rows) >= n:
                break
            columns = [hp.sample_vector(n, seed=self._rng) for hp in self._parameters]
            drawn = np.column_stack(columns)
            rows = np.vstack([rows, drawn[~self.forbidden(drawn)]])
        return rows[:n]

    def forbidden(self, rows: np.ndarray) -> np.ndarray:
        """Which ROWS a forbidden clause of the space rejects."""
        rejected = np.zeros(len(rows), dtype=bool)
        for clause in self._configspace.forbidden_clauses:
            rejected |= clause.is_forbidden_vector_array(rows.T)
        return rejected

    def _empty(self) -> np.ndarray:
        return np.empty((0, len(self._parameters)))

    def acquisition(self, rows: np.ndarray) -> np.ndarray:
        """The acquisition value of each row; forbidden or undefined rows get the lowest."""
        assert self._acquisition_function is not None
        values = np.asarray(self._acquisition_function._compute(rows), dtype=float)[:, 0]
        lowest = -np.finfo(float).max
        values[~np.isfinite(values)] = lowest
        values[self.forbidden(rows)] = lowest
        return values

    def climb(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Climb from each row of STARTS until its step is below the minimum; the end
        points and their acquisition values."""
        points = starts.copy()
        values = self.acquisition(points)
        steps = np.full(len(points), self._step_init)
        has_numbers = bool(self._number_columns)
        active = np.ones(len(points), dtype=bool)
        for _ in range(self._max_rounds):
            climbers = np.flatnonzero(active)
            if len(climbers) == 0:
                break
            neighbours, owner = self._neighbours(points[climbers], steps[climbers])
            best = np.full(len(climbers), -np.inf)
            best_row = np.zeros(len(climbers), dtype=int)
            if len(neighbours):  # none when every step clipped back onto a bound
                scores = self.acquisition(neighbours)
                order = np.lexsort((-scores, owner))  # per climber, its best neighbour first
                firsts = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
                best[owner[firsts]] = scores[firsts]
                best_row[owner[firsts]] = firsts
            improved = best > values[climbers] + GAIN * np.abs(values[climbers])
            moved = climbers[improved]
            points[moved] = neighbours[best_row[improved]]
            values[moved] = best[improved]
            stuck = climbers[~improved]
            steps[stuck] /= 2
            active[stuck] = has_numbers & (steps[stuck] >= self._step_min)
        return points, values

    def _neighbours(self, points: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every one-parameter neighbour of each point, and the index of its point."""
        blocks: list[np.ndarray] = [self._empty()]
        owners: list[np.ndarray] = [np.empty(0, dtype=int)]
        index = np.arange(len(points))
        numbers = self._number_columns
        if numbers:  # STEPS_PER_NUMBER Gaussian steps along each numeric column at once
            base = points[:, numbers].T
            noise = self._rng.normal(size=(self._steps_per_number, *base.shape))
            moved = np.clip(base + noise * steps, 0.0, 1.0)
            for position, column in enumerate(numbers):
                hp = self._parameters[column]
                if isinstance(hp, UniformIntegerHyperparameter):  # onto the integers' grid
                    moved[:, position] = hp.to_vector(hp.to_value(moved[:, position]))
            block = np.broadcast_to(points, (*moved.shape, points.shape[1])).copy()
            for position, column in enumerate(numbers):
                block[:, position, :, column] = moved[:, position]
            changed = (moved != base).ravel()
            blocks.append(block.reshape(-1, points.shape[1])[changed])
            owners.append(np.tile(index, moved.shape[0] * moved.shape[1])[changed])
        for column, hp in enumerate(self._parameters):
            for value in self._choices(hp, points[:, column]):
                block = points.copy()
                block[:, column] = value
                changed = value != points[:, column]
                blocks.append(block[changed])
                owners.append(index[changed])
        return np.vstack(blocks), np.concatenate(owners)

    @staticmethod
    def _choices(hp: Any, column: np.ndarray) -> list[np.ndarray]:
        """The new values of a column that has next values, one array per move: the next
        integers (which small Gaussian steps may never reach), ordinal values, categories."""
        if isinstance(hp, UniformIntegerHyperparameter):
            values = hp.to_value(column)
            return [hp.to_vector(np.clip(values + delta, hp.lower, hp.upper)) for delta in (-1, 1)]
        if isinstance(hp, OrdinalHyperparameter):
            top = len(hp.sequence) - 1
            return [np.clip(column - 1, 0, top), np.clip(column + 1, 0, top)]
        if isinstance(hp, CategoricalHyperparameter):
            return [np.full_like(column, k) for k in range(len(hp.choices))]
        return []


class VectorAcquisitionSearch(LocalAndSortedRandomSearch):
    """SMAC3's random-then-local acquisition search in arrays: the random challengers are
    drawn and judged as rows, the best of them join the local search's start points (as in
    SMAC3, only the local search's end points are proposed), and only those end points
    become `Configuration` objects."""

    def __init__(self, scenario: SmacScenario) -> None:
        super().__init__(
            configspace=scenario.configspace,
            challengers=1000,  # BlackBoxFacade's own settings
            local_search_iterations=10,
            seed=scenario.seed,
        )
        self._vector_search = VectorLocalSearch(scenario.configspace, seed=scenario.seed)
        self._local_search = self._vector_search  # type: ignore[assignment]

    def _maximize(
        self, previous_configs: list[Configuration], n_points: int
    ) -> list[tuple[float, Configuration]]:
        search = self._vector_search
        challengers = search.random_rows(n_points)
        values = search.acquisition(challengers)
        best = challengers[np.argsort(-values, kind="stable")[: self._local_search_iterations]]
        return search.search(previous_configs, self._local_search_iterations, best)


class _InPlaceLikelihood(GaussianProcessRegressor):
    """scikit-learn's regressor whose likelihood sets theta on its fitted kernel, uncloned."""

    def log_marginal_likelihood(
        self, theta: Any = None, eval_gradient: bool = False, clone_kernel: bool = False
    ) -> Any:
        return super().log_marginal_likelihood(theta, eval_gradient, clone_kernel=False)


class LeanGaussianProcess(GaussianProcess):
    """SMAC3's Gaussian process whose kernel hyperparameters are searched less often (module
    doc): when the data grew by SEARCH_GROWTH since the last search, from its optimum; with
    SMAC3's restarts from the prior at the first search and once the data doubled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._full_restarts = self._n_restarts
        self._searched_at = 0
        self._restarted_at = 0

    def _train(self, X: np.ndarray, y: np.ndarray, optimize_hyperparameters: bool = True) -> Any:
        rows = len(X)
        search = optimize_hyperparameters and (
            not self._searched_at or rows >= self._searched_at * SEARCH_GROWTH
        )
        restart = search and (not self._restarted_at or rows >= self._restarted_at * 2)
        self._n_restarts = self._full_restarts if restart else 0
        if search:
            self._searched_at = rows
        if restart:
            self._restarted_at = rows
        return super()._train(X, y, optimize_hyperparameters=search)

    def _get_gaussian_process(self) -> GaussianProcessRegressor:
        return _InPlaceLikelihood(**super()._get_gaussian_process().get_params(deep=False))

    def _predict(
        self, X: np.ndarray, covariance_type: str | None = "diagonal"
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The posterior mean and variance (or standard deviation) at X, computed from the
        fitted factorisation directly: scikit-learn's `predict` checks its input first, and
        with thousands of predictions per ask in the acquisition search those checks were
        half the cost of predicting. A full covariance goes through SMAC3."""
        if covariance_type == "full" or not self._is_trained:
            return super()._predict(X, covariance_type)
        fit = self._gp
        rows = self._impute_inactive(X)
        cross = fit.kernel_(rows, fit.X_train_)
        mean = cross @ fit.alpha_
        if covariance_type is None:
            if self._normalize_y:
                mean = cast(np.ndarray, self._untransform_y(mean))
            return mean, None
        whitened = solve_triangular(fit.L_, cross.T, lower=True, check_finite=False)
        var = fit.kernel_.diag(rows) - np.einsum("ij,ij->j", whitened, whitened)
        var = np.clip(var, VERY_SMALL_NUMBER, np.inf)
        if self._normalize_y:
            mean, var = self._untransform_y(mean, var)
        return mean, np.sqrt(var) if covariance_type == "std" else var


def make_gaussian_process(scenario: SmacScenario) -> LeanGaussianProcess:
    """The Gaussian process BlackBoxFacade builds, with the lean fit."""
    return LeanGaussianProcess(
        configspace=scenario.configspace,
        kernel=BlackBoxFacade.get_kernel(scenario=scenario),
        normalize_y=True,
        seed=scenario.seed,
    )


class OrderedLocalSearch(LocalSearch):
    """SMAC3's local search with its start points in a fixed order. SMAC3 (2.4.1) drops
    duplicate start points through a set, whose order follows the process's string-hash
    seed, and the climbers then draw from one random stream in that order: the same seed and
    history proposed different configurations in every process."""

    def _get_initial_points(
        self,
        previous_configs: list[Configuration],
        n_points: int,
        additional_start_points: list[tuple[float, Configuration]] | None,
    ) -> list[Configuration]:
        points = super()._get_initial_points(previous_configs, n_points, additional_start_points)
        return sorted(points, key=lambda config: tuple(np.nan_to_num(config.get_array(), nan=-1)))


class ContinuedSearch(LocalAndSortedRandomSearch):
    """SMAC3's random-then-local acquisition search, not run again for a model that was not
    refitted since the last search. SMAC3's config selector searches again after every few
    configurations it hands out, even when no result arrived in between: a new bracket of
    successive halving takes 4 to 27 configurations in one ask, and each search of that ask
    ranked the same model's acquisition values again (a worker's trials stood still for up to
    5 s at each new bracket). The last search's challengers are handed out further instead.
    A model that does not count its fits, as optimizer.LeanForest does, is searched every
    time."""

    def __init__(self, configspace: ConfigurationSpace, challengers: int, seed: int) -> None:
        super().__init__(configspace, challengers=challengers, seed=seed)
        self._local_search = OrderedLocalSearch(configspace, seed=seed)
        self._searched: tuple[object, int] | None = None  # (model, its fits) at the last search
        self._left: Iterator[Configuration] | None = None  # that search's challengers

    def maximize(
        self,
        previous_configs: list[Configuration],
        n_points: int | None = None,
        random_design: AbstractRandomDesign | None = None,
    ) -> Iterator[Configuration]:
        model = self._acquisition_function.model if self._acquisition_function else None
        fits = getattr(model, "fits", None)
        fit = None if fits is None else (model, fits)
        if fit is None or self._left is None or self._searched != fit:
            self._left = super().maximize(previous_configs, n_points, random_design)
            self._searched = fit
        return self._left


def make_acquisition_search(
    scenario: SmacScenario, facade: type[AbstractFacade] = BlackBoxFacade
) -> LocalAndSortedRandomSearch:
    """For the Gaussian process (FACADE BlackBoxFacade), the vectorised search where the space
    allows it; else FACADE's own search as a ContinuedSearch, its start points in order."""
    if facade is BlackBoxFacade and supports(scenario.configspace):
        return VectorAcquisitionSearch(scenario)
    stock = facade.get_acquisition_maximizer(scenario)
    return ContinuedSearch(scenario.configspace, stock._challengers, scenario.seed)
