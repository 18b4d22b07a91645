"""The one module that knows SMAC3: build the facade, ask for trials, tell run records.

The worker drives an `Optimizer` and never touches SMAC3 itself, so that a new facade or a
budget changes this module and nothing else. SMAC3 runs in pure ask/tell: `n_trials` is
never reached (the worker counts the run budget in the run-data directory), its output
folder is rebuilt at every start (the run records are the state, replayed through
`tell_record`), and every worker of a rungroup uses one intensifier seed (from the
launch's seed offset), so that the trials of all workers get the same (instance, seed) keys
and can be pooled.

Two rules keep SMAC3 sound whatever the script reports:

- **What SMAC3 is told is finite and ordered as the user's results.** A run is told as a
  SUCCESS with its cost when it measured something: a solved run (SAT; UNSAT too for a
  runtime objective, `records.solves`), and for a quality objective
  a timed-out or stopped run with the (partial) quality it reported, but no better than the
  worst finished cost of its budget told before it (`partial_quality = "capped"`, as Optuna
  ranks a pruned trial below every complete one; "reported" tells it as it is, as SMAC 2.10
  does), and a timed-out run that reported nothing with the failure quality:
  a configuration that does not finish is never the incumbent and must not draw
  proposals to it (benchmarks/partial_quality.py). Everything else is told as CRASHED with
  its cost (failure quality, PAR-k); no cost is told beyond that one's size (a diverged
  training's 1e308 is told as a failure's 1e9). No run is told as TIMEOUT: SMAC3's
  log-scaled encoder scales TIMEOUT costs by the successful runs and turns one below all of
  them into NaN. Costs are finite by construction (records.record_cost); NaN or inf never
  reach the model.
- **One Configuration object per configuration.** ConfigSpace hashes a configuration by the
  repr of its values, and SMAC3's proposals hold numpy scalars (`np.str_('gd')`) where a
  configuration rebuilt from a record holds Python ones (`'gd'`): equal, but different
  run-history keys. The optimiser keeps the first object it saw for each configuration and
  uses it for every later tell.

The fast components: SMAC3's config selector predicts its incumbent estimate one row at a
time, each through a joblib pool of all cores (seconds per retraining `ask()`, growing with
the history; benchmarks/ask_cost.py). `FastConfigSelector` predicts all rows in one call and
takes the first minimum, exactly what the stock version finds, and the random forest is
built with `n_jobs=1`, because N workers share the machine's cores, and with room for the
leaves its trees can have (`LeanForest`), not SMAC3's 2**20 at every fit. A replayed history
(a resume) costs O(n) rather than O(n²): the run history takes in each trial's cost for its
bounds (`IncrementalBoundsRunHistory`) and the intensifier looks rejected configurations up
by their values (`IndexedIntensifier`) and rejected ids up in a set (`_RejectedIdSet`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from smac import (
    AlgorithmConfigurationFacade,
    BlackBoxFacade,
    HyperparameterOptimizationFacade,
    MultiFidelityFacade,
    RandomFacade,
)
from smac import Scenario as SmacScenario
from smac.facade.abstract_facade import AbstractFacade
from smac.initial_design import AbstractInitialDesign, RandomInitialDesign, SobolInitialDesign
from smac.intensifier.abstract_intensifier import AbstractIntensifier
from smac.intensifier.hyperband import Hyperband
from smac.intensifier.intensifier import Intensifier
from smac.intensifier.successive_halving import SuccessiveHalving
from smac.main.config_selector import ConfigSelector
from smac.main.exceptions import ConfigurationSpaceExhaustedException
from smac.model.random_forest.random_forest import RandomForest
from smac.runhistory.dataclasses import InstanceSeedBudgetKey, TrialInfo, TrialKey, TrialValue
from smac.runhistory.encoder.log_scaled_encoder import RunHistoryLogScaledEncoder
from smac.runhistory.enumerations import StatusType
from smac.runhistory.runhistory import RunHistory
from smac.utils.configspace import convert_configurations_to_array

from smac_bridge.acquisition import make_acquisition_search, make_gaussian_process
from smac_bridge.layout import write_text_atomic
from smac_bridge.pcs import SearchSpace, plain_values
from smac_bridge.proposal import N_TRIALS, NothingToPropose, Proposal
from smac_bridge.records import RunRecord, config_key, finite_or, is_solved, same_config

FacadeKind = Literal["hpo", "ac", "blackbox", "random", "mf"]
FACADES: dict[str, type[AbstractFacade]] = {
    "hpo": HyperparameterOptimizationFacade,
    "ac": AlgorithmConfigurationFacade,
    "blackbox": BlackBoxFacade,
    "random": RandomFacade,
    "mf": MultiFidelityFacade,
}
CONFIGS_PER_PARAMETER = {"hpo": 10, "blackbox": 8, "mf": 10}
"""Initial design size per parameter, as SMAC3's facades choose it (capped at a quarter of
the budget)."""
UNLIMITED_DESIGN_BUDGET = 100
"""The run budget the initial design is sized for when the scenario limits no runs (a
wall-clock or epoch limit alone): SMAC3's default `n_trials`, so at most 25 design runs. Sized
for no limit at all, a 7-parameter space would run 70 random configurations before the model
proposed one."""
GP_MAX_PARAMETERS = 10
GP_MAX_BUDGET = 200
"""`smac-facade = auto` takes the Gaussian process up to these sizes (benchmarks/README.md)."""
INTENSIFIER_SEED = 0
"""Plus the launch's seed offset, shared by its workers: it fixes the trial seeds (module doc)."""
MAX_CONFIG_CALLS = 3
"""Runs of one configuration (seeds, instances) outside algorithm configuration, as SMAC3's
HPO facade; at least one per instance."""
RETRAIN_AFTER = 4
"""New configurations between model retrains: foreign runs reach the model soon."""
SMAC3_LOG_LEVEL = 40
"""SMAC3's own log: errors only (its information lines, N workers' of them, drown the
launch's; the scenario's `log-level` is one of the options smac-bridge ignores)."""
MAX_FORBIDDEN_IN_A_ROW = 50
"""Proposals rejected by advanced forbidden clauses in a row that mean nothing is left."""
_RowKey = tuple[int, str | None, int | None, float | None]
"""A trial in SMAC3's run history file: configuration id, instance, seed, budget."""


def choose_facade(
    wanted: str,
    space: SearchSpace,
    budget: int | None,
    run_obj: str,
    instances: bool,
    features: bool = False,
) -> FacadeKind:
    """The facade for `smac-facade = WANTED`. `auto`: algorithm configuration for a runtime
    objective over instances; else SMAC3's Gaussian process (BlackBox facade) for a small
    space without conditions and a budget it can afford, where it finds better
    configurations in fewer runs, unless instances have FEATURES, which it cannot use; else
    the random forest (HPO facade), which handles conditions, many parameters and long
    histories."""
    if wanted != "auto":
        return wanted  # type: ignore[return-value]
    if run_obj == "runtime" and instances:
        return "ac"
    small = len(space.space) <= GP_MAX_PARAMETERS and not space.space.conditions and not features
    affordable = budget is not None and budget <= GP_MAX_BUDGET
    return "blackbox" if small and affordable else "hpo"


@dataclass(frozen=True)
class Setting:
    """What the optimiser needs to know of a launch and of this worker."""

    space: SearchSpace
    seed: int
    name: str
    output_directory: Path
    deterministic: bool
    run_obj: str
    crash_cost: float
    instances: list[str] | None = None
    features: dict[str, list[float]] | None = None
    budget: int | None = None
    facade: str = "auto"
    parallel: int = 1
    worker_index: int = 0
    split_design: bool = False
    design_seed: int = 0
    """The launch's seed offset: it seeds the split initial design and the trial seeds."""
    with_default: bool = True
    initial_config: dict[str, Any] | None = None
    """The scenario's `initial-incumbent` configuration, run where the default would be."""
    min_budget: float | None = None
    max_budget: float | None = None
    eta: int = 3
    multi_fidelity: str = "hyperband"
    running_belief: str = "none"
    partial_quality: str = "capped"

    @property
    def kind(self) -> FacadeKind:
        """The facade this optimiser drives: SMAC3's multi-fidelity facade when trials have
        a budget, else choose_facade's."""
        if self.min_budget is not None:
            return "mf"
        return choose_facade(
            self.facade,
            self.space,
            self.budget,
            self.run_obj,
            bool(self.instances),
            bool(self.features),
        )


class FastConfigSelector(ConfigSelector):
    """ConfigSelector whose incumbent estimate is one vectorised prediction, and which can
    leave out the configurations an advanced forbidden clause rejects (`forbidden`)."""

    forbidden: Callable[[Configuration], bool] | None = None
    _has_data = False  # the model has data to learn from: the run history only grows
    _data_looked_at = -1  # the run history's finished trials when that was last looked at

    def _model_has_data(self) -> bool:
        """Whether the model has runs to learn from, looked at again only when a trial has
        finished since (collecting the data costs more the longer the history)."""
        assert self._runhistory is not None
        finished = self._runhistory.finished
        if not self._has_data and finished != self._data_looked_at:
            self._data_looked_at = finished
            self._has_data = bool(len(self._collect_data()[0]))
        return self._has_data

    def __iter__(self) -> Iterator[Configuration]:
        """SMAC3's proposals, less the forbidden ones, drawn again before an intensifier takes
        them: a successive-halving stage counts each configuration it takes as a member, so a
        forbidden one told as crashed took a place and the stage promoted its worst. After
        MAX_FORBIDDEN_IN_A_ROW in a row one goes through: `Optimizer.ask` tells it as crashed,
        so that the model learns of the region, and gives up on a space that keeps proposing
        them."""
        rejected = known = 0
        for config in super().__iter__():
            assert self._runhistory is not None  # set before the intensifier iterates
            if not self._model_has_data() and config in self._runhistory.get_configs():
                # while no run has finished, SMAC3 draws at random, configurations it has
                # too: in a space of a few, the intensifier took them again and again for ever
                # (`in` compares: a sample's np.str_ is no key of the history's own dict)
                known += 1
                if known >= self._max_new_config_tries:
                    raise ConfigurationSpaceExhaustedException()
                continue
            known = 0
            if self.forbidden is not None and self.forbidden(config):
                rejected += 1
                if rejected < MAX_FORBIDDEN_IN_A_ROW:
                    continue
            rejected = 0
            yield config

    def _get_x_best(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        if not self._predict_x_best or len(X) == 0:
            return super()._get_x_best(X)
        assert self._model is not None
        means, _ = self._model.predict_marginalized(X)
        best = int(np.argmin(means[:, 0]))  # the first minimum, as the stock stable sort
        return X[best], means[best][0]


def make_config_selector(
    scenario: SmacScenario, *, retrain_after: int, min_trials: int = 1
) -> ConfigSelector:
    """The facades' default selector settings (retries 16), with the fast incumbent estimate.
    With budgets, the model learns from the highest budget holding MIN_TRIALS results."""
    return FastConfigSelector(
        scenario, retrain_after=retrain_after, max_new_config_tries=16, min_trials=min_trials
    )


def budget_model_points(n_parameters: int) -> int:
    """Results a budget needs before the model learns from it rather than from a lower one.
    SMAC3's default (one) trains the model on the first full-budget result alone and drops
    every lower-budget result, so Hyperband's proposals after it are near random; BOHB asks
    for one more than the number of parameters."""
    return n_parameters + 1


class LeanForest(RandomForest):
    """SMAC3's random forest, fitted with room for the leaves it can have, and counting its
    fits. SMAC3 (2.4.1) builds its scikit-learn trees with room for 2**20 leaves, which
    scikit-learn allocates for every tree at every fit: 1.5 s to fit 10 trees on 16 points,
    most of a multi-fidelity worker's asking. A tree cannot have more leaves than it has
    training points, so that bound gives the same trees (the same nodes, grown in the same
    order) in 16 ms. The count of fits tells an acquisition search whether the model changed
    since it last searched it (acquisition.ContinuedSearch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fits = 0

    def _train(self, X: np.ndarray, Y: np.ndarray) -> LeanForest:
        self._rf_opts["max_leaf_nodes"] = max(2, len(X))
        super()._train(X, Y)
        self.fits += 1
        return self


def make_model(scenario: SmacScenario, kind: FacadeKind) -> LeanForest:
    """The random forest the facade of KIND would build, but single-threaded and lean."""
    if kind == "hpo":
        return LeanForest(
            configspace=scenario.configspace,
            log_y=True,
            n_trees=10,
            bootstrapping=True,
            ratio_features=1.0,
            min_samples_split=2,
            min_samples_leaf=1,
            max_depth=2**20,
            instance_features=scenario.instance_features,
            seed=scenario.seed,
            n_jobs=1,
        )
    return LeanForest(
        configspace=scenario.configspace,
        n_trees=10,
        ratio_features=5.0 / 6.0,
        min_samples_split=3,
        min_samples_leaf=3,
        max_depth=20,
        bootstrapping=True,
        log_y=False,
        instance_features=scenario.instance_features,
        pca_components=4,
        seed=scenario.seed,
        n_jobs=1,
    )


class _ConfigBook:
    """One Configuration object per configuration, found by its plain values."""

    def __init__(self, space: ConfigurationSpace) -> None:
        self._space = space
        self._by_key: dict[str, Configuration] = {}
        # the default's values, made once: ConfigSpace makes and checks it at every call
        self._default = dict(space.get_default_configuration())

    def remember(self, config: Configuration) -> dict[str, Any]:
        """Keep CONFIG as the object of its configuration; return its plain values."""
        values = plain_values(config)
        self._by_key.setdefault(config_key(values), config)
        return values

    def find(self, values: Mapping[str, Any]) -> Configuration:
        """The object of the configuration with VALUES (ValueError when it is not one of
        the space's configurations)."""
        key = config_key(dict(values))
        config = self._by_key.get(key)
        if config is None:
            try:
                config = smac3_configuration(self._space, values, self._default)
            except (KeyError, TypeError) as error:
                raise ValueError(str(error)) from error
            self._by_key[key] = config
        return config


def smac3_configuration(
    space: ConfigurationSpace,
    values: Mapping[str, Any],
    default_values: Mapping[str, Any] | None = None,
) -> Configuration:
    """The configuration of VALUES as SMAC3 holds it: equal configurations must hash alike in
    SMAC3's run history (ConfigSpace hashes their text), or they are two there, and a result
    of one takes the other's running trial off its list.

    SMAC3 makes its proposals from vectors (numpy strings and floats, not a record's Python
    ones), and its initial design holds the default made from its values. The values stay
    VALUES, what the script got: a value made from its vector again may differ in its last
    digits (1000 at the top of a log range comes back as 999.9999999999998), which made the
    default's record name a value never run, and SMAC3 run the default a second time. A
    record of such a value, made before, is the default too; a value that differs by more
    than such digits (a design row's 0.010000000005 beside a default of 0.01) is not.
    DEFAULT_VALUES: the default's values, where the caller keeps them (a replay asks once
    per record).
    """
    given = Configuration(space, values=dict(values))
    if default_values is None:
        default_values = dict(space.get_default_configuration())
    # the last digits a vector's round trip changes: a record made before values were kept
    if same_config(dict(given), dict(default_values), rel_tol=1e-14, abs_tol=0.0):
        return space.get_default_configuration()
    from_vector = Configuration(space, vector=given.get_array())
    if from_vector == given:
        return from_vector
    typed = {name: type(from_vector[name])(value) for name, value in given.items()}
    return Configuration(space, values=typed)


def invert_monotone(value: float, xs: np.ndarray, ys: np.ndarray) -> float:
    """The y of VALUE on the increasing curve through (XS, YS): linear between the points and
    beyond them along the end segments (a model may predict better than the best result)."""
    if len(xs) == 1:
        return float(ys[0])
    if xs[0] <= value <= xs[-1]:
        return float(np.interp(value, xs, ys))
    i = 0 if value < xs[0] else len(xs) - 2
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    return float(ys[i] + slope * (value - xs[i]))


class MarginedLogScaledEncoder(RunHistoryLogScaledEncoder):
    """SMAC3's log-scaled encoder (the forest's), whose margin below the lowest cost, 1e-10,
    is lost to rounding on costs of 1e7 or more (a model's size in bytes, a loss in raw
    units): runs tied at the lowest cost became log(0), -inf, and the forest's fit failed
    on it, killing the worker. The lowest cost is taken a few float steps lower here, so
    the margin grows with the costs' size; smaller costs are encoded as SMAC3 does."""

    def transform_response_values(self, values: np.ndarray) -> np.ndarray:
        lowest = self._min_y
        self._min_y = lowest - 8 * np.spacing(np.abs(lowest))
        try:
            return super().transform_response_values(values)
        finally:
            self._min_y = lowest


class IncrementalBoundsRunHistory(RunHistory):
    """SMAC3's run history whose objective bounds take in each added trial, where SMAC3
    rescans every trial at every add: O(n) per tell, half of a 2000-run replay
    (benchmarks/worker_startup.py). The same bounds: a replaced success, or a NaN cost,
    still rescans."""

    _change: tuple[TrialValue | None, TrialValue] | None = None

    def _add(self, k: TrialKey, v: TrialValue, status: StatusType) -> None:
        self._change = (self._data.get(k), v)
        try:
            super()._add(k, v, status)
        finally:
            self._change = None

    def save(self, filename: str | Path = "runhistory.json") -> None:
        """SMAC3's save, with its list of running trials made again from the trials it holds
        as running. Two equal configurations that hash apart (a record's Python values, a
        proposal's numpy ones) are two there, and a result told for one takes the other's
        running trial off the list, not off the count: SMAC3's save then failed its assert
        on the two, with its file already emptied, and the worker died of it."""
        self._running_trials = [
            TrialInfo(self._ids_config[k.config_id], k.instance, k.seed, k.budget)
            for k, v in self._data.items()
            if v.status == StatusType.RUNNING
        ]
        self._running = len(self._running_trials)
        super().save(filename)

    def _update_objective_bounds(self) -> None:
        change, bounds = self._change, self._objective_bounds
        if change is None or not bounds:
            return super()._update_objective_bounds()
        replaced, added = change
        if replaced is not None and replaced.status == StatusType.SUCCESS:
            return super()._update_objective_bounds()
        if added.status != StatusType.SUCCESS:
            return None
        costs = np.atleast_1d(np.array(added.cost, dtype=float))
        if len(costs) != len(bounds) or np.isnan(costs).any():
            return super()._update_objective_bounds()
        self._objective_bounds = [
            (min(low, cost), max(high, cost))
            for (low, high), cost in zip(bounds, costs, strict=True)
        ]
        return None


def values_key(config: Configuration) -> frozenset[tuple[str, Any]]:
    """What ConfigSpace compares when it compares two configurations of one space (their
    values, numpy scalars equal to their Python values), as a hashable key."""
    return frozenset(plain_values(config).items())


class _IndexedConfigs(list):
    """Configurations whose `in` looks their values up instead of comparing each member."""

    def __init__(self, members: list[tuple[frozenset[tuple[str, Any]], Configuration]]) -> None:
        super().__init__(config for _, config in members)
        self._keys = {key for key, _ in members}

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Configuration):
            return values_key(item) in self._keys
        return super().__contains__(item)


class _RejectedIdSet:
    """SMAC3's list of rejected configuration ids (`_rejected_config_ids`, kept in its order:
    SMAC3 saves it, and iterates it) with a set beside it for its own `in`. SMAC3 (2.4.1)
    asks `config_id not in self._rejected_config_ids` at each `update_incumbents`, once per
    tell and once per configuration again on its first ask after a replayed history: O(n) in
    a list that holds most of the history, so a replay cost O(n²) (15 of 40 s at 24,000
    runs, and 10 of the first ask's 20 s, on the 2-CPU machine). SMAC3 changes the list only
    through these two methods, or replaces it (`reset`, `load`): the set is made again then."""

    _rejected_index: tuple[list[int], set[int]] | None = None

    _rejected_config_ids: list[int]
    runhistory: RunHistory

    def _rejected_id_set(self) -> set[int]:
        ids = self._rejected_config_ids
        index = self._rejected_index
        if index is None or index[0] is not ids or len(index[1]) != len(ids):
            index = self._rejected_index = (ids, set(ids))
        return index[1]

    def _config_id(self, config: Configuration | int) -> int:
        return (
            self.runhistory.get_config_id(config) if isinstance(config, Configuration) else config
        )

    def _add_rejected_config(self, config: Configuration | int) -> None:
        config_id = self._config_id(config)
        rejected = self._rejected_id_set()
        if config_id not in rejected:
            self._rejected_config_ids.append(config_id)
            rejected.add(config_id)

    def _remove_rejected_config(self, config: Configuration | int) -> None:
        config_id = self._config_id(config)
        rejected = self._rejected_id_set()
        if config_id in rejected:
            self._rejected_config_ids.remove(config_id)
            rejected.discard(config_id)


class IndexedIntensifier(_RejectedIdSet, Intensifier):
    """SMAC3's intensifier with an index on its rejected configurations. On its first ask
    after a replayed history (a resume, a worker joining a launch) SMAC3 queues every
    configuration of the history and asks of each whether it is in the list of rejected
    ones, a `Configuration.__eq__` per member: O(n²), 30 s at 2000 runs
    (benchmarks/worker_startup.py). The index gives the same answers, hence the same
    proposals. Its rejected ids are a list and a set (`_RejectedIdSet`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._values_keys: dict[int, frozenset[tuple[str, Any]]] = {}
        self._indexed: tuple[tuple[int, ...], _IndexedConfigs] = ((), _IndexedConfigs([]))

    def get_rejected_configs(self) -> list[Configuration]:
        """SMAC3's list of rejected configurations, with the index (rebuilt when it changes)."""
        ids = tuple(self._rejected_config_ids)
        if ids != self._indexed[0]:
            configs, keys = self.runhistory._ids_config, self._values_keys
            for config_id in ids:
                if config_id not in keys:
                    keys[config_id] = values_key(configs[config_id])
            self._indexed = (ids, _IndexedConfigs([(keys[i], configs[i]) for i in ids]))
        return self._indexed[1]


class _ShortStages(_RejectedIdSet, SuccessiveHalving):
    """Successive halving that compares a stage holding fewer configurations than the next
    stage takes. SMAC3 (2.4.1) fills the first stage of an intensifier started on a run
    history (a worker joining or resuming a launch) in batches topped up by one new
    configuration only, and comparing such a stage raised ValueError in every later ask. A
    short stage promotes its share at the stage's own ratio (at least one configuration)."""

    def _get_best_configs(
        self,
        configs: list[Configuration],
        bracket: int,
        stage: int,
        from_keys: list[InstanceSeedBudgetKey],
    ) -> list[Configuration]:
        sizes = self._n_configs_in_stage[bracket]
        if stage + 1 >= len(sizes) or len(configs) >= sizes[stage + 1]:
            return super()._get_best_configs(configs, bracket, stage, from_keys)
        wanted = sizes[stage + 1]
        sizes[stage + 1] = max(1, round(len(configs) * wanted / sizes[stage]))
        try:
            return super()._get_best_configs(configs, bracket, stage, from_keys)
        finally:
            sizes[stage + 1] = wanted


class _ShortStagesHyperband(_ShortStages, Hyperband):
    """Hyperband whose brackets compare short stages as `_ShortStages` does."""


class Optimizer:
    """One worker's SMAC3 optimiser (see the module doc for what it tells and why)."""

    def __init__(self, setting: Setting) -> None:
        self.setting = setting
        self.space = setting.space.space
        self.forbidden_told = 0
        self._book = _ConfigBook(self.space)
        kind = setting.kind
        self.kind = kind
        scenario = SmacScenario(
            self.space,
            name=setting.name,
            output_directory=setting.output_directory,
            deterministic=setting.deterministic,
            crash_cost=setting.crash_cost,
            n_trials=N_TRIALS,
            instances=setting.instances,
            instance_features=setting.features,
            seed=setting.seed,
            min_budget=setting.min_budget,
            max_budget=setting.max_budget,
        )
        facade = FACADES[kind]
        gaussian = kind == "blackbox"
        encoder = facade.get_runhistory_encoder(scenario)
        if type(encoder) is RunHistoryLogScaledEncoder:
            encoder.__class__ = MarginedLogScaledEncoder
        self._facade = facade(
            scenario,
            None,
            runhistory_encoder=encoder,
            model=make_gaussian_process(scenario)
            if gaussian
            else make_model(scenario, "ac" if kind == "ac" else "hpo")
            if kind in ("hpo", "ac", "mf")
            else None,
            acquisition_maximizer=None
            if kind == "random"
            else make_acquisition_search(scenario, facade),
            initial_design=self._initial_design(scenario, facade),
            intensifier=self._intensifier(scenario),
            config_selector=make_config_selector(
                scenario,
                retrain_after=1 if kind == "blackbox" else RETRAIN_AFTER,
                min_trials=budget_model_points(len(self.space)) if kind == "mf" else 1,
            ),
            logging_level=SMAC3_LOG_LEVEL,
            overwrite=True,
        )
        # The facade builds its run history itself; it is still empty here.
        self._facade.runhistory.__class__ = IncrementalBoundsRunHistory
        if kind == "mf" and setting.space.expressions:  # elsewhere the model learns of them
            selector = self._facade.intensifier.config_selector
            assert isinstance(selector, FastConfigSelector)
            selector.forbidden = lambda config: setting.space.is_forbidden(
                setting.space.valid(config)
            )
        self._worst: dict[float | None, float] = {}  # the worst finished cost per budget
        self._believed: set[_RowKey] = set()  # running trials of others, told with a belief

    def _intensifier(self, scenario: SmacScenario) -> AbstractIntensifier:
        """SMAC3's intensifier with the seed every worker shares; successive halving or
        Hyperband over the budgets for multi-fidelity."""
        setting = self.setting
        if self.kind == "mf":
            halving = (
                _ShortStagesHyperband if setting.multi_fidelity == "hyperband" else _ShortStages
            )
            return halving(
                scenario,
                eta=setting.eta,
                incumbent_selection="highest_observed_budget",
                seed=INTENSIFIER_SEED + setting.design_seed,
            )
        # SMAC3's HPO cap of 3 runs would leave every instance after the third unused
        calls = 2000 if self.kind == "ac" else max(MAX_CONFIG_CALLS, len(setting.instances or ()))
        return IndexedIntensifier(
            scenario, max_config_calls=calls, seed=INTENSIFIER_SEED + setting.design_seed
        )

    def _initial_design(
        self, scenario: SmacScenario, facade: type[AbstractFacade]
    ) -> AbstractInitialDesign:
        """SMAC3's initial design of the facade. With `split_design` it is one design for the
        whole launch, of the size one optimiser with the whole budget would use, dealt out to
        the workers round robin, so N workers do not each spend runs on a design of their
        own. The default configuration goes where `with_default` says (the first worker), and
        runs first there."""
        setting, kind = self.setting, self.setting.kind
        index = setting.worker_index
        first = (
            smac3_configuration(self.space, setting.initial_config)
            if setting.initial_config is not None
            else self.space.get_default_configuration()
        )
        default = [first] if setting.with_default else []
        if kind not in CONFIGS_PER_PARAMETER:  # the default alone, for the first worker only
            return RandomInitialDesign(scenario, n_configs=0, additional_configs=default)
        per_parameter = CONFIGS_PER_PARAMETER[kind]
        budget = setting.budget or UNLIMITED_DESIGN_BUDGET
        if not setting.split_design:  # the facade's design, seeded by this worker's seed
            per_worker = int(0.25 * budget / max(setting.parallel, 1))
            n_configs = max(1, min(per_parameter * len(self.space), per_worker))
            own = facade.get_initial_design(scenario, n_configs=n_configs)  # type: ignore[call-arg]
            return facade.get_initial_design(  # type: ignore[call-arg]
                scenario, n_configs=0, additional_configs=default + own.select_configurations()
            )  # SMAC3 puts additional configurations last; SMAC 2.10 runs the default first
        total = max(1, min(per_parameter * len(self.space), int(0.25 * budget)))
        design = SobolInitialDesign(
            scenario, n_configs=total, max_ratio=1.0, seed=setting.design_seed
        ).select_configurations()
        share = design[index % setting.parallel :: setting.parallel]
        return facade.get_initial_design(  # type: ignore[call-arg]
            scenario, n_configs=0, additional_configs=default + share
        )

    @property
    def history_size(self) -> int:
        """Finished trials in SMAC3's run history (own, foreign and forbidden)."""
        return int(self._facade.runhistory.finished)

    def ask(self, keep_going: Callable[[], bool] = lambda: True) -> Proposal | None:
        """The next trial to run; None when KEEP_GOING turned false while asking.

        Proposals that an advanced forbidden clause rejects are told as crashed without
        running (ConfigSpace cannot hold those clauses). Raises NothingToPropose when SMAC3
        has nothing left, or the forbidden clauses reject proposal after proposal.
        """
        rejected = 0
        while keep_going():
            try:
                info = self._facade.ask()
            except (StopIteration, ConfigurationSpaceExhaustedException):
                self._ask_afresh()
                raise NothingToPropose("no configuration left to propose") from None
            values = self._book.remember(self.setting.space.valid(info.config))
            if not self.setting.space.is_forbidden(values):
                return Proposal(values, info.instance, int(info.seed or 0), info.budget, info)
            value = TrialValue(cost=self.setting.crash_cost, status=StatusType.CRASHED)
            self._facade.tell(info, value, save=False)
            self.forbidden_told += 1
            rejected += 1
            if rejected >= MAX_FORBIDDEN_IN_A_ROW:
                raise NothingToPropose(
                    f"the forbidden clauses rejected {rejected} proposals in a row: the space"
                    " they leave is (almost) empty"
                )
        return None

    def _ask_afresh(self) -> None:
        """SMAC3's proposals end with its generators: a later ask (once running trials have
        ended: another seed, instance or budget may be due) starts new ones, with the
        intensifier's state as it is."""
        intensifier = self._facade.intensifier
        intensifier.config_selector = intensifier.config_selector  # a new generator
        self._facade._optimizer._trial_generator = iter(intensifier)

    def proposal(
        self,
        values: Mapping[str, Any],
        instance: str | None,
        seed: int,
        budget: float | None = None,
    ) -> Proposal:
        """A trial chosen outside SMAC3 (a design row, another worker's run); ValueError for a
        configuration that is not the space's."""
        config = self._book.find(values)
        info = TrialInfo(config=config, instance=instance, seed=seed, budget=budget)
        return Proposal(plain_values(config), instance, seed, budget, info)

    def adopt(self, values: Mapping[str, Any]) -> Proposal:
        """The proposal of a trial of VALUES that the worker started before this optimiser
        existed (the default configuration, worker.py): on the intensifier's first
        (instance, seed) key, where SMAC3 runs every configuration first. The intensifier
        fills its instances and seeds from the run history first, as its iteration does."""
        intensifier = self._facade.intensifier
        intensifier.__post_init__()
        key = intensifier.get_instance_seed_keys_of_interest()[0]
        return self.proposal(values, key.instance, int(key.seed or 0))

    def tell(self, proposal: Proposal, record: RunRecord) -> None:
        """Tell the result of PROPOSAL (the record of its run, or of an identical one); SMAC3's
        own state is written by `save`."""
        info = proposal.info
        assert info is not None, "a trial started before the optimiser is adopted"
        self._facade.tell(info, self._value(record), save=False)
        self._believed.discard(self._row_key(info.config, info.instance, info.seed, info.budget))

    def save(self, final: bool = False) -> None:
        """Write SMAC3's own state (its run history, intensifier and counters) to its output
        folder, for SMAC3's own tools; the worker chooses when (a write per tell would cost
        each trial a dump of the whole history). The run history holds what ran: beliefs
        about other workers' running trials are left out, and when FINAL (the worker ends)
        so are this worker's asked trials, which will never run now."""
        self._facade.optimizer.save()
        if not self._believed and not final:
            return
        path = Path(self._facade.scenario.output_directory) / "runhistory.json"
        saved = json.loads(path.read_text(encoding="utf-8"))
        rows = [
            row
            for row in saved["data"]
            if (row["config_id"], row["instance"], row["seed"], row["budget"]) not in self._believed
            and not (final and row["status"] == StatusType.RUNNING)
        ]
        running = sum(row["status"] == StatusType.RUNNING for row in rows)
        saved["stats"] = {
            "submitted": len(rows),
            "finished": len(rows) - running,
            "running": running,
        }
        saved["data"] = rows  # every configuration stays: the intensifier's state names them
        write_text_atomic(path, json.dumps(saved, indent=2))

    def tell_record(self, record: RunRecord, instance: str | None) -> bool:
        """Tell a run this optimiser did not ask for (another worker's, or its own before a
        restart); False when its configuration is not one of this space's."""
        try:
            budget = record.get("budget")
            proposal = self.proposal(record["config"], instance, int(record["smac_seed"]), budget)
        except ValueError:
            return False
        self.tell(proposal, record)
        return True

    def tell_running(
        self,
        values: Mapping[str, Any],
        instance: str | None,
        seed: int,
        budget: float | None = None,
    ) -> bool:
        """Tell a trial another worker is running now as if it had ended with the believed
        cost (`_belief`), so that this worker's model steers its proposals away from it; its
        real result, told later with the same key, replaces the belief. False when there is
        nothing to believe yet, or the configuration is not the space's."""
        try:
            config = self._book.find(values)
        except ValueError:
            return False
        belief = self._belief(config)
        if belief is None:
            return False
        # Into the run history alone: SMAC3's tell would also show it to the intensifier,
        # which takes a belief below the incumbent's cost for a new incumbent and keeps it.
        self._facade.runhistory.add(
            config=config,
            cost=belief,
            status=StatusType.SUCCESS,
            instance=instance,
            seed=seed,
            budget=budget,
            force_update=True,
        )
        self._believed.add(self._row_key(config, instance, seed, budget))
        return True

    def _row_key(
        self, config: Configuration, instance: str | None, seed: int | None, budget: float | None
    ) -> _RowKey:
        """A trial's key as SMAC3's run history file writes it."""
        config_id = self._facade.runhistory.get_config_id(config)
        return (config_id, instance, seed, None if budget is None else float(budget))

    def _belief(self, config: Configuration) -> float | None:
        """The cost believed for a running trial of CONFIG; None for `none`. `worst`: the
        worst finished cost (the "constant liar"). `mean`: the model's own mean there (the
        "kriging believer"), which leaves the model's fit as it was and only shrinks its
        uncertainty at CONFIG; None until the model has been trained. The model predicts in
        its encoder's units (log-scaled for the forest), which are monotone in the cost, so the
        mean is mapped back by interpolating over the real results (not earlier beliefs) that
        the encoder, fitted at the model's last training, maps to a number: a newer result
        below that training's minimum has no log, and interpolating through it gave beliefs
        such as -1.7e9, on which the next training failed. A forest's mean averages its
        training values, so its belief stays within the results; a Gaussian process predicts
        in costs and may believe better than the best."""
        if self.setting.running_belief == "none":
            return None
        if self.setting.running_belief == "worst":
            return max(self._worst.values(), default=None)
        selector = self._facade._config_selector
        model, encoder = selector._model, selector._runhistory_encoder
        if model is None or encoder is None or selector._previous_entries <= 0:
            return None
        costs = np.unique(
            [
                float(value.cost)  # type: ignore[arg-type]
                for key, value in self._facade.runhistory.items()
                if value.status == StatusType.SUCCESS and not self._is_belief(key)
            ]
        )
        encoded = encoder.transform_response_values(costs.reshape(-1, 1))[:, 0]
        mapped = np.isfinite(encoded)
        if not mapped.any():
            return None
        mean, _ = model.predict_marginalized(convert_configurations_to_array([config]))
        belief = invert_monotone(float(mean[0, 0]), encoded[mapped], costs[mapped])
        if isinstance(model, RandomForest):
            belief = min(max(belief, float(costs[0])), float(costs[-1]))
        return belief if math.isfinite(belief) else None  # SMAC3 is told finite costs only

    def _is_belief(self, key: TrialKey) -> bool:
        """Whether the run-history row KEY is a running trial's belief, no result."""
        budget = None if key.budget is None else float(key.budget)
        return (key.config_id, key.instance, key.seed, budget) in self._believed

    def _value(self, record: RunRecord) -> TrialValue:
        status = record["status"]
        partial = status == "TIMEOUT" and self.setting.run_obj == "quality"
        bound = self.setting.crash_cost  # a diverged loss of 1e308 overflowed the model to NaN
        cost = min(max(finite_or(float(record["cost"]), bound), -bound), bound)
        budget = record.get("budget")
        if status == "SAT" and cost < self.setting.crash_cost:
            self._worst[budget] = max(self._worst.get(budget, cost), cost)
        if partial and self.setting.partial_quality == "capped" and budget in self._worst:
            # no better than a finished run of its budget, which successive halving ranks it
            # against; capped by another budget's, a stage of pruned runs all tied
            cost = max(cost, self._worst[budget])
        return TrialValue(
            cost=cost,
            time=finite_or(float(record["runtime"]), 0.0),
            status=StatusType.SUCCESS if is_solved(record) or partial else StatusType.CRASHED,
            starttime=float(record["started"]),
            endtime=float(record["ended"]),
            additional_info={"run_id": record["run_id"], "worker": record["worker"]},
        )
