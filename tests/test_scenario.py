"""Scenario files: Java SMAC 2.10 syntax, all aliases, typed values, file:line errors, write."""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smac_bridge.errors import InputError
from smac_bridge.scenario import (
    KEYS,
    OPTIONS,
    Scenario,
    ScenarioWarning,
    budget_left_for_a_trial,
    budget_units,
    passed_budget,
    read_scenario,
    scenario_text,
    stage_budgets,
)
from smac_bridge.scenario import _smac_210_only as smac_210_only

BOOLEAN = "expected true or false (or 1/0, yes/no, on/off)"
REQUIRED = "algo = python train.py\nrun_obj = quality\nparamfile = space.pcs\n"

# The aliases Java SMAC 2.10 reads (SMAC2 names without dashes and SMAC3 file keys),
# written out here so that a key missing from the module's table fails a test.
SPEC_ALIASES = {
    "algo": "algo-exec algoExec algo ta",
    "execdir": "algo-exec-dir exec-dir execDir execdir",
    "deterministic": "algo-deterministic deterministic",
    "run_obj": "run-obj run-objective runObj run_obj",
    "overall_obj": "intra-obj intra-instance-obj overall-obj intraInstanceObj overallObj"
    " overall_obj intra_instance_obj",
    "cutoff_time": "algo-cutoff-time target-run-cputime-limit target_run_cputime_limit cutoff-time"
    " cutoffTime cutoff_time cutoff",
    "cutoff_length": "algo-cutoff-length cutoffLength cutoff_length",
    "tuner_timeout": "cputime-limit cputime_limit tunertime-limit tuner-timeout tunerTimeout"
    " tuner_timeout",
    "wallclock_limit": "wallclock-limit wallclock_limit runtime-limit runtimeLimit wallClockLimit",
    "runcount_limit": "runcount-limit runcount_limit totalNumRunsLimit numRunsLimit"
    " numberOfRunsLimit ta_run_limit",
    "paramfile": "pcs-file param-file paramFile paramfile param_file pcs_fn",
    "instance_file": "instances instance-file instance-dir instanceFile instance_file"
    " instance_seed_file i train_inst_fn",
    "test_instance_file": "test-instances test-instance-file test-instance-dir testInstanceFile"
    " test_instance_file test_instance_seed_file test_inst_fn",
    "feature_file": "feature-file instanceFeatureFile feature_file feature_fn",
    "use_instances": "use-instances",
    "broken_script_runs": "broken-script-runs",
    "smac_facade": "smac-facade",
    "split_initial_design": "split-initial-design",
    "running_belief": "running-belief constant-liar",
    "partial_quality": "partial-quality",
    "budget_flag": "budget-flag",
    "min_budget": "min-budget",
    "max_budget": "max-budget",
    "eta": "eta",
    "multi_fidelity": "multi-fidelity",
    "budget_limit": "budget-limit",
    "pruning": "pruning",
    "pruning_warmup": "pruning-warmup",
    "outdir": "output-dir outputDirectory outdir output_dir",
    "rungroup": "rungroup rungroup-name runGroupName",
    "seed": "num-run numrun numRun seed",
    "seed_offset": "seed-offset seedOffset",
    "check_sat_consistency": "check-sat-consistency checkSATConsistency",
    "check_sat_consistency_exception": "check-sat-consistency-exception"
    " checkSATConsistencyException",
    "verify_sat": "verify-sat verify-SAT verifySAT",
    "abort_on_first_run_crash": "abort-on-first-run-crash abortOnFirstRunCrash"
    " abort_on_first_run_crash",
    "abort_on_crash": "abort-on-crash abortOnCrash",
    "retry_crashed_count": "retry-crashed-count retryCrashedRunCount retryTargetAlgorithmRunCount",
    "transform_crashed_quality": "transform-crashed-quality",
    "transform_crashed_quality_value": "transform-crashed-quality-value",
    "kill_run_exceeding_captime": "kill-run-exceeding-captime",
    "kill_run_exceeding_captime_factor": "kill-run-exceeding-captime-factor",
    "shared_model_mode": "shared-model-mode share-model-mode shared-run-data share-run-data"
    " shared_model",
    "shared_model_mode_frequency": "shared-model-mode-frequency share-model-mode-frequency"
    " shared-run-data-frequency share-run-data-frequency",
    "initial_incumbent": "initial-incumbent initialIncumbent initial_incumbent",
    "memory_limit": "memory_limit memory-limit",
    "iteration_limit": "iteration-limit numIterations numberOfIterations",
    "initial_incumbent_runs": "initial-incumbent-runs initialIncumbentRuns defaultConfigRuns",
    "initial_challenger_runs": "initial-challenger-runs initialN initialChallenge minR",
    "max_incumbent_runs": "max-incumbent-runs maxIncumbentRuns maxRunsForIncumbent maxR",
    "intensification_percentage": "intensification-percentage intensificationPercentage"
    " frac_rawruntime intensification_percentage",
    "num_challengers": "num-challengers numChallengers numberOfChallengers intens_min_chall",
    "always_run_initial_config": "always-run-initial-config alwaysRunInitialConfiguration"
    " always_race_default",
    "adaptive_capping": "adaptive-capping ac adaptiveCapping",
    "validation": "validation doValidation",
    "inter_obj": "inter-obj inter-instance-obj interInstanceObj inter_instance_obj",
    "instance_suffix": "instance-suffix instance-regex",
    "deterministic_instance_ordering": "deterministic-instance-ordering"
    " deterministicInstanceOrdering",
    "exec_mode": "exec-mode execution-mode executionMode",
    "init_mode": "init-mode initialization-mode initMode initializationMode",
    "num_ei_random": "num-ei-random numEIRandomConfigs numberOfRandomConfigsInEI"
    " numRandomConfigsInEI numberOfEIRandomConfigs",
    "num_ls_random": "num-ls-random num-local-search-random",
    "acq_func": "acq-func acquisition-function ei-func expected-improvement-function"
    " expectedImprovementFunction",
    "initial_challengers": "initial-challengers initialChallengers",
    "num_validation_runs": "num-validation-runs numValidationRuns numberOfValidationRuns",
    "validate_only_last_incumbent": "validate-only-last-incumbent validateOnlyLastIncumbent",
    "validate_all": "validate-all validateAll",
    "restore_state_from": "restore-state-from restoreStateFrom",
    "restore_iteration": "restore-iteration restoreStateIteration restoreIteration",
    "state_serializer": "state-serializer stateSerializer",
    "state_deserializer": "state-deserializer stateDeserializer",
    "clean_old_state_on_success": "clean-old-state-on-success cleanOldStateOnSuccess",
    "save_context": "save-context saveContext saveContextWithState",
    "cli_log_all_calls": "cli-log-all-calls cli-log-all-call-strings-and-results log-all-calls"
    " log-all-call-strings-and-results",
    "cli_cores": "cli-cores",
    # options SMAC 2.10 reads that smac-bridge ignores, a sample of each kind
    "rf_num_trees": "rf-num-trees num-trees numTrees nTrees numberOfTrees",
    "log_level": "log-level logLevel",
    "tae": "tae targetAlgorithmEvaluator",
    "cores": "cores numConcurrentAlgoExecs maxConcurrentAlgoExecs numberOfConcurrentAlgoExecs",
    "check_instances_exist": "check-instances-exist checkInstanceFilesExist",
    "test_instance_suffix": "test-instance-suffix test-instance-regex",
    "pre_scenario_command": "pre-scenario-command preScenarioCommand pre_cmd",
    "option_file": "option-file optionFile",
}

# A valid text and its typed value for every option (the test below checks all are covered).
SAMPLES: dict[str, tuple[str, object]] = {
    "algo": ("python w.py --lr=0.1", "python w.py --lr=0.1"),
    "execdir": ("work", "<cwd>/work"),
    "deterministic": ("0", False),
    "run_obj": ("RUNTIME", "runtime"),
    "overall_obj": ("PAR10", "MEAN10"),
    "cutoff_time": ("5", 5.0),
    "cutoff_length": ("max", None),
    "tuner_timeout": ("100.5d", 100.5),  # as Java's Double.parseDouble reads it
    "wallclock_limit": ("3600", 3600.0),
    "runcount_limit": ("60", 60),
    "paramfile": ("space.pcs", "<dir>/space.pcs"),
    "instance_file": ("instances.txt", "<dir>/instances.txt"),
    "test_instance_file": ("instances.txt", "<dir>/instances.txt"),
    "feature_file": ("features.csv", "<dir>/features.csv"),
    "outdir": ("out", "<cwd>/out"),
    "rungroup": ("group-%SCENARIO_NAME", "group-tune"),
    "seed_offset": ("3", 3),
    "check_sat_consistency": ("FALSE", False),
    "abort_on_first_run_crash": ("false", False),
    "shared_model_mode": ("True", True),
    "shared_model_mode_frequency": ("300", 300.0),
    "initial_incumbent": ("random", "RANDOM"),
    "memory_limit": ("2048", 2048.0),
    "use_instances": ("false", False),
    "broken_script_runs": ("0", 0),
    "smac_facade": ("BlackBox", "blackbox"),
    "split_initial_design": ("false", False),
    "running_belief": ("true", "worst"),  # constant-liar's boolean spelling
    "partial_quality": ("Reported", "reported"),
    "budget_flag": ("--epochs", "epochs"),
    "min_budget": ("1", 1.0),
    "max_budget": ("27", 27.0),
    "eta": ("3", 3),
    "multi_fidelity": ("Successive-Halving", "successive-halving"),
    "budget_limit": ("300", 300.0),
    "pruning": ("ASHA", "asha"),
    "pruning_warmup": ("2", 2),
    "experiment_dir": (".", "<cwd>"),
    "seed": ("7", 7),
    "inter_obj": ("mean", "MEAN"),
    "iteration_limit": ("10", 10),
    "check_sat_consistency_exception": ("false", False),
    "verify_sat": ("true", True),
    "abort_on_crash": ("true", True),
    "retry_crashed_count": ("2", 2),
    "transform_crashed_quality": ("false", False),
    "transform_crashed_quality_value": ("1e9", 1e9),
    "cost_for_crash": ("1000", 1000.0),
    "kill_run_exceeding_captime": ("false", False),
    "kill_run_exceeding_captime_factor": ("10", 10.0),
    "shared_model_mode_tae": ("false", False),
    "shared_model_mode_write_data": ("true", True),
    "shared_model_mode_default_handling": ("skip_first_two", "SKIP_FIRST_TWO"),
    "shared_model_mode_asymetric": ("false", False),
    "input_psmac_dirs": ("runs/*", "runs/*"),
    "instance_suffix": ("cnf", "cnf"),
    "skip_features": ("true", True),
    "use_cpu_time_in_tunertime": ("false", False),
    "initial_incumbent_runs": ("1", 1),
    "initial_challenger_runs": ("2", 2),
    "max_incumbent_runs": ("2000", 2000),
    "intensification_percentage": ("0.5", 0.5),
    "num_challengers": ("10", 10),
    "always_run_initial_config": ("false", False),
    "adaptive_capping": ("true", True),
    "ac_mult_slack": ("1.3", 1.3),
    "ac_add_slack": ("1", 1.0),
    "deterministic_instance_ordering": ("true", True),
    "exec_mode": ("roar", "ROAR"),
    "init_mode": ("CLASSIC", "CLASSIC"),
    "num_ei_random": ("10000", 10000),
    "num_ls_random": ("0", 0),
    "acq_func": ("ei", "EI"),
    "initial_challengers": ("-x 1", "-x 1"),
    "mode": ("SMAC4AC", "SMAC4AC"),
    "rand_prob": ("0.5", 0.5),
    "acq_opt_challengers": ("5000", 5000),
    "validation": ("false", False),
    "num_validation_runs": ("1", 1),
    "validate_only_last_incumbent": ("true", True),
    "validate_all": ("false", False),
    "validation_cores": ("1", 1),
    "validation_seed": ("0", 0),
    "restore_scenario": ("state", "state"),
    "restore_state_from": ("state", "state"),
    "restore_iteration": ("AUTO", "AUTO"),
    "restore_state": ("run_1", "run_1"),
    "warmstart_from": ("state", "state"),
    "warmstart_iteration": ("4", "4"),
    "state_serializer": ("legacy", "LEGACY"),
    "state_deserializer": ("null", "NULL"),
    "clean_old_state_on_success": ("true", True),
    "save_context": ("true", True),
    "save_runs_every_iteration": ("false", False),
    "quick_saves": ("true", True),
    "intermediary_saves": ("true", True),
    "cli_cores": ("4", 4),
    "cli_log_all_calls": ("true", True),
    "cli_call_params_with_quotes": ("false", False),
    "cli_listen_for_updates": ("true", True),
    "cli_kill_by_environment_cmd": ("kill-by-env.sh", "kill-by-env.sh"),
    "cli_pg_nice_kill_cmd": ("kill -s TERM -- -%pid", "kill -s TERM -- -%pid"),
    "cli_pg_force_kill_cmd": ("kill -s KILL -- -%pid", "kill -s KILL -- -%pid"),
    "cli_proc_nice_kill_cmd": ("kill -s TERM %pid", "kill -s TERM %pid"),
    "cli_proc_force_kill_cmd": ("kill -s KILL %pid", "kill -s KILL %pid"),
    "filter_zero_cutoff_runs": ("false", False),
    "multi_objectives": ("cost", "cost"),
    "save_instantly": ("True", True),
    "par_factor": ("10.0", 10.0),
    "limit_resources": ("False", False),
    "use_ta_time": ("False", False),
    "hydra_iterations": ("3", 3),
    "transform_y": ("logs", "LOGS"),
    "rf_do_bootstrapping": ("True", True),
    "rf_min_samples_split": ("3", 3),
    "rf_min_samples_leaf": ("3", 3),
    "rf_max_depth": ("20", 20),
    "sls_n_steps_plateau_walk": ("10", 10),
    "sls_max_steps": ("50", 50),
}
KIND_SAMPLES = {"boolean": ("yes", True), "integer": ("3", 3), "number": ("2.5", 2.5)}
SMAC_210_ONLY_KINDS = {name: kind for name, (kind, _) in smac_210_only().items()}
for name, kind in SMAC_210_ONLY_KINDS.items():  # the options SMAC 2.10 reads, smac-bridge not
    if kind.startswith("choice:"):
        first = kind.removeprefix("choice:").split("|")[0]
        SAMPLES[name] = (first.lower(), first)
    elif kind != "options":  # another file of options: refused
        SAMPLES[name] = KIND_SAMPLES.get(kind, ("a b", "a b"))
OPTION_FILES = {name for name, kind in SMAC_210_ONLY_KINDS.items() if kind == "options"}


@pytest.fixture
def exp(tmp_path: Path) -> Path:
    """An experiment folder with a PCS, an instance file and a feature file; cwd is elsewhere."""
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "space.pcs").write_text("x [0, 1] [0.5]\n")
    (folder / "instances.txt").write_text("a\nb\n")
    (folder / "features.csv").write_text("instance,f1\na,1\nb,2\n")
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "work").mkdir()
    return folder


def scenario_file(folder: Path, text: str, name: str = "tune.txt") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def read(path: Path, overrides: dict[str, str] | None = None) -> Scenario:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        return read_scenario(path, overrides, cwd=path.parent.parent / "cwd")


def refusal(path: Path) -> str:
    """The InputError reading the scenario PATH gives, as the CLI prints it."""
    with pytest.raises(InputError) as caught:
        read(path)
    return str(caught.value)


def value_of(scenario: Scenario, name: str) -> object:
    if name in scenario.options:
        return scenario.options[name]
    return getattr(scenario, name)


def expected_value(text: object, exp: Path) -> object:
    if isinstance(text, str) and text.startswith("<dir>"):
        return exp / text.removeprefix("<dir>/")
    if isinstance(text, str) and text.startswith("<cwd>"):
        return Path(str(exp.parent / "cwd") + text.removeprefix("<cwd>"))
    return text


def test_samples_cover_every_option() -> None:
    assert set(SAMPLES) == set(OPTIONS) - OPTION_FILES


@pytest.mark.parametrize("key", sorted(k for k, name in KEYS.items() if name in OPTION_FILES))
def test_a_key_naming_another_file_of_options_is_refused(exp: Path, key: str) -> None:
    """SMAC 2.10 reads the options of that file too; ignoring it would tune another scenario."""
    path = scenario_file(exp, f"{REQUIRED}{key} = more.txt\n")
    assert refusal(path) == (
        f"{path}:4: {key}: expected its options in this file: smac-bridge reads no other file"
        " of options, got 'more.txt'"
    )


def test_smac_210s_other_options_load_with_one_warning_that_names_them(exp: Path) -> None:
    """A classic scenario with `rf-num-trees` or `log-level` stopped with "unknown key"."""
    lines = "rf-num-trees = 10\nlog-level = DEBUG\ntae = CLI\ncores = 2\n"
    with pytest.warns(ScenarioWarning) as caught:
        read_scenario(scenario_file(exp, REQUIRED + lines), cwd=exp)
    said = [str(w.message) for w in caught]
    assert len(said) == 1, said
    assert said[0].endswith(
        "smac-bridge ignores these SMAC options: rf-num-trees (line 4), log-level (line 5),"
        " cores (line 7)"
    )  # `tae = CLI` is what smac-bridge does


@pytest.mark.parametrize("key", ["seed", "numRun", "num-run"])
def test_a_seed_in_the_file_is_ignored_with_what_sets_the_workers_seeds(
    exp: Path, key: str
) -> None:
    """A Java SMAC user's `seed = 5` seeds nothing here; the warning says what does."""
    path = scenario_file(exp, f"{REQUIRED}{key} = 5\n")
    with pytest.warns(ScenarioWarning) as caught:
        read_scenario(path, cwd=exp)
    assert [str(w.message) for w in caught] == [
        f"{path}: smac-bridge ignores these SMAC options: {key} (line 4); the workers' seeds"
        " are seed-offset + 1 .. seed-offset + N (`--seed-offset K`)"
    ]


def test_no_key_names_two_options() -> None:
    seen: dict[str, str] = {}
    for option in OPTIONS.values():
        for key in {option.name, *option.aliases}:
            assert seen.setdefault(key, option.name) == option.name, key


@pytest.mark.parametrize(
    ("canonical", "alias"),
    [
        (canonical, alias)
        for canonical, aliases in SPEC_ALIASES.items()
        for alias in aliases.split()
    ],
)
def test_every_alias_of_the_spec_names_its_option(canonical: str, alias: str) -> None:
    assert KEYS[alias] == canonical


@pytest.mark.parametrize(
    ("alias", "canonical"), sorted((k, n) for k, n in KEYS.items() if n not in OPTION_FILES)
)
def test_every_key_sets_its_typed_value(exp: Path, alias: str, canonical: str) -> None:
    text, typed = SAMPLES[canonical]
    base = "".join(line + "\n" for line in REQUIRED.splitlines() if not line.startswith(canonical))
    companions = "\nmin-budget = 1\nmax-budget = 9" if canonical == "budget_flag" else ""
    scenario = read(scenario_file(exp, f"{base}{alias} = {text}{companions}\n"))
    assert value_of(scenario, canonical) == expected_value(typed, exp)
    assert scenario.source_lines[canonical] == len(base.splitlines()) + 1


@pytest.mark.parametrize(
    "line",
    [
        "algo = python a.py",
        "algo=python a.py",
        "algo: python a.py",
        "algo:python a.py",
        "algo python a.py",
        "algo\tpython a.py",
        "   algo   =   python a.py   ",
        "algo : python a.py",
    ],
)
def test_separators(exp: Path, line: str) -> None:
    path = scenario_file(exp, f"{line}\nrun_obj = quality\nparamfile = space.pcs\n")
    assert read(path).algo == "python a.py"


def test_later_separators_stay_in_the_value(exp: Path) -> None:
    text = REQUIRED.replace("python train.py", "python w.py --x=1 --url=a:b --y = 2")
    assert read(scenario_file(exp, text)).algo == "python w.py --x=1 --url=a:b --y = 2"


def test_whole_line_comments_and_blank_lines(exp: Path) -> None:
    # a form feed or a Unicode line separator in a comment does not end the line
    comments = "# a comment\n! another\x0c page\n   # indented\u2028 too\n\n"
    text = f"{comments}{REQUIRED}\n#cutoff_time = 5\n"
    scenario = read(scenario_file(exp, text))
    assert scenario.cutoff_time is None
    assert scenario.source_lines["algo"] == 5


def test_inline_comment_is_stripped_with_a_warning(exp: Path) -> None:
    path = scenario_file(exp, REQUIRED + "cutoff_time = 5 # seconds\nrungroup = a#b\n")
    with pytest.warns(ScenarioWarning, match=r"tune\.txt:4: '# seconds' read as a comment"):
        scenario = read_scenario(path, cwd=exp)
    assert scenario.cutoff_time == 5.0
    assert scenario.rungroup == "a#b"


def test_a_blank_and_hash_within_quotes_is_no_comment(exp: Path) -> None:
    """`--cmd "python t.py --tag #1"` lost its end to the inline comment rule, and the algo
    an unbalanced quote; Java SMAC runs it."""
    algo = "smac-bridge wrap --cmd \"python t.py --tag #1 --name 'a #b'\""
    text = REQUIRED.replace("algo = ", "# ") + f"algo = {algo}  # the wrapper\n"
    with pytest.warns(ScenarioWarning, match=r"'# the wrapper' read as a comment"):
        scenario = read_scenario(scenario_file(exp, text), cwd=exp)
    assert scenario.algo == algo
    # an apostrophe opens no quote: the comment after it is still one
    text = REQUIRED + "rungroup = bob's-runs  # where it goes\n"
    with pytest.warns(ScenarioWarning, match=r"'# where it goes' read as a comment"):
        assert read_scenario(scenario_file(exp, text), cwd=exp).rungroup == "bob's-runs"


def test_repeated_key_last_wins_with_a_warning(exp: Path) -> None:
    path = scenario_file(exp, REQUIRED + "cutoff_time = 5\ncutoffTime = 7\n")
    with pytest.warns(ScenarioWarning, match=r"tune\.txt:5: 'cutoffTime' sets cutoff_time again"):
        scenario = read_scenario(path, cwd=exp)
    assert scenario.cutoff_time == 7.0
    assert scenario.source_lines["cutoff_time"] == 5


def test_overrides_win_over_the_file(exp: Path) -> None:
    path = scenario_file(exp, REQUIRED + "cutoff_time = 5\nwallclock-limit = 10\n")
    overrides = {"--cutoffTime": "9", "wallclock_limit": "20", "-p": "space.pcs", "seed": "3"}
    scenario = read(path, overrides)
    assert (scenario.cutoff_time, scenario.wallclock_limit) == (9.0, 20.0)
    assert scenario.options["seed"] == 3
    assert "cutoff_time" not in scenario.source_lines  # the value no longer comes from the file


def test_override_may_supply_a_required_key(exp: Path) -> None:
    path = scenario_file(exp, "algo = a\nparamfile = space.pcs\n")
    assert read(path, {"run-obj": "runtime"}).overall_obj == "MEAN10"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"--cutoff_tme": "5"},
            "unknown scenario option '--cutoff_tme' (did you mean 'cutoff_time'?)",
        ),
        ({"--cutoff-time": "soon"}, "option '--cutoff-time': expected a number > 0, got 'soon'"),
    ],
)
def test_override_errors(exp: Path, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        read(scenario_file(exp, REQUIRED), overrides)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("cutof_time = 5", "unknown key 'cutof_time' (did you mean 'cutoff_time'?)"),
        ("RUN_OBJ = quality", "unknown key 'RUN_OBJ' (did you mean 'run_obj'?)"),
        ("frobnicate = 1", "unknown key 'frobnicate'"),
        ("= 5", "expected 'key = value', got '= 5'"),
        ("cutoff_time = 5 s", "cutoff_time: expected a number > 0, got '5 s'"),
        ("cutoff_time = 0", "cutoff_time: expected a number > 0, got '0'"),
        ("cutoffTime = -1", "cutoffTime: expected a number > 0, got '-1'"),
        ("cutoff_time = inf", "cutoff_time: expected a number > 0, got 'inf'"),
        ("cutoff_time =", "cutoff_time: expected a number > 0, got ''"),
        ("tunerTimeout = -1", "tunerTimeout: expected a number >= 0, got '-1'"),
        ("min-budget = 1e400", "min-budget: expected a finite number > 0, got '1e400'"),
        ("runcount_limit = 2.5", "runcount_limit: expected an integer > 0, got '2.5'"),
        ("runcount_limit = 60d", "runcount_limit: expected an integer > 0, got '60d'"),
        ("cutoff_time = 5dd", "cutoff_time: expected a number > 0, got '5dd'"),
        ("runcount_limit = 0", "runcount_limit: expected an integer > 0, got '0'"),
        ("deterministic = maybe", f"deterministic: {BOOLEAN}, got 'maybe'"),
        ("shared-model-mode = 2", f"shared-model-mode: {BOOLEAN}, got '2'"),
        ("use-instances", f"use-instances: {BOOLEAN}, got ''"),
        ("run_obj = speed", "run_obj: expected quality or runtime, got 'speed'"),
        (
            "overall_obj = PAR0",
            "overall_obj: expected MEAN, MEAN<k> or PAR<k> (k >= 1), got 'PAR0'",
        ),
        (
            "overall_obj = median",
            "overall_obj: expected MEAN, MEAN<k> or PAR<k> (k >= 1), got 'median'",
        ),
        ("rungroup = a/b", "rungroup: expected a folder name (no '/'), got 'a/b'"),
        (
            "rungroup = run-%DATE",
            "rungroup: expected a folder name: of SMAC 2.10's substitutions only %SCENARIO_NAME"
            " is replaced (not %DATE, %DATETIME, option names or environment variables), got"
            " 'run-%DATE'",
        ),
        (
            "acq-func = UCB",
            "acq-func: expected one of EXPONENTIAL, SIMPLE, LCB, EI, LCBEIRR, got 'UCB'",
        ),
        ("algo =", "algo: expected a non-empty value, got ''"),
        ("instance_file = nope.txt", "instance_file: file 'nope.txt' not found (looked in"),
        ("feature_file = /no/such/file.csv", "feature_file: file '/no/such/file.csv' not found"),
        ("pcs-file = SINGLETON", "pcs-file: 'SINGLETON' (a SMAC 2.10 special value) is not"),
        ("execdir = missing", "execdir: directory 'missing' not found, got"),
        ("execdir = /etc/passwd", "execdir: directory '/etc/passwd' is a file, not a directory"),
    ],
)
def test_errors_name_file_and_line(exp: Path, line: str, message: str) -> None:
    path = scenario_file(exp, f"# header\n{REQUIRED}{line}\n")
    with pytest.raises(InputError) as caught:
        read(path)
    assert (caught.value.path, caught.value.line) == (str(path), 5)
    assert str(caught.value).startswith(f"{path}:5: {message.removesuffix(', got')}")


@pytest.mark.parametrize("high", ["9", "3"])
def test_a_max_budget_not_above_min_budget_is_named_on_its_line(exp: Path, high: str) -> None:
    """It was blamed on the budget-flag line, without the values."""
    path = scenario_file(
        exp, f"{REQUIRED}budget-flag = epochs\nmin-budget = 9\nmax-budget = {high}\n"
    )
    with pytest.raises(InputError) as caught:
        read(path)
    assert (
        str(caught.value)
        == f"{path}:6: max-budget: expected more than min-budget (9), got '{high}'"
    )


def test_a_pcs_file_given_as_the_scenario_is_named_so(exp: Path) -> None:
    """`launch pcs/quickstart.pcs` said "quickstart.pcs:2: unknown key 'x'"."""
    path = exp / "space.pcs"
    assert refusal(path) == (
        f"{path}: expected a scenario file (key = value lines), got a PCS file: give the"
        " scenario that names it as its paramfile"
    )


def test_a_missing_file_names_each_folder_looked_in_once(exp: Path) -> None:
    """Run from the scenario's own folder, the cwd and that folder are one place."""
    path = scenario_file(exp, "algo = a\nrun_obj = quality\nparamfile = nope.pcs\n")
    with pytest.raises(InputError) as caught:
        read_scenario(path, cwd=exp)
    assert f"file 'nope.pcs' not found (looked in {exp}; run smac-bridge from" in (
        caught.value.message
    )


def test_an_outdir_inside_a_file_is_refused_by_line(exp: Path) -> None:
    """check said OK, and the launch ended in "File exists", without the scenario's line."""
    (exp.parent / "cwd" / "results").write_text("")  # outdir is relative to the cwd
    for outdir in ("results", "results/sub"):
        path = scenario_file(exp, f"{REQUIRED}outdir = {outdir}\n")
        with pytest.raises(InputError) as caught:
            read(path)
        assert caught.value.line == 4, caught.value
        file = exp.parent / "cwd" / "results"
        said = f"outdir: expected a directory (made when missing); {file} is a file"
        assert said in str(caught.value)
    (exp.parent / "cwd" / "gone").symlink_to(exp.parent / "nowhere")  # passed, then failed
    with pytest.raises(InputError, match="gone is a link to nothing"):
        read(scenario_file(exp, f"{REQUIRED}outdir = gone\n"))


def test_paramfile_that_is_a_directory(exp: Path) -> None:
    (exp / "pcsdir").mkdir()
    path = scenario_file(exp, "algo = a\nrun_obj = quality\nparamfile = pcsdir\n")
    with pytest.raises(InputError, match=r"tune\.txt:3: paramfile: 'pcsdir' is a directory"):
        read(path)


def test_a_scenario_that_is_a_fifo_is_refused_not_waited_for(exp: Path) -> None:
    """`launch some.fifo` hung in its first read, waiting for a writer; `<(sed ... s.txt)`
    was read once, and the workers found no such file."""
    os.mkfifo(exp / "tune.fifo")
    with pytest.raises(InputError, match="the scenario is not a regular file"):
        read(exp / "tune.fifo")


def test_an_instance_file_that_is_a_fifo_is_no_file_not_a_missing_one(exp: Path) -> None:
    os.mkfifo(exp / "instances.fifo")
    path = scenario_file(exp, f"{REQUIRED}instance_file = instances.fifo\n")
    with pytest.raises(InputError, match="'instances.fifo' is not a regular file"):
        read(path)


@pytest.mark.parametrize("missing", ["algo", "run_obj", "paramfile"])
def test_missing_required_key(exp: Path, missing: str) -> None:
    text = "".join(line + "\n" for line in REQUIRED.splitlines() if not line.startswith(missing))
    path = scenario_file(exp, text)
    with pytest.raises(InputError, match=f"missing required key '{missing}'") as caught:
        read(path)
    assert (caught.value.path, caught.value.line) == (str(path), None)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="scenario file not found"):
        read_scenario(tmp_path / "none.txt")


def test_files_are_found_in_cwd_first_then_next_to_the_scenario(exp: Path) -> None:
    cwd = exp.parent / "cwd"
    (cwd / "space.pcs").write_text("y [0, 1] [0.5]\n")
    path = scenario_file(exp, REQUIRED + "instance_file = instances.txt\n")
    scenario = read(path)
    assert scenario.paramfile == cwd / "space.pcs"
    assert scenario.instance_file == exp / "instances.txt"


def test_experiment_dir_replaces_cwd_in_the_file_lookup(exp: Path) -> None:
    other = exp.parent / "other"
    other.mkdir()
    (other / "space.pcs").write_text("z [0, 1] [0.5]\n")
    scenario = read(scenario_file(exp, REQUIRED + "experiment-dir = ../other\n"))
    assert scenario.paramfile == other / "space.pcs"


def test_an_experiment_dir_under_home_is_found(exp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`~` worked in execdir, outdir and paramfile, but not in experiment-dir: the files were
    looked for in `<cwd>/~/proj`."""
    home = exp.parent / "home"
    (home / "proj").mkdir(parents=True)
    (home / "proj" / "space.pcs").write_text("z [0, 1] [0.5]\n")
    monkeypatch.setenv("HOME", str(home))
    scenario = read(scenario_file(exp, REQUIRED + "experiment-dir = ~/proj\n"))
    assert scenario.paramfile == home / "proj" / "space.pcs"


def test_absolute_paths_and_relative_scenario_path(
    exp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = REQUIRED.replace("space.pcs", str(exp / "space.pcs"))
    scenario_file(exp, text)
    monkeypatch.chdir(exp.parent)
    scenario = read_scenario(Path("exp/tune.txt"))
    assert scenario.paramfile == exp / "space.pcs"
    assert scenario.path == exp / "tune.txt"
    assert scenario.execdir == exp.parent
    assert scenario.outdir == exp.parent / "smac-bridge-output"


def test_execdir_and_outdir_are_relative_to_cwd(exp: Path) -> None:
    (exp / "work").mkdir()  # next to the scenario, but not what SMAC 2.10 uses
    scenario = read(scenario_file(exp, REQUIRED + "execdir = work\noutdir = results\n"))
    assert scenario.execdir == exp.parent / "cwd" / "work"
    assert scenario.outdir == exp.parent / "cwd" / "results"


def test_defaults(exp: Path) -> None:
    scenario = read(scenario_file(exp, REQUIRED))
    cwd = exp.parent / "cwd"
    assert scenario.execdir == cwd
    assert scenario.outdir == cwd / "smac-bridge-output"
    assert scenario.rungroup == "tune"
    assert scenario.deterministic is True
    assert (scenario.overall_obj, scenario.par_factor) == ("MEAN", 1)
    assert scenario.cutoff_time is None and scenario.runcount_limit is None
    assert scenario.seed_offset == 0
    assert scenario.check_sat_consistency and scenario.abort_on_first_run_crash
    assert scenario.shared_model_mode is True  # what `launch --parallel N` is for
    assert scenario.shared_model_mode_frequency == 1.0
    assert scenario.initial_incumbent == "DEFAULT"
    assert scenario.use_instances is True
    assert scenario.instance_file is None and scenario.memory_limit is None
    assert scenario.options == {}


def test_scenario_txt_takes_its_folders_name(exp: Path) -> None:
    path = scenario_file(exp, REQUIRED + "rungroup = %SCENARIO_NAME-r1\n", name="scenario.txt")
    assert read(path).rungroup == "exp-r1"
    assert read(scenario_file(exp, REQUIRED, name="scenario.txt")).rungroup == "exp"


@pytest.mark.parametrize(
    ("run_obj", "overall_obj", "expected"),
    [
        ("runtime", None, ("runtime", "MEAN10", 10)),
        ("RUNTIME", "par1000", ("runtime", "MEAN1000", 1000)),
        ("runtime", "MEAN", ("runtime", "MEAN", 1)),
        ("runtime", "PAR", ("runtime", "MEAN", 1)),
        ("runtime", "mean3", ("runtime", "MEAN3", 3)),
        ("qual", None, ("quality", "MEAN", 1)),
        ("SOLQUAL", "mean", ("quality", "MEAN", 1)),
        ("Quality", None, ("quality", "MEAN", 1)),
    ],
)
def test_objectives(
    exp: Path, run_obj: str, overall_obj: str | None, expected: tuple[str, str, int]
) -> None:
    text = REQUIRED.replace("quality", run_obj)
    if overall_obj:
        text += f"overall_obj = {overall_obj}\n"
    scenario = read(scenario_file(exp, text))
    assert (scenario.run_obj, scenario.overall_obj, scenario.par_factor) == expected


def test_quality_with_a_par_objective_warns(exp: Path) -> None:
    path = scenario_file(exp, REQUIRED + "overall_obj = PAR10\n")
    with pytest.warns(ScenarioWarning, match="SMAC 2.10 advises MEAN"):
        read_scenario(path, cwd=exp)


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("0", False), ("TRUE", True), ("False", False)]
)
def test_deterministic_accepts_digits(exp: Path, text: str, value: bool) -> None:
    assert read(scenario_file(exp, REQUIRED + f"deterministic = {text}\n")).deterministic is value


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("0", False), ("yes", True), ("Off", False), ("t", True), ("N", False)],
)
def test_booleans_take_the_words_of_smac3_strtobool(exp: Path, text: str, value: bool) -> None:
    scenario = read(scenario_file(exp, REQUIRED + f"shared_model = {text}\n"))
    assert scenario.shared_model_mode is value


def test_smac3_limits_as_floats(exp: Path) -> None:
    scenario = read(scenario_file(exp, REQUIRED + "ta_run_limit = 60.0\ncutoff = 2.5\n"))
    assert (scenario.runcount_limit, scenario.cutoff_time) == (60, 2.5)


def test_a_classic_smac2_file_loads_and_ignored_options_are_named(exp: Path) -> None:
    text = (
        'algo = python -u wrapper.py --mode "a b"\n'
        "execdir = .\n"
        "deterministic = 1\n"
        "run_obj = runtime\n"
        "overall_obj = mean10\n"
        "cutoff_time = 5\n"
        "cutoff_length = max\n"
        "tunerTimeout = 3600\n"
        "pcs-file = space.pcs\n"
        "instance_file = instances.txt\n"
        "test_instance_file = instances.txt\n"
        "feature_file = features.csv\n"
        "numberOfRunsLimit = 100\n"
        "use-instances = true\n"
        "validation = true\n"
        "retry-crashed-count = 2\n"
        "kill-run-exceeding-captime-factor = 10\n"
        "shared-model-mode = true\n"
        "shared-model-mode-frequency = 300\n"
        "cli-pg-nice-kill-cmd = kill -TERM -%pid\n"
    )
    path = scenario_file(exp, text)
    with pytest.warns(ScenarioWarning) as caught:
        scenario = read_scenario(path, cwd=exp)
    assert [str(w.message) for w in caught] == [
        f"{path}: smac-bridge ignores these SMAC options: validation (line 15),"
        " retry-crashed-count (line 16), kill-run-exceeding-captime-factor (line 17),"
        " cli-pg-nice-kill-cmd (line 20)"
    ]
    assert scenario.options == {
        "cutoff_length": None,  # max: what every run gets, no warning
        "validation": True,
        "retry_crashed_count": 2,
        "kill_run_exceeding_captime_factor": 10.0,
        "cli_pg_nice_kill_cmd": "kill -TERM -%pid",
    }
    # `validation = false` asks for what smac-bridge does: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = read_scenario(scenario_file(exp, REQUIRED + "validation = false\n"), cwd=exp)
    assert quiet.options == {"validation": False}
    # a run length was accepted and silently never used
    with pytest.warns(ScenarioWarning, match=r"ignores these SMAC options: cutoffLength \(line"):
        read_scenario(scenario_file(exp, REQUIRED + "cutoffLength = 5\n"), cwd=exp)
    # SMAC 2.10's default run length, written out, asks for nothing either
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        default = read_scenario(scenario_file(exp, REQUIRED + "cutoff_length = -1\n"), cwd=exp)
    assert default.options == {"cutoff_length": None}
    assert scenario.algo == 'python -u wrapper.py --mode "a b"'
    assert scenario.execdir == exp
    assert (scenario.run_obj, scenario.overall_obj, scenario.cutoff_time) == (
        "runtime",
        "MEAN10",
        5.0,
    )
    assert (scenario.tuner_timeout, scenario.runcount_limit) == (3600.0, 100)
    assert scenario.feature_file == exp / "features.csv"
    assert scenario.shared_model_mode and scenario.shared_model_mode_frequency == 300.0


def test_a_smac3_file_loads(exp: Path) -> None:
    text = (
        "algo = python train.py\n"
        "paramfile = space.pcs\n"
        "run_obj = quality\n"
        "deterministic = True\n"
        "runcount_limit = 20\n"
        "wallclock_limit = 600.0\n"
        "output_dir = smac3-out\n"
        "shared_model = True\n"
        "abort_on_first_run_crash = False\n"
        "memory_limit = 3072\n"
        "intens_min_chall = 2\n"
    )
    scenario = read(scenario_file(exp, text))
    assert scenario.outdir == exp.parent / "cwd" / "smac3-out"
    assert scenario.shared_model_mode is True and scenario.abort_on_first_run_crash is False
    assert (scenario.memory_limit, scenario.wallclock_limit) == (3072.0, 600.0)
    assert scenario.options == {"num_challengers": 2}


def test_the_scenario_file_smac3_writes_into_its_output_loads(exp: Path) -> None:
    """SMAC3 1.x writes every option it has into each output folder's scenario.txt, its
    unset limits as `inf`: the file was refused at `multi_objectives`, then at `inf`."""
    text = (
        "ta = python train.py\nexecdir = .\ndeterministic = True\nrun_obj = quality\n"
        "multi_objectives = cost\noverall_obj = par10\nsave_results_instantly = True\n"
        "par_factor = 10.0\ncost_for_crash = 2147483647.0\nalgo_runs_timelimit = inf\n"
        "wallclock_limit = inf\nalways_race_default = False\nta_run_limit = inf\n"
        "initial_incumbent = DEFAULT\npcs_fn = space.pcs\nabort_on_first_run_crash = True\n"
        "limit_resources = False\nminR = 1\nmaxR = 2000\noutput_dir = smac3-output\n"
        "shared_model = False\nhydra_iterations = 3\nuse_ta_time = False\n"
        "intensification_percentage = 0.5\ntransform_y = NONE\nrf_num_trees = 10\n"
        "rf_do_bootstrapping = True\nrf_ratio_features = 0.8333333333333334\n"
        "rf_min_samples_split = 3\nrf_min_samples_leaf = 3\nrf_max_depth = 20\n"
        "sls_n_steps_plateau_walk = 10\nacq_opt_challengers = 5000\n"
        "intens_adaptive_capping_slackfactor = 1.2\nintens_min_chall = 2\nrand_prob = 0.5\n"
    )
    path = scenario_file(exp, text)
    with pytest.warns(ScenarioWarning, match="ignores these SMAC options") as caught:
        scenario = read_scenario(path, cwd=exp)
    ignored = " ".join(str(w.message) for w in caught)
    assert "multi_objectives" not in ignored and "transform_y (line 25)" in ignored  # cost: ours
    limits = (scenario.tuner_timeout, scenario.wallclock_limit, scenario.runcount_limit)
    assert limits == (None, None, None)
    for wrong in ("multi_objectives = cost, runtime", "ta_run_limit = -inf"):
        assert "expected" in refusal(scenario_file(exp, REQUIRED + wrong + "\n"))


# --- writing ---------------------------------------------------------------------------------


def test_write_uses_java_keys_header_and_skips_none(exp: Path) -> None:
    path = exp / "written.txt"
    values = {
        "algo": "python train.py",
        "run_obj": "quality",
        "paramfile": exp / "space.pcs",
        "tuner_timeout": 7200.0,
        "cutoff_time": 2.5,
        "use_instances": False,
        "seed_offset": 1,
        "memory_limit": None,
    }
    path.write_text(scenario_text(values, path, header="written by a test\nsecond line"))
    lines = path.read_text().splitlines()
    assert lines[:2] == ["# written by a test", "# second line"]
    assert "tunerTimeout = 7200" in lines and "use-instances = false" in lines
    assert "seed-offset = 1" in lines and "cutoff_time = 2.5" in lines
    assert not any(line.startswith("memory") for line in lines)
    scenario = read(path)
    assert (scenario.tuner_timeout, scenario.use_instances, scenario.seed_offset) == (
        7200.0,
        False,
        1,
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"algo": "a\nb"}, "cannot be written as one trimmed line"),
        ({"algo": " a"}, "cannot be written as one trimmed line"),
        ({"algo": ""}, "cannot be written as one trimmed line"),
        ({"algo": "a # b"}, "would be read as an inline comment"),
        ({"algorithm": "a"}, "unknown scenario key 'algorithm'"),
    ],
)
def test_write_rejects_what_would_not_read_back(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        scenario_text(values, tmp_path / "s.txt")


_safe_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=20,
)
_command = (
    st.lists(_safe_text, min_size=1, max_size=4).map(" ".join).filter(lambda s: " #" not in s)
)
_positive = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.fixed_dictionaries(
        {
            "algo": _command,
            "run_obj": st.sampled_from(["quality", "runtime"]),
        },
        optional={
            "deterministic": st.booleans(),
            "overall_obj": st.integers(1, 10_000).map(lambda k: "MEAN" if k == 1 else f"MEAN{k}"),
            "cutoff_time": _positive,
            "cutoff_length": st.floats(-1e6, 1e6, allow_nan=False),
            "tuner_timeout": st.floats(0, 1e9, allow_nan=False),
            "wallclock_limit": _positive,
            "runcount_limit": st.integers(1, 2**62),
            "rungroup": _safe_text.filter(
                lambda s: "/" not in s and "\\" not in s and s not in ".." and "%" not in s
            ),
            "seed_offset": st.integers(0, 2**31),
            "check_sat_consistency": st.booleans(),
            "abort_on_first_run_crash": st.booleans(),
            "shared_model_mode": st.booleans(),
            "shared_model_mode_frequency": _positive,
            "initial_incumbent": _command.map(lambda s: f"-x {s}").filter(
                lambda s: " #" not in s  # "-x #..." would start an inline comment
            ),  # a configuration
            "memory_limit": _positive,
            "use_instances": st.booleans(),
            "retry_crashed_count": st.integers(0, 100),
            "transform_crashed_quality_value": st.floats(-1e300, 1e300, allow_nan=False),
            "acq_func": st.sampled_from(["EXPONENTIAL", "SIMPLE", "LCB", "EI", "LCBEIRR"]),
        },
    ),
    use_aliases=st.randoms(use_true_random=False),
)
def test_write_then_read_round_trips(
    exp: Path, data: dict[str, object], use_aliases: random.Random
) -> None:
    values = dict(data, paramfile=exp / "space.pcs")
    keyed = {use_aliases.choice(OPTIONS[name].aliases): value for name, value in values.items()}
    path = exp / "roundtrip.txt"
    path.write_text(scenario_text(keyed, path))
    scenario = read(path)
    for name, value in values.items():
        assert value_of(scenario, name) == value, name


def test_an_initial_incumbent_is_a_design_word_or_a_configuration(exp: Path) -> None:
    for word, read_as in (("sobol", "SOBOL"), ("Default", "DEFAULT"), ("-x '1'", "-x '1'")):
        scenario = read(scenario_file(exp, REQUIRED + f"initial-incumbent = {word}\n"))
        assert scenario.initial_incumbent == read_as
    with pytest.raises(InputError, match=r":\d+: .*expected DEFAULT, RANDOM, .*-x '0.5'"):
        read(scenario_file(exp, REQUIRED + "initial-incumbent = x=1\n"))


def test_a_budget_flag_needs_its_bounds(exp: Path) -> None:
    with pytest.raises(InputError, match="min-budget and max-budget"):
        read(scenario_file(exp, REQUIRED + "budget-flag = epochs\n"))
    empty = read(scenario_file(exp, REQUIRED + "budget-flag =\nmin-budget = 1\nmax-budget = 3\n"))
    assert empty.budget_flag == ""  # `--set budget-flag=`: full fidelity again


@pytest.mark.parametrize(
    ("low", "high", "eta"), [(1, 27, 3), (1, 1000, 10), (1, 10, 3), (0.5, 8, 2), (2, 64, 2)]
)
def test_stage_budgets_are_smac3s(exp: Path, low: float, high: float, eta: int) -> None:
    """`check` counts a first bracket and a resume compares budgets by them: 1 to 1000 at eta
    10 has 3 stages in SMAC3 (its log ratio is 2.9999999999999996), not 4."""
    from smac.intensifier.successive_halving import SuccessiveHalving

    from smac_bridge.check import first_bracket

    fidelity = f"budget-flag = epochs\nmin-budget = {low}\nmax-budget = {high}\neta = {eta}\n"
    scenario = read(scenario_file(exp, REQUIRED + fidelity))
    stages = SuccessiveHalving._get_max_iterations(eta, high, low)
    smac3, configs = SuccessiveHalving._compute_configs_and_budgets_for_stages(eta, high, stages)
    assert stage_budgets(scenario) == pytest.approx(smac3, rel=1e-12)
    units = sum(n * budget_units(b, scenario) for n, b in zip(configs, smac3, strict=True))
    assert first_bracket(scenario) == (sum(configs), units)


@pytest.mark.parametrize(
    ("low", "high", "eta", "passed"),
    [(1, 27, 3, [1, 3, 9, 27]), (1, 10, 2, [1, 3, 5, 10]), (1, 100, 3, [1, 4, 11, 33, 100])],
)
def test_whole_budget_bounds_pass_whole_budgets_halves_up(
    exp: Path, low: int, high: int, eta: int, passed: list[int]
) -> None:
    """The stages 1.25, 2.5, 5, 10 of 1 to 10 at eta 2 reach an `--epochs` flag as 1, 3, 5, 10
    (2.5 went down to 2, Python's round half to even)."""
    fidelity = f"budget-flag = epochs\nmin-budget = {low}\nmax-budget = {high}\neta = {eta}\n"
    scenario = read(scenario_file(exp, REQUIRED + fidelity))
    budgets = [passed_budget(budget, scenario) for budget in stage_budgets(scenario)]
    assert budgets == passed
    assert all(isinstance(budget, int) for budget in budgets)


def test_a_budget_limit_below_the_smallest_budget_is_refused(exp: Path) -> None:
    # no trial fits: a launch would end at once with "0 runs" and exit code 0
    fidelity = "budget-flag = epochs\nmin-budget = 1\nmax-budget = 9\nbudget-limit = 0.5\n"
    with pytest.raises(InputError, match=r"tune.txt:\d+: budget-limit: 0.5 units is less than"):
        read(scenario_file(exp, REQUIRED + fidelity))
    assert read(scenario_file(exp, REQUIRED + fidelity.replace("0.5", "1"))).budget_limit == 1
    # a trial of min-budget 1.5 takes 2 whole units: 1.9 holds none (check said OK)
    fractional = fidelity.replace("min-budget = 1\n", "min-budget = 1.5\n")
    with pytest.raises(InputError, match=r"1.9 units is less than a trial of min-budget"):
        read(scenario_file(exp, REQUIRED + fractional.replace("0.5", "1.9")))


def test_a_trial_fits_the_budget_limit_as_a_worker_takes_its_whole_units(exp: Path) -> None:
    """The launch judged what is left by min-budget against budget-limit as written, the
    worker by whole units: with 10.5 units and 8 used, a resume started workers that could
    take nothing (a trial of 2.5 epochs takes 3 units, and 2 are left)."""
    fidelity = "budget-flag = epochs\nmin-budget = 2.5\nmax-budget = 10\nbudget-limit = 10.5\n"
    scenario = read(scenario_file(exp, REQUIRED + fidelity))
    assert budget_units(2.5, scenario) == 3
    assert budget_left_for_a_trial(scenario, 7) and not budget_left_for_a_trial(scenario, 8)
    assert budget_left_for_a_trial(read(scenario_file(exp, REQUIRED)), 10**6)  # no limit


def test_a_budget_flag_and_instances_are_refused_before_any_worker_dies(exp: Path) -> None:
    (exp / "folds.txt").write_text("fold1\nfold2\n")
    fidelity = "budget-flag = epochs\nmin-budget = 1\nmax-budget = 9\ninstance_file = folds.txt\n"
    with pytest.raises(InputError, match=r"tune.txt:\d+: budget-flag: .*instance file"):
        read(scenario_file(exp, REQUIRED + fidelity))
    unused = read(scenario_file(exp, REQUIRED + fidelity + "use-instances = false\n"))
    assert unused.budget_flag == "epochs"
