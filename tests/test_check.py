"""`smac-bridge check` and `smac-bridge pcs`, run as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import psutil
import pytest
from conftest import REPO, run_cli

from smac_bridge import check
from smac_bridge.algo_call import script_call
from smac_bridge.check import check_script, looks_like_scenario
from smac_bridge.pcs import parse_pcs, read_pcs
from smac_bridge.scenario import read_scenario

MNIST = """\
nb_filters [16, 256] [32]i
nb_conv_size [1, 10] [3]i
dropout1 [0, 0.9] [0.25]
dropout2 [0, 0.9] [0.5]
nb_pool [1, 5] [2]i
{nb_conv_size=10, nb_pool=5}
"""

MIXED = """\
optimizer {sgd, adam} [adam]
momentum real [0, 1] [0.9]
depth ordinal {shallow, deep} [shallow]
units integer [8, 512] [64] log
momentum | optimizer == sgd
units | depth > shallow
{ momentum * units > 400 }
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_check_summarises_a_good_pcs_file(tmp_path):
    path = write(tmp_path, "mnist.pcs", MNIST)
    result = run_cli("check", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}: OK\n" in result.stdout and "warning" not in result.stderr
    assert "nb_conv_size" in result.stdout and "[1, 10]" in result.stdout
    assert "{nb_conv_size=10, nb_pool=5}" in result.stdout


def test_check_reports_every_bad_file_and_exits_1(tmp_path):
    good = write(tmp_path, "good.pcs", MIXED)
    bad1 = write(tmp_path, "bad1.pcs", MNIST.replace("[3]i", "[12]i"))
    bad2 = write(tmp_path, "bad2.pcs", "x [0, 1] [0.5]\ny | x == 2\n")
    result = run_cli("check", str(bad1), str(good), str(bad2))
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"error: {bad1}:2: expected a default in [1, 10] for 'nb_conv_size', got '12'",
        f"error: {bad2}:2: condition on undeclared parameter 'y'",
    ]
    assert f"{good}: OK" in result.stdout
    assert "units | depth > shallow" in result.stdout
    assert "{ momentum * units > 400 }" in result.stdout
    assert "1 of 3 files OK" in result.stdout


def test_a_huge_value_is_quoted_by_its_start_and_its_length(tmp_path):
    """A value of 2 MB on one line (a generated file gone wrong) was printed back whole: an
    error line of 2 MB."""
    value = "9" * 2_000_000
    scenario = write(
        tmp_path,
        "s.txt",
        f"algo = python t.py\nrun_obj = quality\nparamfile = p.pcs\ncutoff_time = {value}\n",
    )
    pcs = write(tmp_path, "p.pcs", f"x [0, 1] [{value}]\n")
    for path, line in ((scenario, 4), (pcs, 1)):
        result = run_cli("check", str(path))
        assert result.returncode == 1
        (error,) = result.stderr.strip().splitlines()
        assert error.startswith(f"error: {path}:{line}: ") and len(error) < 1000, error[:2000]
        assert "9" * 150 in error and "9... (200000" in error, error


def test_check_missing_file_is_exit_1_and_no_argument_is_usage_error(tmp_path):
    for name in ("nope.pcs", "nope.txt"):
        result = run_cli("check", str(tmp_path / name))
        assert result.returncode == 1
        assert f"{tmp_path / name}: no such file" in result.stderr
    result = run_cli("check")
    assert result.returncode == 2
    assert "Missing argument" in result.stderr
    os.mkfifo(tmp_path / "s.fifo")  # `check <(sed ... s.txt)` said "no such file"
    result = run_cli("check", str(tmp_path / "s.fifo"))
    assert result.returncode == 1
    assert f"{tmp_path / 's.fifo'}: not a regular file (a pipe or a device)" in result.stderr


@pytest.mark.parametrize("text", ["", "# a scenario, one day\n\n"])
def test_an_empty_file_is_neither_scenario_nor_pcs(tmp_path, text):
    """An empty scenario file was checked as a PCS file: 'expected at least one parameter
    declaration', where launch says the scenario misses its algo."""
    (tmp_path / "tune.txt").write_text(text)
    result = run_cli("check", str(tmp_path / "tune.txt"))
    said = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "expected a scenario file (key = value lines) or a PCS" in said


def test_check_scenario_checks_its_pcs_and_instance_files(tmp_path):
    write(tmp_path, "train.py", "")
    write(tmp_path, "space.pcs", MNIST)
    write(tmp_path, "train.txt", "a\nb\nc\n")
    scenario = write(
        tmp_path,
        "scenario.txt",
        "algo = python train.py\nrun_obj = quality\nparamfile = space.pcs\n"
        "instance_file = train.txt\n",
    )
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{scenario}: scenario file" in result.stdout
    assert "instances: 3" in result.stdout
    assert "PCS file, 5 parameters" in result.stdout
    assert f"{scenario}: OK" in result.stdout
    assert "seeds" not in result.stderr

    write(tmp_path, "train.txt", "1,a\n2,a\n3,b\n")  # SMAC 2.10's instance seeds
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "train.txt: a deterministic scenario runs each instance once, with its first seed;" in (
        result.stderr
    )
    assert "the other seeds are not used" in result.stderr
    scenario.write_text(scenario.read_text() + "deterministic = false\n")
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "train.txt: the seeds in this instance file are not passed" in result.stderr

    write(tmp_path, "space.pcs", MNIST + "{nb_pool=6}\n")
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 1
    assert "space.pcs:7: expected an integer in [1, 5] for 'nb_pool'" in result.stderr

    write(tmp_path, "space.pcs", MNIST)  # an escape code in the algo is shown, not acted on
    scenario.write_text(scenario.read_text().replace("train.py", "train.py --tag a\x1b[2Jb"))
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "algo: python train.py --tag a\\x1b[2Jb" in result.stdout and "\x1b" not in result.stdout


def test_check_scenario_with_a_bad_instance_file(tmp_path):
    write(tmp_path, "space.pcs", MNIST)
    write(tmp_path, "train.txt", "a\n\nb\n")
    scenario = write(
        tmp_path,
        "run.scenario",
        "algo python train.py\nrun_obj quality\nparamfile space.pcs\ninstances train.txt\n",
    )
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 1
    assert "train.txt:2: blank line" in result.stderr

    # A training instance without a feature row: check and launch name the instance's line.
    write(tmp_path, "train.py", "")
    write(tmp_path, "train.txt", "a\nb\n")
    write(tmp_path, "features.csv", "instance,size\na,1\n")
    scenario.write_text(scenario.read_text() + "feature_file features.csv\n")
    expected = (
        f"train.txt:2: no row in the feature file {tmp_path / 'features.csv'} for instance 'b'"
    )
    for command in (["check"], ["launch", "--outdir", str(tmp_path / "out")]):
        result = run_cli(*command, str(scenario), cwd=tmp_path)
        assert result.returncode == 1
        assert expected in result.stderr, result.stderr

    # Files the runs do not use are named as such: their settings have no effect.
    scenario.write_text(scenario.read_text() + "use-instances false\n")
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(not run: use-instances = false gives every run no_instance)" in result.stdout
    assert "(not used: use-instances = false)" in result.stdout  # nor checked against them
    no_instances = scenario.read_text().replace("instances train.txt\n", "")
    scenario.write_text(no_instances.replace("use-instances false\n", ""))
    result = run_cli("check", str(scenario), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "feature_file is not used without an instance_file" in result.stderr


def test_scenario_detection(tmp_path):
    assert looks_like_scenario(write(tmp_path, "a.txt", "# c\nalgo = python x.py\n"))
    assert looks_like_scenario(write(tmp_path, "b.txt", "pcs-file: space.pcs\n"))
    assert not looks_like_scenario(write(tmp_path, "c.txt", "algo {a, b} [a]\n"))
    assert not looks_like_scenario(write(tmp_path, "d.pcs", "algo = python x.py\n"))
    # a misspelt key is still a scenario, so that the error names the key
    assert looks_like_scenario(write(tmp_path, "e.txt", "algoo = python x.py\nparam_file = s\n"))
    space = "x [0, 1] [0.5]\ny {a, b} [a]\nx | y == a\n{x=0.5, y=b}\n# x = 1\n"
    assert not looks_like_scenario(write(tmp_path, "f.txt", space))
    latin1 = tmp_path / "g.txt"  # its error must call it the scenario file, not a PCS file
    latin1.write_bytes(b"algo = python t.py \xe9\nparamfile = x.pcs\nrun_obj = quality\n")
    assert looks_like_scenario(latin1)
    done = run_cli("check", str(latin1))
    assert done.returncode == 1
    assert "g.txt:1: the scenario file is not UTF-8 text (byte 0xe9)" in done.stderr


def test_pcs_command_converts_between_syntaxes(tmp_path):
    source = write(tmp_path, "mixed.pcs", MIXED)
    result = run_cli("pcs", str(source), "--to", "new")
    assert result.returncode == 0, result.stderr
    assert "depth ordinal {shallow, deep} [shallow]" in result.stdout
    assert parse_pcs(result.stdout) == read_pcs(source)

    out = tmp_path / "space.json"
    result = run_cli("pcs", str(source), "--to", "json", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    data = json.loads(out.read_text())
    assert data["smac_bridge_forbidden_expressions"] == ["momentum * units > 400"]

    classic = write(tmp_path, "mnist.pcs", MNIST)
    result = run_cli("pcs", str(classic), "--to", "classic")
    assert result.returncode == 0, result.stderr
    assert "nb_conv_size [1, 10] [3]i" in result.stdout
    assert parse_pcs(result.stdout) == read_pcs(classic)

    # a scenario given by mistake is named as one, not as a PCS line that does not parse
    scenario = write(tmp_path, "run.txt", "algo = python train.py\nparamfile = mnist.pcs\n")
    result = run_cli("pcs", str(scenario), "--to", "new")
    assert result.returncode == 1
    assert "a scenario file, not a PCS file: give the file its paramfile names" in result.stderr


def test_pcs_command_writes_neither_over_its_input_nor_into_a_rungroup(tmp_path):
    """`-o` naming the file read replaced the PCS (and its comments) by JSON, which check
    then refused; into a rungroup it replaced the space.pcs a resume compares with."""
    source = write(tmp_path, "space.pcs", "# the learning rate\nlr [0.001, 0.1] [0.01]l\n")
    before = source.read_text()
    spellings = [str(source), f"{tmp_path}/../{tmp_path.name}/./space.pcs"]
    for spelling in spellings:  # the same file, however the path is written
        result = run_cli("pcs", str(source), "--to", "json", "-o", spelling)
        assert result.returncode == 2 and "it is the file read: name another" in result.stderr
        assert source.read_text() == before
    group = tmp_path / "out" / "demo"
    group.mkdir(parents=True)
    (group / "launch.json").write_text("{}")
    result = run_cli("pcs", str(source), "--to", "new", "-o", str(group / "space.pcs"))
    assert result.returncode == 2 and "is a rungroup, whose files a resume reads" in result.stderr
    assert not (group / "space.pcs").exists()
    project = tmp_path / "project"  # a project of the user's with a workers/ package
    (project / "workers").mkdir(parents=True)
    (project / "workers" / "pool.py").write_text("")
    result = run_cli("pcs", str(source), "--to", "new", "-o", str(project / "space.pcs"))
    assert result.returncode == 0 and (project / "space.pcs").exists(), result.stderr


def test_pcs_command_errors(tmp_path):
    source = write(tmp_path, "mixed.pcs", MIXED)
    result = run_cli("pcs", str(source), "--to", "classic")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {source}: classic PCS syntax has no ordinal parameters ('depth'); use new syntax"
    )
    result = run_cli("pcs", str(source), "--to", "yaml")
    assert result.returncode == 2
    # conditions classic lines cannot hold are named as the PCS file writes them
    either = write(tmp_path, "or.pcs", "a {on, off} [on]\nb [0, 1] [0.5]\nc [0, 1] [0]\n")
    either.write_text(either.read_text() + "c | a == off || b > 0.5\n")
    result = run_cli("pcs", str(either), "--to", "classic")
    assert result.stderr.strip() == (
        f"error: {either}: classic PCS syntax has no '||' ('c | a == off || b > 0.5');"
        " use new syntax"
    )
    result = run_cli("pcs", str(tmp_path / "missing.pcs"), "--to", "new")
    assert result.returncode == 2
    bad = write(tmp_path, "bad.pcs", "x [0, 1] [0.5]\n{ x > 0.4 }\n")
    result = run_cli("pcs", str(bad), "--to", "new")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {bad}:2: this forbidden clause forbids the default configuration"
    )


def check_template_call(tmp_path, pcs: str, algo: str, more: str = ""):
    """`check` of a scenario whose algo is ALGO over the space PCS; its finished process."""
    write(tmp_path, "train.py", "")
    write(tmp_path, "space.pcs", pcs)
    text = f"algo = {algo}\nrun_obj = quality\nparamfile = space.pcs\n{more}"
    result = run_cli("check", str(write(tmp_path, "tune.txt", text)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result


def test_check_warns_of_a_template_that_names_a_conditional_parameter(tmp_path):
    """A configuration where momentum is inactive has no value for ${momentum}: its run
    failed (the default's first, which aborts the launch) and check said OK."""
    result = check_template_call(
        tmp_path,
        "opt {adam, sgd} [adam]\nmomentum [0, 1] [0.9]\nmomentum | opt == sgd\n",
        'smac-bridge wrap --cmd "python train.py --opt=${opt} --momentum=${momentum}"',
    )
    assert "the command's ${momentum} names a conditional parameter" in result.stderr
    assert "${opt}" not in result.stderr
    # a warning that every run with momentum active fails: not a plain OK
    assert result.stdout.rstrip().endswith(": OK, but read the 2 warnings above"), result.stdout


def test_check_warns_that_a_failed_training_would_abort_a_quality_launch(tmp_path):
    """SMAC 2.10's check-sat-consistency defaults to true; the wrapper's UNSAT is a failed
    training, so the first success after one aborted the launch, and check said OK."""
    algo = 'smac-bridge wrap --cmd "python train.py"'
    pcs = "lr [0.001, 0.1] [0.01]l\n"
    warned = check_template_call(tmp_path, pcs, algo)
    assert "check-sat-consistency is true (SMAC 2.10's default), but the wrapper" in (warned.stderr)
    for number, more in enumerate(
        ("check-sat-consistency = false\n", "check-sat-consistency-exception = false\n")
    ):
        (tmp_path / str(number)).mkdir()
        quiet = check_template_call(tmp_path / str(number), pcs, algo, more)
        assert "check-sat-consistency is true" not in quiet.stderr


CUSTOM_WRAPPER = """
from smac_bridge.wrapper import Wrapper

class SolverWrapper(Wrapper):
    def build_command(self, call):
        return ["./solver", call.instance]

if __name__ == "__main__":
    SolverWrapper.main()
"""


@pytest.mark.parametrize(
    ("options", "run_obj", "warned"),
    [
        ("--gpus none", "runtime", "run_obj = runtime, but the algo's smac-bridge wrapper has no"),
        ("--gpus none --runtime-objective", "runtime", None),
        ("--grace 1", "quality", "check-sat-consistency is true (SMAC 2.10's default)"),
    ],
)
def test_a_custom_wrapper_is_warned_of_as_smac_bridge_wrap_is(tmp_path, options, run_obj, warned):
    """A wrapper ported from Java SMAC (a subclass of smac-bridge's) decides results as
    `smac-bridge wrap` does, but check said OK: in a runtime scenario without
    --runtime-objective a solver that crashed at once counted as solved (and became the
    incumbent); in a quality one the first success after a failure aborted the launch."""
    write(tmp_path, "space.pcs", "x [1, 20] [15]\n")
    source = CUSTOM_WRAPPER
    if run_obj == "quality":  # the package exports it too
        source = source.replace("from smac_bridge.wrapper import", "from smac_bridge import")
    write(tmp_path, "solver_wrapper.py", source)
    text = (
        f"algo = python solver_wrapper.py {options}\nrun_obj = {run_obj}\nparamfile = space.pcs\n"
    )
    result = run_cli(
        "check", str(write(tmp_path, "tune.txt", text + "cutoff_time = 5\n")), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    if warned is None:
        assert "warning" not in result.stderr, result.stderr
    else:
        assert warned in result.stderr
    solver = "# a solver of its own, not one built on smac_bridge.wrapper\nprint(0.5)\n"
    write(tmp_path, "solver_wrapper.py", solver)  # a comment that names it is no wrapper
    assert "warning" not in run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path).stderr
    if run_obj == "runtime":  # without a cutoff a failed run costs 1e9, no PAR-k
        uncut = run_cli("check", str(write(tmp_path, "uncut.txt", text)), cwd=tmp_path)
        assert "run_obj = runtime without cutoff_time: a run that times out" in uncut.stderr


def test_a_custom_wrappers_misspelt_hook_is_warned_of(tmp_path):
    """A custom wrapper's `read_results` ran no trial differently from the default's: its
    author learnt of the typo only from qualities that never changed."""
    write(tmp_path, "space.pcs", "x [1, 20] [15]\n")
    misspelt = CUSTOM_WRAPPER.replace(
        "if __name__", "    def read_results(self, run):\n        return None\n\nif __name__"
    )
    write(tmp_path, "solver_wrapper.py", misspelt)
    text = "algo = python solver_wrapper.py --grace 1\nrun_obj = quality\nparamfile = space.pcs\n"
    result = run_cli("check", str(write(tmp_path, "tune.txt", text)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "algo: SolverWrapper defines read_results but Wrapper has no such hook" in result.stderr
    write(tmp_path, "solver_wrapper.py", misspelt.replace("read_results", "read_result"))
    assert "no such hook" not in run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path).stderr


CHAINED_WRAPPERS = """
from smac_bridge.wrapper import Wrapper

class Base(Wrapper):
    def read_results(self, run):  # a helper of Base's, which the wrapper that runs overrides
        return None

class Scored(Base):
    def read_result(self, run):
        return self.read_results(run)

class Typo(Base):
    pass

class Misspelt(Typo):
    @classmethod
    def build_cmd(cls, call):
        return ["./solver"]

if __name__ == "__main__":
    WRAPPER.main()
"""


@pytest.mark.parametrize(("runs", "warned"), [("Scored", None), ("Misspelt", "build_cmd")])
def test_the_misspelt_hook_check_follows_the_wrapper_that_runs(tmp_path, runs, warned):
    """check warned of a base class's helper that the wrapper run overrides, and missed a
    misspelt hook of a class derived from another of the file's."""
    write(tmp_path, "space.pcs", "x [1, 20] [15]\n")
    write(tmp_path, "w.py", CHAINED_WRAPPERS.replace("WRAPPER", runs))
    text = "algo = python w.py --grace 1\nrun_obj = quality\nparamfile = space.pcs\n"
    result = run_cli("check", str(write(tmp_path, "tune.txt", text)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    if warned is None:
        assert "no such hook" not in result.stderr, result.stderr
    else:
        assert f"algo: {runs} defines {warned} but Wrapper has no such hook" in result.stderr


def test_a_custom_wrapper_that_does_not_compile_is_refused(tmp_path):
    """A custom wrapper with a syntax error passed `check`, and every run of a launch failed
    on it (the first aborting the launch)."""
    write(tmp_path, "space.pcs", "x [1, 20] [15]\n")
    broken = CUSTOM_WRAPPER.replace(
        "def build_command(self, call):", "def build_command(self, call)"
    )
    write(tmp_path, "solver_wrapper.py", broken)
    text = "algo = python solver_wrapper.py --grace 1\nrun_obj = quality\nparamfile = space.pcs\n"
    scenario = write(tmp_path, "tune.txt", text)
    for command in ("check", "launch"):
        result = run_cli(command, str(scenario), cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        expected = (
            f"{scenario}:1: algo: the custom wrapper solver_wrapper.py does not compile: line 5"
        )
        assert expected in result.stderr, result.stderr
    assert not (tmp_path / "smac-bridge-output").exists()
    # compiled as Python compiles it, not under check's own `from __future__` flags
    annotated = CUSTOM_WRAPPER.replace(
        "def build_command(self, call):", "def build_command(self, call: (n := 1)):"
    )
    write(tmp_path, "solver_wrapper.py", annotated)
    assert run_cli("check", str(scenario), cwd=tmp_path).returncode == 0


def test_check_warns_of_parameters_a_template_command_never_passes(tmp_path):
    result = check_template_call(
        tmp_path,
        "lr [0.001, 0.1] [0.01]l\nmomentum [0, 1] [0.9]\n",
        'smac-bridge wrap --no-flags --cmd "python train.py --lr=${lr}"',
        "budget-limit = 100\nmulti-fidelity = successive-halving\n",
    )
    said = " ".join(result.stderr.split())
    assert "momentum appears in no ${name} of the command: the script never gets it," in said
    assert "budget-limit counts budget units and is ignored without a budget-flag" in (
        result.stderr
    )
    assert "multi-fidelity = successive-halving is ignored without a budget-flag" in result.stderr


def test_check_warns_of_multi_fidelity_options_without_a_budget_flag(tmp_path):
    """Hyperband's options do nothing without a budget-flag, as budget-limit does not: they
    were accepted without a word, the default `multi-fidelity = hyperband` and `eta = 3` too."""
    more = "multi-fidelity = hyperband\nmin-budget = 1\nmax-budget = 9\neta = 3\n"
    pcs, algo = "lr [0.001, 0.1] [0.01]l\n", 'smac-bridge wrap --cmd "python train.py"'
    result = check_template_call(tmp_path, pcs, algo, more)
    said = " ".join(result.stderr.split())
    assert (
        f"{tmp_path / 'tune.txt'}: multi-fidelity = hyperband, min-budget = 1, max-budget = 9,"
        " eta = 3 are ignored without a budget-flag: every trial trains in full"
    ) in said, said
    result = check_template_call(tmp_path, pcs, algo)
    assert "budget-flag" not in result.stderr, result.stderr  # none given: nothing to say
    given = run_cli("check", str(tmp_path / "tune.txt"), "--set", "eta=2", cwd=tmp_path)
    assert "eta = 2 is ignored without a budget-flag" in " ".join(given.stderr.split())
    # a pruning rule stops trials early without one, and asha's rungs are eta apart
    pruned = run_cli("check", str(tmp_path / "tune.txt"), "--set", "max-budget=9",
                     "--set", "eta=2", "--set", "pruning=asha", cwd=tmp_path)  # fmt: skip
    said = " ".join(pruned.stderr.split())
    assert "max-budget = 9 is ignored without a budget-flag: every trial trains with its" in said
    assert "eta" not in said, said


def test_check_warns_that_pruning_compares_runs_across_instances(tmp_path):
    """The pruning rules compare the runs' curves at one step whatever their instance: with
    instances a run on a hard one is stopped for what easy ones reached; check said OK."""
    pcs, algo = "lr [0.001, 0.1] [0.01]l\n", 'smac-bridge wrap --cmd "python train.py"'
    write(tmp_path, "insts.txt", "easy\nhard\n")
    more = "instance_file = insts.txt\npruning = median\n"
    said = " ".join(check_template_call(tmp_path, pcs, algo, more).stderr.split())
    assert "pruning = median compares every run's learning curve at the same step" in said
    said = " ".join(check_template_call(tmp_path, pcs, algo, "pruning = median\n").stderr.split())
    assert "whatever its instance" not in said, said


def test_check_warns_that_the_rungroup_holds_runs_of_another_space(tmp_path):
    """check said OK for a PCS file edited since the launch, and `launch --resume` was then
    refused: check now says what the resume will say."""
    from smac_bridge.design import save_space
    from smac_bridge.layout import GroupLayout

    write(tmp_path, "train.py", "")
    write(tmp_path, "space.pcs", "lr [0.001, 0.1] [0.01]l\n")
    algo = 'smac-bridge wrap --cmd "python train.py"'
    text = f"algo = {algo}\nrun_obj = quality\nparamfile = space.pcs\noutdir = out\n"
    write(tmp_path, "tune.txt", text)
    layout = GroupLayout(tmp_path / "out" / "tune")
    layout.path.mkdir(parents=True)
    save_space(layout, tmp_path / "space.pcs")
    same = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    assert same.returncode == 0 and "not the search space" not in same.stderr, same.stderr
    write(tmp_path, "space.pcs", "lr [0.001, 0.5] [0.01]l\n")
    edited = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    said = " ".join(edited.stderr.split())
    assert edited.returncode == 0 and "warning:" in said, said
    assert f"not the search space of the runs in {layout.path}" in said, said


def test_check_reads_the_wrappers_renames(tmp_path):
    """A --rename without '=' passed check, and the launch's first run crashed on it; one
    that names no parameter (a typo) sent the parameter under its own name, unwarned."""
    pcs = "lr [0.001, 0.1] [0.01]l\n"
    typo = check_template_call(
        tmp_path, pcs, 'smac-bridge wrap --rename rl=learning_rate --cmd "python train.py"'
    )
    declared = f"the wrapper's --rename names rl, which {tmp_path / 'space.pcs'} does not declare"
    assert declared in typo.stderr
    right = check_template_call(
        tmp_path, pcs, 'smac-bridge wrap --rename lr=learning_rate --cmd "python train.py"'
    )
    assert "--rename" not in right.stderr
    write(tmp_path, "tune.txt", 'algo = smac-bridge wrap --rename lr --cmd "python train.py"\n'
          "run_obj = quality\nparamfile = space.pcs\n")  # fmt: skip
    broken = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    assert broken.returncode == 1
    assert "tune.txt:1: algo: smac-bridge wrap: --rename expects NAME=FLAG, got 'lr'" in (
        broken.stderr
    )


@pytest.mark.parametrize("option", ["--metric", "--abort-pattern"])
@pytest.mark.parametrize(
    ("pattern", "why"),
    [("(", "missing ), unterminated subpattern"), ("x{4294967296}", "the repetition number")],
)
def test_check_refuses_a_wrapper_pattern_that_is_no_regular_expression(
    tmp_path, option, pattern, why
):
    """check said OK, and the launch's first run crashed on "bad regular expression",
    aborting it (exit 255)."""
    algo = f'smac-bridge wrap {option} "{pattern}" --cmd "python t.py"'
    write(tmp_path, "tune.txt", f"algo = {algo}\nrun_obj = quality\nparamfile = space.pcs\n")
    write(tmp_path, "space.pcs", "lr [0.001, 0.1] [0.01]l\n")
    done = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    said = f"tune.txt:1: algo: smac-bridge wrap: {option} '{pattern}': {why}"
    assert said in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ("--gpus cpu", "argument --gpus: 'cpu' is no GPU id"),
        ("--gpus 0,,1", "argument --gpus: expects auto, none or ids like 0,1; got '0,,1'"),
        ("--slots-per-gpu 0", "argument --slots-per-gpu: expected a whole number >= 1, got '0'"),
        ("--pass-instance inst", "argument --pass-instance: expected a flag such as --instance"),
        ("--pass-run-dir -", "argument --pass-run-dir: expected a flag such as --instance"),
    ],
)
def test_check_refuses_wrapper_options_every_run_would_fail_on(tmp_path, options, said):
    """check and a local launch said nothing (the launch's worker assigns the GPU); under
    Java SMAC or on Dask every run crashed on them. A --pass-instance without its dashes
    put a word before the instance, which the script's argparse refused at every run."""
    algo = f'smac-bridge wrap {options} --cmd "python t.py"'
    write(tmp_path, "tune.txt", f"algo = {algo}\nrun_obj = quality\nparamfile = space.pcs\n")
    write(tmp_path, "space.pcs", "lr [0.001, 0.1] [0.01]l\n")
    done = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"tune.txt:1: algo: smac-bridge wrap: wrapper options: {said}" in done.stderr


def test_check_warns_of_a_flag_the_command_fixes_and_the_space_tunes(tmp_path):
    """`--cmd "python train.py --lr 0.1"` over a space that tunes lr: the script got both, and
    the user could not tell which one it used."""
    result = check_template_call(
        tmp_path,
        "lr [0.001, 0.1] [0.01]l\nlayers [1, 4] [2]i\n",
        'smac-bridge wrap --cmd "python train.py --lr 0.1 --layers=3 --seed 1"',
    )
    assert "the command already passes --layers, --lr, which the wrapper passes too" in (
        result.stderr
    )
    quiet = check_template_call(
        tmp_path, "lr [0.001, 0.1] [0.01]l\n", 'smac-bridge wrap --cmd "python train.py --lrs 1"'
    )
    assert "already passes" not in quiet.stderr
    budget = "budget-flag = epochs\nmin-budget = 1\nmax-budget = 27\nrunning-belief = none\n"
    algo = 'smac-bridge wrap --cmd "python train.py --epochs 27"'  # a full fidelity default
    full_fidelity_default = check_template_call(tmp_path, "lr [0.001, 0.1] [0.01]l\n", algo, budget)
    assert "already passes" not in full_fidelity_default.stderr


def test_check_takes_the_overrides_a_launch_would(tmp_path):
    """`launch --set budget-flag=epochs` is how the shipped learning-curve scenario becomes
    multi-fidelity; check could not see that launch's settings."""
    scenario = REPO / "scenarios" / "learning-curve.txt"
    sets = ["--set", "budget-flag=epochs", "--set", "max-budget=3", "--set", "eta=5"]
    done = run_cli("check", str(scenario), *sets, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "eta = 5 is more than max-budget / min-budget (3 / 1)" in done.stderr
    assert "eta = 5" not in run_cli("check", str(scenario), cwd=REPO).stderr
    at_eta = ["--set", "budget-flag=epochs", "--set", "max-budget=3", "--set", "eta=3"]
    assert "eta = 3" not in run_cli("check", str(scenario), *at_eta, cwd=REPO).stderr  # 1, 3
    bad = run_cli("check", str(scenario), "--set", "eta=1", cwd=REPO)
    assert bad.returncode == 1 and "eta" in bad.stderr
    # SMAC3 counts budgets down from max-budget: 10/9, 10/3, 10 epochs, trained as 1, 3, 10
    short = ["--set", "budget-flag=epochs", "--set", "max-budget=10", "--set", "budget-limit=27"]
    done = run_cli("check", str(scenario), *short, "--set", "runcount_limit=200", cwd=REPO)
    assert "the first bracket of a worker takes 13 runs and 28 budget units" in done.stderr
    # a fractional budget bound: the script's integer --epochs would refuse 0.5 or 4.5
    half = ["--set", "budget-flag=epochs", "--set", "min-budget=0.5", "--set", "max-budget=13.5"]
    done = run_cli("check", str(scenario), *half, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "min-budget 0.5 and max-budget 13.5 are not both whole numbers" in done.stderr
    assert "(the smallest is 0.5)" in done.stderr
    assert "budget-limit takes whole units" not in done.stderr  # no budget-limit
    # a share of the data, 0.1 to 1: a trial of 0.111 takes one unit, not 0.111
    share = ["--set", "budget-flag=epochs", "--set", "min-budget=0.1", "--set", "max-budget=1"]
    done = run_cli("check", str(scenario), *share, "--set", "budget-limit=6", cwd=REPO)
    assert "budget-limit takes whole units, a trial's budget rounded up (one of" in done.stderr
    assert "0.1111111111111111 takes 1)" in done.stderr, done.stderr
    # a whole SMAC3 budget still reaches the script as 27.0, not 27; and the eta warning no
    # longer hides this one
    whole = ["--set", "budget-flag=epochs", "--set", "min-budget=1.5", "--set", "eta=30"]
    done = run_cli("check", str(scenario), *whole, cwd=REPO)
    assert "(the smallest is 27.0)" in done.stderr and "eta = 30 is more than" in done.stderr
    assert "not both whole" not in run_cli("check", str(scenario), *sets[:4], cwd=REPO).stderr
    for nonsense in ("nonsense", "=5"):  # no key: no option to name
        wrong = run_cli("check", str(scenario), "--set", nonsense, cwd=REPO)
        assert wrong.returncode == 2, wrong.stderr  # a usage error, as click's own
        assert f"Invalid value for '--set': expected key=value, got '{nonsense}'" in wrong.stderr


def test_overrides_given_with_a_pcs_file_are_said_to_apply_to_scenarios_only():
    """`check space.pcs --set eta=5` said OK as if the override had been checked."""
    space = REPO / "pcs" / "learning_curve.pcs"
    done = run_cli("check", str(space), "--set", "eta=5", cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert f"warning: {space}: --set overrides scenario options; not applied" in done.stderr
    assert "--set" not in run_cli("check", str(space), cwd=REPO).stderr


def test_a_resume_is_warned_when_what_is_left_cannot_reach_max_budget(monkeypatch):
    """A resumed worker starts its Hyperband again at the most aggressive bracket: 30 of 40
    runs spent leave 10, too few for the 13 runs of a 1-3-10 epoch bracket."""
    from smac_bridge.algo_call import script_call
    from smac_bridge.check import bracket_warnings, call_warnings
    from smac_bridge.scenario import read_scenario

    monkeypatch.chdir(REPO)
    sets = {"budget-flag": "epochs", "max-budget": "10", "runcount_limit": "40"}
    scenario = read_scenario(REPO / "scenarios" / "learning-curve.txt", sets)
    call = script_call(scenario, read_pcs(scenario.paramfile))
    assert not any("max-budget" in text for text in call_warnings(scenario, call, 1))
    (warning,) = [t for t in bracket_warnings(scenario, 1, (30, 0)) if "max-budget" in t]
    assert "runcount_limit = 40 (10 left) may end the launch" in warning
    with_units = read_scenario(scenario.path, {**sets, "budget-limit": "60"})
    (warning,) = [t for t in bracket_warnings(with_units, 1, (0, 40)) if "max-budget" in t]
    assert "budget-limit = 60 (20 left) may end the launch" in warning
    # each worker starts with that bracket: 4 workers need 52 runs of the 40
    (warning,) = [t for t in call_warnings(scenario, call, 4) if "max-budget" in t]
    assert "runcount_limit = 40 may end" in warning and "bracket of 4 workers" in warning


def test_check_runs_the_scripts_help_as_the_wrapper_runs_the_script(tmp_path):
    """`--lr ${lr}` as two words: check ran `train.py --lr --help` and warned of argparse's
    error, while the launch ran fine; a `$$` in the command is a `$` for the wrapper."""
    write(tmp_path, "tr$ain.py",
          "import argparse\np = argparse.ArgumentParser()\np.add_argument('--lr')\n"
          "p.add_argument('--layers')\np.parse_args()\n")  # fmt: skip
    algo = 'smac-bridge wrap --cmd "python tr$$ain.py --lr ${lr}"'
    pcs = "lr [0.001, 0.1] [0.01]l\nlayers [1, 4] [2]i\n"
    result = check_template_call(tmp_path, pcs, algo, "check-sat-consistency = false\n")
    assert "warning" not in result.stderr, result.stderr


TRAIN_BY_OPT = (
    "import argparse\np = argparse.ArgumentParser()\np.add_argument('--lr')\n"
    "p.add_argument('--epochs')\nprint(p.parse_args().lr)\n"
)


def test_a_program_or_script_a_template_picks_is_checked_as_the_default_runs_it(tmp_path):
    """`./run_${opt}.sh` or `python v/${opt}/train.py --epochs 3`, which the wrapper runs
    fine: check and launch read the templated word away and failed on what was left (an
    IndexError, "the script 3 does not exist", a warning for every flag from python's own
    --help). Now the default configuration's program and script are checked."""
    for opt in ("sgd", "adam"):
        (tmp_path / "v" / opt).mkdir(parents=True)
        write(tmp_path, f"v/{opt}/train.py", TRAIN_BY_OPT)
        write(tmp_path, f"run_{opt}.sh", "#!/bin/sh\necho usage: --lr LR --epochs N\n").chmod(0o755)
    pcs = "opt {sgd, adam} [adam]\nlr [0.001, 0.1] [0.01]l\n"
    more = "check-sat-consistency = false\n"
    for cmd in (
        "./run_${opt}.sh",
        "./run_${opt}.sh --epochs 3",
        "python v/${opt}/train.py --epochs 3",
    ):
        result = check_template_call(tmp_path, pcs, f'smac-bridge wrap --cmd "{cmd}"', more)
        assert "warning" not in result.stderr, (cmd, result.stderr)
    conditional = pcs + "sub {a, b} [a]\nsub | opt == sgd\n"  # inactive in the default
    result = check_template_call(tmp_path, conditional, 'smac-bridge wrap --cmd "./run_${sub}.sh"')
    assert "the command's ${sub} names a conditional parameter" in result.stderr
    (tmp_path / "v" / "adam" / "train.py").unlink()
    write(tmp_path, "space.pcs", pcs)
    algo = 'smac-bridge wrap --cmd "python v/${opt}/train.py --epochs 3"'
    text = f"algo = {algo}\nrun_obj = quality\nparamfile = space.pcs\n{more}"
    result = run_cli("check", str(write(tmp_path, "tune.txt", text)), cwd=tmp_path)
    assert result.returncode == 1
    assert "the script v/adam/train.py does not exist" in result.stderr


def test_check_names_a_missing_interpreter_of_an_executable_script(tmp_path):
    """A script whose #! interpreter is missing fails to start with "No such file" of the
    script itself: check said OK, and the launch aborted on its first run."""
    write(tmp_path, "space.pcs", "x [0, 1] [0.5]\n")
    script = write(tmp_path, "train.py", "#!/nonexistent/bin/python3\nprint(0.5)\n")
    script.chmod(0o755)
    text = 'algo = smac-bridge wrap --cmd "./train.py"\nrun_obj = quality\nparamfile = space.pcs\n'
    result = run_cli("check", str(write(tmp_path, "tune.txt", text)), cwd=tmp_path)
    assert result.returncode == 1
    assert "the #! line of ./train.py names '/nonexistent/bin/python3', which does not" in (
        result.stderr
    )
    # trials on a Dask cluster run on its hosts, whose interpreters may be their own
    scenario = read_scenario(tmp_path / "tune.txt", cwd=tmp_path)
    check_script(scenario, script_call(scenario, read_pcs(tmp_path / "space.pcs")), here=False)


def test_a_relative_path_entry_is_searched_from_execdir_as_the_trials_search_it(
    tmp_path, monkeypatch
):
    """PATH=tools:... and an execdir other than the folder the launch starts in: the trials
    find the program in execdir's tools, where check did not look (it refused a launch that
    would run) and it found the cwd's instead (the launch aborted on its first run)."""
    write(tmp_path, "space.pcs", "x [0, 1] [0.5]\n")
    (tmp_path / "sub" / "tools").mkdir(parents=True)
    (tmp_path / "tools").mkdir()
    text = "algo = trainer\nexecdir = sub\nrun_obj = quality\nparamfile = space.pcs\n"
    scenario_file = write(tmp_path, "tune.txt", text)
    monkeypatch.setenv("PATH", "tools" + os.pathsep + os.environ["PATH"])
    for folder in ("sub/tools", "tools"):
        program = write(tmp_path / folder, "trainer", "#!/bin/sh\necho 0.5\n")
        program.chmod(0o755)
        result = run_cli("check", str(scenario_file), cwd=tmp_path)
        program.unlink()
        if folder == "sub/tools":
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode == 1 and "cannot find 'trainer'" in result.stderr


@pytest.mark.parametrize(
    ("first_line", "said"),
    [
        ("#!/usr/bin/env python9", "names 'python9', which is not in PATH"),
        ("#!/usr/bin/env -S python9 -u", "names 'python9', which is not in PATH"),
        ("#!/usr/bin/env python3 -u", "names 'python3 -u', which is not in PATH"),  # one word
        ("#!/usr/bin/env python3\r", "names 'python3\\r', which is not in PATH"),  # CRLF
        ("#!/bin/sh\r", "names '/bin/sh\\r', which does not exist"),
        ("print('no #! line')", "cannot start ./train.py: it is a text file without a #! line"),
        ("#!/usr/bin/env python3 (0o644)", "cannot start ./train.py: it is not executable"),
        ("\ufeff#!/usr/bin/env python3", "its #! line comes after a byte order mark (BOM)"),
    ],
)
def test_check_refuses_a_script_that_cannot_start(tmp_path, first_line, said):
    """check said OK (a warning of a failed --help) and the launch aborted on its first run;
    `launch` and `doe` made the rungroup first, which the fixed command then found taken."""
    write(tmp_path, "space.pcs", "x [0, 1] [0.5]\n")
    mode = 0o644 if first_line.endswith("(0o644)") else 0o755
    write(tmp_path, "train.py", f"{first_line.removesuffix(' (0o644)')}\nprint(0.5)\n").chmod(mode)
    text = 'algo = smac-bridge wrap --cmd "./train.py"\nrun_obj = quality\nparamfile = space.pcs\n'
    scenario = str(write(tmp_path, "tune.txt", text))
    result = run_cli("check", scenario, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert said in " ".join(result.stderr.split()), result.stderr
    assert "tune.txt" in result.stderr and "OK" not in result.stdout
    if mode == 0o644 or "no #!" in first_line:
        for command in (["launch", scenario], ["doe", scenario, "--sample", "2"]):
            result = run_cli(*command, "--gpus", "none", cwd=tmp_path)
            assert result.returncode == 1 and said in " ".join(result.stderr.split()), result
            assert not (tmp_path / "smac-bridge-output").exists()


def test_a_help_that_does_not_end_is_stopped_with_all_it_started(tmp_path, monkeypatch):
    """A script that ignores --help trains: its training outlived check, with no parent, and
    one that left its process group (a data loader, a server) kept check waiting for it."""
    write(tmp_path, "space.pcs", "lr [0.001, 0.1] [0.01]l\n")
    script = "#!/bin/sh\nsleep 300 &\necho $! > child.pid\n"
    script += "setsid sleep 300 &\necho $! > away.pid\nwait\n"  # a process group of its own
    write(tmp_path, "train.sh", script).chmod(0o755)
    text = 'algo = smac-bridge wrap --cmd "./train.sh"\nrun_obj = quality\nparamfile = space.pcs\n'
    scenario = read_scenario(write(tmp_path, "tune.txt", text), cwd=tmp_path)
    monkeypatch.setattr(check, "HELP_TIMEOUT", 2.0)
    started = time.monotonic()
    found = check.help_warnings(scenario, script_call(scenario, read_pcs(tmp_path / "space.pcs")))
    assert time.monotonic() - started < 30, "check waited for what the script started"
    assert len(found) == 1 and "did not end within 2 s, so it was stopped" in found[0], found
    for name in ("child.pid", "away.pid"):
        pid = int((tmp_path / name).read_text())
        deadline = time.monotonic() + 10
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"the script's {name} outlived check"
            time.sleep(0.1)


def test_check_finds_a_missing_script_after_the_interpreters_options(tmp_path):
    """`python3 -u missing.py`: the -u was taken for `-m`, and check said OK."""
    write(tmp_path, "space.pcs", "lr [0.001, 0.1] [0.01]l\n")
    for command in ("python3 -u missing.py", "python3 -W ignore missing.py"):
        text = (
            f'algo = smac-bridge wrap --cmd "{command}"\nrun_obj = quality\nparamfile = space.pcs\n'
        )
        result = run_cli("check", str(write(tmp_path, "tune.txt", text)), cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "the script missing.py does not exist" in result.stderr


@pytest.mark.parametrize("use_instances", [True, False])
def test_the_gaussian_process_is_refused_only_where_instance_features_are_used(use_instances):
    """`use-instances = false` (the Java SMAC spelling for a training script) leaves the
    instance and feature files unused: nothing there for the Gaussian process to refuse."""
    from smac_bridge.errors import InputError
    from smac_bridge.scenario import Scenario

    scenario = Scenario(
        algo="python train.py",
        run_obj="quality",
        paramfile=Path("space.pcs"),
        instance_file=Path("folds.txt"),
        feature_file=Path("features.csv"),
        use_instances=use_instances,
        smac_facade="blackbox",
    )
    if use_instances:
        with pytest.raises(InputError, match="blackbox cannot use the instance features"):
            check.check_facade("demo.txt", scenario)
    else:
        check.check_facade("demo.txt", scenario)


@pytest.mark.parametrize("facade", ["random", "blackbox", "hpo", "auto"])
def test_a_facade_other_than_the_forest_is_refused_with_a_budget_flag(facade):
    """A multi-fidelity launch drives SMAC3's multi-fidelity facade: `--facade random` for a
    random-search Hyperband baseline ran the random forest's Hyperband without a word."""
    from smac_bridge.errors import InputError
    from smac_bridge.scenario import Scenario

    scenario = Scenario(
        algo="python train.py",
        run_obj="quality",
        paramfile=Path("space.pcs"),
        smac_facade=facade,
        budget_flag="epochs",
        min_budget=1,
        max_budget=9,
    )
    if facade in ("random", "blackbox"):
        with pytest.raises(InputError, match=f"smac-facade = {facade} cannot be used with budget"):
            check.check_facade("demo.txt", scenario)
    else:
        check.check_facade("demo.txt", scenario)


def test_a_parameter_no_configuration_makes_active_is_warned_of(tmp_path):
    """`gamma | alpha != 1e-3 && alpha == 1e-3` never holds: check said OK, and the script
    never got gamma. A condition that holds rarely (one value of 5000, an exact real) is no
    mistake and no warning."""
    space = "alpha {1e-3} [1e-3]\nl [2, 3] [2]i\ngamma [0.5, 5] [1]\nchild [0, 1] [0.5]\n"
    space += "alpha | l != 2\ngamma | alpha != 1e-3 && alpha == 1e-3\nchild | gamma > 4.99\n"
    space += "n [1, 5000] [1]i\nrare [0, 1] [0.5]\nrare | n == 7 && n > 6\n"
    space += "exact [0, 1] [0.5]\nexact | rare == 0.25 || n > 5000\n"
    space += "gap [0, 1] [0.5]\ngap | n > 6 && n < 8 && n != 7\n"
    space += "o ordinal {lo, mid, hi} [lo]\nlate [0, 1] [0.5]\nlate | o > mid && o < hi\n"
    result = run_cli("check", str(write(tmp_path, "space.pcs", space)))
    assert result.returncode == 0, result.stderr
    warned = re.findall(r"warning: \S+: the condition of (\w+) can never hold", result.stderr)
    assert sorted(warned) == ["child", "gamma", "gap", "late"], result.stderr  # child: of gamma
