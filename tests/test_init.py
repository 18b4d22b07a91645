"""`smac-bridge init` writes files that smac-bridge (and Java SMAC) read back."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
from conftest import smac_bridge_env

from smac_bridge.pcs import read_pcs
from smac_bridge.protocol import split_algo
from smac_bridge.rundata import RunGroup
from smac_bridge.scenario import read_scenario

PARAMS = [
    "--param",
    "nb_filters integer [16, 256] [32]",
    "--param",
    "dropout1 real [0, 0.9] [0.25]",
    "--param",
    "optimizer categorical {adam, sgd} [adam]",
    "--param",
    "momentum real [0, 0.99] [0.9]",
    "--param",
    "momentum | optimizer == sgd",
]


def test_init_writes_a_scenario_and_pcs_that_read_back(cli, tmp_path):
    result = cli(
        "init",
        "demo",
        "--script",
        "scripts/train.py",
        *PARAMS,
        "--runs",
        "25",
        "--cutoff",
        "600",
        "--dir",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    scenario_path = tmp_path / "scenarios" / "demo.txt"
    text = scenario_path.read_text()
    assert "smac-bridge launch scenarios/demo.txt" in text

    scenario = read_scenario(scenario_path, cwd=tmp_path)
    assert scenario.runcount_limit == 25
    assert scenario.cutoff_time == 600
    assert scenario.deterministic is True
    assert scenario.check_sat_consistency is False
    # what Java SMAC 2.10 needs to run it without instance files; smac-bridge reads it quietly
    assert "use-instances = false\nvalidation = false\n" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_scenario(scenario_path, cwd=tmp_path)
    assert scenario.run_obj == "quality"
    assert split_algo(scenario.algo) == ["smac-bridge", "wrap", "--cmd", "python scripts/train.py"]

    space = read_pcs(tmp_path / "pcs" / "demo.pcs").space
    assert sorted(space) == ["dropout1", "momentum", "nb_filters", "optimizer"]
    assert space["nb_filters"].default_value == 32
    assert len(space.conditions) == 1


def test_init_writes_utf_8_whatever_the_locale(tmp_path):
    """Under an ASCII locale the PCS was written in the locale's encoding: a traceback for
    `{thé, café}`, and an empty pcs file left behind that blocked the next init."""
    env = {**smac_bridge_env(), "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    argv = ["init", "u1", "--script", "train.py", "--param", "drink {thé, café} [thé]"]
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    space = read_pcs(tmp_path / "pcs" / "u1.pcs").space
    assert list(space["drink"].choices) == ["thé", "café"]


def test_init_for_a_runtime_objective_tells_the_wrapper(cli, tmp_path):
    """A runtime scenario's wrapper must not count a failed run as solved."""
    args = ["init", "speed", "--script", "solve.py", "--param", "x real [0, 1] [0.5]"]
    result = cli(*args, "--objective", "runtime", "--cutoff", "10", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    scenario = read_scenario(tmp_path / "scenarios" / "speed.txt", cwd=tmp_path)
    assert scenario.run_obj == "runtime"
    assert split_algo(scenario.algo)[-1] == "--runtime-objective"
    (tmp_path / "solve.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--x')\np.parse_args()\n"
    )
    checked = cli("check", str(tmp_path / "scenarios" / "speed.txt"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "warning" not in checked.stderr, checked.stderr


def test_init_refuses_to_overwrite_without_force(cli, tmp_path):
    args = ["init", "demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path)]
    assert cli(*args).returncode == 0
    again = cli(*args)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert cli(*args, "--force").returncode == 0


def test_init_names_the_option_of_a_word_the_algo_line_cannot_pass(cli, tmp_path):
    args = ["init", "demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path)]
    result = cli(*args, "--args", "--pattern a\\\\d")
    assert result.returncode == 1
    expected = "error: --args: a\\d: a double quote or backslash cannot be passed through"
    assert expected in result.stderr, result.stderr
    result = cli("init", "_demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path))
    assert "expected letters, digits, '.', '_' or '-', starting with a letter" in result.stderr
    assert not (tmp_path / "pcs").exists()


def test_init_warns_of_a_parameter_the_script_would_never_get(cli, tmp_path):
    """`check` warned of a condition that can never hold; `init`, which wrote it, did not."""
    conditions = ["--param", "x | opt in {adam}", "--param", "x | opt in {sgd}"]
    result = cli(
        "init", "demo", "--script", "train.py", "--param", "opt {adam, sgd} [adam]",
        "--param", "x real [0, 1] [0.5]", *conditions, "--dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "the condition of x can never hold" in result.stderr
    assert "smac-bridge check scenarios/demo.txt" in result.stdout


def test_init_writes_both_files_or_neither(cli, tmp_path):
    """A scenario that could not be written (a file where scenarios/ goes, a read-only
    folder) left pcs/demo.pcs behind, and the init run again was refused as overwriting it."""
    args = ["init", "demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path)]
    (tmp_path / "scenarios").write_text("a file in the way\n")
    failed = cli(*args)
    assert failed.returncode == 1 and "scenarios" in failed.stderr, failed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenarios"]  # no pcs/ either
    (tmp_path / "scenarios").unlink()
    assert cli(*args).returncode == 0
    kept = (tmp_path / "pcs" / "demo.pcs").read_text()
    (tmp_path / "scenarios" / "demo.txt").unlink()  # a link into a folder that is gone
    (tmp_path / "scenarios" / "demo.txt").symlink_to(tmp_path / "gone" / "demo.txt")
    failed = cli(*args[:-2], "--param", "extra real [0, 1] [0.5]", *args[-2:], "--force")
    assert failed.returncode == 1
    assert (tmp_path / "pcs" / "demo.pcs").read_text() == kept  # the earlier one, as it was


@pytest.mark.parametrize(
    ("params", "number", "message"),
    [
        (["lr real [1, 0.1] [0.5]"], 1, "expected the lower bound of 'lr' below its upper"),
        (
            ["opt categorical {sgd, adam} [adam]", "momentum real [0, 0.9] [0.5] | opt == sgd"],
            2,
            "a condition is a line of its own after the declaration: 'momentum | opt == sgd'",
        ),
        (  # a value that says "line 1" is quoted as given, not as the --param it came from
            ["x real [0, 1] [0.5]", "mode {line 1, line 2} [line 1]"],
            2,
            "expected a value without spaces, commas, braces, brackets or control characters"
            " in the list of 'mode', got 'line 1'",
        ),
        (  # the earlier declaration by the --param that made it, not a line of the PCS file
            ["lr real [0, 1] [0.5]", "layers integer [1, 4] [2]", "lr real [0, 1] [0.5]"],
            3,
            "parameter 'lr' is already declared in --param 1",
        ),
        (  # two lines in one --param would shift the numbers of the ones after it
            ["a {x, y} [x]\nb [0, 1] [0.5]", "c [0, 1] [x]"],
            1,
            "expected one PCS line, got 'a {x, y} [x]\\nb [0, 1] [0.5]'",
        ),
        (  # the wrapper adds the dashes: every run got ---b
            ["lr real [0.001, 0.1] [0.01]l", "-b integer [16, 256] [32]"],
            2,
            "expected a parameter name without dashes, got '-b': the wrapper passes b as --b;"
            " a short flag is a --rename, e.g. --rename b=-b",
        ),
    ],
)
def test_init_names_the_bad_param_and_writes_nothing(cli, tmp_path, params, number, message):
    flags = [item for param in params for item in ("--param", param)]
    result = cli("init", "demo", "--script", "train.py", *flags, "--dir", str(tmp_path))
    assert result.returncode == 1
    assert f"--param {number}:" in result.stderr and message in result.stderr, result.stderr
    assert not (tmp_path / "scenarios" / "demo.txt").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--runs", "0"], "--runs: expected an integer > 0, got 0"),
        (["--cutoff", "-5"], "--cutoff: expected seconds > 0, got -5"),
        (["--cutoff", "0"], "--cutoff: expected seconds > 0, got 0"),
        (["--failure-quality", "nan"], "--failure-quality: expected a finite number, got nan"),
        (["--rename", "rate=learning_rate"], "NAME one of the parameters (dropout1, momentum,"),
        (["--rename", "nb_filters="], "expected a flag name after '='"),
        (["--metric", "loss: ("], "--metric 'loss: (': missing ), unterminated subpattern"),
        (["--metric", "loss is \\\\"], "cannot end with a backslash"),
        (["--rename", "nb_filters=units", "--rename", "nb_filters=n"], "renamed twice"),
        (["--rename", "nb_filters=nb_filters", "--rename", "nb_filters=n"], "renamed twice"),
        (["--rename", "dropout1=nb_filters"], "would be passed as --nb_filters, as parameter"),
    ],
)
def test_init_refuses_values_check_would_reject_and_writes_nothing(cli, tmp_path, option, message):
    (tmp_path / "train.py").write_text("")
    result = cli("init", "demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path), *option)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["train.py"]  # nothing written


def test_a_metric_with_a_blank_and_hash_is_kept_within_its_quotes(cli, tmp_path):
    """`--metric "loss #(\\S+)"` was refused: written into the algo line, its ` #` started an
    inline comment. Within the line's quotes it no longer does."""
    (tmp_path / "train.py").write_text("")
    metric = ["--metric", "loss #(\\S+)"]
    result = cli("init", "demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path), *metric)
    assert result.returncode == 0, result.stderr
    scenario = read_scenario(tmp_path / "scenarios" / "demo.txt", cwd=tmp_path)
    assert "loss #(\\S+)" in split_algo(scenario.algo)


def test_the_name_scenario_is_refused_as_its_runs_would_be_named_after_the_folder(cli, tmp_path):
    """`init scenario` wrote scenarios/scenario.txt, whose runs went to the rungroup
    'scenarios' (SMAC 2.10's rule for scenario.txt), where --help says NAME names it."""
    result = cli("init", "scenario", "--script", "t.py", *PARAMS, "--dir", str(tmp_path))
    said = " ".join(result.stderr.split())
    assert result.returncode == 1 and "would name its rungroup 'scenarios'" in said, said
    assert not list(tmp_path.rglob("*"))


def test_a_tuned_seed_and_the_passed_seed_are_one_flag_refused(cli, tmp_path):
    """--nondeterministic passes --seed N; a parameter called seed got both, and lost."""
    args = ["init", "s", "--script", "t.py", "--param", "seed integer [1, 100] [5]"]
    result = cli(*args, "--nondeterministic", "--dir", str(tmp_path))
    assert result.returncode == 1 and "--nondeterministic's seed" in result.stderr, result.stderr
    assert not list(tmp_path.rglob("*"))
    renamed = cli(*args, "--nondeterministic", "--rename", "seed=init_seed", "--dir", str(tmp_path))
    assert renamed.returncode == 0, renamed.stderr


def test_a_script_path_with_a_dollar_reaches_the_script(cli, tmp_path):
    """The wrapper reads `${name}` and `$$` in --cmd: `tr$$ain.py` ran as `tr$ain.py` and
    every run failed, while check said OK."""
    (tmp_path / "tr$$ain.py").write_text("print(0.5)\n")
    args = ["init", "d", "--script", "tr$$ain.py", "--param", "lr [0, 1] [0.5]", "--runs", "1"]
    assert cli(*args, "--python", sys.executable, "--dir", str(tmp_path)).returncode == 0
    scenario = tmp_path / "scenarios" / "d.txt"
    launched = cli("launch", str(scenario), "--quiet", "--gpus", "none", cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    (record,) = RunGroup(tmp_path / "smac-bridge-output" / "d").records()
    assert record["status"] == "SAT", record


def test_init_warns_about_a_script_or_an_interpreter_that_does_not_exist(cli, tmp_path):
    result = cli("init", "demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path))
    assert result.returncode == 0
    assert f"warning: {tmp_path / 'train.py'} does not exist (yet)" in result.stderr
    (tmp_path / "train.py").write_text("")
    again = cli("init", "demo", "--script", "train.py", *PARAMS, "--dir", str(tmp_path), "--force")
    assert again.returncode == 0 and "warning" not in again.stderr
    module = ["--python", "python -m", "--script", "pkg.train", "--force"]  # no file to find
    quiet = cli("init", "demo", *module, *PARAMS, "--dir", str(tmp_path))
    assert quiet.returncode == 0 and "warning" not in quiet.stderr, quiet.stderr
    for python in ("/no/python3", "no-such-python -u", "venv/bin/python"):  # check said it later
        args = ["--python", python, "--script", "train.py", "--force"]
        missing = cli("init", "demo", *args, *PARAMS, "--dir", str(tmp_path))
        word = python.split()[0]
        assert missing.returncode == 0, missing.stderr
        assert f"warning: --python {python!r}: {word} is not found here" in missing.stderr


def test_a_nondeterministic_script_gets_its_seed(cli, tmp_path):
    """Runs of one configuration under several seeds must reach the script as --seed N:
    without it, each repeat would measure the same thing again."""
    (tmp_path / "noisy.py").write_text(
        "import argparse, random\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)"
        "\np.add_argument('--seed', type=int, default=0)\na = p.parse_args()\n"
        "print('loss', a.x + random.Random(a.seed).random())\n"
    )
    args = ["init", "noisy", "--script", "noisy.py", "--param", "x real [0, 1] [0.5]"]
    result = cli(*args, "--nondeterministic", "--runs", "2", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "scenarios" / "noisy.txt"
    assert split_algo(read_scenario(path, cwd=tmp_path).algo)[-1] == "--pass-seed"
    checked = cli("check", str(path), cwd=tmp_path)
    assert checked.returncode == 0 and "warning" not in checked.stderr, checked.stderr
    text = path.read_text()
    path.write_text(text.replace(" --pass-seed", ""))  # as files written before
    checked = cli("check", str(path), cwd=tmp_path)
    assert "the script's --seed is never passed" in checked.stderr, checked.stderr
    path.write_text(text)
    launched = cli("launch", str(path), "--quiet", "--outdir", str(tmp_path / "out"), cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    commands = [json.loads(p.read_text()) for p in tmp_path.glob("out/noisy/runs/*/command.json")]
    assert len(commands) == 2
    for command in commands:
        argv, seed = command["argv"], command["env_added"]["SMAC_BRIDGE_SEED"]
        assert argv[argv.index("--seed") + 1] == seed


def test_a_script_in_a_folder_with_a_space_and_an_interpreter_with_options(cli, tmp_path):
    """`--script "my dir/train.py" --python "python3 -u"`: the wrapper gets three words and
    the launch runs the script (single quotes would not group in a classic algo)."""
    (tmp_path / "my dir").mkdir()
    (tmp_path / "my dir" / "train.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
        "print('loss', (p.parse_args().x - 0.3) ** 2)\n"
    )
    args = ["init", "spaced", "--script", "my dir/train.py", "--python", "python3 -u"]
    result = cli(*args, "--param", "x real [0, 1] [0.5]", "--runs", "2", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    scenario = read_scenario(tmp_path / "scenarios" / "spaced.txt", cwd=tmp_path)
    (*_, cmd) = split_algo(scenario.algo)
    assert split_algo(cmd) == ["python3", "-u", "my dir/train.py"]
    launched = cli("launch", str(tmp_path / "scenarios" / "spaced.txt"), "--quiet", cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert "2 runs" in launched.stdout


def test_fixed_flags_reach_every_trial_and_given_with_the_script_are_refused(cli, tmp_path):
    """`--script "train.py --epochs 2"` wrote `--cmd "python \\"train.py --epochs 2\\""`, a
    file of that name, and init said only that it did not exist (yet): the user had no way to
    give fixed flags but to edit the algo line."""
    (tmp_path / "train.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
        "p.add_argument('--epochs', type=int)\np.add_argument('--data')\na = p.parse_args()\n"
        "print('loss', (a.x - 0.3) ** 2 + a.epochs + len(a.data))\n"
    )
    space = ["--param", "x real [0, 1] [0.5]", "--runs", "2", "--dir", str(tmp_path)]
    refused = cli("init", "t", "--script", "train.py --epochs 2", *space)
    assert refused.returncode == 1 and not (tmp_path / "scenarios").exists()
    said = " ".join(refused.stderr.split())
    assert "no such file, but train.py is one" in said and "--args '--epochs 2'" in said, said
    done = cli("init", "t", "--script", "train.py", "--args", "--epochs 2 --data 'a b'", *space)
    assert done.returncode == 0, done.stderr
    scenario = read_scenario(tmp_path / "scenarios" / "t.txt", cwd=tmp_path)
    (*_, cmd) = split_algo(scenario.algo)
    assert split_algo(cmd) == ["python", "train.py", "--epochs", "2", "--data", "a b"]
    launched = cli("launch", str(tmp_path / "scenarios" / "t.txt"), "--quiet", cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    records = RunGroup(tmp_path / "smac-bridge-output" / "t").records()
    assert [r["quality"] for r in records] == [(0.5 - 0.3) ** 2 + 2 + 3, records[1]["quality"]]
    assert records[1]["quality"] >= 5  # the flags reached the second run too


def test_a_script_that_runs_itself_is_run_by_its_path(cli, tmp_path):
    """`--python ''` wrote `--cmd "train.py"`, which the wrapper looked up in PATH: every run
    failed; and a script that is not executable could never run by itself."""
    script = tmp_path / "train.py"
    script.write_text(
        f"#!{sys.executable}\nimport argparse\np = argparse.ArgumentParser()\n"
        "p.add_argument('--x', type=float)\nprint('loss', (p.parse_args().x - 0.3) ** 2)\n"
    )
    args = ["init", "alone", "--script", "train.py", "--python", "", "--param", "x [0, 1] [0.5]"]
    refused = cli(*args, "--runs", "2", "--dir", str(tmp_path))
    assert refused.returncode == 1, refused.stderr
    assert "train.py would run by itself, but it is not executable" in refused.stderr
    script.chmod(0o755)
    assert cli(*args, "--runs", "2", "--dir", str(tmp_path)).returncode == 0
    scenario = read_scenario(tmp_path / "scenarios" / "alone.txt", cwd=tmp_path)
    assert split_algo(split_algo(scenario.algo)[-1]) == ["./train.py"]
    launched = cli("launch", str(tmp_path / "scenarios" / "alone.txt"), "--quiet", cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert "2 runs" in launched.stdout and "SAT" in launched.stdout


def test_a_script_with_templates_is_pointed_to_the_algo_line(cli, tmp_path):
    """`--script 'train.py --lr=${lr}'` wrote a command that ran a file of that name."""
    script = "train.py --lr=${lr} data/${dataset}.csv"
    result = cli("init", "t", "--script", script, "--param", "lr [0, 1] [0.5]", "--dir", tmp_path)
    assert result.returncode == 1
    assert "expected the script's path; for ${name} templates" in result.stderr, result.stderr
    assert not (tmp_path / "scenarios").exists()


def test_a_folder_given_as_the_script_is_refused_before_anything_is_written(cli, tmp_path):
    """`--script src` (the folder of the training code) wrote a scenario whose every run
    failed to start the folder."""
    (tmp_path / "src").mkdir()
    result = cli("init", "t", "--script", "src", "--param", "lr [0, 1] [0.5]", "--dir", tmp_path)
    assert result.returncode == 1
    assert "--script 'src': expected the training script's file, got a folder" in result.stderr
    assert not (tmp_path / "scenarios").exists() and not (tmp_path / "pcs").exists()


def test_blank_params_are_named_as_the_option(cli, tmp_path):
    """Every --param blank: the error said "--param 0", an option the user never gave."""
    result = cli("init", "demo", "--script", "train.py", "--param", " ", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "error: --param: expected at least one parameter declaration" in result.stderr


@pytest.mark.parametrize("name", ["", ".hidden", "../escape", "t3 #x", "a/b"])
def test_a_name_that_is_no_plain_file_name_is_refused_before_anything_is_written(
    cli, tmp_path, name
):
    result = cli("init", name, "--script", "t.py", "--param", "x real [0, 1] [0.5]",
                 "--dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 1 and "NAME" in result.stderr
    assert not list(tmp_path.rglob("*"))


def test_init_passes_renames_and_the_metric_to_the_wrapper(cli, tmp_path):
    """A script whose flag is --learning_rate for the parameter lr and which prints its
    accuracy: `init --rename --metric --maximize` writes an algo that `check` accepts and
    whose launch tunes the accuracy, maximised, with no hand-editing of the algo line."""
    (tmp_path / "train.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\n"
        "p.add_argument('--learning_rate', type=float, required=True)\n"
        "p.add_argument('--kind', required=True)\na = p.parse_args()\n"
        "accuracy = 1 - abs(a.learning_rate - 0.1) - (0.2 if a.kind == 'b' else 0)\n"
        "print(f'epoch 1 \"val acc\" = {accuracy / 2:.4f}')\n"
        "print(f'epoch 2 \"val acc\" = {accuracy:.4f}')\nprint('done')\n"
    )
    args = ["init", "renamed", "--script", "train.py", "--param", "lr real [0.01, 1] [0.5] log"]
    args += ["--param", "kind categorical {a, b} [a]", "--rename", "lr=learning_rate"]
    args += ["--metric", '"val acc" = (\\S+)', "--maximize", "--runs", "3"]
    result = cli(*args, "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "scenarios" / "renamed.txt"
    words = split_algo(read_scenario(path, cwd=tmp_path).algo)
    assert words[-5:] == ["--rename", "lr=learning_rate", "--metric", '"val acc" = (\\S+)',
                          "--maximize"]  # fmt: skip
    checked = cli("check", str(path), cwd=tmp_path)
    assert checked.returncode == 0 and "warning" not in checked.stderr, checked.stderr
    launched = cli("launch", str(path), "--quiet", "--outdir", str(tmp_path / "out"), cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    runs = [json.loads(p.read_text()) for p in tmp_path.glob("out/renamed/runs/*/command.json")]
    assert len(runs) == 3 and all("--learning_rate" in run["argv"] for run in runs)
    for record in RunGroup(tmp_path / "out" / "renamed").records():
        config = record["config"]
        accuracy = 1 - abs(config["lr"] - 0.1) - (0.2 if config["kind"] == "b" else 0)
        assert record["status"] == "SAT" and record["quality"] == pytest.approx(-accuracy, abs=1e-4)


def test_init_passes_switches_to_the_wrapper(cli, tmp_path):
    """An argparse `store_true` flag takes no value: `init --switch` writes an algo that
    passes it alone, which check accepts; a switch of no parameter writes nothing."""
    (tmp_path / "train.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\n"
        "p.add_argument('--amp', action='store_true')\np.add_argument('--lr', type=float)\n"
        "a = p.parse_args()\nprint(a.lr + a.amp)\n"
    )
    args = ["init", "sw", "--script", "train.py", "--param", "lr real [0.01, 1] [0.5] log"]
    args += ["--param", "amp categorical {true, false} [false]", "--dir", str(tmp_path)]
    for switch, said in (
        ("fp16", "--switch 'fp16': expected NAME or NAME=OFF"),
        ("amp=", "--switch 'amp=': expected NAME or NAME=OFF"),
        ("lr", "--switch 'lr': expected its values in --param to be true and false"),
    ):
        refused = cli(*args, "--switch", switch)
        assert refused.returncode == 1 and said in refused.stderr, refused.stderr
    twice = cli(*args, "--switch", "amp=--no-amp", "--switch", "amp")  # the last one won
    assert twice.returncode == 1, twice.stderr
    assert "--switch 'amp': amp is a --switch twice" in twice.stderr, twice.stderr
    assert not (tmp_path / "scenarios").exists()
    result = cli(*args, "--switch", "amp")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "scenarios" / "sw.txt"
    assert split_algo(read_scenario(path, cwd=tmp_path).algo)[-2:] == ["--switch", "amp"]
    checked = cli("check", str(path), cwd=tmp_path)
    assert checked.returncode == 0 and "warning" not in checked.stderr, checked.stderr
    spaced = cli(*args, "--switch", "amp=--no amp", "--force")  # one word of the algo line
    assert spaced.returncode == 0, spaced.stderr
    words = split_algo(read_scenario(path, cwd=tmp_path).algo)
    assert words[-2:] == ["--switch", "amp=--no amp"], words


def test_a_flag_with_only_a_short_form_is_reached_by_a_whole_flag_rename(cli, tmp_path):
    """A script with only `-b BATCH`: `--rename bs=-b` was refused, and the wrapper would have
    passed `---b`. A rename that starts with - is the whole flag. A value that looks like an
    option is attached (`-o-O2`): getopt and click read `-o=-O2` as `=-O2`."""
    (tmp_path / "train.py").write_text(
        "import getopt, sys\nopts = dict(getopt.getopt(sys.argv[1:], 'b:o:')[0])\n"
        "print(f'batch {opts[\"-b\"]} opt {opts[\"-o\"]}')\nprint(abs(int(opts['-b']) + 3) / 10)\n"
    )
    args = ["init", "short", "--script", "train.py", "--param", "bs integer [-8, 8] [2]"]
    args += ["--param", "opt {-O2, -O3} [-O2]", "--rename", "opt=-o"]
    result = cli(*args, "--rename", "bs=-b", "--runs", "4", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "scenarios" / "short.txt"
    checked = cli("check", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr  # getopt has no --help to read
    launched = cli("launch", str(path), "--quiet", "--outdir", str(tmp_path / "out"), cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    group = RunGroup(tmp_path / "out" / "short")
    for record in group.records():
        log = group.run(record["run_id"]).script_log.read_text()
        config = record["config"]
        assert record["status"] == "SAT", log
        assert f"batch {config['bs']} opt {config['opt']}\n" in log, log
    bad = cli(*args, "--rename", "bs=---b", "--dir", str(tmp_path / "x"))
    assert bad.returncode == 1 and "or a whole flag, e.g. batch=-b" in bad.stderr


@pytest.mark.parametrize("rename", ["rate=lr", "rate=--lr"])
def test_two_parameters_on_one_flag_are_refused_by_init_and_check(cli, tmp_path, rename):
    """`--rename rate=--lr` next to a parameter lr: init and check accepted it, and every run
    trained with rate's value while its record said lr's."""
    args = ["init", "two", "--script", "train.py", "--param", "lr real [0.01, 1] [0.1]"]
    args += ["--param", "rate real [0.01, 1] [0.5]", "--dir", str(tmp_path)]
    refused = cli(*args, "--rename", rename)
    assert refused.returncode == 1, refused.stderr
    assert "parameter rate would be passed as --lr, as parameter lr is" in refused.stderr
    (tmp_path / "space.pcs").write_text("lr [0.01, 1] [0.1]\nrate [0.01, 1] [0.5]\n")
    (tmp_path / "tune.txt").write_text(
        f'algo = smac-bridge wrap --cmd "python train.py" --rename {rename}\n'
        "paramfile = space.pcs\nrun_obj = quality\n"
    )
    checked = cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    assert checked.returncode == 1, checked.stderr
    assert "parameter rate and parameter lr are both passed as --lr" in " ".join(
        checked.stderr.split()
    ), checked.stderr
