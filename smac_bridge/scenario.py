"""Classic (Java SMAC 2.10) scenario files: read with Java's rules, typed values, and write.

Java SMAC reads a scenario file as `java.util.Properties` and turns each entry into a command-line
option, so every option name (without its dashes) is a valid key, the first `=`, `:` or run of
whitespace ends the key, and options given on the command line win over the file. SMAC3 1.x
added its own key names and inline `#` comments. This module accepts both dialects, types every
value the same way whatever route it came in by, and names the file and line of every problem.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smac_bridge.errors import InputError, decode_text, text_lines
from smac_bridge.protocol import DECIMAL

DEFAULT_OUTDIR = "smac-bridge-output"
SCENARIO_NAME = "%SCENARIO_NAME"

_DOUBLE = re.compile(f"(?:{DECIMAL.pattern})[dDfF]?")
"""A number as Java's Double.parseDouble reads a scenario's real-valued option (`5d`)."""
_INTEGER = re.compile(r"[+-]?\d+")
_OVERALL_OBJ = re.compile(r"(MEAN|PAR)(\d*)")
_KEY = re.compile(r"([^=:\s]*)\s*(?:[=:]\s*)?(.*)")


class ScenarioWarning(UserWarning):
    """A scenario entry that smac-bridge reads differently from SMAC, or ignores."""


# --- value parsers: text -> typed value; a ValueError carries "expected ..." -----------------


def _text(value: str) -> str:
    if not value:
        raise ValueError("expected a non-empty value")
    return value


_TRUE_WORDS = ("true", "1", "yes", "on", "t", "y")
_FALSE_WORDS = ("false", "0", "no", "off", "f", "n")


def _boolean(value: str) -> bool:
    """Java SMAC's true/false (and 1/0 for `deterministic`), and the other words SMAC3 1.x's
    strtobool takes (`shared_model = 1`), in any case."""
    lowered = value.lower()
    if lowered in _TRUE_WORDS + _FALSE_WORDS:
        return lowered in _TRUE_WORDS
    raise ValueError("expected true or false (or 1/0, yes/no, on/off)")


def _running_belief(value: str) -> str:
    """`running-belief`, or its older boolean spelling `constant-liar` (true is `worst`)."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return "worst" if lowered == "true" else "none"
    return _choice("none", "worst", "mean")(value)


def _number(minimum: float | None = None, *, strict: bool = True) -> Callable[[str], float]:
    relation = ">" if strict else ">="
    expected = "a number" if minimum is None else f"a number {relation} {minimum:g}"

    def parse(value: str) -> float:
        if not _DOUBLE.fullmatch(value):
            raise ValueError(f"expected {expected}")
        number = float(value.rstrip("dDfF"))
        if not math.isfinite(number):  # 1e400 is inf to Python, as to Java
            raise ValueError(f"expected {expected.replace('a number', 'a finite number')}")
        if minimum is not None and (number <= minimum if strict else number < minimum):
            raise ValueError(f"expected {expected}")
        return number

    return parse


MAX_SEED = 2**32 - 1
"""The largest seed SMAC3's random generators (numpy's) take; workers' seeds stay below it."""


def _integer(minimum: int | None = None, *, strict: bool = False) -> Callable[[str], int]:
    relation = ">" if strict else ">="
    expected = "an integer" if minimum is None else f"an integer {relation} {minimum}"

    def parse(value: str) -> int:
        # SMAC3 files carry limits as floats ("60.0"); accept those that are whole numbers.
        if _INTEGER.fullmatch(value):
            number = int(value)
        elif DECIMAL.fullmatch(value) and float(value).is_integer():
            number = int(float(value))
        else:
            raise ValueError(f"expected {expected}")
        if minimum is not None and (number <= minimum if strict else number < minimum):
            raise ValueError(f"expected {expected}")
        return number

    return parse


def _limit(parse: Callable[[str], float]) -> Callable[[str], float | None]:
    """A budget limit, or None (no limit) for `inf`, as SMAC3 1.x writes an unset one into the
    scenario.txt of each of its output folders."""

    def parse_limit(value: str) -> float | None:
        return None if value.lower().lstrip("+") in ("inf", "infinity") else parse(value)

    return parse_limit


def _one_objective(value: str) -> str:
    """SMAC3 1.x's `multi_objectives`: smac-bridge optimises one objective, so one name."""
    if "," in value or not value.strip():
        raise ValueError("expected one objective's name (smac-bridge optimises one)")
    return value.strip()


def _choice(*choices: str) -> Callable[[str], str]:
    """One of CHOICES, whatever its case: SMAC 2.10's upper-case enums, smac-bridge's own
    lower-case ones."""

    def parse(value: str) -> str:
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
        raise ValueError(f"expected one of {', '.join(choices)}")

    return parse


def _flag_name(value: str) -> str:
    """A script flag's name without its dashes: `epochs` for `--epochs`; empty: no flag (so
    `--set budget-flag=` turns a multi-fidelity scenario back into a full-fidelity one)."""
    name = value.strip().lstrip("-")
    if any(c.isspace() for c in name):
        raise ValueError("expected a flag name such as epochs")
    return name


def _run_obj(value: str) -> str:
    lowered = value.lower()
    if lowered in ("quality", "qual", "solqual"):
        return "quality"
    if lowered == "runtime":
        return "runtime"
    raise ValueError("expected quality or runtime")


def _overall_obj(value: str) -> str:
    match = _OVERALL_OBJ.fullmatch(value.upper())
    factor = int(match.group(2) or 1) if match else 0
    if factor < 1:
        raise ValueError("expected MEAN, MEAN<k> or PAR<k> (k >= 1)")
    return "MEAN" if factor == 1 else f"MEAN{factor}"


def _cutoff_length(value: str) -> float | None:
    """None for `max` and for SMAC 2.10's default -1: no run length, what every run gets."""
    if value.lower() == "max":
        return None
    try:
        length = _number()(value)
    except ValueError:
        raise ValueError("expected a number or max") from None
    return None if length == -1 else length


INITIAL_DESIGNS = ("DEFAULT", "RANDOM", "SOBOL", "LHD", "FACTORIAL")
"""`initial-incumbent` words: SMAC 2.10's DEFAULT and RANDOM, and SMAC3's design names,
which (like RANDOM) start from SMAC3's design without the default configuration."""


def _initial_incumbent(value: str) -> str:
    value = _text(value)
    if value.upper() in INITIAL_DESIGNS:
        return value.upper()
    if not value.startswith("-"):
        raise ValueError(
            f"expected {', '.join(INITIAL_DESIGNS)} or a configuration such as -x '0.5' -y 'a'"
        )
    return value


def _rungroup(value: str) -> str:
    if not value or "/" in value or "\\" in value or value in (".", ".."):
        raise ValueError("expected a folder name (no '/')")
    if re.search(r"%[A-Za-z_]", value.replace(SCENARIO_NAME, "")):
        raise ValueError(
            "expected a folder name: of SMAC 2.10's substitutions only %SCENARIO_NAME is"
            " replaced (not %DATE, %DATETIME, option names or environment variables)"
        )
    return value


# --- the option table ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    """One scenario option: its canonical name, value parser and every key that names it.

    `aliases[0]` is the key `scenario_text` writes: a name Java SMAC 2.10 accepts wherever
    one exists, so that written files work there too.
    """

    name: str
    parse: Callable[[str], object]
    aliases: tuple[str, ...]
    kind: str = "value"  # "value", "file" (looked up in cwd, then next to the scenario), "dir"


def _o(name: str, parse: Callable[[str], object], aliases: str, kind: str = "value") -> _Option:
    return _Option(name, parse, tuple(aliases.split()), kind)


# Options that are fields of `Scenario`.
_FIELD_OPTIONS = (
    _o("algo", _text, "algo algo-exec algoExec ta"),
    _o("execdir", _text, "execdir algo-exec-dir exec-dir execDir", "dir"),
    _o("deterministic", _boolean, "deterministic algo-deterministic"),
    _o("run_obj", _run_obj, "run_obj run-obj run-objective runObj"),
    _o(
        "overall_obj",
        _overall_obj,
        "overall_obj intra-obj intra-instance-obj overall-obj intraInstanceObj overallObj"
        " intra_instance_obj",
    ),
    _o(
        "cutoff_time",
        _number(0),
        "cutoff_time algo-cutoff-time target-run-cputime-limit target_run_cputime_limit"
        " cutoff-time cutoffTime cutoff",
    ),
    _o(
        "tuner_timeout",
        _limit(_number(0, strict=False)),
        "tunerTimeout tuner-timeout tuner_timeout cputime-limit cputime_limit tunertime-limit"
        " algo_runs_timelimit",
    ),
    _o(
        "wallclock_limit",
        _limit(_number(0)),
        "wallclock_limit wallclock-limit runtime-limit runtimeLimit wallClockLimit",
    ),
    _o(
        "runcount_limit",
        _limit(_integer(0, strict=True)),
        "runcount_limit runcount-limit totalNumRunsLimit numRunsLimit numberOfRunsLimit"
        " ta_run_limit",
    ),
    _o("paramfile", _text, "paramfile pcs-file param-file paramFile param_file pcs_fn", "file"),
    _o(
        "instance_file",
        _text,
        "instance_file instances instance-file instance-dir instanceFile instance_seed_file i"
        " train_inst_fn",
        "file",
    ),
    _o(
        "test_instance_file",
        _text,
        "test_instance_file test-instances test-instance-file test-instance-dir"
        " testInstanceFile test_instance_seed_file test_inst_fn",
        "file",
    ),
    _o("feature_file", _text, "feature_file feature-file instanceFeatureFile feature_fn", "file"),
    _o("outdir", _text, "outdir output-dir outputDirectory output_dir", "dir"),
    _o("rungroup", _rungroup, "rungroup rungroup-name runGroupName"),
    _o("seed_offset", _integer(0), "seed-offset seedOffset"),
    _o("check_sat_consistency", _boolean, "check-sat-consistency checkSATConsistency"),
    _o(
        "abort_on_first_run_crash",
        _boolean,
        "abort-on-first-run-crash abortOnFirstRunCrash abort_on_first_run_crash",
    ),
    _o(
        "shared_model_mode",
        _boolean,
        "shared-model-mode share-model-mode shared-run-data share-run-data shared_model",
    ),
    _o(
        "shared_model_mode_frequency",
        _number(0),
        "shared-model-mode-frequency share-model-mode-frequency shared-run-data-frequency"
        " share-run-data-frequency",
    ),
    _o("initial_incumbent", _initial_incumbent, "initial-incumbent initialIncumbent"),
    _o("memory_limit", _number(0), "memory_limit memory-limit"),
    _o("use_instances", _boolean, "use-instances"),
    _o("broken_script_runs", _integer(0), "broken-script-runs"),
    _o("smac_facade", _choice("auto", "hpo", "blackbox", "random"), "smac-facade"),
    _o("split_initial_design", _boolean, "split-initial-design"),
    _o("running_belief", _running_belief, "running-belief constant-liar"),
    _o("partial_quality", _choice("capped", "reported"), "partial-quality"),
    _o("budget_flag", _flag_name, "budget-flag"),
    _o("min_budget", _number(0), "min-budget"),
    _o("max_budget", _number(0), "max-budget"),
    _o("eta", _integer(2), "eta"),
    _o("multi_fidelity", _choice("hyperband", "successive-halving"), "multi-fidelity"),
    _o("budget_limit", _number(0), "budget-limit"),
    _o("pruning", _choice("none", "median", "asha"), "pruning"),
    _o("pruning_warmup", _integer(0), "pruning-warmup"),
)

# SMAC 2.10 / SMAC3 1.x options a classic file may carry; kept in `Scenario.options`.
_EXTRA_OPTIONS = (
    _o("cutoff_length", _cutoff_length, "cutoff_length algo-cutoff-length cutoffLength"),
    _o("experiment_dir", _text, "experiment-dir experimentDir", "dir"),
    _o("seed", _integer(0), "seed num-run numrun numRun"),
    _o(
        "inter_obj",
        _overall_obj,
        "inter-obj inter-instance-obj interInstanceObj inter_instance_obj",
    ),
    _o(
        "iteration_limit",
        _integer(0, strict=True),
        "iteration-limit numIterations numberOfIterations",
    ),
    _o(
        "check_sat_consistency_exception",
        _boolean,
        "check-sat-consistency-exception checkSATConsistencyException",
    ),
    _o("verify_sat", _boolean, "verify-sat verify-SAT verifySAT"),
    _o("abort_on_crash", _boolean, "abort-on-crash abortOnCrash"),
    _o(
        "retry_crashed_count",
        _integer(0),
        "retry-crashed-count retryCrashedRunCount retryTargetAlgorithmRunCount",
    ),
    _o("transform_crashed_quality", _boolean, "transform-crashed-quality"),
    _o("transform_crashed_quality_value", _number(), "transform-crashed-quality-value"),
    _o("cost_for_crash", _number(), "cost_for_crash"),
    _o("kill_run_exceeding_captime", _boolean, "kill-run-exceeding-captime"),
    _o("kill_run_exceeding_captime_factor", _number(0), "kill-run-exceeding-captime-factor"),
    _o("shared_model_mode_tae", _boolean, "shared-model-mode-tae"),
    _o("shared_model_mode_write_data", _boolean, "shared-model-mode-write-data write-json-data"),
    _o(
        "shared_model_mode_default_handling",
        _choice("USE_ALL", "SKIP_FIRST_TWO", "IGNORE_ALL"),
        "shared-model-mode-default-handling",
    ),
    _o("shared_model_mode_asymetric", _boolean, "shared-model-mode-asymetric"),
    _o("input_psmac_dirs", _text, "input_psmac_dirs"),
    _o("instance_suffix", _text, "instance-suffix instance-regex"),
    _o("skip_features", _boolean, "skip-features ignore-features"),
    _o(
        "use_cpu_time_in_tunertime",
        _boolean,
        "use-cpu-time-in-tunertime countSMACTimeAsTunerTime",
    ),
    _o(
        "initial_incumbent_runs",
        _integer(0, strict=True),
        "initial-incumbent-runs initialIncumbentRuns defaultConfigRuns",
    ),
    _o(
        "initial_challenger_runs",
        _integer(0, strict=True),
        "initial-challenger-runs initialN initialChallenge minR",
    ),
    _o(
        "max_incumbent_runs",
        _integer(0, strict=True),
        "max-incumbent-runs maxIncumbentRuns maxRunsForIncumbent maxR",
    ),
    _o(
        "intensification_percentage",
        _number(0, strict=False),
        "intensification-percentage intensificationPercentage frac_rawruntime"
        " intensification_percentage",
    ),
    _o(
        "num_challengers",
        _integer(0, strict=True),
        "num-challengers numChallengers numberOfChallengers intens_min_chall",
    ),
    _o(
        "always_run_initial_config",
        _boolean,
        "always-run-initial-config alwaysRunInitialConfiguration always_race_default",
    ),
    _o("adaptive_capping", _boolean, "adaptive-capping ac adaptiveCapping"),
    _o("ac_mult_slack", _number(0), "ac-mult-slack capSlack intens_adaptive_capping_slackfactor"),
    _o("ac_add_slack", _number(0, strict=False), "ac-add-slack capAddSlack"),
    _o(
        "deterministic_instance_ordering",
        _boolean,
        "deterministic-instance-ordering deterministicInstanceOrdering",
    ),
    _o("exec_mode", _choice("SMAC", "ROAR", "PSEL"), "exec-mode execution-mode executionMode"),
    _o(
        "init_mode",
        _choice("CLASSIC", "ITERATIVE_CAPPING", "UNBIASED_TABLE"),
        "init-mode initialization-mode initMode initializationMode",
    ),
    _o(
        "num_ei_random",
        _integer(0),
        "num-ei-random numEIRandomConfigs numberOfRandomConfigsInEI numRandomConfigsInEI"
        " numberOfEIRandomConfigs",
    ),
    _o("num_ls_random", _integer(0), "num-ls-random num-local-search-random"),
    _o(
        "acq_func",
        _choice("EXPONENTIAL", "SIMPLE", "LCB", "EI", "LCBEIRR"),
        "acq-func acquisition-function ei-func expected-improvement-function"
        " expectedImprovementFunction",
    ),
    _o("initial_challengers", _text, "initial-challengers initialChallengers"),
    _o("mode", _text, "mode"),
    _o("rand_prob", _number(0, strict=False), "rand_prob"),
    _o("acq_opt_challengers", _integer(0, strict=True), "acq_opt_challengers"),
    _o("validation", _boolean, "validation doValidation"),
    _o(
        "num_validation_runs",
        _integer(0),
        "num-validation-runs numValidationRuns numberOfValidationRuns",
    ),
    _o(
        "validate_only_last_incumbent",
        _boolean,
        "validate-only-last-incumbent validateOnlyLastIncumbent",
    ),
    _o("validate_all", _boolean, "validate-all validateAll"),
    _o("validation_cores", _integer(0, strict=True), "validation-cores"),
    _o("validation_seed", _integer(), "validation-seed"),
    _o("restore_scenario", _text, "restore-scenario restoreScenario"),
    _o("restore_state_from", _text, "restore-state-from restoreStateFrom"),
    _o("restore_iteration", _text, "restore-iteration restoreStateIteration restoreIteration"),
    _o("restore_state", _text, "restore_state"),
    _o("warmstart_from", _text, "warmstart warmstart-from"),
    _o("warmstart_iteration", _text, "warmstart-iteration"),
    _o("state_serializer", _choice("LEGACY", "NULL"), "state-serializer stateSerializer"),
    _o("state_deserializer", _choice("LEGACY", "NULL"), "state-deserializer stateDeserializer"),
    _o(
        "clean_old_state_on_success",
        _boolean,
        "clean-old-state-on-success cleanOldStateOnSuccess",
    ),
    _o("save_context", _boolean, "save-context saveContext saveContextWithState"),
    _o("save_runs_every_iteration", _boolean, "save-runs-every-iteration"),
    _o("quick_saves", _boolean, "quick-saves"),
    _o("intermediary_saves", _boolean, "intermediary-saves"),
    # the command-line target algorithm evaluator's (spec 2.3): `--parallel N` runs N at once
    _o("cli_cores", _integer(0, strict=True), "cli-cores"),
    _o(
        "cli_log_all_calls",
        _boolean,
        "cli-log-all-calls cli-log-all-call-strings-and-results log-all-calls"
        " log-all-call-strings-and-results",
    ),
    _o("cli_call_params_with_quotes", _boolean, "cli-call-params-with-quotes"),
    _o("cli_listen_for_updates", _boolean, "cli-listen-for-updates"),
    # how SMAC 2.10 kills a target (spec 2.3); smac-bridge's supervisor kills the process tree
    _o("cli_kill_by_environment_cmd", _text, "cli-kill-by-environment-cmd"),
    _o("cli_pg_nice_kill_cmd", _text, "cli-pg-nice-kill-cmd"),
    _o("cli_pg_force_kill_cmd", _text, "cli-pg-force-kill-cmd"),
    _o("cli_proc_nice_kill_cmd", _text, "cli-proc-nice-kill-cmd"),
    _o("cli_proc_force_kill_cmd", _text, "cli-proc-force-kill-cmd"),
    _o("filter_zero_cutoff_runs", _boolean, "filter-zero-cutoff-runs"),
    # SMAC3 1.x's own, as the scenario.txt it writes into each output folder holds them
    _o("multi_objectives", _one_objective, "multi_objectives"),
    _o(
        "save_instantly",
        _boolean,
        "save_instantly save_results_instantly",
    ),
    _o("par_factor", _number(0), "par_factor"),
    _o("limit_resources", _boolean, "limit_resources"),
    _o("use_ta_time", _boolean, "use_ta_time"),
    _o("hydra_iterations", _integer(0), "hydra_iterations"),
    _o("transform_y", _choice("NONE", "LOG", "LOGS", "INVS"), "transform_y"),
    _o("rf_do_bootstrapping", _boolean, "rf_do_bootstrapping"),
    _o("rf_min_samples_split", _integer(0), "rf_min_samples_split"),
    _o("rf_min_samples_leaf", _integer(0), "rf_min_samples_leaf"),
    _o("rf_max_depth", _integer(0), "rf_max_depth"),
    _o(
        "sls_n_steps_plateau_walk",
        _integer(0),
        "sls_n_steps_plateau_walk",
    ),
    _o("sls_max_steps", _integer(0), "sls_max_steps"),
)

# The other options SMAC 2.10 (with AEATK's options and its seven target-algorithm evaluator
# plugins) reads from a scenario file: typed, then ignored with the others' warning. One per
# line: the kind of value, then every name. `option-file` and the like name another file of
# options, which smac-bridge does not read: they are refused rather than ignored.
_SMAC_210_ONLY = """
integer  doubling-capping-challengers
integer  doubling-capping-runs-per-challenger
integer  unbiased-capping-challengers
integer  unbiased-capping-runs-per-challenger
integer  unbiased-capping-cpulimit
boolean  show-hidden showHiddenParameters
boolean  help
choice:BASIC|INTERMEDIATE|ADVANCED|DEVELOPER  help-level
boolean  version
integer  initial-challengers-intensification-time initialChallengersIntensificationTime
boolean  iterativeCappingBreakOnFirstCompletion
integer  iterativeCappingK
text     model-hashcode-file modelHashCodeFile
integer  num-pca numPCA
choice:TRACE|DEBUG|INFO|WARN|ERROR|OFF  log-level logLevel
choice:TRACE|DEBUG|INFO|WARN|ERROR|OFF  console-log-level consoleLogLevel
boolean  mask-censored-data-as-kappa-max maskCensoredDataAsKappaMax
boolean  mask-inactive-conditional-parameters-as-default-value
         maskInactiveConditionalParametersAsDefaultValue
boolean  treat-censored-data-as-uncensored treatCensoredDataAsUncensored
integer  imputation-iterations imputationIterations
boolean  useBrokenVarianceCalculation
number   rf-subsample-memory-percentage freeMemoryPecentageToSubsample
boolean  rf-full-tree-bootstrap fullTreeBootstrap
boolean  rf-ignore-conditionality ignoreConditionality
boolean  rf-impute-mean imputeMean
boolean  rf-log-model log-model logModel
number   rf-min-variance minVariance
integer  rf-num-trees num-trees numTrees nTrees numberOfTrees
boolean  rf-penalize-imputed-values penalizeImputedValues
boolean  rf-preprocess-marginal
number   rf-ratio-features ratioFeatures
boolean  rf-shuffle-imputed-values shuffleImputedValues
integer  rf-split-min split-min splitMin
boolean  rf-store-data rf-store-data-in-leaves storeDataInLeaves
number   rf-subsample-percentage subsamplePercentage
boolean  rf-subsample-values-when-low-on-memory subsampleValuesWhenLowOnMemory
         subsampleValuesWhenLowMemory
boolean  print-rungroup-replacement-and-exit
text     rungroup-char runGroupReplacement
integer  max-norun-challenge-limit maxConsecutiveFailedChallengeIncumbent
text     terminate-on-delete
boolean  check-instances-exist checkInstanceFilesExist
text     test-instance-suffix test-instance-regex
text     invalid-scenario-reason
text     tae targetAlgorithmEvaluator
integer  cores numConcurrentAlgoExecs maxConcurrentAlgoExecs numberOfConcurrentAlgoExecs
boolean  cache-runs
boolean  cache-runs-debug
boolean  use-dynamic-cutoffs
boolean  cache-runs-strictly-increasing-observer
boolean  bound-runs boundRuns
boolean  exit-on-failure
text     run-hashcode-file runHashCodeFile
boolean  leak-memory leakMemory
integer  leak-memory-amount leakMemoryAmount
boolean  call-observer-before-completion
boolean  check-result-order-consistent checkResultOrderConsistent
boolean  skip-outstanding-eval-tae
boolean  log-requests-responses
boolean  log-requests-responses-rc-only log-requests-responses-rc
boolean  track-scheduled-runs
number   track-scheduled-runs-resolution
boolean  check-for-unclean-shutdown
boolean  check-for-unique-runconfigs
boolean  check-for-unique-runconfigs-exception
boolean  observer-walltime-if-no-runtime
number   observer-walltime-scale
number   observer-walltime-delay
boolean  synchronize-observers
text     kill-runs-on-file-delete
integer  tae-warn-if-no-response-from-tae
boolean  tae-stop-processing-on-shutdown
boolean  file-cache
text     file-cache-source
text     file-cache-output
boolean  file-cache-crash-on-cache-miss file-cache-crash-on-miss
text     pre-scenario-command preScenarioCommand pre_cmd
text     post-scenario-command postScenarioCommand post_cmd
boolean  exception-on-prepost-command exceptionOnPrePostCommand
boolean  prepost-log-output logOutput
text     prepost-exec-dir prePostExecDir
boolean  tae-transform
boolean  tae-transform-valid-values-only
text     tae-transform-SAT-runtime
text     tae-transform-SAT-quality
text     tae-transform-UNSAT-runtime
text     tae-transform-UNSAT-quality
text     tae-transform-TIMEOUT-runtime
text     tae-transform-TIMEOUT-quality
text     tae-transform-other-runtime
text     tae-transform-other-quality
text     fork-to-tae
choice:DUPLICATE_ON_SLAVE|DUPLICATE_ON_SLAVE_QUICK  fork-to-tae-policy
integer  fork-to-tae-duplicate-on-slave-quick-timeout
text     search-subspace searchSubspace
text     search-subspace-file searchSubspaceFile
integer  continous-neighbours continuous-neighbors continuousNeighbours
boolean  config-tracking
number   max-timestamp maxTimestamp
number   min-timestamp minTimestamp
number   mult-factor multFactor
integer  num-test-instances numTestInstances numberOfTestInstances
integer  num-seeds-per-test-instance numSeedsPerTestInstance numberOfSeedsPerTestInstance
text     output-file-suffix outputFileSuffix
boolean  save-state-file saveStateFile
boolean  validate-by-wallclock-time validateByWallClockTime
number   validate-only-if-tunertime-reached validateOnlyIfTunerTimeReached
number   validate-only-if-walltime-reached validateOnlyIfWallTimeReached
boolean  validation-headers validationHeaders
choice:UP|NONE  validation-rounding-mode validationRoundingMode
integer  cli-observer-frequency
boolean  cli-concurrent-execution
boolean  cli-log-all-call-strings log-all-call-strings logAllCallStrings
boolean  cli-log-all-results cli-log-all-call-results log-all-call-results log-all-results
boolean  cli-log-all-process-output log-all-process-output logAllProcessOutput
choice:TIMEOUT|SAT|UNSAT|CRASHED|ABORT|RUNNING|KILLED  constant-run-result
number   constant-runtime
number   constant-run-quality
number   constant-run-length
text     constant-additional-run-data
boolean  random-simulate-delay
text     random-additional-run-data
integer  random-simulate-cores
number   random-max-response
number   random-min-response
integer  random-observer-frequency
number   random-trend-coefficient
integer  random-sample-seed
boolean  random-report-persistent
number   random-scale-simulate-delay
text     preload-response-data preload-responseData
number   preload-run-length preload-runLength
number   preload-quality
text     preload-additional-run-data
boolean  blackhole-warnings
boolean  analytic-simulate-delay
integer  analytic-simulate-cores
integer  analytic-observer-frequency
choice:ZERO|ADD|CAMELBACK|BRANINS|SINEPLUSONE  analytic-function
number   analytic-scale-simulate-delay
boolean  ipc-report-persistent
choice:UDP|TCP|REVERSE_TCP  ipc-mechanism
choice:CALL_STRING|JAVA_SERIALIZATION  ipc-encoding
text     ipc-remote-host
integer  ipc-remote-port
integer  ipc-udp-packetsize
integer  ipc-local-port
text     ipc-exec-on-start-up ipc-exec
boolean  ipc-exec-output
boolean  ipc-reverse-tcp-pool-connections
integer  ipc-async-threads
options  scenario-file scenarioFile scenario
options  option-file optionFile
options  option-file2 optionFile2 secondaryOptionsFile
options  smac-default-file smacDefaultsFile
options  help-default-file helpDefaultsFile
options  tae-default-file
options  cli-default-file
options  ipc-default-file
"""


def _options_file(value: str) -> str:
    raise ValueError(
        "expected its options in this file: smac-bridge reads no other file of options"
    )


def _smac_210_only() -> dict[str, tuple[str, str]]:
    """_SMAC_210_ONLY as canonical name -> (kind, names); a line that starts with a blank
    goes on with the names of the one before."""
    entries: list[list[str]] = []
    for line in _SMAC_210_ONLY.strip().splitlines():
        if line.startswith(" "):
            entries[-1] += line.split()
        else:
            entries.append(line.split())
    return {names[0].replace("-", "_"): (kind, " ".join(names)) for kind, *names in entries}


_KIND_PARSERS: dict[str, Callable[[str], object]] = {
    "boolean": _boolean,
    "integer": _integer(),
    "number": _number(),
    "text": _text,
    "options": _options_file,
}
_SMAC_210_OPTIONS = tuple(
    _o(
        name,
        _choice(*kind[7:].split("|")) if kind.startswith("choice:") else _KIND_PARSERS[kind],
        names,
    )
    for name, (kind, names) in _smac_210_only().items()
)


# Extra options that smac-bridge acts upon (the others only earn a warning).
_USED_EXTRAS = frozenset({"experiment_dir", "check_sat_consistency_exception"})
# Ignored options whose value asks for what smac-bridge does anyway: no warning. `smac-bridge
# init` writes `validation = false` so that Java SMAC runs the file without test instances;
# `cutoff_length = max` (or -1, SMAC 2.10's default) is what every run gets (neither SMAC
# implements another length); SMAC3 1.x writes `multi_objectives = cost`, the one objective.
_AGREEING_EXTRAS = {
    "validation": False,
    "tae": "CLI",
    "cutoff_length": None,
    "multi_objectives": "cost",
}
# What to use instead of an ignored option a user would otherwise miss.
_INSTEAD = {"seed": "the workers' seeds are seed-offset + 1 .. seed-offset + N (`--seed-offset K`)"}

OPTIONS: dict[str, _Option] = {
    option.name: option for option in _FIELD_OPTIONS + _EXTRA_OPTIONS + _SMAC_210_OPTIONS
}
# Every key a file may use: each alias and each canonical name.
KEYS: dict[str, str] = {
    key: option.name for option in OPTIONS.values() for key in (option.name, *option.aliases)
}
# Single-dash SMAC 2.10 flags, valid on a command line but not in a file (they would become `--p`).
_COMMAND_LINE_KEYS = {"p": "paramfile", "e": "experiment_dir"}
_REQUIRED = ("algo", "run_obj", "paramfile")


@dataclass
class Scenario:
    """A classic scenario with typed values; fields are the canonical option names."""

    algo: str
    run_obj: str
    paramfile: Path
    execdir: Path = field(default_factory=Path.cwd)
    deterministic: bool = True
    overall_obj: str = ""  # "" until __post_init__ applies SMAC's run_obj-dependent default
    cutoff_time: float | None = None
    tuner_timeout: float | None = None
    wallclock_limit: float | None = None
    runcount_limit: int | None = None
    instance_file: Path | None = None
    test_instance_file: Path | None = None
    feature_file: Path | None = None
    outdir: Path = field(default_factory=lambda: Path.cwd() / DEFAULT_OUTDIR)
    rungroup: str = "smac-bridge"
    seed_offset: int = 0
    check_sat_consistency: bool = True
    abort_on_first_run_crash: bool = True
    shared_model_mode: bool = True  # SMAC 2.10: false (docs/compatibility.md)
    shared_model_mode_frequency: float = 1.0
    initial_incumbent: str = "DEFAULT"
    memory_limit: float | None = None
    use_instances: bool = True
    broken_script_runs: int = 3
    smac_facade: str = "auto"
    split_initial_design: bool = True
    running_belief: str = "mean"
    partial_quality: str = "capped"
    budget_flag: str | None = None
    min_budget: float | None = None
    max_budget: float | None = None
    eta: int = 3
    multi_fidelity: str = "hyperband"
    budget_limit: float | None = None
    pruning: str = "none"
    pruning_warmup: int = 1
    options: dict[str, object] = field(default_factory=dict)
    path: Path | None = None
    source_lines: dict[str, int] = field(default_factory=dict)
    # the options the file or --set gave: `eta = 3` reads as the default, yet without a
    # budget-flag its author expects an effect it does not have
    given: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.overall_obj:
            self.overall_obj = "MEAN10" if self.run_obj == "runtime" else "MEAN"

    @property
    def par_factor(self) -> int:
        """k of MEANk: how many times the cutoff a timed-out or crashed run counts."""
        return int(self.overall_obj[4:] or 1)

    @property
    def used_instance_file(self) -> Path | None:
        """The instance file the runs are made on: None without one, and under
        `use-instances = false`."""
        return self.instance_file if self.use_instances else None


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # Java SMAC parses its int-typed limits only without ".0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def scenario_name(path: Path) -> str:
    """SMAC 2.10's %SCENARIO_NAME: file name without extension; a `scenario.txt`'s folder name."""
    if path.name == "scenario.txt":
        return path.absolute().parent.name
    return path.stem


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    """One option's text as given: the key as written and where it came from (line None: CLI)."""

    key: str
    value: str
    line: int | None


def _suggest(key: str, candidates: list[str]) -> str:
    same_case = [c for c in candidates if c.lower() == key.lower()]
    close = same_case or difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _inline_comment(value: str) -> int | None:
    """Where an inline comment starts in VALUE: a blank followed by `#`, outside quotes (an
    algo's `--cmd "python t.py --tag #1"` keeps its `#`); None when there is none. A quote
    opens only at the start of a word (or after `=`) and when its match follows: the
    apostrophe of `bob's-runs  # where` is none."""
    at = 0
    while at < len(value):
        char = value[at]
        starts_word = at == 0 or value[at - 1].isspace() or value[at - 1] == "="
        if char in "\"'" and starts_word and (end := value.find(char, at + 1)) != -1:
            at = end + 1
            continue
        if char == "#" and at > 0 and value[at - 1].isspace():
            return at - 1
        at += 1
    return None


def _lines(text: str, path: Path) -> list[tuple[int, str, str]]:
    """(line number, key, value) of every entry, with Java Properties' separator rules."""
    entries = []
    for number, line in enumerate(text_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        match = _KEY.fullmatch(stripped)
        assert match is not None  # the pattern matches any stripped line
        key, value = match.group(1), match.group(2)
        if not key:
            raise InputError(path, number, f"expected 'key = value', got {stripped!r}")
        comment = _inline_comment(value)
        if comment is not None:
            warnings.warn(
                f"{path}:{number}: '{value[comment:].strip()}' read as a comment"
                " (Java SMAC 2.10 would keep it as part of the value)",
                ScenarioWarning,
                stacklevel=3,
            )
            value = value[:comment]
        entries.append((number, key, value.strip()))
    return entries


def passed_budget(budget: float, scenario: Scenario) -> float | int:
    """The budget as the script gets it: a whole number when both budget bounds are (epochs
    from Hyperband's 1, 3.33, 11.1, ... are rounded), else SMAC3's float. Halves round up, as
    people round (Python's `round` took the stage 2.5 of 1 to 10 at eta 2 down to 2)."""
    low, high = scenario.min_budget, scenario.max_budget
    if low is not None and high is not None and low.is_integer() and high.is_integer():
        return max(1, math.floor(budget + 0.5))
    return budget


def stage_budgets(scenario: Scenario) -> list[float]:
    """SMAC3's budgets for the scenario's Hyperband or successive halving, smallest first:
    max-budget / eta^k for k from SMAC3's stage count down to 0, computed as SMAC3 does."""
    low, high = scenario.min_budget, scenario.max_budget
    assert low is not None and high is not None
    stages = math.floor(math.log(high / low) / math.log(scenario.eta))
    return [high * float(scenario.eta) ** -k for k in range(stages, -1, -1)]


def budget_units(budget: float, scenario: Scenario) -> int:
    """The units of `budget-limit` a trial of SMAC3's BUDGET takes: those of the budget its
    script gets, rounded up."""
    return math.ceil(passed_budget(budget, scenario))


def budget_left_for_a_trial(scenario: Scenario, used: int) -> bool:
    """Whether `budget-limit`, with USED units taken, still holds the smallest trial: as a
    worker takes units (whole ones, `claim_units`), so that a launch neither starts workers
    that end at once nor stops while one fits."""
    limit, low = scenario.budget_limit, scenario.min_budget
    if not scenario.budget_flag or limit is None:
        return True
    return int(limit) - used >= budget_units(low if low is not None else 0.0, scenario)


def read_scenario(
    path: str | Path, overrides: Mapping[str, str] | None = None, *, cwd: Path | None = None
) -> Scenario:
    """Read a classic scenario file; `overrides` (command-line options, any alias) win over it.

    `cwd` stands for the current directory of the SMAC process: `execdir` and `outdir` are
    relative to it, and PCS, instance and feature files are looked up there first.
    """
    path = Path(path)
    raw, full_path, base = _read_raw(path, overrides, cwd)
    return _build(raw, path, full_path, base)


def rungroup_folder(path: str | Path, overrides: Mapping[str, str] | None = None) -> Path:
    """Where the scenario's runs go (outdir/rungroup), read without checking the rest: a
    resume looks there for the earlier launch's options before the scenario is complete
    (a required key may have been given with `--set`)."""
    path = Path(path)
    raw, full_path, base = _read_raw(path, overrides, None)
    outdir = raw["outdir"].value if "outdir" in raw else DEFAULT_OUTDIR
    rungroup = scenario_name(full_path)
    if "rungroup" in raw:
        with contextlib.suppress(ValueError):  # read_scenario says what is wrong with it
            rungroup = _rungroup(raw["rungroup"].value).replace(SCENARIO_NAME, rungroup)
    return Path(os.path.normpath(base / Path(outdir).expanduser())) / rungroup


def _read_raw(
    path: Path, overrides: Mapping[str, str] | None, cwd: Path | None
) -> tuple[dict[str, _Raw], Path, Path]:
    """The scenario's options as given (file lines, then OVERRIDES), the file's full path
    and the directory relative paths start from."""
    base = Path(cwd).absolute() if cwd is not None else Path.cwd()
    full_path = path if path.is_absolute() else base / path
    if path.suffix.lower() == ".pcs":  # its first parameter was called an unknown key
        raise InputError(
            path,
            None,
            "expected a scenario file (key = value lines), got a PCS file: give the scenario"
            " that names it as its paramfile",
        )
    if full_path.exists() and not (full_path.is_file() or full_path.is_dir()):
        raise InputError(  # a FIFO (`<(sed ... s.txt)`) blocks an open, or is read only once
            path,
            None,
            "the scenario is not a regular file (a pipe or a device): it is read again by each"
            " worker and by a resume; save it to a file",
        )
    try:
        data = full_path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, None, "scenario file not found") from None
    except (IsADirectoryError, PermissionError) as error:
        raise InputError(path, None, f"cannot read the scenario file: {error}") from None
    text = decode_text(path, data, "the scenario file")

    raw: dict[str, _Raw] = {}
    for number, key, value in _lines(text, path):
        name = KEYS.get(key)
        if name is None:
            raise InputError(path, number, f"unknown key '{key}'{_suggest(key, list(KEYS))}")
        if name in raw:
            warnings.warn(
                f"{path}:{number}: '{key}' sets {name} again (line {raw[name].line});"
                " the last value wins",
                ScenarioWarning,
                stacklevel=2,
            )
        raw[name] = _Raw(key, value, number)
    for key, value in (overrides or {}).items():
        name = option_name(key)
        if name is None:
            bare = key.lstrip("-")
            suggestion = _suggest(bare, list(KEYS))
            raise InputError(None, None, f"unknown scenario option '{key}'{suggestion}")
        raw[name] = _Raw(key, value.strip(), None)
    return raw, full_path, base


def option_name(key: str) -> str | None:
    """The canonical name of the scenario option KEY (any alias, with or without dashes)."""
    bare = key.lstrip("-")
    return KEYS.get(bare) or _COMMAND_LINE_KEYS.get(bare)


def _build(raw: dict[str, _Raw], path: Path, full_path: Path, cwd: Path) -> Scenario:
    def fail(name: str, message: str) -> InputError:
        given = raw[name]
        if given.line is None:
            return InputError(None, None, f"option '{given.key}': {message}")
        return InputError(path, given.line, f"{given.key}: {message}")

    for name in _REQUIRED:
        if name not in raw:
            aliases = ", ".join(OPTIONS[name].aliases)
            raise InputError(path, None, f"missing required key '{name}' (or: {aliases})")

    values: dict[str, object] = {}
    for name, given in raw.items():
        try:
            values[name] = OPTIONS[name].parse(given.value)
        except ValueError as error:
            raise fail(name, f"{error}, got {given.value!r}") from None
        parsed = values[name]
        if name == "rungroup" and isinstance(parsed, str):
            values[name] = parsed.replace(SCENARIO_NAME, scenario_name(full_path))

    _resolve_paths(values, raw, cwd, full_path, fail)
    _check_budget_options(values, raw, fail)
    if values.get("feature_file") and not values.get("instance_file"):
        warnings.warn(
            f"{path}: feature_file is not used without an instance_file: the runs get no"
            " instance (no_instance) and no features",
            ScenarioWarning,
            stacklevel=3,
        )
    run_obj, overall_obj = values["run_obj"], values.get("overall_obj")
    if run_obj == "quality" and overall_obj not in (None, "MEAN"):
        warnings.warn(
            f"{path}: overall_obj {overall_obj} with run_obj quality: SMAC 2.10 would multiply"
            " the qualities of timed-out runs, smac-bridge takes them as they are (MEAN);"
            " SMAC 2.10 advises MEAN",
            ScenarioWarning,
            stacklevel=3,
        )

    field_names = {option.name for option in _FIELD_OPTIONS}
    extras = {name: value for name, value in values.items() if name not in field_names}
    ignored = [
        f"{raw[name].key}"
        + (f" (line {raw[name].line})" if raw[name].line else "")
        + (f"; {_INSTEAD[name]}" if name in _INSTEAD else "")
        for name, value in extras.items()
        if name not in _USED_EXTRAS
        and not (name in _AGREEING_EXTRAS and _AGREEING_EXTRAS[name] == value)
    ]
    if ignored:
        warnings.warn(
            f"{path}: smac-bridge ignores these SMAC options: {', '.join(ignored)}",
            ScenarioWarning,
            stacklevel=3,
        )
    scenario_fields = {name: value for name, value in values.items() if name in field_names}
    scenario_fields.setdefault("rungroup", scenario_name(full_path))
    scenario_fields.setdefault("execdir", cwd)
    scenario_fields.setdefault("outdir", cwd / DEFAULT_OUTDIR)
    return Scenario(
        **scenario_fields,  # type: ignore[arg-type]
        options=extras,
        path=full_path,
        source_lines={name: given.line for name, given in raw.items() if given.line is not None},
        given=frozenset(raw),
    )


def _resolve_paths(
    values: dict[str, object],
    raw: dict[str, _Raw],
    cwd: Path,
    full_path: Path,
    fail: Callable[[str, str], InputError],
) -> None:
    """Turn the path options of VALUES into paths as Java SMAC finds them (folders from CWD,
    files from the experiment dir, then the scenario's folder); an execdir must exist, an
    outdir must be a folder or be made as one."""
    experiment_dir = cwd / Path(str(values.get("experiment_dir", "."))).expanduser()
    search = [Path(os.path.normpath(experiment_dir)), full_path.parent]
    for name, value in values.items():
        kind = OPTIONS[name].kind
        if kind == "dir":
            values[name] = Path(os.path.normpath(cwd / Path(str(value)).expanduser()))
        elif kind == "file":
            values[name] = _find_file(str(value), search, functools.partial(fail, name))
    execdir = values.get("execdir")
    if isinstance(execdir, Path) and not execdir.is_dir():
        found = "is a file, not a directory" if execdir.exists() else "not found"
        raise fail("execdir", f"directory '{raw['execdir'].value}' {found}")
    outdir = values.get("outdir")
    if isinstance(outdir, Path):  # made when missing, but not inside a file
        existing = next(p for p in (outdir, *outdir.parents) if p.exists() or p.is_symlink())
        if not existing.is_dir():
            what = "a link to nothing" if not existing.exists() else "a file"
            raise fail("outdir", f"expected a directory (made when missing); {existing} is {what}")


def _check_budget_options(
    values: dict[str, object], raw: dict[str, _Raw], fail: Callable[[str, str], InputError]
) -> None:
    """A budget flag needs a budget range a trial fits in, within the budget-limit, and no
    instance file (SMAC3 would take the instances as the budget)."""
    if not values.get("budget_flag"):
        return
    low, high = values.get("min_budget"), values.get("max_budget")
    if not isinstance(low, float) or not isinstance(high, float):
        raise fail(
            "budget_flag",
            "a budget flag needs min-budget and max-budget with 0 < min-budget < max-budget",
        )
    if not low < high:
        raise fail(
            "max_budget",
            f"expected more than min-budget ({low:g}), got {raw['max_budget'].value!r}",
        )
    limit = values.get("budget_limit")
    if isinstance(limit, float) and int(limit) < math.ceil(low):  # whole units are claimed
        raise fail(
            "budget_limit",
            f"{limit:g} units is less than a trial of min-budget ({low:g}) takes"
            f" ({math.ceil(low)}): no trial would fit in it",
        )
    if values.get("instance_file") and values.get("use_instances", True):
        # SMAC3's successive halving then takes the instances as the budget, and its
        # workers died on "requires integer budgets when using instances"
        raise fail(
            "budget_flag",
            "a budget flag and an instance file do not go together: with instances SMAC3's"
            " multi-fidelity uses the instances as the budget; remove one of them (or set"
            " use-instances = false)",
        )


def _find_file(value: str, search: list[Path], fail: Callable[[str], InputError]) -> Path:
    """Java SMAC's lookup: an absolute path as is, else the first of `search` that has it."""
    if value.upper() in ("SINGLETON", "NULL"):
        raise fail(f"'{value}' (a SMAC 2.10 special value) is not supported; give a file")
    given = Path(value).expanduser()
    candidates = [given] if given.is_absolute() else [base / given for base in search]
    for candidate in candidates:
        if candidate.is_file():
            return Path(os.path.normpath(candidate))
        if candidate.is_dir():
            raise fail(f"'{value}' is a directory; smac-bridge needs a file")
        if candidate.exists():  # a FIFO, a device: read by SMAC 2.10 no more than by us
            raise fail(f"'{value}' is not a regular file; smac-bridge needs a file")
    folders = dict.fromkeys(os.path.normpath(base) for base in search)  # once each, in order
    if given.is_absolute():
        raise fail(f"file '{value}' not found")
    raise fail(
        f"file '{value}' not found (looked in {' or '.join(folders)}; run smac-bridge from"
        " the folder the scenario's paths are relative to, such as the project folder)"
    )


# --- writing ---------------------------------------------------------------------------------


def scenario_text(values: Mapping[str, object], path: Path, header: str = "") -> str:
    """A scenario file's text for PATH: `key = value` lines (keys Java SMAC 2.10 accepts where
    it has one; None is skipped); an InputError for a value no line can hold."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in values.items():
        name = KEYS.get(key.lstrip("-"))
        if name is None:
            raise InputError(path, None, f"unknown scenario key '{key}'{_suggest(key, list(KEYS))}")
        if value is None:
            continue
        text = _format(value)
        if text != text.strip() or not text or "\n" in text or "\r" in text:
            raise InputError(path, None, f"{key}: {text!r} cannot be written as one trimmed line")
        if _inline_comment(text) is not None:
            raise InputError(path, None, f"{key}: {text!r} would be read as an inline comment")
        lines.append(f"{OPTIONS[name].aliases[0]} = {text}")
    return "\n".join(lines) + "\n"
