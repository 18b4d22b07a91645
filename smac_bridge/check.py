"""`smac-bridge check`: read scenario and PCS files the way a launch would, and summarise them.

Every file is checked even when an earlier one fails, so one call lists every problem; the
summary shows what smac-bridge understood (types, ranges, defaults, conditions, forbiddens),
which is where a misread PCS line becomes visible before hours of training are spent.
"""

from __future__ import annotations

import ast
import codecs
import errno
import os
import re
import shlex
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.hyperparameters import Hyperparameter
from rich.console import Console
from rich.table import Table

from smac_bridge import protocol
from smac_bridge.activity import never_active_warnings
from smac_bridge.algo_call import ScriptCall, algo_error, python_script, script_call
from smac_bridge.errors import InputError, text_lines
from smac_bridge.executors import interpreter_first, missing_module_note
from smac_bridge.pcs import (
    SearchSpace,
    choices_of,
    format_condition,
    format_forbidden,
    read_pcs,
)
from smac_bridge.scenario import Scenario, budget_units, passed_budget, stage_budgets

HELP_TIMEOUT = 60.0
"""Seconds the script's --help may take (a training script may import a framework first)."""

_KEY = re.compile(r"\s*([^\s=:]+)\s*(?P<separator>[=:]|\s)")
_WORD = re.compile(r"[A-Za-z_][\w.-]*")


def looks_like_scenario(path: Path) -> bool:
    """A `.pcs` file is a PCS file; otherwise a file setting `algo` or `paramfile`, or any
    `key = value` line (no PCS line has one; a misspelt key must get the scenario's error), is
    a scenario."""
    if path.suffix.lower() == ".pcs":
        return False
    from smac_bridge.scenario import KEYS

    for line in _lines_of(path) or []:  # unreadable, or not UTF-8: the reader's to report
        match = _KEY.match(line)
        if match is not None and match["separator"] == "=" and _WORD.fullmatch(match[1]):
            if not line[match.end() :].startswith("="):  # `a == b` is a PCS condition's
                return True
        if match is None or KEYS.get(match[1]) not in ("algo", "paramfile"):
            continue
        # `algo {a, b} [a]` is a PCS declaration of a parameter named algo, not a scenario key.
        if match["separator"] in "=:" or not re.search(r"[\[{|]", line):
            return True
    return False


def _lines_of(path: Path) -> list[str] | None:
    """PATH's lines for a first look (a byte that is not UTF-8 replaced); None when it cannot
    be read: the reader reports that, and what else is wrong with the file."""
    try:
        return text_lines(path.read_bytes().decode("utf-8-sig", errors="replace"))
    except OSError:
        return None


def _holds_nothing(path: Path) -> bool:
    """Whether PATH holds only blank lines and # comments (an empty file too)."""
    lines = _lines_of(path)
    return lines is not None and all(not t.strip() or t.lstrip().startswith("#") for t in lines)


def check_facade(path: str | Path, scenario: Scenario) -> None:
    """Refuse `smac-facade = blackbox` with instance features: SMAC3's Gaussian process cannot
    use them, and every worker would die on its first ask. Refuse `blackbox` and `random` with
    a budget-flag: a multi-fidelity launch drives SMAC3's multi-fidelity facade (a random
    forest), and took the asked one for nothing, without a word."""
    if scenario.budget_flag and scenario.smac_facade in ("blackbox", "random"):
        raise InputError(
            path,
            None,
            f"smac-facade = {scenario.smac_facade} cannot be used with budget-flag ="
            f" {scenario.budget_flag}: multi-fidelity launches drive SMAC3's multi-fidelity"
            " facade (a random forest); give smac-facade = hpo or auto, or no budget-flag",
        )
    uses_features = scenario.used_instance_file is not None
    if scenario.smac_facade == "blackbox" and uses_features and scenario.feature_file is not None:
        raise InputError(
            path,
            None,
            f"smac-facade = blackbox cannot use the instance features of {scenario.feature_file}"
            " (SMAC3's Gaussian process takes none): give smac-facade = hpo or auto",
        )


def check_script(scenario: Scenario, call: ScriptCall, here: bool = True) -> None:
    """InputError when the program the algo runs, or the Python script it names, is missing
    (a launch would burn its first runs on it). HERE: the trials run on this machine, so the
    interpreter a script's #! line names must be here too (a Dask cluster's may be its own)."""
    from smac_bridge.wrapper import absence, missing_interpreter

    if not call.command:  # a program a template picks that the default leaves inactive
        return
    program, execdir = call.command[0], Path(scenario.execdir)
    search_path = _searched_from(execdir, interpreter_first(os.environ))
    if os.sep in program:
        found = (execdir / program).exists()
    else:
        found = shutil.which(program, path=search_path) is not None
    if not found:
        raise algo_error(scenario, f"algo: cannot find {program!r} (in {execdir} or PATH)")
    if os.sep in program and (why := _not_startable(execdir / program, program)):
        raise algo_error(scenario, f"algo: cannot start {program}: {why}")
    if (
        here
        and os.sep in program
        and (missing := missing_interpreter(execdir / program, search_path))
    ):
        raise algo_error(
            scenario, f"algo: the #! line of {program} names {missing!r}, {absence(missing)}"
        )
    script = python_script(call.command)
    if script is None:
        return  # not a Python script, or `python -m module`
    if not (execdir / script).exists():
        raise algo_error(scenario, f"algo: the script {script} does not exist (in {execdir})")
    if call.custom_wrapper and (error := _syntax_error(execdir / script)):
        raise algo_error(scenario, f"algo: the custom wrapper {script} does not compile: {error}")


def _misnamed_hook_in(scenario: Scenario, call: ScriptCall) -> str | None:
    """`wrapper.misnamed_hook` of the custom wrapper CALL runs, read from its source."""
    from smac_bridge.wrapper import misnamed_hook

    script = python_script(call.command)
    try:
        tree = ast.parse((Path(scenario.execdir) / str(script)).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None  # check_script says why
    for name, defined in _wrapper_methods(tree).items():
        if misnamed := misnamed_hook(name, defined, defined):
            return misnamed
    return None


def _wrapper_methods(tree: ast.Module) -> dict[str, list[str]]:
    """The methods each Wrapper subclass of a source file defines, its bases' in the file
    included; of the classes whose `.main()` the file calls, else of those no other class
    there derives from, as one of those runs."""
    classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}

    def bases(node: ast.ClassDef) -> list[str]:
        return [getattr(base, "id", getattr(base, "attr", "")) for base in node.bases]

    def chain(name: str, seen: frozenset[str] = frozenset()) -> list[ast.ClassDef] | None:
        node = classes[name]
        for base in bases(node):
            if base == "Wrapper":
                return [node]
            if base in classes and base not in seen | {name}:
                if (above := chain(base, seen | {name})) is not None:
                    return [node, *above]
        return None

    derived_from = {base for node in classes.values() for base in bases(node)}
    started = {
        node.func.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "main"
        and isinstance(node.func.value, ast.Name)
    }
    methods = {}
    for name in sorted(started & set(classes) or set(classes) - derived_from):
        found = chain(name)
        if found is not None:
            kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
            methods[name] = [
                part.name for node in found for part in node.body if isinstance(part, kinds)
            ]
    return methods


def _syntax_error(path: Path) -> str | None:
    """Where and why the Python file at PATH does not compile, as its every run would fail;
    None when it compiles (or cannot be read: its run will say why)."""
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as error:
        return f"line {error.lineno}: {error.msg}"
    except (OSError, ValueError):
        return None
    return None


def _not_startable(path: Path, program: str) -> str | None:
    """Why the program file at PATH (the algo's PROGRAM) cannot be started as a command, as
    exec would refuse it on the first trial (Permission denied, Exec format error); None when
    it can, or when this cannot tell (a binary format the kernel may know)."""
    if not path.is_file():
        return None
    if not os.access(path, os.X_OK):
        if path.stat().st_mode & 0o111:  # executable bits, on a file system mounted noexec
            return (
                "its file system lets no program run from it (mounted noexec?): put its"
                f" interpreter before it ({_with_interpreter(path, program)})"
            )
        return (
            "it is not executable: make it so (chmod +x), or put its interpreter before it"
            f" ({_with_interpreter(path, program)})"
        )
    try:
        with open(path, "rb") as handle:
            start = handle.read(64)
    except OSError:
        return None
    if start.startswith(b"#!") or b"\0" in start:
        return None
    if start.startswith(codecs.BOM_UTF8 + b"#!"):
        return (
            "its #! line comes after a byte order mark (BOM), which exec does not read: save"
            " it without one"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start)  # a character cut off is text
    except UnicodeDecodeError:
        return None  # a binary
    return (
        "it is a text file without a #! line naming its interpreter: add one, or put its"
        f" interpreter before it ({_with_interpreter(path, program)})"
    )


def _with_interpreter(path: Path, program: str) -> str:
    """How the algo would run PROGRAM (the file at PATH) with its interpreter named."""
    interpreter = {".py": "python", ".sh": "bash"}.get(path.suffix, "INTERPRETER")
    return f"{interpreter} {program}"


def _searched_from(folder: Path, search_path: str) -> str:
    """SEARCH_PATH as a process started in FOLDER searches it: its relative entries (an
    empty one is the current folder) are FOLDER's, where the trials start."""
    entries = search_path.split(os.pathsep)
    return os.pathsep.join(e if os.path.isabs(e) else str(folder / e) for e in entries)


# What shapes a multi-fidelity launch's budgets, by scenario field: all of it does nothing
# without a budget-flag, so a scenario that gives any of it is warned, as of budget-limit.
_FIDELITY = {
    "multi_fidelity": "multi-fidelity",
    "min_budget": "min-budget",
    "max_budget": "max-budget",
    "eta": "eta",
}


def _setting(scenario: Scenario, name: str, key: str) -> str:
    """`min-budget = 1`: the scenario's option NAME as a scenario file writes it."""
    value = getattr(scenario, name)
    return f"{key} = {value:g}" if isinstance(value, float) else f"{key} = {value}"


def call_warnings(
    scenario: Scenario,
    call: ScriptCall,
    parallel: int = 1,
    brackets: bool = True,
) -> list[str]:
    """Warnings for a scenario that would run but not as meant: a runtime scenario whose
    `smac-bridge wrap` decides results for a quality (a failed run would count as solved at
    its runtime), a quality scenario that a failed training would abort (SAT/UNSAT check),
    parameters that --no-flags never passes, a budget-limit or another multi-fidelity option
    without a budget flag, a flag the command fixes that is tuned too, and a run budget that
    ends before any configuration reaches max-budget (BRACKETS false: a design, which runs no
    Hyperband brackets, or a resume, which says it once it knows what is left:
    `bracket_warnings`)."""
    warnings = []
    decides_as_wrap = call.wrapped or call.custom_wrapper
    if scenario.run_obj == "runtime" and scenario.cutoff_time is None:
        warnings.append(
            f"{scenario.path}: run_obj = runtime without cutoff_time: a run that times out or"
            " crashes costs 1e9 rather than a multiple of the cutoff (PAR-k), which SMAC's"
            " runtime model needs; set cutoff_time"
        )
    if scenario.run_obj == "runtime" and decides_as_wrap and not call.runtime_objective:
        warnings.append(
            f"{scenario.path}: run_obj = runtime, but the algo's smac-bridge wrapper has no"
            " --runtime-objective: a script that prints no result counts as failed, and a"
            " failed run as solved at its runtime (add --runtime-objective to the wrapper's"
            " options)"
        )
    aborts_on_discrepancy = scenario.check_sat_consistency and scenario.options.get(
        "check_sat_consistency_exception", True
    )
    if scenario.run_obj == "quality" and decides_as_wrap and aborts_on_discrepancy:
        warnings.append(
            f"{scenario.path}: check-sat-consistency is true (SMAC 2.10's default), but the"
            " wrapper reports a failed training as UNSAT: the first success after a failed"
            " run aborts the launch; set check-sat-consistency = false (as `smac-bridge init`"
            " writes it)"
        )
    if call.custom_wrapper and (misnamed := _misnamed_hook_in(scenario, call)):
        warnings.append(f"{scenario.path}: algo: {misnamed}")
    if call.unpassed:
        warnings.append(
            f"{scenario.path}: with --no-flags, {', '.join(call.unpassed)}"
            f" {'appears' if len(call.unpassed) == 1 else 'appear'} in no ${{name}} of the"
            f" command: the script never gets {'it' if len(call.unpassed) == 1 else 'them'},"
            " and tuning it is in vain"
        )
    if call.conditional_templates:
        names = ", ".join(f"${{{name}}}" for name in call.conditional_templates)
        warnings.append(
            f"{scenario.path}: the command's {names} names a conditional parameter: a"
            " configuration where it is inactive has no value for it, and its run fails"
            " (pass it as a flag instead, which an inactive parameter leaves out)"
        )
    if call.stray_renames:
        warnings.append(
            f"{scenario.path}: the wrapper's --rename names {', '.join(call.stray_renames)},"
            f" which {scenario.paramfile} does not declare: a misspelt name, and the"
            " parameter it meant goes to the script under its own name"
        )
    if scenario.pruning != "none" and scenario.used_instance_file is not None:
        warnings.append(
            f"{scenario.path}: pruning = {scenario.pruning} compares every run's learning curve"
            " at the same step, whatever its instance: a run on a hard instance is stopped for"
            " what runs on easy ones reached (prune only without instances)"
        )
    if scenario.budget_limit is not None and not scenario.budget_flag:
        warnings.append(
            f"{scenario.path}: budget-limit counts budget units and is ignored without a"
            " budget-flag"
        )
    unused = [
        _setting(scenario, name, key)
        for name, key in _FIDELITY.items()
        if name in scenario.given and not (name == "eta" and scenario.pruning == "asha")
    ]  # asha's rungs are eta apart
    if unused and not scenario.budget_flag:
        trains = "in full" if scenario.pruning == "none" else "with its command's budget"
        warnings.append(
            f"{scenario.path}: {', '.join(unused)} {'is' if len(unused) == 1 else 'are'}"
            f" ignored without a budget-flag: every trial trains {trains}"
        )
    fixed = [  # the budget flag's value in --cmd is the full-fidelity one the budget replaces
        flag
        for name, flag in call.flags.items()
        if name != scenario.budget_flag
        and any(word == flag or word.startswith(flag + "=") for word in call.command)
    ]
    if fixed:
        warnings.append(
            f"{scenario.path}: the command already passes {', '.join(fixed)}, which the"
            " wrapper passes too (after it, so the tuned value wins): remove"
            f" {'it' if len(fixed) == 1 else 'them'} from --cmd"
        )
    if brackets:
        warnings += bracket_warnings(scenario, parallel)
    return warnings


def first_bracket(scenario: Scenario) -> tuple[int, float]:
    """The runs and budget units of Hyperband's most aggressive bracket (SMAC3 starts each
    worker with it): eta^s configurations at SMAC3's smallest budget, the best 1/eta promoted
    each stage. SMAC3 counts the budgets down from max-budget (1 to 10 epochs at eta 3: 1.11,
    3.33, 10), and a run takes the units of the budget its script gets (1, 3, 10)."""
    budgets = stage_budgets(scenario)
    runs, units = 0, 0.0
    for stage, budget in enumerate(budgets):
        configs = scenario.eta ** (len(budgets) - 1 - stage)
        runs += configs
        units += configs * budget_units(budget, scenario)
    return runs, units


def bracket_warnings(
    scenario: Scenario, parallel: int, spent: tuple[int, int] = (0, 0)
) -> list[str]:
    """Warnings for budgets a script may not take (fractions) and for a run or unit budget
    that ends before each worker's first bracket does: no configuration would reach
    max-budget. A resume starts each worker's Hyperband again, so what counts is what is left
    of the budgets after SPENT (runs, units)."""
    low, high = scenario.min_budget, scenario.max_budget
    if not scenario.budget_flag or low is None or high is None:
        return []
    found = []
    if high / low < scenario.eta:  # one stage: Hyperband is full fidelity then
        found.append(
            f"{scenario.path}: eta = {scenario.eta} is more than max-budget / min-budget"
            f" ({high:g} / {low:g}): every trial trains with max-budget {high:g} and none is"
            " stopped early; lower eta or min-budget"
        )
    if not (low.is_integer() and high.is_integer()):
        smallest = protocol.format_value(passed_budget(stage_budgets(scenario)[0], scenario))
        found.append(
            f"{scenario.path}: min-budget {low:g} and max-budget {high:g} are not both whole"
            f" numbers, so the budget flag {scenario.budget_flag} gets decimal numbers"
            f" (the smallest is {smallest}): a script that takes an integer (epochs)"
            " refuses them; use whole numbers for such a flag"
        )
        if scenario.budget_limit is not None:  # a share of the data 0.11 costs 1 unit, not 0.11
            found.append(
                f"{scenario.path}: budget-limit takes whole units, a trial's budget rounded up"
                f" (one of {smallest} takes {budget_units(stage_budgets(scenario)[0], scenario)}),"
                " as a script that trains whole epochs trains them; where the budget is a share"
                " of the data, give it in per cent (whole numbers) for budget-limit to count it"
            )
    runs, units = first_bracket(scenario)
    workers = f"{parallel} workers" if parallel > 1 else "a worker"
    short = []
    runs_spent, units_spent = spent
    if scenario.runcount_limit and scenario.runcount_limit - runs_spent < parallel * runs:
        left = f" ({max(scenario.runcount_limit - runs_spent, 0)} left)" if runs_spent else ""
        short.append(f"runcount_limit = {scenario.runcount_limit}{left}")
    if scenario.budget_limit is not None and scenario.budget_limit - units_spent < parallel * units:
        left = f" ({max(scenario.budget_limit - units_spent, 0):g} left)" if units_spent else ""
        short.append(f"budget-limit = {scenario.budget_limit:g}{left}")
    if short:
        found.append(
            f"{scenario.path}: {' and '.join(short)} may end the launch before any"
            f" configuration reaches max-budget {high:g}: the first bracket of {workers} takes"
            f" {runs} runs and {units:g} budget units each"
        )
    return found


def _run_help(scenario: Scenario, command: Sequence[str]) -> tuple[int | None, str] | None:
    """The exit code and output of COMMAND --help, or None when it ran past HELP_TIMEOUT: it
    is then stopped with every process it started, by the supervisor that stops trials."""
    from smac_bridge.supervisor import Limits, Supervisor

    env = {**os.environ, "PATH": interpreter_first(os.environ)}
    with tempfile.TemporaryDirectory(prefix="smac-bridge-help-") as folder:
        log = Path(folder) / "help.log"
        supervisor = Supervisor(
            [*command, "--help"],
            log_path=log,
            cwd=Path(scenario.execdir),
            env=env,
            limits=Limits(wall_time=HELP_TIMEOUT, grace=1.0),
        )
        try:
            supervisor.start()
        except OSError as error:
            why = str(error.strerror)
            if error.errno == errno.ENOEXEC:
                why += " (the file has no #! line naming its interpreter)"
            raise algo_error(scenario, f"algo: cannot start {shlex.join(command)}: {why}") from None
        outcome = supervisor.wait()
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    if outcome.stopped_by == "wall_time":
        return None
    return outcome.exit_code, text


def _mentions(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def _help_form(text: str, flag: str) -> tuple[str | None, str | None]:
    """How argparse's --help TEXT shows FLAG: "switch" (no value: `[--flag]`, `-u, --flag`),
    "value" (`--flag LR`), or None when it cannot tell; and its `--no-` twin, if any
    (BooleanOptionalAction's `--flag, --no-flag`)."""
    forms, twin = set(), None
    for line in text.splitlines():  # the options list: `  -u, --use-bn     help`
        items = re.split(r"\s{2,}", line.strip())[0].split(", ")
        if not any(i == flag or i.startswith(f"{flag} ") for i in items):
            continue
        for item in items:
            if item == flag:
                forms.add("switch")
            elif item.startswith(f"{flag} "):
                forms.add("value")
            elif item.startswith("--no-") and " " not in item:
                twin = item
    escaped = re.escape(flag)
    if re.search(rf"(?:\[|\| ){escaped}(?:\]| \|)", text):  # usage: [--flag], [--a | --flag]
        forms.add("switch")
    if usage_twin := re.search(rf"\[{escaped} \| (--no-[\w-]+)\]", text):
        twin = usage_twin[1]
    return (forms.pop() if len(forms) == 1 else None), twin


def _switch_warning(call: ScriptCall, text: str, name: str, flag: str) -> str | None:
    """A warning when the --help TEXT shows FLAG otherwise than the wrapper passes it: as a
    switch that takes no value (or its `--no-` twin) where the wrapper passes a value or
    nothing, as a flag with a value where it passes a --switch, or without the OFF word a
    --switch passes for false."""
    form, twin = _help_form(text, flag)
    off = call.switches.get(name)
    if name not in call.switches:
        if form != "switch":
            return None
        add = f"--switch {name}={twin}" if twin else f"--switch {name}"
        false = twin or "nothing"
        return (
            f"the script's --help shows {flag} as a switch that takes no value, but the wrapper"
            f" passes it one ({flag} VALUE), which the script refuses: add {add} to the"
            f" wrapper's options (true passes {flag}, false {false})"
        )
    if form == "value":
        return (
            f"the wrapper's --switch {name} passes {flag} alone, but the script's --help shows"
            f" it takes a value: its runs would fail"
        )
    if off is None and twin:
        return (
            f"the script's --help shows {flag} | {twin}: with --switch {name}, false passes"
            f" nothing and the script's default holds; give --switch {name}={twin}"
        )
    if off is not None and not _mentions(text, off):
        return (
            f"the script's --help does not mention {off}, which the wrapper's --switch"
            f" {name}={off} passes when {name} is false: such runs would fail"
        )
    return None


def help_warnings(scenario: Scenario, call: ScriptCall) -> list[str]:
    """Warnings, each naming the scenario file, for the PCS parameters the script's `--help`
    does not mention (the script's argparse would refuse them), or for a `--help` that fails;
    InputError for a script that cannot be started at all (no #! line, not executable)."""
    return [f"{scenario.path}: {text}" for text in _help_findings(scenario, call)]


def _help_findings(scenario: Scenario, call: ScriptCall) -> list[str]:
    nondeterministic = not scenario.deterministic
    if (
        not call.command
        or not call.wrapped
        or not (call.flags or call.seed_flag or nondeterministic)
    ):
        return []
    done = _run_help(scenario, call.command)
    if done is None:
        return [
            f"the script's --help did not end within {HELP_TIMEOUT:g} s, so it was stopped with"
            " every process it started: a script that ignores --help trains instead, and"
            " check cannot tell which flags it takes"
        ]
    code, text = done
    if code != 0:
        last = (text.strip().splitlines() or [""])[-1]
        note = missing_module_note(call.command, last)
        return [
            f"the script's --help exited with code {code}: {last}" + (f"; {note}" if note else "")
        ]

    def unmentioned(name: str, flag: str) -> str:
        what = "the budget flag" if name == scenario.budget_flag else f"PCS parameter {name}"
        longer = set(re.findall(rf"(?<![\w-]){re.escape(flag)}[\w-]+", text))
        if len(longer) == 1:  # argparse's allow_abbrev: the value goes to the longer flag
            return (
                f"the script's --help does not mention {flag} ({what}); argparse takes it as an"
                f" abbreviation of {longer.pop()} (is that the parameter?), and a parser"
                " without abbreviations refuses it"
            )
        return (
            f"the script's --help does not mention {flag} ({what}); a run would fail if the"
            " script does not take it"
        )

    found = [
        unmentioned(name, flag) for name, flag in call.flags.items() if not _mentions(text, flag)
    ]
    found += [  # argparse's own: every run would print the help and exit 0, with no result
        f"PCS parameter {name} becomes {flag}, which argparse takes for its help: every run"
        f" would print the help instead of training; pass it as another flag with --rename"
        f" {name}=NEW_NAME"
        for name, flag in call.flags.items()
        if flag in ("--help", "-h")
    ]
    found += [
        w for name, flag in call.flags.items() if (w := _switch_warning(call, text, name, flag))
    ]
    if call.seed_flag and not _mentions(text, call.seed_flag):
        found.append(
            f"the script's --help does not mention {call.seed_flag} (the wrapper's --pass-seed);"
            " a run would fail if the script does not take it"
        )
    if nondeterministic and not call.seed_flag and _mentions(text, "--seed"):
        found.append(
            "deterministic = false runs a configuration under several seeds, but the script's"
            " --seed is never passed (every run would use its default): add --pass-seed to the"
            " wrapper in algo"
        )
    return found


def _kind(hp: object) -> str:
    if isinstance(hp, UniformIntegerHyperparameter):
        return "integer"
    if isinstance(hp, UniformFloatHyperparameter):
        return "real"
    if isinstance(hp, OrdinalHyperparameter):
        return "ordinal"
    if isinstance(hp, CategoricalHyperparameter):
        return "categorical"
    return type(hp).__name__


def _domain(hp: object) -> str:
    choices = choices_of(hp) if isinstance(hp, Hyperparameter) else None
    if choices is not None:
        return "{" + ", ".join(map(str, choices)) + "}"
    if isinstance(hp, UniformIntegerHyperparameter | UniformFloatHyperparameter):
        return f"[{hp.lower}, {hp.upper}]"
    return ""


def summarise_space(space: SearchSpace, console: Console) -> None:
    """Print the parameters, conditions and forbidden clauses as smac-bridge understood them."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("parameter", "type", "range / values", "default", "log"):
        table.add_column(column)
    for hp in space.space.values():
        log = "log" if getattr(hp, "log", False) else ""
        table.add_row(hp.name, _kind(hp), _domain(hp), str(hp.default_value), log)
    console.print(table)
    lines = [line for c in space.space.conditions for line in format_condition(c, "new")]
    if lines:
        console.print("conditions:")
        for line in lines:
            console.print(f"  {line}")
    forbidden = [format_forbidden(clause) for clause in space.space.forbidden_clauses]
    forbidden += ["{ " + expression.text + " }" for expression in space.expressions]
    if forbidden:
        console.print("forbidden:")
        for line in forbidden:
            console.print(f"  {line}")


def _check_pcs(path: Path, console: Console, err: Console) -> SearchSpace:
    space = read_pcs(path)
    count = len(space.space)
    console.print(f"{path}: PCS file, {count} parameter{'s' if count != 1 else ''}", style="bold")
    summarise_space(space, console)
    for warning in never_active_warnings(space, path):
        err.print(warning)
    return space


def _check_scenario(
    path: Path, console: Console, err: Console, overrides: Mapping[str, str]
) -> None:
    from smac_bridge.design import check_saved_space, initial_configuration
    from smac_bridge.instances import Instance, read_features, read_instances, unused_seeds
    from smac_bridge.layout import GroupLayout
    from smac_bridge.results import printable
    from smac_bridge.scenario import read_scenario

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scenario = read_scenario(path, dict(overrides))
    for warning in caught:
        err.print(f"warning: {warning.message}")
    console.print(f"{path}: scenario file", style="bold")
    console.print(f"  algo: {printable(scenario.algo)}")  # its escape codes must not act
    console.print(f"  run_obj: {scenario.run_obj}  paramfile: {scenario.paramfile}")
    training: list[Instance] = []
    training_file: Path | None = None
    for label, instance_file in (
        ("instances", scenario.instance_file),
        ("test instances", scenario.test_instance_file),
    ):
        if instance_file is not None:
            instances = read_instances(instance_file)
            if label == "instances":
                training, training_file = instances, instance_file
                if unused := unused_seeds(instance_file, instances, scenario.deterministic):
                    err.print(f"warning: {unused}")
            unused = " (not run: smac-bridge validates nothing)" if label != "instances" else ""
            if label == "instances" and not scenario.use_instances:
                unused = " (not run: use-instances = false gives every run no_instance)"
            console.print(f"  {label}: {len(instances)} in {instance_file}{unused}")
    if scenario.feature_file is not None:
        # SMAC 2.10 needs a feature row for every training instance (a launch reads them
        # only where its runs use the instances)
        used = training if scenario.use_instances else []
        features = read_features(scenario.feature_file, used, training_file)
        unused = "" if scenario.use_instances else " (not used: use-instances = false)"
        console.print(f"  features: {len(features)} rows in {scenario.feature_file}{unused}")
    check_facade(path, scenario)
    space = _check_pcs(scenario.paramfile, console, err)
    initial = initial_configuration(scenario, space)
    if initial is not None:
        console.print(f"  initial incumbent: {initial}")
    call = script_call(scenario, space)
    check_script(scenario, call)
    for text in call_warnings(scenario, call) + help_warnings(scenario, call):
        err.print(f"warning: {text}")
    layout = GroupLayout(Path(scenario.outdir) / scenario.rungroup)
    if layout.space.exists():  # the rungroup a launch would resume
        try:
            check_saved_space(layout, scenario.paramfile)
        except InputError as error:
            err.print(f"warning: {error}")


class _WarningsCounted(Console):
    """stderr, counting the warnings printed: a file that earned some is "OK" only with them
    (an unknown flag the script's --help shows fails every run)."""

    warned = 0

    def print(self, *objects: Any, **options: Any) -> None:
        if objects and str(objects[0]).startswith("warning:"):
            self.warned += 1
        super().print(*objects, **options)


def check_files(paths: Sequence[Path], overrides: Mapping[str, str] | None = None) -> int:
    """Check each file (scenario, with OVERRIDES as `launch --set` gives them, or PCS); print
    a summary or the error; 0 if all are fine."""
    console = Console(markup=False, highlight=False, soft_wrap=True)
    err = _WarningsCounted(stderr=True, markup=False, highlight=False, soft_wrap=True)
    failed = 0
    for path in paths:
        warned_before = err.warned
        try:
            if path.exists() and not (path.is_file() or path.is_dir()):  # click refuses a folder
                raise InputError(path, None, "not a regular file (a pipe or a device); give a file")
            if not path.is_file():
                raise InputError(path, None, "no such file")
            if _holds_nothing(path):  # neither reader's error would say what it is
                raise InputError(
                    path,
                    None,
                    "expected a scenario file (key = value lines) or a PCS file (parameter"
                    " declarations); it holds only blank lines and comments",
                )
            if looks_like_scenario(path):
                _check_scenario(path, console, err, overrides or {})
            else:
                if overrides:  # a user who gave --set expects it to change what is checked
                    note = "--set overrides scenario options; not applied to a PCS file"
                    err.print(f"warning: {path}: {note}")
                _check_pcs(path, console, err)
        except InputError as error:
            err.print(f"error: {error}")
            failed += 1
            continue
        if warned := err.warned - warned_before:
            what = "the warning" if warned == 1 else f"the {warned} warnings"
            console.print(f"{path}: OK, but read {what} above")
        else:
            console.print(f"{path}: OK", style="green")
    if len(paths) > 1:
        console.print(f"{len(paths) - failed} of {len(paths)} files OK")
    return 1 if failed else 0
