"""`results` and `best` on the output directory of a real launch (finished_launch); the plots
are tested in test_plots.py."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import group_made_by_hand, smac_bridge_env

from smac_bridge import results
from smac_bridge.design import save_space
from smac_bridge.rundata import RunGroup

pytestmark = pytest.mark.slow


def group_of(outdir: Path) -> RunGroup:
    (group,) = results.find_groups(outdir)
    return group


def test_json_lists_every_run_with_the_documented_fields(finished_launch, cli):
    done = cli("results", str(finished_launch), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    records = group_of(finished_launch).records()
    assert sorted(r["run_id"] for r in rows) == sorted(r["run_id"] for r in records)
    assert len(rows) == 8
    for row in rows:
        assert set(results.JSON_FIELDS) <= set(row)
        assert set(row["config"]) == {"x", "y"}
    # best first: SAT runs by quality, the UNSAT run (failure quality) last
    assert [r["quality"] for r in rows] == sorted(r["quality"] for r in rows)
    unsat = [r for r in rows if r["run_id"] == "00003"]
    assert unsat[0]["status"] == "UNSAT" and rows[-1]["run_id"] == "00003"
    assert rows[0]["extra"]["test_error"] == pytest.approx(rows[0]["quality"] * 1.1 + 0.01)


def test_outdir_and_rungroup_folder_give_the_same_runs(finished_launch, cli):
    from_outdir = json.loads(cli("results", str(finished_launch), "--json").stdout)
    group_path = group_of(finished_launch).path
    from_group = json.loads(cli("results", str(group_path), "--json").stdout)
    assert from_outdir == from_group


def test_sort_top_and_status_filter(finished_launch, cli):
    by_x = json.loads(cli("results", str(finished_launch), "--json", "--sort=-x").stdout)
    xs = [r["config"]["x"] for r in by_x]
    assert xs == sorted(xs, reverse=True)
    top = json.loads(cli("results", str(finished_launch), "--json", "--top", "3").stdout)
    assert [r["run_id"] for r in top] == [r["run_id"] for r in by_quality(finished_launch)[:3]]
    only = json.loads(cli("results", str(finished_launch), "--json", "--status", "unsat").stdout)
    assert [r["run_id"] for r in only] == ["00003"]
    sat = json.loads(cli("results", str(finished_launch), "--json", "--status", "SAT").stdout)
    assert len(sat) == 7
    by_test = json.loads(
        cli("results", str(finished_launch), "--json", "--sort", "test_error").stdout
    )
    errors = [r["extra"].get("test_error") for r in by_test]
    assert errors[-1] is None and errors[:-1] == sorted(errors[:-1])


def by_quality(outdir: Path) -> list[dict]:
    return sorted(group_of(outdir).records(), key=lambda r: (r["quality"], r["run_id"]))


def test_unknown_sort_column_is_a_usage_error(finished_launch, cli):
    done = cli("results", str(finished_launch), "--sort", "accuracy")
    assert done.returncode == 2
    assert "unknown column 'accuracy'" in done.stderr and "test_error" in done.stderr
    done = cli("results", str(finished_launch), "--status", "SAT,TIMOUT")  # a typo shows nothing
    assert done.returncode == 2
    assert "--status" in done.stderr and "unknown 'TIMOUT'" in done.stderr
    for nothing in (",", " ", ""):  # an empty filter would show an empty table
        done = cli("results", str(finished_launch), "--status", nothing)
        assert done.returncode == 2
        assert "--status" in done.stderr and "no status named" in done.stderr


def test_not_an_output_directory_is_an_input_error(tmp_path, cli):
    done = cli("results", str(tmp_path))
    assert done.returncode == 1
    assert f"error: {tmp_path}: expected a smac-bridge output directory" in done.stderr
    assert "it holds" not in done.stderr


def test_a_folder_holding_the_output_directory_is_named(tmp_path, finished_launch, cli):
    """`results .` in the folder the launch ran in: the error names the outdir to pass."""
    (tmp_path / "smac-bridge-output").symlink_to(finished_launch)
    (tmp_path / "notes").mkdir()
    done = cli("results", str(tmp_path))
    assert done.returncode == 1
    expected = f"it holds {tmp_path / 'smac-bridge-output'}: pass that"
    assert expected in done.stderr, done.stderr


def test_table_shows_validation_and_test_error_side_by_side(finished_launch, cli):
    done = cli("results", str(finished_launch))
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "validation" in line)
    assert header.index("validation") < header.index("test error")
    best = by_quality(finished_launch)[0]
    row = next(line for line in done.stdout.splitlines() if best["run_id"] in line)
    assert results.format_number(best["extra"]["test_error"]) in row
    for record in group_of(finished_launch).records():
        assert f" {record['run_id']} " in done.stdout


def test_a_narrow_terminal_shows_every_parameter_whole():
    """At 80 columns the configuration column was cut at the terminal's edge: the table kept
    it 24 wide and the console cropped what did not fit (dropout1=0.24019 for 0.240191)."""
    from rich.console import Console

    configs = [
        {"dropout1": 0.240191, "dropout2": 0.558508, "nb_conv_size": 2, "nb_filters": 67},
        {"dropout1": 0.25, "optimizer": "rmsprop_with_momentum", "learning_rate": 1.23457e-05},
    ]
    records = [
        {"run_id": f"0000{n}", "worker": 1, "status": "SAT", "quality": 0.1 * n,
         "runtime": 30.1849, "config": config, "extra": {"test_error": 0.0898}}
        for n, config in enumerate(configs, start=1)
    ]  # fmt: skip
    console = Console(width=80, file=io.StringIO(), color_system=None)
    console.print(results.table(records, "mnist", compact=True))
    shown = console.file.getvalue()
    assert max(len(line) for line in shown.splitlines()) <= 80
    whole = "".join(shown.split())  # a value folded onto the next line joins up again
    for config in configs:
        for name, value in config.items():
            assert f"{name}={results.format_number(value)}" in whole


def test_csv_has_a_row_per_run_and_a_column_per_parameter(finished_launch, cli, tmp_path):
    out = tmp_path / "runs.csv"
    done = cli("results", str(finished_launch), "--csv", str(out))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 8
    assert {"run_id", "worker", "status", "quality", "config.x", "config.y"} <= set(rows[0])
    assert "extra.test_error" in rows[0]
    record = group_of(finished_launch).records()[0]
    row = next(r for r in rows if r["run_id"] == record["run_id"])
    assert float(row["config.x"]) == record["config"]["x"]
    assert float(row["quality"]) == record["quality"]


@pytest.mark.parametrize("command", ["best", "results", "status"])
def test_a_reader_that_went_away_ends_the_output_quietly(finished_launch, command):
    """`smac-bridge best OUT | head -1` printed "error: Broken pipe"."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # gone before the first line: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "smac_bridge.cli", command, str(finished_launch)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=smac_bridge_env(),
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == ""


def test_a_half_written_last_line_is_not_read(finished_launch, tmp_path):
    """A reader may see a worker's file in the middle of an append: the partial line waits."""
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    group = group_of(copy)
    seed, path = group.layout.record_files()[0]
    with path.open("ab") as handle:
        handle.write(b'{"run_id": "00099", "worker": ')
    (loaded,) = results.load(copy)
    assert len(loaded.records) == 8
    stream = io.StringIO()
    results.write_csv([loaded], stream)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert len(rows) == 8 and "00099" not in {row["run_id"] for row in rows}


def test_a_sort_column_one_rungroup_lacks_sorts_its_runs_last(finished_launch, cli, tmp_path):
    """The documented `--sort -test_error` over an outdir where one rungroup reports a test
    error and the other does not: both are shown, not a usage error."""
    source = group_of(finished_launch).path
    for name in ("plain", "tested"):
        shutil.copytree(source, tmp_path / "out" / name)
    for _, path in RunGroup(tmp_path / "out" / "plain").layout.record_files():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            record["extra"].pop("test_error", None)
            record["additional"] = ""
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    done = cli("results", str(tmp_path / "out"), "--sort", "-test_error", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    errors = [row["extra"].get("test_error") for row in rows if row["rungroup"] == "tested"]
    shown = [error for error in errors if error is not None]
    assert len(errors) == 8 and errors == sorted(shown, reverse=True) + [None] * (8 - len(shown))
    assert len([row for row in rows if row["rungroup"] == "plain"]) == 8


def test_a_parameter_no_run_has_set_yet_is_a_sort_column(finished_launch, cli, tmp_path):
    """A conditional parameter whose parent never took its value in this rungroup's runs
    (yet) is in the search space: sorting by it shows every run, none has it."""
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    space = group_of(copy).layout.space
    space.write_text(space.read_text() + "opt {sgd, adam} [adam]\nmom [0, 1] [0.9]\n")
    space.write_text(space.read_text() + "mom | opt == sgd\n")
    done = cli("results", str(group_of(copy).path), "--sort", "mom", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 8
    typo = cli("results", str(group_of(copy).path), "--sort", "momentum")
    assert typo.returncode == 2 and "unknown column 'momentum'" in typo.stderr
    assert "mom" in typo.stderr  # among the columns it lists


def test_best_prints_the_best_run_and_copies_its_files(finished_launch, cli, tmp_path):
    best = by_quality(finished_launch)[0]
    dest = tmp_path / "best"
    done = cli("best", str(finished_launch), "--copy-to", str(dest))
    assert done.returncode == 0, done.stderr
    assert f"best run {best['run_id']}" in done.stdout
    assert "branin_target.py" in done.stdout and "--x" in done.stdout
    # the values in full, to retrain the configuration that won: 6 digits were another one
    assert f"    x = {best['config']['x']!r}\n" in done.stdout
    assert f"copied 1 file of the run and best_run.json to {dest}" in done.stdout
    model = (dest / "model.txt").read_text(encoding="utf-8")
    assert model == f"x={best['config']['x']} y={best['config']['y']}\n"
    summary = json.loads((dest / "best_run.json").read_text(encoding="utf-8"))
    assert summary["record"]["run_id"] == best["run_id"]
    argv = summary["command"]["argv"]
    assert argv[-4::2] == ["--x", "--y"]
    assert float(argv[-3]) == pytest.approx(best["config"]["x"])
    as_json = json.loads(cli("best", str(finished_launch), "--json").stdout)
    assert as_json["record"]["config"] == best["config"]
    again = cli("best", str(finished_launch), "--copy-to", str(dest))
    assert again.returncode == 1, again.stderr  # no stale files beside
    # the path, then a sentence: "best: is not empty" read as a path with a stray colon
    assert f"error: {dest}: the folder is not empty: copy into a new or empty one" in again.stderr
    assert (dest / "model.txt").read_text(encoding="utf-8") == model


def test_best_copies_into_an_empty_folder_it_reaches_by_a_link_or_as_dot(
    finished_launch, cli, tmp_path
):
    """The copy went beside the folder and was renamed onto it: a link to an empty folder
    said "Not a directory", `.` raised a traceback, and a mount point was "busy"."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    done = cli("best", str(finished_launch), "--copy-to", str(tmp_path / "link"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "empty" / "best_run.json").is_file() and (tmp_path / "link").is_symlink()
    (tmp_path / "here").mkdir()
    done = cli("best", str(finished_launch), "--copy-to", ".", cwd=tmp_path / "here")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "here" / "best_run.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "here", "link"]


def test_best_copies_a_moved_runs_files_past_a_link_to_where_they_were(
    finished_launch, cli, tmp_path
):
    """A script that linked its latest model by absolute path: once the outdir moved, the
    link leads nowhere, and the copy failed half done with a raw shutil.Error."""
    moved = tmp_path / "moved"
    shutil.copytree(finished_launch, moved, symlinks=True)
    best = by_quality(finished_launch)[0]
    artifacts = group_of(moved).run(best["run_id"]).artifacts
    (artifacts / "latest").symlink_to(tmp_path / "gone" / "model.txt")
    done = cli("best", str(moved), "--copy-to", str(tmp_path / "best"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "best" / "model.txt").is_file()
    assert (tmp_path / "best" / "best_run.json").is_file()
    assert not (tmp_path / "best" / "latest").is_symlink()
    assert f"left out, neither files nor folders: {artifacts / 'latest'}" in done.stderr


def test_best_keeps_links_out_of_the_run_as_links_and_leaves_pipes_out(
    finished_launch, cli, tmp_path
):
    """A link to a dataset folder outside the run copied the whole dataset (or /etc), and a
    named pipe among the artifacts stopped the copy ("is a named pipe")."""
    moved = tmp_path / "moved"
    shutil.copytree(finished_launch, moved, symlinks=True)
    artifacts = group_of(moved).run(by_quality(finished_launch)[0]["run_id"]).artifacts
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "images.bin").write_bytes(b"\0" * 1000)
    (artifacts / "data").symlink_to(tmp_path / "dataset")
    (artifacts / "best.txt").symlink_to("model.txt")  # inside the run: copied as a file
    (artifacts / "run").symlink_to("..")  # a loop: copied 40 levels deep
    os.mkfifo(artifacts / "events")
    done = cli("best", str(moved), "--copy-to", str(tmp_path / "best"))
    assert done.returncode == 0, done.stderr
    best = tmp_path / "best"
    assert (best / "data").resolve() == tmp_path / "dataset" and (best / "data").is_symlink()
    assert (best / "best.txt").read_text() == (best / "model.txt").read_text()
    assert not (best / "best.txt").is_symlink() and not (best / "events").exists()
    assert (best / "run").is_symlink()
    said = " ".join(done.stderr.split())
    assert (
        f"kept as links (out of the run, or to a folder that holds them): {artifacts / 'data'} -> "
        in said
    )
    assert "copied 2 files of the run and best_run.json" in done.stdout, done.stdout


def _strict_json(text: str) -> object:
    """TEXT as a browser's JSON.parse or jq reads it: NaN and Infinity are no JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_output_is_standard_json_when_a_script_reported_nan(finished_launch, cli, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    group = group_of(copy)
    best = by_quality(copy)[0]
    _, path = group.layout.record_files()[0]
    lines = path.read_text().splitlines(True)
    records = [json.loads(line) for line in lines]
    for record in records:
        record["extra"] = {**record["extra"], "test_error": float("nan"), "auc": float("inf")}
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    rows = _strict_json(cli("results", str(copy), "--json").stdout)
    assert any(row["extra"].get("test_error", 0) is None for row in rows)
    shown = _strict_json(cli("best", str(copy), "--json").stdout)
    assert shown["record"]["run_id"] == best["run_id"]
    _strict_json(cli("status", str(copy), "--json").stdout)


def test_best_without_a_successful_run_is_an_error(finished_launch, cli, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    group = group_of(copy)
    for _, path in group.layout.record_files():
        kept = [line for line in path.read_text().splitlines(True) if '"UNSAT"' in line]
        path.write_text("".join(kept))
    done = cli("best", str(copy))
    assert done.returncode == 1
    assert "no run has succeeded" in done.stderr


def test_an_outdir_with_several_rungroups(finished_launch, cli, tmp_path):
    source = group_of(finished_launch).path
    for name in ("first", "second"):
        shutil.copytree(source, tmp_path / "out" / name)
    rows = json.loads(cli("results", str(tmp_path / "out"), "--json").stdout)
    assert sorted({r["rungroup"] for r in rows}) == ["first", "second"] and len(rows) == 16
    shown = cli("results", str(tmp_path / "out")).stdout
    assert "first: 8 of 8 recorded runs" in shown and "second: 8 of 8 recorded runs" in shown
    launched = json.loads((tmp_path / "out" / "first" / "launch.json").read_text())
    launched["session_started"] += 60  # "first" is the rungroup launched last
    (tmp_path / "out" / "first" / "launch.json").write_text(json.dumps(launched))
    best = cli("best", str(tmp_path / "out"), "--json")
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["rungroup"] == "first"
    assert "using first, the one launched last" in best.stderr
    chosen = cli("best", str(tmp_path / "out" / "second"), "--json")
    assert chosen.returncode == 0 and json.loads(chosen.stdout)["rungroup"] == "second"


def test_a_categorical_of_numbers_sorts_by_number():
    """PCS categoricals are text (`batch categorical {16, 32, 128}`): sorted as text 128 would
    come before 16."""
    records = [
        {"run_id": f"0000{n}", "config": {"batch": batch}, "quality": 0.1}
        for n, batch in enumerate(["32", "128", "16", "large", None], start=1)
    ]
    ordered = results.sort_runs(records, "batch")  # type: ignore[arg-type]
    assert [r["config"]["batch"] for r in ordered] == ["16", "32", "128", "large", None]
    backwards = results.sort_runs(records, "batch", descending=True)  # type: ignore[arg-type]
    assert [r["config"]["batch"] for r in backwards] == ["128", "32", "16", "large", None]


def test_a_runtime_objective_sorts_by_cost_only_for_the_quality_column():
    """With run_obj = runtime, `--sort` of any column ending in "quality" became one ending in
    "cost": `extra.solution_quality` sorted nothing, silently."""
    group = results.GroupRuns("g", Path("g"), [], None, result="cost")
    assert [group.sort_column(s) for s in ("quality", "-quality")] == ["cost", "-cost"]
    kept = ("extra.solution_quality", "-extra.quality", "config.quality")
    assert [group.sort_column(s) for s in kept] == list(kept)


def test_the_seed_and_the_measures_of_a_run_are_sort_columns():
    """`--sort seed` (a non-deterministic launch's repeats) and `--sort cpu_time` were
    unknown columns, though the CSV has both; a parameter named `seed` still wins."""
    records = [
        {"run_id": f"0000{n}", "config": {}, "status": "SAT", "quality": 0.1, "cost": 0.1,
         "seed": seed, "cpu_time": cpu, "peak_rss_mb": 10.0}
        for n, seed, cpu in ((1, 7, 2.0), (2, 3, 9.0), (3, 5, 1.0))
    ]  # fmt: skip
    for column in ("seed", "-cpu_time", "peak_rss_mb"):
        results.check_sort_column(column, records)  # type: ignore[arg-type]
    by_seed = results.select(records, "seed")  # type: ignore[arg-type]
    assert [r["seed"] for r in by_seed] == [3, 5, 7]
    assert [r["cpu_time"] for r in results.select(records, "-cpu_time")] == [9.0, 2.0, 1.0]  # type: ignore[arg-type]
    for record, seed in zip(records, (2, 1, 3), strict=True):
        record["config"] = {"seed": seed}
    assert [r["run_id"] for r in results.select(records, "seed")] == ["00002", "00001", "00003"]  # type: ignore[arg-type]


def test_ties_keep_the_order_runs_were_numbered_in_past_99999_runs():
    """Run ids grow a sixth digit at run 100,000: tied runs were ordered as text, 100000
    before 99999."""
    records = [
        {"run_id": n, "config": {}, "status": "SAT", "quality": 0.1, "cost": 0.1}
        for n in ["100001", "99999", "100000"]
    ]
    ordered = results.sort_runs(records, "quality")  # type: ignore[arg-type]
    assert [r["run_id"] for r in ordered] == ["99999", "100000", "100001"]


def test_a_category_named_nan_or_inf_sorts_as_a_word():
    """`act {relu, inf, nan, tanh}`: "nan" sorted as a missing value, last either way, and
    "inf" as a number, first either way."""
    words = ["relu", "inf", "nan", "tanh", "1e-3", "16"]
    records = [
        {"run_id": f"0000{n}", "config": {"act": word}, "quality": 0.1}
        for n, word in enumerate(words, start=1)
    ]
    ordered = results.sort_runs(records, "act")  # type: ignore[arg-type]
    assert [r["config"]["act"] for r in ordered] == ["1e-3", "16", "inf", "nan", "relu", "tanh"]
    backwards = results.sort_runs(records, "act", descending=True)  # type: ignore[arg-type]
    assert [r["config"]["act"] for r in backwards] == ["16", "1e-3", "tanh", "relu", "nan", "inf"]


def test_nan_sorts_last_in_either_direction():
    """`--sort -test_error` put the runs whose test error is NaN first: the docs say runs
    without a value come last."""
    records = [
        {"run_id": f"0000{n}", "config": {}, "quality": 0.1, "extra": {"test_error": error}}
        for n, error in enumerate([0.5, float("nan"), float("inf"), 0.2], start=1)
    ]
    for descending, order in (
        (False, ["00004", "00001", "00003"]),
        (True, ["00003", "00001", "00004"]),
    ):
        ordered = results.sort_runs(records, "test_error", descending)  # type: ignore[arg-type]
        assert [r["run_id"] for r in ordered] == [*order, "00002"]


def test_by_quality_finished_runs_come_before_partial_and_failed_ones():
    """A timed-out run's partial quality of 1e-5 topped the table over the incumbent, and
    `--top 1` showed a run that is no trained model."""
    records = [
        {"run_id": "00001", "status": "TIMEOUT", "quality": 1e-5, "partial": True},
        {"run_id": "00002", "status": "UNSAT", "quality": 1e9},
        {"run_id": "00003", "status": "SAT", "quality": 0.6, "solved": True},
        {"run_id": "00004", "status": "SAT", "quality": 0.4, "solved": True},
        {"run_id": "00005", "status": "TIMEOUT", "quality": 0.5, "stopped_by_user": True},
    ]
    ordered = results.select(records, "quality")  # type: ignore[arg-type]
    assert [r["run_id"] for r in ordered] == ["00004", "00003", "00001", "00005", "00002"]
    backwards = results.select(records, "-quality")  # type: ignore[arg-type]
    assert [r["run_id"] for r in backwards] == ["00002", "00005", "00001", "00003", "00004"]
    assert results.select(records, "quality", top=1)[0]["run_id"] == "00004"  # type: ignore[arg-type]


def test_the_csv_partial_column_is_the_tables_partial_mark():
    """`partial` was the record's flag: True for a run that reported per epoch and then
    crashed (no quality at all), False for one stopped before its final report."""
    records = [
        {"run_id": "00001", "status": "UNSAT", "quality": 1e9, "partial": True},
        {"run_id": "00002", "status": "TIMEOUT", "quality": 0.3, "stopped_by_user": True},
        {"run_id": "00003", "status": "SAT", "quality": 0.2, "stopped_by_user": True},
    ]
    stream = io.StringIO()
    results.write_csv([results.GroupRuns("g", Path("g"), records, "00003")], stream)  # type: ignore[list-item]
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    shown = [results.quality_text(r, 1e9) for r in records]  # type: ignore[arg-type]
    assert shown == ["no quality", "0.3 (partial)", "0.2"]
    assert [row["partial"] for row in rows] == ["False", "True", "False"]
    as_json = results.json_rows(results.GroupRuns("g", Path("g"), records, "00003"))  # type: ignore[arg-type]
    assert [row["partial"] for row in as_json] == [False, True, False]  # as the CSV says


def test_the_scenarios_failure_quality_is_no_quality_in_the_table_and_the_csv(tmp_path, cli):
    """With `--failure-quality 1.0` (the MNIST scenarios) and no failed run to tell it, a run
    killed at its cutoff read "1 (partial)" in `results` and its CSV, where the report and the
    dashboard said "no quality": results alone did not read the scenario."""
    pcs = "lr [1e-4, 1e-1] [1e-2]l\n"
    group = group_made_by_hand(tmp_path, "task", pcs, " --failure-quality 1.0", runs=2)
    for number, (status, quality) in enumerate([("SAT", 0.1), ("TIMEOUT", 1.0)], start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"lr": 0.01 * number},
             "instance": "no_instance", "seed": -1, "status": status, "quality": quality,
             "cost": quality, "runtime": 10.0, "extra": {}, "reason": None, "additional": "",
             "stopped_by_user": False, "reused_from": None, "started": 1.0, "ended": 2.0},
        )  # fmt: skip
    shown = cli("results", str(group.path), "--csv", str(tmp_path / "runs.csv"), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    (row,) = [line for line in shown.stdout.splitlines() if "00002" in line]
    assert "no quality" in row and "partial" not in row
    rows = list(csv.DictReader((tmp_path / "runs.csv").open(encoding="utf-8")))
    assert [r["partial"] for r in rows] == ["False", "False"]


def test_an_incumbent_of_several_seeds_is_shown_with_its_mean(tmp_path, cli):
    """Seeds (or instances) per configuration: `status` and `best` named the incumbent's
    luckiest run, 0.05, hiding the crash its mean counts, and the best-so-far curves drew
    that run, so they rose when a configuration of several runs took over (d races c on
    its seeds, then runs on one more)."""
    group = group_made_by_hand(tmp_path, "task", "k {c, d} [c]\n", runs=6)
    runs = [("c", 1, "SAT", 0.3), ("c", 2, "SAT", 0.3), ("d", 1, "SAT", 0.05),
            ("d", 2, "SAT", 0.3), ("d", 3, "CRASHED", 1e9)]  # fmt: skip
    for number, (k, seed, status, quality) in enumerate(runs, start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"k": k},
             "instance": "no_instance", "seed": seed, "status": status, "quality": quality,
             "cost": quality, "runtime": 1.0, "reason": None, "started": 1.0 + number,
             "ended": 2.0 + number},
        )  # fmt: skip
    mean = (0.05 + 0.3 + 1e9) / 3
    shown = cli("status", str(group.path), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines()]  # a pipe's: not folded at 80
    assert any(
        line.endswith("best 0.05 (run 00003: k=d; mean cost 3.33333e+08 over its 3 runs)")
        for line in lines
    ), shown.stdout
    shown = cli("best", str(group.path), cwd=tmp_path)
    assert "mean cost of its configuration: 3.33333e+08 over its 3 runs" in shown.stdout
    details = json.loads(cli("best", str(group.path), "--json", cwd=tmp_path).stdout)
    assert details["mean_cost"] == mean and details["run_ids"] == ["00003", "00004", "00005"]
    from smac_bridge.dashboard_data import BestSoFar
    from smac_bridge.plots import _best_so_far

    records = group.records()
    assert _best_so_far(records) == ([1, 2, 3, 4, 5], [0.3, 0.3, 0.3, 0.175, mean])
    curve = BestSoFar().update(records)["rungroup"]
    assert [point["quality"] for point in curve] == [0.3, 0.3, 0.3, 0.175, mean]


def test_views_escape_what_a_terminal_would_act_on_and_print_no_markup(tmp_path, cli):
    """A script's colour codes in its failure's reason reached the terminal raw, and a
    reason with rich's markup (`[/x]`) made `status` fail with a MarkupError."""
    pcs = "opt {a, b} [a]\n"
    group = group_made_by_hand(tmp_path, "task", pcs, runs=3)
    failure = "ValueError: shape [/batch] is \x1b[31mwrong\x1b[0m\u202e"
    for number, (status, reason) in enumerate([("SAT", None), ("CRASHED", failure)], start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"opt": "a"},
             "instance": "no_instance", "seed": -1, "status": status, "quality": 0.5,
             "cost": 0.5, "runtime": 1.0, "reason": reason, "started": 1.0, "ended": 2.0},
        )  # fmt: skip
    for command in ("status", "results"):
        shown = cli(command, str(group.path), cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "\x1b" not in shown.stdout and "\u202e" not in shown.stdout, shown.stdout
        flat = "".join(shown.stdout.split())  # a table folds a long cell over lines
        assert "[/batch]is" in flat and "\\x1b[31mwrong\\x1b[0m\\u202e" in flat, shown.stdout
    group.append_record(  # the best run, with a hand-edited value and a script's extra
        1,
        {"run_id": "00003", "worker": 1, "config": {"opt": "b\x1b[2J"},
         "instance": "no_instance", "seed": -1, "status": "SAT", "quality": 0.1, "cost": 0.1,
         "runtime": 1.0, "started": 3.0, "ended": 4.0, "extra": {"note\u202e": "\x1b[31mx"}},
    )  # fmt: skip
    argv = ["python", "train.py", "--opt", "b\x1b[2J", "--tag", "a\tb c"]
    run = group.run("00003")
    run.path.mkdir(parents=True, exist_ok=True)
    run.command.write_text(json.dumps({"argv": argv, "cwd": str(tmp_path / "a\x1bdir")}))
    shown = cli("best", str(group.path), cwd=tmp_path)
    assert shown.returncode == 0 and "run 00003" in shown.stdout, shown.stderr
    assert "\x1b" not in shown.stdout and "\u202e" not in shown.stdout, shown.stdout
    assert "opt = b\\x1b[2J" in shown.stdout and "note\\u202e: \\x1b[31mx" in shown.stdout
    # its command line, pasted into bash, runs the same argv
    line = next(x for x in shown.stdout.splitlines() if x.startswith("  command: "))
    assert "python train.py --opt $'b\\x1b[2J' --tag $'a\\tb c'" in line, line
    echoed = subprocess.run(
        ["bash", "-c", "printf '%s\\0' " + line.removeprefix("  command: ")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert echoed.stdout.split("\0")[:-1] == argv
    assert f"  in: $'{tmp_path}/a\\x1bdir'" in shown.stdout.splitlines()


def test_a_finished_rungroups_torn_last_record_and_odd_fields_are_said_not_fatal(tmp_path, cli):
    """Once no worker lives, a record line a dying worker left without its end is damaged,
    no longer one being written: the views left its run out without a word. A record
    without its end time failed `status`, and a step `true` was taken for epoch 1."""
    group = group_made_by_hand(tmp_path, "task", "x [0, 1] [0.5]\n", runs=3)
    bare = {"worker": 1, "config": {"x": 0.5}, "instance": "no_instance", "seed": -1}
    group.append_record(
        1, {"run_id": "00001", "status": "CRASHED", "quality": 1.0, "cost": 1.0, **bare}
    )  # type: ignore[arg-type]
    torn = json.dumps({"run_id": "00002", "status": "SAT", "quality": 0.1, "cost": 0.1, **bare})
    with open(group.layout.records(1), "ab") as handle:
        handle.write(torn.encode()[:40])
    group.run("00001").path.mkdir(parents=True)
    group.run("00001").progress.write_text(
        '{"step": true, "quality": 0.3}\n{"step": 2, "quality": 0.2}\n'
    )
    for command in ("status", "results"):
        shown = cli(command, str(group.path), cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        said = (shown.stdout + shown.stderr).replace("\n", "").replace(" ", "")
        assert f"{group.layout.records(1)}:2" in said, shown.stdout
    assert [point["step"] for point in group.progress("00001")] == [2]


def test_the_csv_has_a_column_per_parameter_whichever_runs_it_holds(tmp_path, cli):
    """`--csv --top 1` of a run with an inactive conditional parameter had no column for it:
    CSVs of one rungroup had other columns, in the order the runs happened to set them."""
    pcs = "opt {sgd, adam} [sgd]\nmom [0, 1] [0.9]\nlr [0.001, 0.1] [0.01]l\nmom | opt == sgd\n"
    group = group_made_by_hand(tmp_path, "task", pcs, runs=2)
    save_space(group.layout, tmp_path / "space.pcs")
    configs = [{"opt": "adam", "lr": 0.01}, {"opt": "sgd", "mom": 0.5, "lr": 0.02}]
    for number, config in enumerate(configs, start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": config,
             "instance": "no_instance", "seed": -1, "status": "SAT", "quality": 0.1 * number,
             "cost": 0.1 * number, "runtime": 1.0, "extra": {}, "reason": None,
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "started": 1.0, "ended": 2.0},
        )  # fmt: skip
    headers = []
    for top in ("1", "2"):
        shown = cli(
            "results", str(group.path), "--top", top, "--csv", f"top{top}.csv", cwd=tmp_path
        )
        assert shown.returncode == 0, shown.stderr
        headers.append((tmp_path / f"top{top}.csv").read_text().splitlines()[0].split(","))
    assert headers[0] == headers[1]
    assert {"config.opt", "config.mom", "config.lr"} <= set(headers[0]), headers[0]


def test_runs_on_several_instances_say_which_in_the_table_the_csv_and_the_sort(tmp_path, cli):
    """Over folds, the top row was a run on the easiest fold, and nothing but `--json` said
    which fold a run had; `--sort instance` was an unknown column."""
    group = group_made_by_hand(tmp_path, "folds", "x [0, 1] [0.5]\n", runs=3)
    runs = [("fold-2", 0.2, 17), ("fold-1", 0.1, 17), ("fold-3", 0.3, 23)]
    for number, (instance, quality, seed) in enumerate(runs, start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"x": 0.5},
             "instance": instance, "seed": seed, "status": "SAT", "quality": quality,
             "cost": quality, "runtime": 1.0, "extra": {}, "reason": None, "additional": "",
             "stopped_by_user": False, "reused_from": None, "started": 1.0, "ended": 2.0},
        )  # fmt: skip
    csv_path = tmp_path / "runs.csv"
    shown = cli("results", str(group.path), "--csv", str(csv_path), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "instance" in shown.stdout
    (row,) = [line for line in shown.stdout.splitlines() if "00003" in line]
    assert "fold-3" in row
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert [(r["instance"], r["seed"]) for r in rows] == [
        ("fold-1", "17"), ("fold-2", "17"), ("fold-3", "23")
    ]  # fmt: skip
    by_instance = cli("results", str(group.path), "--json", "--sort=-instance", cwd=tmp_path)
    assert by_instance.returncode == 0, by_instance.stderr
    assert [r["instance"] for r in json.loads(by_instance.stdout)] == ["fold-3", "fold-2", "fold-1"]
    one = group_made_by_hand(tmp_path / "one", "plain", "x [0, 1] [0.5]\n", runs=1)
    one.append_record(1, {**group.records()[0], "instance": "no_instance"})
    assert "instance" not in cli("results", str(one.path), cwd=tmp_path).stdout


@pytest.mark.parametrize("name", ["seed", "gpu", "budget", "reason"])
def test_a_parameter_named_like_a_record_field_sorts_by_the_parameter(name):
    """`--sort seed` with a PCS parameter `seed` sorted by every record's own seed (-1), and
    `--sort gpu` by the record's GPU (none on a CPU): the rows stayed in run order."""
    records = [
        {"run_id": f"0000{n}", "seed": -1, "gpu": None, "budget": None, "reason": None,
         "status": "SAT", "quality": 0.1, "config": {name: value}}
        for n, value in enumerate([6, 1, 8, 4], start=1)
    ]  # fmt: skip
    ordered = results.sort_runs(records, name)  # type: ignore[arg-type]
    assert [r["config"][name] for r in ordered] == [1, 4, 6, 8]
    # the CSV's own columns stay the record's: a failed run's reason was the parameter's value
    failed = {**records[0], "status": "UNSAT", "reason": "exit code 1: out of memory"}
    stream = io.StringIO()
    results.write_csv([results.GroupRuns("g", Path("g"), [failed], None)], stream)  # type: ignore[list-item]
    (row,) = csv.DictReader(io.StringIO(stream.getvalue()))
    assert row[f"config.{name}"] == "6"
    expected = {"seed": "-1", "gpu": "", "budget": "", "reason": "exit code 1: out of memory"}
    assert row[name] == expected[name], row


def test_a_parameter_or_extra_named_like_a_listed_field_sorts_as_the_csv_names_it():
    """A parameter `quality` (or `status`) could not be sorted on: `--sort quality` is the
    record's quality, and no other name reached the parameter."""
    records = [
        {"run_id": f"0000{n}", "status": "SAT", "quality": 0.1 * n, "config": {"quality": value},
         "extra": {"status": -value}}
        for n, value in enumerate([6, 1, 8, 4], start=1)
    ]  # fmt: skip
    results.check_sort_column("config.quality", records)  # type: ignore[arg-type]
    results.check_sort_column("-extra.status", records)  # type: ignore[arg-type]
    ordered = results.sort_runs(records, "config.quality")  # type: ignore[arg-type]
    assert [r["config"]["quality"] for r in ordered] == [1, 4, 6, 8]
    ordered = results.sort_runs(records, "extra.status")  # type: ignore[arg-type]
    assert [r["config"]["quality"] for r in ordered] == [8, 6, 4, 1]
    assert [r["run_id"] for r in results.sort_runs(records, "quality")] == [  # type: ignore[arg-type]
        "00001", "00002", "00003", "00004"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown column 'config.lr'"):
        results.check_sort_column("config.lr", records)  # type: ignore[arg-type]


def test_the_table_says_a_failed_run_has_no_quality(finished_launch, cli):
    """The report and the dashboard say "no quality" of a failed run; the table showed the
    failure quality 1e+09 as if it were one."""
    unsat = next(r for r in group_of(finished_launch).records() if r["status"] == "UNSAT")
    table = cli("results", str(finished_launch)).stdout
    (row,) = [line for line in table.splitlines() if f" {unsat['run_id']} " in line]
    assert "no quality" in row and "1e+09" not in row, row


def test_an_ordinal_sorts_in_its_declared_order_in_results_and_the_report(tmp_path, cli):
    """`size ordinal {small, medium, large}`: `--sort size` gave large, medium, small (the
    alphabet), and so did a click on the report's column, where `plot` used the PCS order."""
    from smac_bridge import html_report

    pcs = "size ordinal {small, medium, large} [small]\n"
    group = group_made_by_hand(tmp_path, "ord", pcs, runs=4)
    for number, size in enumerate(["large", "small", "medium", "small"], start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"size": size},
             "instance": "no_instance", "seed": -1, "status": "SAT", "quality": 0.1 * number,
             "cost": 0.1 * number, "runtime": 1.0, "extra": {}, "reason": None,
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "started": 1.0, "ended": 2.0},
        )  # fmt: skip
    for sort, wanted in (("size", ["small", "small", "medium", "large"]),
                         ("-size", ["large", "medium", "small", "small"])):  # fmt: skip
        shown = cli("results", str(group.path), "--json", f"--sort={sort}", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert [r["config"]["size"] for r in json.loads(shown.stdout)] == wanted
    records = [{"run_id": f"0000{n}", "config": {"size": s}, "quality": 0.1}
               for n, s in enumerate(["large", "0", "tiny", "small"], start=1)]  # fmt: skip
    order = ["small", "medium", "large"]  # "0" and "tiny": values the PCS no longer declares
    ordered = results.sort_runs(records, "size", order=order)  # type: ignore[arg-type]
    assert [r["config"]["size"] for r in ordered] == ["small", "large", "0", "tiny"]
    page = html_report.render([group])
    keys = re.findall(r'<td data-v="([^"]*)">(small|medium|large)</td>', page)
    assert sorted(set(keys)) == [("0", "small"), ("1", "medium"), ("2", "large")], keys


def test_a_maximised_metric_is_said_to_be_negated_in_every_view(tmp_path, cli):
    """Under the wrapper's --maximize, an accuracy of 0.99 is the quality -0.99 (the wrapper
    marks such runs): the views showed -0.99 under "lower is better" without a word, and the
    report called the rise from 0.92 to 0.99 "8% lower"."""
    from smac_bridge import dashboard_data, html_report, plots
    from smac_bridge.group_setup import read_setup

    group = group_made_by_hand(tmp_path, "acc", "lr [0.001, 0.1] [0.01]l\n", " --maximize")
    for number, (lr, accuracy) in enumerate([(0.01, 0.92), (0.05, 0.99)], start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"lr": lr},
             "instance": "no_instance", "seed": -1, "status": "SAT", "quality": -accuracy,
             "cost": -accuracy, "runtime": 1.0, "extra": {"negated_metric": 1}, "reason": None,
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "started": float(number), "ended": number + 0.5},
        )  # fmt: skip
    setup = read_setup(group)
    shown = cli("results", str(group.path))
    assert "quality = minus the metric (the wrapper's --maximize)" in shown.stdout
    figures = plots.figures(group.records(), "acc", setup)
    assert (
        figures["best_over_runs"].axes[0].get_ylabel()
        == "best quality (−metric) so far (lower is better)"
    )
    page = tmp_path / "report.html"
    assert cli("report", str(group.path), "--html", str(page)).returncode == 0
    assert "the metric 0.92 → 0.99 (8% higher)" in page.read_text(encoding="utf-8")
    data = dashboard_data.runs(group, setup, now=10.0)
    assert data["result_label"] == "quality (−metric)"
    best = cli("best", str(group.path)).stdout
    assert "quality: -0.99 (minus the metric: --maximize)" in best
    assert "negated_metric" not in best  # the wrapper's mark, no value the script reported
    assert "negated_metric" not in page.read_text(encoding="utf-8")
    assert "best quality (−metric) -0.99" in cli("status", str(group.path)).stdout
    assert html_report._change("quality", 0.5, 0.4, False) == "quality 0.5 → 0.4 (20% lower)"


def test_only_a_best_run_short_of_max_budget_is_said_to_be_no_fully_trained_model(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    group.write_launch_info({"max_budget": 9})
    at_max = {"run_id": "00001", "budget": 9.0, "trained_budget": 9}
    assert results.short_of_max_budget(at_max, group) is None
    short = {"run_id": "00002", "budget": 3.0, "trained_budget": 3}
    assert "budget 3 of max-budget 9" in str(results.short_of_max_budget(short, group))


def test_the_curves_csv_keeps_each_quality_exactly(tmp_path):
    """As --csv does: a spreadsheet of the curves must not round 0.12345678912."""
    from test_multi_fidelity import add_run

    group = RunGroup(tmp_path / "g")
    group.create()
    add_run(group, "00001", [0.5, 0.12345678912], finished=True)
    stream = io.StringIO()
    assert results.write_curves_csv(results.load(group.path), stream) == (2, 1)
    assert stream.getvalue().splitlines()[1:] == ["g,00001,1,0.5", "g,00001,2,0.12345678912"]


@pytest.mark.parametrize("name", ["workers", "running", "slots"])
def test_a_rungroup_named_as_a_rungroups_folder_is_one_of_the_outdirs(tmp_path, name):
    """An outdir holding rungroups `exp` and `workers` is no rungroup itself, though it holds
    a `workers/` folder: the views showed it as one, with none of its runs."""
    for rungroup in ("exp", name):
        group = RunGroup(tmp_path / "out" / rungroup)
        group.create()
        group.write_launch_info({"parallel": 1})
    found = [group.path.name for group in results.find_groups(tmp_path / "out")]
    assert found == sorted(["exp", name])
    fresh = RunGroup(tmp_path / "fresh")  # the folders a launch made, nothing in them yet
    fresh.create()
    assert [group.path for group in results.find_groups(fresh.path)] == [fresh.path]


def as_a_user_without_access(*args: str) -> subprocess.CompletedProcess:
    """`smac-bridge ARGS` as a user whom the files' permissions bind: root reads every file,
    so for root without its capability to pass them by (setpriv)."""
    command = [sys.executable, "-m", "smac_bridge.cli", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root reads every file, and setpriv is not here to drop that")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    env = smac_bridge_env()
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_what_cannot_be_read_is_left_out_and_said(tmp_path, finished_launch):
    """Another user's private rungroup in a shared outdir (made under umask 077) failed every
    view of the outdir with `Permission denied`, and a private record file was left out
    without a word: `9 runs done` where 10 were."""
    group = next(p for p in finished_launch.iterdir() if p.is_dir())
    outdir = tmp_path / "shared"
    shutil.copytree(group, outdir / "open")
    shutil.copytree(group, outdir / "private" / group.name)
    (outdir / "private").chmod(0)
    records = sorted((outdir / "open").glob("runs-*.jsonl"))
    hidden = sum(1 for _ in records[-1].open())
    records[-1].chmod(0)
    try:
        for view in ("status", "results"):
            done = as_a_user_without_access(view, str(outdir))
            assert done.returncode == 0, done.stderr
            assert f"warning: {outdir / 'private'}: left out, it cannot be read" in done.stderr
            expected = f"record files that cannot be read, their runs left out: {records[-1].name}"
            assert expected in done.stdout + done.stderr, view
        shown = json.loads(as_a_user_without_access("results", str(outdir), "--json").stdout)
        assert len(shown) == 8 - hidden and {run["rungroup"] for run in shown} == {"open"}
        inside = outdir / "private" / group.name
        for view in ("results", "best", "tail", "status"):  # "Directory ... does not exist"
            done = as_a_user_without_access(view, str(inside))
            assert done.returncode == 1
            assert f"error: {inside}: Permission denied" in done.stderr, view
    finally:
        (outdir / "private").chmod(0o755)
