"""click command group of `smac-bridge` (everything but `wrap`, see cli.py)."""

from __future__ import annotations

import errno
import functools
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from smac_bridge import __version__
from smac_bridge.errors import InputError
from smac_bridge.scenario import MAX_SEED
from smac_bridge.script_env import RESUME_FROM_ENV

if TYPE_CHECKING:
    from rich.console import Console

    from smac_bridge.launcher import LaunchOptions
    from smac_bridge.rundata import RunGroup


def reports_input_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an InputError, or a file that cannot be written (a read-only or full disk), into
    one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `| head`: click ends quietly, as for the other commands
            raise
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            click.echo(
                f"error: {where}{_file_in_the_way(error) or error.strerror or error}", err=True
            )
            sys.exit(1)

    return wrapped


def _file_in_the_way(error: OSError) -> str | None:
    """Why a path could not be made when a file stands where it needs a folder
    (`--html afile/x.html`): "File exists" or "Not a directory" alone names no file."""
    if error.errno not in (errno.EEXIST, errno.ENOTDIR) or not error.filename:
        return None
    path = Path(os.fsdecode(error.filename))
    for folder in (*reversed(path.parents), path):
        if folder.exists() and not folder.is_dir():
            if folder == path:
                return "a file stands where a folder is needed"
            return f"cannot be made: {folder} is a file, not a folder"
    return None


def scenario_sets(
    _context: click.Context, _option: click.Parameter, items: tuple[str, ...]
) -> dict[str, str]:
    """`--set key=value` options as scenario overrides; a malformed one is a usage error."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def finite_seconds(
    _context: click.Context, _option: click.Parameter, value: float | None
) -> float | None:
    """A number of seconds, which FloatRange lets through as nan or inf."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"expected a number of seconds, got {value}")
    return value


SEEDS = click.IntRange(0, MAX_SEED)


def printing_console() -> Console:
    """Rich's console for a view: into a pipe or a file 200 columns wide, as rich's 80 folded
    the summary lines mid-sentence for `grep` and logs."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def chosen_group(outdir: str) -> RunGroup:
    """The rungroup a one-group command works on (results.one_group), saying which one when
    OUTDIR holds several."""
    from smac_bridge import results

    group = results.one_group(outdir)
    if len(results.find_groups(outdir)) > 1:
        click.echo(
            f"{outdir} holds several rungroups: using {group.path.name}, the one launched last"
            f" (pass {outdir.rstrip('/')}/<rungroup> for another)",
            err=True,
        )
    return group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smac-bridge")
def cli() -> None:
    """Tune a training script with SMAC: classic scenario and PCS files, N workers in
    shared-model mode, GPUs, results.

    `smac-bridge wrap --help` describes the per-trial wrapper used as a scenario's algo.
    """


@cli.command("wrap", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def wrap_command(args: tuple[str, ...]) -> None:
    """Run one trial: SMAC's classic call in, one result line out (see `wrap --help`)."""
    from smac_bridge.wrapper import main as wrap_main

    sys.exit(wrap_main(list(args)))


@cli.command("init")
@click.argument("name")
@click.option("--script", required=True, help="The training script, e.g. scripts/train.py.")
@click.option(
    "--param",
    "params",
    multiple=True,
    required=True,
    help='A PCS line, e.g. "nb_filters integer [16, 256] [32]"; repeat for each parameter, '
    "condition or forbidden clause.",
)
@click.option("--runs", default=60, show_default=True, help="Run budget (runcount_limit).")
@click.option("--cutoff", default=3600.0, show_default=True, help="Seconds per run (cutoff_time).")
@click.option(
    "--objective", type=click.Choice(["quality", "runtime"]), default="quality", show_default=True
)
@click.option(
    "--nondeterministic", is_flag=True, help="The script gives different results per seed."
)
@click.option("--failure-quality", type=float, help="Quality the wrapper reports for failed runs.")
@click.option("--python", default="python", show_default=True, help="Interpreter for the script.")
@click.option(
    "--rename",
    "renames",
    multiple=True,
    metavar="NAME=FLAG",
    help="Pass parameter NAME as the script's --FLAG; repeatable.",
)
@click.option(
    "--switch",
    "switches",
    multiple=True,
    metavar="NAME[=OFF]",
    help="Parameter NAME is an on/off flag (argparse's store_true): true passes --NAME alone,"
    " false nothing (or the word OFF, e.g. --no-NAME); repeatable.",
)
@click.option(
    "--metric",
    metavar="REGEX",
    help="Read the quality from the output: the first group of the last match of REGEX.",
)
@click.option("--maximize", is_flag=True, help="The quality is maximised (accuracy): report -x.")
@click.option(
    "--args",
    "args",
    default="",
    metavar="FLAGS",
    help="Fixed flags every trial passes the script, e.g. '--epochs 20 --data data/'.",
)
@click.option("--dir", "root", default=".", show_default=True, help="Project folder to write into.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@reports_input_errors
def init_command(
    name: str,
    script: str,
    params: tuple[str, ...],
    runs: int,
    cutoff: float,
    objective: str,
    nondeterministic: bool,
    failure_quality: float | None,
    python: str,
    renames: tuple[str, ...],
    switches: tuple[str, ...],
    metric: str | None,
    maximize: bool,
    args: str,
    root: str,
    force: bool,
) -> None:
    """Write pcs/NAME.pcs and scenarios/NAME.txt for a script whose parameters are flags."""
    import shlex
    import shutil

    from smac_bridge.init import InitRequest, init_files

    request = InitRequest(
        name=name,
        script=script,
        params=params,
        root=Path(root),
        runs=runs,
        cutoff=cutoff,
        objective=objective,
        deterministic=not nondeterministic,
        failure_quality=failure_quality,
        python=python,
        force=force,
        renames=renames,
        switches=switches,
        metric=metric,
        maximize=maximize,
        args=args,
    )
    from smac_bridge.activity import never_active_warnings
    from smac_bridge.pcs import read_pcs

    pcs_path, scenario_path = init_files(request)
    click.echo(f"wrote {pcs_path}\nwrote {scenario_path}")
    for warning in never_active_warnings(read_pcs(pcs_path), pcs_path):
        click.echo(warning, err=True)
    a_module = python.split()[-1:] == ["-m"]  # `python -m pkg.train`: no file to look for
    if not a_module and not (Path(root) / script).exists():
        click.echo(f"warning: {Path(root) / script} does not exist (yet)", err=True)
    for word in shlex.split(python)[:1]:  # a path from the project folder, else looked up in PATH
        if not ((Path(root) / word).is_file() if "/" in word else shutil.which(word)):
            click.echo(f"warning: --python {python!r}: {word} is not found here", err=True)
    # the files name the PCS file and the script relative to the project folder
    move = f"cd {shlex.quote(root)} && " if Path(root).resolve() != Path.cwd().resolve() else ""
    scenario = f"scenarios/{name}.txt"
    click.echo(f"check it against the script's --help: {move}smac-bridge check {scenario}")
    click.echo(
        f"launch it from the project folder: {move}smac-bridge launch {scenario} --parallel 2"
    )


@cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "sets",
    multiple=True,
    callback=scenario_sets,
    help="Override a scenario option as launch does: key=value.",
)
@reports_input_errors
def check_command(files: tuple[str, ...], sets: dict[str, str]) -> None:
    """Check scenario and PCS files (a scenario's PCS and instance files too) and summarise them."""

    from smac_bridge.check import check_files

    sys.exit(check_files([Path(file) for file in files], overrides=sets))


@cli.command("pcs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--to",
    "target",
    type=click.Choice(["classic", "new", "json"]),
    required=True,
    help="classic (SMAC <= 2.08) or new (SMAC 2.10) PCS syntax, or ConfigSpace JSON.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@reports_input_errors
def pcs_command(file: str, target: str, output: str | None) -> None:
    """Convert a PCS file (classic, new or mixed syntax) to another syntax or to JSON."""
    from smac_bridge.layout import write_user_file
    from smac_bridge.pcs import Syntax, read_pcs, to_json, write_pcs
    from smac_bridge.rundata import RunGroup

    if output is not None:
        written = Path(output).resolve()
        if written == Path(file).resolve():
            raise click.BadParameter("it is the file read: name another", param_hint="--output")
        if RunGroup(written.parent).layout.launch.exists():  # a rungroup's space.pcs
            raise click.BadParameter(
                f"{written.parent} is a rungroup, whose files a resume reads: write elsewhere",
                param_hint="--output",
            )
    try:
        space = read_pcs(file)
    except InputError:
        from smac_bridge.check import looks_like_scenario

        if Path(file).is_file() and looks_like_scenario(Path(file)):  # its first line's error
            raise InputError(
                file, None, "a scenario file, not a PCS file: give the file its paramfile names"
            ) from None
        raise
    text = to_json(space) if target == "json" else write_pcs(space, cast(Syntax, target))
    if output is None:
        click.echo(text, nl=False)
    else:
        write_user_file(Path(output), text.encode("utf-8"))


@cli.command("results")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option(
    "--sort",
    default="quality",
    show_default=True,
    help="Column to sort on: a record field (quality, runtime, started, worker, ...), a "
    "parameter or an extra value such as test_error; '-COLUMN' sorts descending.",
)
@click.option("--top", type=click.IntRange(min=1), help="Show only the first N runs.")
@click.option("--status", "statuses", help="Only runs with these statuses, e.g. SAT,TIMEOUT.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False), help="Also write a CSV file.")
@click.option(
    "--curves",
    "curves_file",
    type=click.Path(dir_okay=False),
    help="Also write the learning curves (one row per reported step) to this CSV file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON list instead.")
@reports_input_errors
def results_command(
    outdir: str,
    sort: str,
    top: int | None,
    statuses: str | None,
    csv_file: str | None,
    curves_file: str | None,
    as_json: bool,
) -> None:
    """All runs of all workers of OUTDIR (an outdir or one rungroup folder in it), best first."""
    import dataclasses
    import io

    from smac_bridge import results
    from smac_bridge.layout import json_text, write_user_file
    from smac_bridge.protocol import STATUSES

    named = [s.strip() for s in (statuses or "").upper().split(",")]
    unknown = [s for s in named if s not in ("", *STATUSES)]
    if unknown or (statuses is not None and not any(named)):
        expected = ", ".join(STATUSES)
        what = f"unknown {unknown[0]!r}" if unknown else "no status named"
        raise click.BadParameter(f"{what}; expected {expected}", param_hint="--status")
    for option, written in (("--csv", csv_file), ("--curves", curves_file)):
        if written == "":  # a shell variable that was empty: nothing would be written
            raise click.BadParameter("expected a file name, got ''", param_hint=option)
    groups = results.load(outdir)
    for written in (csv_file, curves_file):
        if written:
            results.refuse_a_path_inside(written, [g.path for g in groups])
    if csv_file and curves_file and Path(csv_file).resolve() == Path(curves_file).resolve():
        raise click.BadParameter("name another file than --csv", param_hint="--curves")
    try:
        runs = [r for g in groups for r in g.records]
        results.check_sort_column(sort, runs, results.space_parameters(groups))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--sort") from None
    chosen = [
        dataclasses.replace(
            g,
            records=results.select(
                g.records, g.sort_column(sort), top, statuses, g.failure, g.orders
            ),
        )
        for g in groups
    ]
    if csv_file:
        table = io.StringIO(newline="")
        results.write_csv(chosen, table)
        write_user_file(Path(csv_file), table.getvalue().encode("utf-8"))
    if curves_file:
        table = io.StringIO(newline="")
        points, curves = results.write_curves_csv(chosen, table)
        write_user_file(Path(curves_file), table.getvalue().encode("utf-8"))
        click.echo(
            f"wrote {curves_file}: {points} points of {curves} runs"
            if curves
            else f"wrote {curves_file}: no run of the table reported per step"
            " (smac_bridge.report(quality, step=epoch, partial=True) does)",
            err=True,
        )
    if as_json:
        rows = []
        for shown in chosen:
            rows += results.json_rows(shown)
        click.echo(json_text(rows, indent=2))
        return
    console = printing_console()
    for group, shown in zip(groups, chosen, strict=True):
        title = f"{group.name}: {len(shown.records)} of {len(group.records)} recorded runs"
        if group.negated:  # a maximised accuracy shows as -0.99: say so
            title += "; quality = minus the metric (the wrapper's --maximize)"
        compact = console.width < 100
        view = results.table(
            shown.records, title, shown.best_id, compact, shown.failure, shown.result
        )
        console.print(view)
    if csv_file:
        click.echo(f"wrote {csv_file}", err=True)


@cli.command("status")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C or until the launch ends.")
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    callback=finite_seconds,
    help="Seconds between refreshes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@reports_input_errors
def status_command(outdir: str, watch: bool, interval: float, as_json: bool) -> None:
    """Workers, their current runs and elapsed times, runs done of budget, best so far."""

    from smac_bridge import monitor, results
    from smac_bridge.layout import json_text

    if watch:  # started beside `launch ... &`: its folder comes within seconds
        try:
            groups = monitor.wait_for_groups(outdir, interval)
        except KeyboardInterrupt:  # ends the wait as it ends the watch: quietly
            return
    elif not Path(outdir).exists():
        why = "no such output directory (a launch makes it as it starts; --watch waits for it)"
        raise InputError(outdir, None, why)
    else:
        groups = results.find_groups(outdir)
    if as_json:
        click.echo(json_text(monitor.status(groups), indent=2))
    elif watch:
        monitor.watch(groups, interval)
    else:
        printing_console().print(monitor.status_view(monitor.status(groups)))


@cli.command("tail")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.argument("run_id", required=False)
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing what the run writes until it ends."
)
@reports_input_errors
def tail_command(outdir: str, run_id: str | None, follow: bool) -> None:
    """The output log of RUN_ID (default: the newest running run, else the newest run)."""
    from smac_bridge import monitor, outcomes

    group = chosen_group(outdir)
    run_id = monitor.pick_run(group, run_id)
    log = monitor.run_dir(group, run_id).log()
    if not log.exists() and not monitor.is_running(group, run_id):
        raise InputError(log, None, "no such file: the run's folder was moved or deleted")
    click.echo(f"==> run {run_id}: {log} <==", err=True)
    try:
        monitor.tail(group, run_id, sys.stdout, follow=follow)
        # how it ended, which a log cut at the cutoff does not say: its record comes soon
        record = monitor.wait_for_record(group, run_id, END_NOTE_WAIT) if follow else None
    except KeyboardInterrupt:
        return
    if follow:
        if record is not None:
            from smac_bridge.group_setup import read_setup

            # the scenario's --failure-quality, as `results` reads it; else as the runs tell it
            failure = outcomes.failure_quality(group.records(), read_setup(group).failure_quality)
            click.echo(f"==> run {run_id} ended: {monitor.ending(record, failure)} <==", err=True)
        else:  # no longer running and still unrecorded: its launch stopped, or its worker died
            click.echo(
                f"==> run {run_id} ended unrecorded (its launch stopped, or its worker died);"
                " its slot runs it again, in this launch or the next --resume <==",
                err=True,
            )


END_NOTE_WAIT = 3.0
"""Seconds `tail --follow` waits for the record of the run whose log ended."""


@cli.command("stop")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.argument("run_id")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    callback=finite_seconds,
    help="Seconds to wait for the run's record [default: the wrapper's grace + 30].",
)
@reports_input_errors
def stop_command(outdir: str, run_id: str, timeout: float | None) -> None:
    """End one running trial early; the optimisation goes on. Works from any machine that
    shares OUTDIR: it creates the run's stop-requested file, which the wrapper polls for."""
    from smac_bridge import monitor
    from smac_bridge.layout import json_text

    group = chosen_group(outdir)
    monitor.request_stop(group, run_id)
    if timeout is None:
        timeout = monitor.stop_wait(group, run_id)
    click.echo(f"asked run {run_id} to stop; waiting for its record", err=True)
    record = monitor.wait_for_record(group, run_id, timeout)
    if record is None:
        raise InputError(
            group.path, None, f"run {run_id} has not ended after {timeout:g} s (the request stays)"
        )
    if not record.get("stopped_by_user"):  # it wrote its result as the request came
        click.echo(f"run {run_id} ended by itself before the stop took effect", err=True)
    elif record.get("status") == "SAT" and not monitor.run_dir(group, run_id).result.exists():
        # no wrapper judged it: a classic target that printed SAT as its SIGTERM ended it
        why = f" ({record['reason']})" if record.get("reason") else ""  # a SAT without quality
        click.echo(
            f"run {run_id} answered the stop with a SAT result line; it keeps it{why}", err=True
        )
    elif record.get("status") == "SAT":  # the stop cut what the script did after its report
        click.echo(
            f"run {run_id} had reported its final result before the stop took effect; it keeps"
            " it, and what the script did after that report (such as saving its model) was cut"
            " short",
            err=True,
        )
    click.echo(json_text(record, indent=2))


@cli.command("best")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--copy-to", type=click.Path(file_okay=False), help="Copy the best run's files here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@reports_input_errors
def best_command(outdir: str, copy_to: str | None, as_json: bool) -> None:
    """The best run: its configuration, command line and artifacts (e.g. the saved model)."""

    from smac_bridge import results
    from smac_bridge.layout import json_text
    from smac_bridge.outcomes import negated_metric
    from smac_bridge.protocol import shell_command
    from smac_bridge.records import shown_budget

    group = chosen_group(outdir)
    details = results.best_details(group)
    if copy_to:  # nor inside another rungroup of its outdir, whose views would take it for a run
        outdir_groups = results.find_groups(group.path.parent)
        results.refuse_a_path_inside(copy_to, [group.path, *(g.path for g in outdir_groups)])
    copied = results.copy_best(details, Path(copy_to)) if copy_to else []
    if as_json:
        click.echo(json_text({**details, "copied": [str(p) for p in copied]}, indent=2))
        return
    record = details["record"]
    click.echo(f"best run {record['run_id']} (worker {record['worker']}) of {details['rungroup']}")
    if group.result_field() == "cost":  # its target's quality is not what was minimised
        click.echo(f"  cost: {results.format_number(record.get('cost'))}")
    if (runs := len(details["run_ids"])) > 1:  # seeds or instances: failures count too
        mean = results.format_number(details["mean_cost"])
        click.echo(f"  mean cost of its configuration: {mean} over its {runs} runs")
    negated = " (minus the metric: --maximize)" if negated_metric([record]) else ""
    if (quality := results.best_quality(record, group)) is not None:
        click.echo(f"  quality: {quality}{negated}")
    if record.get("budget") is not None:
        click.echo(f"  budget: {results.format_number(shown_budget(record))}")
        if note := results.short_of_max_budget(record, group):
            click.echo(f"  warning: {note}")
    shown = results.printable  # a value's escape codes must not act on the terminal
    for key, value in results.reported_values(record).items():
        click.echo(f"  {shown(key)}: {shown(results.format_number(value))}")
    click.echo("  configuration:")
    for key, value in (record.get("config") or {}).items():
        click.echo(f"    {shown(key)} = {shown(results.format_value(value))}")
    folder = group.run(record["run_id"]).path
    if not folder.is_dir():  # no command line, log or artifacts to show
        click.echo(f"  warning: its run folder {folder} is missing (moved or deleted)")
    if details["command"]:
        click.echo(f"  command: {shell_command(details['command'].get('argv') or [])}")
        click.echo(f"  in: {shell_command([str(details['command'].get('cwd'))])}")
    if record.get("promoted_from"):  # the command alone would train from the first epoch
        resumed = (details["command"] or {}).get("env_added", {}).get(RESUME_FROM_ENV)
        click.echo(
            f"  continued from run {record['promoted_from']}'s checkpoint"
            + (f" (SMAC_BRIDGE_RESUME_FROM={resumed})" if resumed else "")
        )
    click.echo(f"  artifacts: {details['artifacts'] or 'none'}")
    if copy_to:
        saved = len(copied) - 1  # and best_run.json
        if saved:
            files = "file" if saved == 1 else "files"
            click.echo(f"copied {saved} {files} of the run and best_run.json to {copy_to}")
        else:
            click.echo(
                f"wrote best_run.json to {copy_to}: the run saved no files in its artifacts"
                " folder (SMAC_BRIDGE_ARTIFACTS, docs/wrappers.md)"
            )


@cli.command("plot")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option(
    "--out",
    default="smac-bridge-plots",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the PNG files (one subfolder per rungroup).",
)
@reports_input_errors
def plot_command(outdir: str, out: str) -> None:
    """PNG plots: best quality over wall time and over runs, quality against each parameter."""

    from smac_bridge import plots, results
    from smac_bridge.group_setup import read_setup
    from smac_bridge.rundata import RunGroup

    groups = results.load(outdir)
    for group in groups:  # each rungroup's plots go to a folder of its name
        results.refuse_a_path_inside(Path(out) / group.name, [g.path for g in groups])
    for group in groups:
        run_group = RunGroup(group.path)
        setup, curves = read_setup(run_group), run_group.curves()
        folder = Path(out) / group.name
        for path in plots.write_pngs(group.records, group.name, folder, setup, curves):
            click.echo(f"wrote {path}")


@cli.command("report")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option(
    "--html",
    "html_file",
    default="smac-bridge-report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The page to write.",
)
@reports_input_errors
def report_command(outdir: str, html_file: str) -> None:
    """One self-contained HTML page: summary, incumbent, plots, a sortable table of all runs."""

    from smac_bridge import html_report, results

    groups = results.find_groups(outdir)
    results.refuse_a_path_inside(html_file, [group.path for group in groups])
    path = html_report.write(groups, Path(html_file))
    click.echo(f"wrote {path}")


@cli.command("dashboard")
@click.argument("outdir", type=click.Path(file_okay=False))  # a launch may create it later
@click.option(
    "--port",
    default=8050,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one; the URL says which).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (every request needs the token printed in the URL).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
@reports_input_errors
def dashboard_command(outdir: str, port: int, host: str, open_browser: bool) -> None:
    """A live web page of OUTDIR: rungroups, workers, all runs, plots, logs, stop buttons."""

    from smac_bridge import dashboard, dashboard_data

    if not Path(outdir).is_dir():
        click.echo(f"{outdir} does not exist yet: the page shows its rungroups once a launch")
        click.echo("makes it (if no launch will, check the path)")
    elif not dashboard_data.groups(Path(outdir)):
        click.echo(f"no rungroup in {outdir} yet: the page shows them as launches write them")
    dashboard.serve(Path(outdir), host, port, open_browser, lambda text: click.echo(text))


dask_option = click.option(
    "--dask-scheduler",
    metavar="ADDRESS",
    help="Run the trials on this Dask cluster, e.g. tcp://host:8786 (docs/distributed.md).",
)


def launch_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options `launch` and `doe` share (workers, GPUs, output directory, resume)."""
    options = [
        click.argument("scenario", type=click.Path(dir_okay=False)),
        click.option(
            "--parallel",
            type=int,
            help="Number of workers (SMAC seeds). Default: 1, or with --resume the earlier"
            " launch's.",
        ),
        click.option(
            "--gpus",
            default="auto",
            show_default=True,
            help="auto (detect), none (CPU only) or ids like 0,1; workers get them round robin."
            " With --resume: the earlier launch's ids or none.",
        ),
        click.option("--outdir", help="Output directory (overrides the scenario's outdir)."),
        click.option(
            "--seed-offset",
            type=click.IntRange(0, MAX_SEED - 1),
            help="Workers get seeds offset+1 .. offset+N.",
        ),
        click.option("--resume", is_flag=True, help="Continue an existing output directory."),
        click.option("--quiet", is_flag=True, help="Log lines instead of the live view."),
        click.option(
            "--set",
            "sets",
            multiple=True,
            callback=scenario_sets,
            help="Override a scenario option: key=value.",
        ),
        dask_option,
    ]

    @functools.wraps(func)
    @reports_input_errors  # also the errors of the command it wraps
    def with_options(
        scenario: str,
        parallel: int | None,
        gpus: str,
        outdir: str | None,
        seed_offset: int | None,
        resume: bool,
        quiet: bool,
        sets: dict[str, str],
        dask_scheduler: str | None,
        **rest: Any,
    ) -> Any:
        from smac_bridge.launcher import LaunchOptions

        source = click.get_current_context().get_parameter_source("gpus")
        launch_settings = LaunchOptions(
            scenario=Path(scenario),
            parallel=parallel,
            gpus=gpus,
            gpus_given=source is not click.core.ParameterSource.DEFAULT,
            outdir=outdir,
            seed_offset=seed_offset,
            resume=resume,
            quiet=quiet,
            overrides=sets,
            dask_scheduler=dask_scheduler,
        )
        return func(launch_settings, **rest)

    for option in reversed(options):
        with_options = option(with_options)
    return with_options


@cli.command("launch")
@launch_options
@click.option(
    "--facade",
    type=click.Choice(["auto", "hpo", "blackbox", "random"]),
    help="SMAC3's model: hpo (random forest), blackbox (Gaussian process), random; auto "
    "picks by the space and budget [default: the scenario's smac-facade, else auto].",
)
def launch_command(options: LaunchOptions, facade: str | None) -> None:
    """Optimise with PARALLEL SMAC workers in shared-model mode, one run budget for all.

    Exit codes: 0 done, 1 bad input, a worker died, no run succeeded or the script fails on
    every configuration, 130 stopped (Ctrl-C; continue with --resume), 255 a run aborted the
    launch.
    """
    from smac_bridge.launcher import launch

    if facade is not None:
        options.overrides["smac-facade"] = facade
    sys.exit(launch(options))


@cli.command("doe")
@launch_options
@click.option(
    "--sample", type=click.IntRange(min=1), metavar="N", help="Run N random configurations."
)
@click.option("--seed", default=1, show_default=True, type=SEEDS, help="Random seed of --sample.")
@click.option(
    "--design",
    "design_csv",
    type=click.Path(exists=True, dir_okay=False),
    help="Run the configurations of this CSV file (header: parameter names).",
)
def doe_command(
    options: LaunchOptions,
    sample: int | None,
    seed: int,
    design_csv: str | None,
) -> None:
    """Run a fixed design instead of SMAC's proposals: N random configurations (--sample)
    or the rows of a CSV file (--design), with PARALLEL workers. Run 00007 is row 7; --resume
    re-runs exactly the unfinished rows. Exit codes as `launch`.
    """

    from smac_bridge.doe import DesignLaunch, DesignSource
    from smac_bridge.launcher import launch

    if sample is not None and design_csv is not None:
        raise click.UsageError("give --sample or --design, not both")
    if sample is None and design_csv is None and not options.resume:
        raise click.UsageError("give --sample N or --design FILE.csv")
    csv_path = Path(design_csv) if design_csv is not None else None
    run = DesignLaunch(options, DesignSource(sample=sample, seed=seed, csv=csv_path))
    click.echo(run.note)
    sys.exit(launch(run))


@cli.command("worker")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--seed", type=SEEDS, required=True, help="This worker's SMAC seed (unique).")
@click.option("--outdir", help="Output directory (overrides the scenario's outdir).")
@click.option("--gpu", default="", help="GPU ids of this worker's slot ('' or none = CPU).")
@click.option(
    "--task-id",
    type=click.IntRange(min=0),
    help="AEATK_CONCURRENT_TASK_ID (default: seed-offset based).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    callback=scenario_sets,
    help="Override a scenario option: key=value.",
)
@dask_option
@reports_input_errors
def worker_command(
    scenario: str,
    seed: int,
    outdir: str | None,
    gpu: str,
    task_id: int | None,
    sets: dict[str, str],
    dask_scheduler: str | None,
) -> None:
    """Run one worker of a rungroup in this process (e.g. one per host on a shared filesystem).

    Exit codes as `launch`.
    """
    from smac_bridge.gpus import lease_hand_started_worker_gpu, parse_worker_gpu, unlisted_gpus
    from smac_bridge.worker import joined_cluster
    from smac_bridge.worker import main as worker_main

    overrides = dict(sets)
    if outdir is not None:
        overrides["outdir"] = outdir
    dask_scheduler = joined_cluster(scenario, overrides, seed, dask_scheduler)
    given = click.get_current_context().get_parameter_source("gpu")
    gpu = parse_worker_gpu(gpu)
    if given is not click.core.ParameterSource.DEFAULT and dask_scheduler is not None:
        click.echo(  # `none` too: a Dask worker's GPUs are its trials' whatever is asked
            "warning: --gpu does not apply with --dask-scheduler: each trial uses the GPUs of"
            " the Dask worker it runs on (docs/distributed.md)",
            err=True,
        )
        gpu = ""
    if gpu and (warning := unlisted_gpus(gpu.split(","), "--gpu")):
        click.echo(f"warning: {warning}", err=True)
    for warning in lease_hand_started_worker_gpu(gpu) if gpu else []:
        click.echo(f"warning: {warning}", err=True)
    code = worker_main(
        scenario,
        seed,
        overrides=overrides,
        gpu=gpu,
        task_id=task_id,
        dask_scheduler=dask_scheduler,
    )
    sys.exit(code)
