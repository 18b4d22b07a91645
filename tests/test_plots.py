"""Plots that tell the truth: the PCS's axes, partial qualities drawn apart, failures by reason.

Most tests draw hand-made run records and inspect the matplotlib Axes; the last ones draw the
runs of a real launch (finished_launch) and run `smac-bridge plot`.
"""

from __future__ import annotations

import math

import pytest

from smac_bridge import plot_axes, plots, results
from smac_bridge.group_setup import GroupSetup
from smac_bridge.pcs import parse_pcs
from smac_bridge.rundata import RunGroup

SPACE = parse_pcs(
    "lr real [1e-4, 1e-1] [1e-2] log\n"
    "dropout real [0, 0.9] [0.5]\n"
    "layers integer [1, 4] [2]\n"
    "batch integer [16, 512] [64] log\n"
    "act categorical {relu, tanh, sigmoid} [relu]\n"
    "size ordinal {small, medium, large} [medium]\n"
).space
DEFAULT = {"lr": 0.01, "dropout": 0.5, "layers": 2, "batch": 64, "act": "relu", "size": "medium"}


def run(number: int, quality: float, status: str = "SAT", **fields) -> dict:
    """A run record: DEFAULT with the parameters in FIELDS["config"] changed."""
    config = {**DEFAULT, **fields.pop("config", {})}
    return {
        "run_id": f"{number:05d}",
        "worker": 1 + number % 2,
        "config": config,
        "status": status,
        "quality": quality,
        "cost": quality,
        "started": 1000.0 + 10 * number,
        "ended": 1005.0 + 10 * number,
        "extra": fields.pop("extra", {}),
        "stopped_by_user": fields.pop("stopped_by_user", False),
        **fields,
    }


def sweep(name: str, values: list) -> list[dict]:
    """Finished runs with parameter NAME set to each of VALUES, qualities 0.02, 0.03, ..."""
    return [run(i, 0.02 + 0.01 * i, config={name: v}) for i, v in enumerate(values, start=1)]


def draw(records: list[dict], name: str, failure: float = 1.0, **kwargs):
    values = [r["config"][name] for r in records]
    axis = plot_axes.axis_for(name, values, kwargs.pop("space", SPACE))
    figure = plots.quality_vs_parameter(records, name, "t", axis, failure, **kwargs)
    figure.canvas.draw()  # lays out ticks and labels as in the PNG
    return figure


def main_axes(figure):
    return next(a for a in figure.axes if a.get_ylabel() == "quality (lower is better)")


def band_axes(figure):
    others = [a for a in figure.axes if a.get_ylabel() != "quality (lower is better)"]
    return others[0] if others else None


def visible_ticks(axes) -> list[float]:
    low, high = sorted(axes.get_xlim())
    return [t for t in axes.get_xticks() if low <= t <= high]


def by_label(axes) -> dict:
    return {c.get_label(): c for c in axes.collections}


def labels_of(figure) -> set[str]:
    return {text.get_text() for legend in figure.legends for text in legend.get_texts()}


# ---- axes from the PCS ------------------------------------------------------------------


def test_a_log_parameter_gets_a_log_axis_over_its_range():
    axes = main_axes(draw(sweep("lr", [1e-4, 3e-4, 1e-3, 5e-2]), "lr"))
    assert axes.get_xscale() == "log"
    low, high = axes.get_xlim()
    assert 5e-5 < low < 1e-4 and 1e-1 < high < 2e-1
    assert axes.get_xlabel() == "lr (log scale)"
    linear = main_axes(draw(sweep("dropout", [0.0, 0.3, 0.9]), "dropout"))
    assert linear.get_xscale() == "linear"


def test_an_integer_parameter_gets_whole_number_ticks():
    axes = main_axes(draw(sweep("layers", [1, 2, 3, 4]), "layers"))
    assert visible_ticks(axes) == [1, 2, 3, 4]  # matplotlib's own choice: 1, 1.5, 2, ...


def test_a_log_integer_parameter_gets_plain_whole_numbers_on_a_log_axis():
    axes = main_axes(draw(sweep("batch", [16, 50, 200, 512]), "batch"))
    assert axes.get_xscale() == "log"
    assert visible_ticks(axes) == [16, 32, 64, 128, 256, 512]
    low, high = axes.get_xlim()
    shown = [t.get_text() for t in axes.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert shown == ["16", "32", "64", "128", "256", "512"]


def test_categories_are_named_in_the_declared_order():
    records = sweep("act", ["tanh", "sigmoid", "relu", "tanh"])
    axes = main_axes(draw(records, "act"))
    assert [t.get_text() for t in axes.get_xticklabels()] == ["relu", "tanh", "sigmoid"]
    xs = [x for x, _ in by_label(axes)["finished"].get_offsets()]
    assert xs == [1, 2, 0, 1]  # tanh, sigmoid, relu, tanh
    ordinal = main_axes(draw(sweep("size", ["large", "small"]), "size"))
    assert [t.get_text() for t in ordinal.get_xticklabels()] == ["small", "medium", "large"]


def test_without_the_pcs_the_axes_are_guessed_from_the_values():
    assert plot_axes.axis_for("act", ["tanh", "relu"]) == plot_axes.Axis(
        categories=("relu", "tanh")
    )
    assert plot_axes.axis_for("layers", [1, 3, 2]) == plot_axes.Axis(integer=True)
    assert plot_axes.axis_for("lr", [1e-4, 2e-3, 0.05]) == plot_axes.Axis(log=True)
    assert plot_axes.axis_for("dropout", [0.0, 0.5, 0.8]) == plot_axes.Axis()
    # uniform samples of [0, 15] span more than two decades too, but spread evenly
    spread = [0.05, 0.3, 0.8, 2.0, 3.5, 7.5, 9.1, 13.9]
    assert plot_axes.axis_for("y", spread) == plot_axes.Axis()
    # a parameter the PCS does not declare (any more) is guessed too
    assert plot_axes.axis_for("momentum", [0.5, 0.9], SPACE) == plot_axes.Axis()


# ---- partial and failed runs --------------------------------------------------------------


def test_partial_qualities_are_drawn_apart_and_do_not_stretch_the_axis():
    records = sweep("dropout", [0.1, 0.2, 0.3])  # finished: 0.03, 0.04, 0.05
    records += [
        run(4, 0.035, "TIMEOUT", config={"dropout": 0.4}, extra={"partial": 1}),
        run(5, 0.9, "TIMEOUT", config={"dropout": 0.5}, extra={"partial": 1}),
        run(6, 0.01, config={"dropout": 0.6}, stopped_by_user=True, extra={"partial": 1}),
    ]
    figure = draw(records, "dropout")
    axes = main_axes(figure)
    collections = by_label(axes)
    assert len(collections["finished"].get_offsets()) == 3
    inside = [tuple(p) for p in collections["stopped / timed out: partial quality"].get_offsets()]
    assert sorted(inside) == [(0.4, 0.035), (0.6, 0.01)]
    bottom, top = axes.get_ylim()
    assert bottom < 0.01 and 0.05 < top < 0.06  # widened to the better partial, not to 0.9
    (above,) = collections["partial quality above the plot (value beside)"].get_offsets()
    assert tuple(above) == (0.5, top)
    assert "0.9" in [text.get_text() for text in axes.texts]
    assert band_axes(figure) is None  # no run failed


@pytest.mark.parametrize(
    "qualities",
    [[1e-10, 1e300], [1e-300, 1e-200], [5e-324, 1.0], [-1e300, 1e300], [1e250, 1e260]],
)
def test_qualities_over_the_whole_float_range_are_drawn(qualities):
    """A diverged squared error (1e300) beside a good one: the axis's padding overflowed to
    inf, and `plot` and `report` ended in a traceback with nothing written."""
    records = [run(i, q, config={"dropout": 0.1 * i}) for i, q in enumerate(qualities, 1)]
    axes = main_axes(draw(records, "dropout"))
    bottom, top = axes.get_ylim()
    assert math.isfinite(bottom) and math.isfinite(top)
    assert bottom <= min(qualities) and max(qualities) <= top
    for figure in (plots.best_over_runs(records, "t"), plots.best_over_time(records, "t")):
        figure.canvas.draw()
    assert plots.png_bytes(draw(records, "dropout")).startswith(b"\x89PNG")


def test_a_quality_beyond_what_an_axis_can_reach_draws_no_traceback():
    records = [run(1, 1.7e308, config={"dropout": 0.1}), run(2, -1e308, config={"dropout": 0.2})]
    draw(records, "dropout")


def test_failed_runs_sit_in_a_band_labelled_by_reason():
    records = sweep("dropout", [0.1, 0.2, 0.3])
    records += [
        run(4, 1.0, "UNSAT", config={"dropout": 0.4}, reason="exit code 2: t.py: bad flag"),
        run(5, 1.0, "UNSAT", config={"dropout": 0.8}, reason="exit code 2: t.py: bad flag"),
        run(6, 1.0, "TIMEOUT", config={"dropout": 0.5}, reason="wall_time limit reached"),
        run(7, 1e9, "CRASHED", config={"dropout": 0.6}, additional="reason=memory limit 300 MB"),
    ]
    figure = draw(records, "dropout")
    axes, band = main_axes(figure), band_axes(figure)
    assert axes.get_ylim()[1] < 0.1  # neither 1.0 nor 1e9 squashes the qualities
    rows = [t.get_text() for t in band.get_yticklabels()]
    assert rows == [
        "UNSAT: exit code 2: t.py: bad flag",  # the most frequent first
        "TIMEOUT: wall_time limit reached",
        "CRASHED: memory limit 300 MB",
    ]
    (crosses,) = band.collections
    assert sorted(map(tuple, crosses.get_offsets())) == [(0.4, 0), (0.5, 1), (0.6, 2), (0.8, 0)]
    assert band.get_shared_x_axes().joined(band, axes)
    assert "4 failed, no quality" in [text.get_text() for text in band.texts]


def test_a_cross_that_stands_for_several_failed_runs_says_how_many():
    """Three UNSAT runs of `act = tanh` drew one cross, as one run would."""
    records = sweep("act", ["relu"])
    records += [run(i, 1.0, "UNSAT", config={"act": "tanh"}, reason="bad") for i in (2, 3, 4)]
    records += [run(5, 1.0, "UNSAT", config={"act": "sigmoid"}, reason="bad")]
    band = band_axes(draw(records, "act"))
    counts = [text for text in band.texts if text.get_text().startswith("×")]
    assert [(text.get_text(), text.xy) for text in counts] == [("×3", (1.0, 0))]


def test_many_reasons_share_the_last_row_of_the_band():
    records = sweep("dropout", [0.1])
    records += [
        run(i, 1.0, "UNSAT", config={"dropout": i / 20}, reason=f"error number {i}")
        for i in range(2, 11)
    ]
    rows = [t.get_text() for t in band_axes(draw(records, "dropout")).get_yticklabels()]
    assert len(rows) == 6 and rows[-1] == "4 other reasons"


def test_long_reasons_are_shortened():
    reason = "exit code 1: " + "x" * 200
    label = plots.failure_label(run(1, 1.0, "UNSAT", reason=reason))
    assert label.startswith("UNSAT: exit code 1: xxx") and label.endswith("…")
    assert len(label) <= 48


def test_only_failures_still_give_a_plot_with_the_band():
    figure = draw([run(1, 1.0, "UNSAT", reason="bad")], "dropout")
    assert band_axes(figure) is not None
    assert "no run of this parameter has a quality" in [t.get_text() for t in figure.axes[1].texts]


def test_the_best_run_is_a_star_and_the_default_is_ringed():
    records = sweep("lr", [1e-3, 2e-3, 5e-2])
    default = run(9, 0.08, config={"lr": 0.01})
    records.append(default)
    figure = draw(records, "lr", default=default)
    collections = by_label(main_axes(figure))
    best = results.best_run(records)
    assert tuple(collections["best (incumbent)"].get_offsets()[0]) == (best["config"]["lr"], 0.03)
    assert tuple(collections["default configuration"].get_offsets()[0]) == (0.01, 0.08)
    assert {"finished", "best (incumbent)", "default configuration"} <= labels_of(figure)


def test_figures_use_the_setup_for_axes_failure_quality_and_the_default():
    records = sweep("lr", [1e-4, 2e-4, 5e-4, 1e-3, 5e-2]) + [run(6, 0.05), run(7, 1.0, "TIMEOUT")]
    setup = GroupSetup(space=SPACE, failure_quality=1.0)
    found = plots.figures(records, "t", setup)
    assert set(found) == {"best_over_time", "best_over_runs"} | {
        f"quality_vs_{name}" for name in DEFAULT
    }
    assert main_axes(found["quality_vs_lr"]).get_xscale() == "log"
    # the TIMEOUT run got the failure quality 1.0: a failure, not a partial quality
    assert band_axes(found["quality_vs_lr"]) is not None
    lines = {line.get_label(): line for line in found["best_over_runs"].axes[0].get_lines()}
    assert list(lines["default configuration"].get_ydata()) == [0.05, 0.05]
    guessed = plots.figures(records, "t")  # without the PCS: guessed, no default line
    assert main_axes(guessed["quality_vs_lr"]).get_xscale() == "log"
    assert "default configuration" not in {
        line.get_label() for line in guessed["best_over_runs"].axes[0].get_lines()
    }


def test_every_parameter_gets_its_own_plot_whatever_its_name():
    """`α` and `β` both became `quality_vs__`: one plot replaced the other, in `plot` and in
    the report."""
    records = [
        {**run(n, 0.1 * n), "config": {"α": 0.1 * n, "β": 1.0 * n, "a b": n, "a_b": -n}}
        for n in range(1, 4)
    ]
    found = plots.figures(records, "t")
    stems = {stem for stem in found if stem.startswith("quality_vs_")}
    assert stems == {"quality_vs_α", "quality_vs_β", "quality_vs_a_b", "quality_vs_a_b_2"}


def test_a_parameter_with_a_very_long_name_gets_its_plot(tmp_path):
    """A name of 300 bytes (the PCS allows any length) stopped `plot` with "File name too
    long" and left the plots after it unwritten."""
    long = "p" + "ä" * 150
    records = [
        {**run(n, 0.1 * n), "config": {long: 0.1 * n, long + "x": 1.0 * n, "z": n}}
        for n in range(1, 4)
    ]
    paths = plots.write_pngs(records, "t", tmp_path)
    written = sorted(path.name for path in paths if path.name.startswith("quality_vs_"))
    assert len(written) == 3 and all(path.is_file() for path in paths), written
    assert "quality_vs_z.png" in written


def test_a_long_categorical_value_is_shortened_on_the_axis():
    """A 200-character value squashed the plot to nothing (matplotlib: "axes sizes collapsed
    to zero") and hid the other values under the legend."""
    import warnings

    long = "resnet-" + "x" * 200
    records = [
        {**run(n, 0.1 * n), "config": {"arch": arch}}
        for n, arch in enumerate(["sgd", long, "ünï✓"], start=1)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the collapsed layout is a warning
        figure = plots.figures(records, "t")["quality_vs_arch"]
        figure.canvas.draw()
    labels = [tick.get_text() for tick in main_axes(figure).get_xticklabels()]
    assert "sgd" in labels and "ünï✓" in labels
    assert max(len(label) for label in labels) <= 20 and any(t.endswith("…") for t in labels)


def test_dollar_signs_in_values_names_and_reasons_are_drawn_as_text():
    """`$$` in a failed run's reason (a script's error message) made `plot` and `report`
    raise matplotlib's math parser error, and a value `$x$` was drawn as an italic x."""
    records = [
        {**run(n, 0.1 * n), "config": {"opt": value, "$cost$": n}}
        for n, value in enumerate(["$x$", "plain", "$$"], start=1)
    ]
    records.append({**run(4, 1.0, "UNSAT", reason="exit code 1: cost $$"), "config": {"opt": "$$"}})
    found = plots.figures(records, "$run$")
    for figure in found.values():
        assert plots.png_bytes(figure).startswith(b"\x89PNG")
    figure = found["quality_vs_opt"]
    assert "$x$" in [tick.get_text() for tick in main_axes(figure).get_xticklabels()]
    rows = [text.get_text() for text in band_axes(figure).get_yticklabels()]
    assert rows == ["UNSAT: exit code 1: cost $$"]


# ---- the runs of a real launch ------------------------------------------------------------


def group_of(outdir) -> RunGroup:
    (group,) = results.find_groups(outdir)
    return group


@pytest.mark.slow
def test_plot_writes_pngs_for_progress_and_each_parameter(finished_launch, cli, tmp_path):
    done = cli("plot", str(finished_launch), "--out", str(tmp_path / "plots"))
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "plots" / group_of(finished_launch).path.name
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "best_over_runs.png",
        "best_over_time.png",
        "quality_vs_x.png",
        "quality_vs_y.png",
    ]
    for path in folder.iterdir():
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


@pytest.mark.slow
def test_the_unsat_run_of_a_launch_is_in_the_band_with_its_reason(finished_launch):
    records = group_of(finished_launch).records()
    figure = plots.quality_vs_parameter(records, "x", "branin")
    axes, band = main_axes(figure), band_axes(figure)
    assert len(by_label(axes)["finished"].get_offsets()) == 7
    unsat = next(r for r in records if r["status"] == "UNSAT")
    (crosses,) = band.collections
    assert [tuple(p) for p in crosses.get_offsets()] == [(unsat["config"]["x"], 0)]
    assert [t.get_text() for t in band.get_yticklabels()] == ["UNSAT: script reported UNSAT"]
    sat = [r["quality"] for r in records if r["status"] == "SAT"]
    assert axes.get_ylim()[1] < max(sat) * 2  # not stretched towards the failure quality 1e9


@pytest.mark.slow
def test_best_so_far_curves_only_go_down(finished_launch):
    records = group_of(finished_launch).records()
    figure = plots.best_over_runs(records, "branin")
    (axes,) = figure.axes
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert {"rungroup (all workers)", "worker 1", "worker 2"} <= set(lines)
    group = lines["rungroup (all workers)"].get_ydata()
    assert list(group) == sorted(group, reverse=True)
    assert group[-1] == results.best_run(records)["cost"]


def test_the_legend_of_a_best_so_far_plot_hides_no_line():
    """Inside the plot the legend sat on a stretch of a worker's line."""
    records = [run(i, 1.0 / i) for i in range(1, 30)]
    for figure in (plots.best_over_runs(records, "b", 0.9), plots.best_over_time(records, "b")):
        figure.canvas.draw()
        (axes,) = figure.axes
        assert axes.get_legend() is None
        (legend,) = figure.legends
        assert "worker 1" in {text.get_text() for text in legend.get_texts()}
        renderer = figure.canvas.get_renderer()
        box, plot = legend.get_window_extent(renderer), axes.get_window_extent(renderer)
        assert box.y1 <= plot.y0 + 1, (box, plot)


def test_many_workers_share_one_style_and_one_legend_entry():
    """Beyond matplotlib's ten colours a label would name another worker's line, and 64
    entries would fill the figure."""
    few = [{**run(i, 1.0 / i), "worker": 1 + i % 10} for i in range(1, 30)]
    many = [{**run(i, 1.0 / i), "worker": 1 + i % 12} for i in range(1, 60)]
    for draw_best in (plots.best_over_runs, plots.best_over_time):
        assert labels_of(draw_best(few, "b")) == {  # ten colours: ten workers apart
            *(f"worker {w}" for w in range(1, 11)),
            "rungroup (all workers)" if draw_best is plots.best_over_runs else "rungroup",
        }
        figure = draw_best(many, "b")
        assert "each of the 12 workers" in labels_of(figure) and len(labels_of(figure)) == 2
        (axes,) = figure.axes
        worker_lines = [line for line in axes.get_lines() if line.get_label() == "_nolegend_"]
        assert len(worker_lines) == 12
        assert len({line.get_color() for line in worker_lines}) == 1


def test_a_multi_fidelity_best_so_far_says_it_is_the_best_at_the_highest_budget():
    """A lucky one-epoch run, then the first 9-epoch run: the incumbent moves to the higher
    budget and the curve rises, which a bare "best quality so far" does not explain."""
    other = {"config": {"lr": 0.05}}
    records = [run(1, 0.2, budget=1), run(2, 0.5, budget=1, **other), run(3, 0.3, budget=9)]
    for figure in (plots.best_over_runs(records, "mf"), plots.best_over_time(records, "mf")):
        (axes,) = figure.axes
        assert (
            axes.get_ylabel()
            == "best quality so far (lower is better)\n(at the highest budget reached)"
        )
        rungroup = next(line for line in axes.get_lines() if line.get_label().startswith("rung"))
        assert list(rungroup.get_ydata()) == [0.2, 0.2, 0.3]
    (axes,) = plots.best_over_runs([run(1, 0.2)], "full").axes
    assert axes.get_ylabel() == "best quality so far (lower is better)"


def test_a_runtime_scenario_plots_costs_and_draws_a_timeout_at_its_par_cost():
    """The plots of a runtime scenario said "quality" (every run's is 0) and put its
    timed-out runs in the failure band, while results and the report gave them a PAR-10
    cost: the plots now say cost and draw a timeout at it."""
    runs = [run(1, 0.0, cost=0.2), run(2, 0.0, cost=0.1, config={"lr": 0.001})]
    runs.append(run(3, 1e9, "TIMEOUT", cost=4.0, config={"lr": 0.05}))
    figure = draw(runs, "lr", failure=1e9, runtime=True)
    (axes,) = figure.axes  # no failure band
    assert axes.get_ylabel() == "cost (lower is better)"
    assert axes.get_title() == "t: cost against lr"
    shown = by_label(axes)
    (above,) = shown["PAR-k cost above the plot (value beside)"].get_offsets()
    assert above[0] == 0.05 and [t.get_text() for t in axes.texts] == ["4"]
    assert sorted(y for _, y in shown["finished"].get_offsets()) == [0.1, 0.2]
    for figure in (
        plots.best_over_runs(runs, "t", runtime=True),
        plots.best_over_time(runs, "t", runtime=True),
    ):
        (axes,) = figure.axes
        assert axes.get_ylabel() == "best cost so far (lower is better)"
    # the default configuration timed out: its line is at its PAR-k cost, as its ring is
    default = run(4, 1e9, "TIMEOUT", cost=10.0)
    setup = GroupSetup(space=SPACE, failure_quality=1e9, run_obj="runtime")
    found = plots.figures([*runs[1:], default], "t", setup)  # runs[0] has the default's values
    lines = {line.get_label(): line for line in found["best_over_runs"].axes[0].get_lines()}
    assert list(lines["default configuration"].get_ydata()) == [10.0, 10.0]


def test_finished_runs_of_several_budgets_are_told_apart():
    """Hyperband's 1-epoch screening runs and its 9-epoch runs were one colour: a setting
    tried only for one epoch looked bad."""
    runs = [run(1, 0.8, budget=1), run(2, 0.7, budget=1, config={"lr": 0.001})]
    runs.append(run(3, 0.2, budget=9, config={"lr": 0.05}))
    axes = main_axes(draw(runs, "lr"))
    shown = by_label(axes)
    assert len(shown["finished at budget 1"].get_offsets()) == 2
    assert [list(p) for p in shown["finished at budget 9"].get_offsets()] == [[0.05, 0.2]]
    one, nine = (shown[f"finished at budget {b}"].get_facecolor()[0] for b in (1, 9))
    assert list(one) != list(nine)


def test_values_of_partial_runs_above_the_plot_at_one_x_do_not_overprint():
    """Partial qualities worse than every finished run, at one categorical value: the
    staggered labels took two rows, and the third wrote over the first; then each value had
    a row of its own, and 8 of them ran down the column among the finished runs' dots, each
    reading like a value drawn at its height."""
    runs = [run(1, 0.1), run(2, 0.2)]
    for number, value in ((3, 6.44), (4, 6.46), (5, 7.0)):
        runs.append(run(number, value, "TIMEOUT", config={"act": "tanh"}, extra={"partial": True}))
    axes = main_axes(draw(runs, "act"))
    assert [text.get_text() for text in axes.texts] == ["6.44, 6.46, 7"]
    for number, value in enumerate((0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35), start=10):
        runs.append(run(number, value, "TIMEOUT", config={"act": "relu"}, extra={"partial": True}))
    axes = main_axes(draw(runs, "act"))
    labels = {text.get_text(): text.xyann for text in axes.texts}
    assert set(labels) == {"6.44, 6.46, 7", "8 runs: 0.35–0.9"}, labels
    assert all(offset[1] >= -19 for offset in labels.values())  # two rows under the top edge


def test_a_learning_curve_of_one_point_is_drawn():
    """Hyperband's one-epoch runs have one point each: a line of one point draws nothing."""
    record = {"run_id": "00001", "status": "TIMEOUT", "reason": "", "config": {"x": 1.0}}
    curves = {"00001": [{"step": 1, "quality": 0.5}], "00002": [{"step": 1, "quality": 0.4}]}
    figure = plots.learning_curves([record], curves, "demo")  # 00002 has no record yet
    lines = figure.axes[0].get_lines()
    assert len(lines) == 2 and all(line.get_marker() == "." for line in lines)
    assert [list(line.get_ydata()) for line in lines] == [[0.5], [0.4]]


def test_a_promoted_run_continues_its_earlier_runs_line_in_its_colour():
    """Hyperband's promotion trains one configuration on from epoch 1 to 3 and then 9: the
    user reads one line per configuration, not pieces that start in mid-air."""
    records = [
        run(1, 0.5, budget=1.0, config={"lr": 0.1}),
        run(2, 0.6, budget=1.0, config={"lr": 0.001}),
        run(3, 0.3, budget=3.0, config={"lr": 0.1}, promoted_from="00001"),
    ]
    curves = {
        "00001": [{"step": 1, "quality": 0.5}],
        "00002": [{"step": 1, "quality": 0.6}],
        "00003": [{"step": 2, "quality": 0.4}, {"step": 3, "quality": 0.3}],
    }
    figure = plots.learning_curves(records, curves, "hb")
    axes = figure.axes[0]
    first, other, promoted = axes.get_lines()
    assert list(promoted.get_xdata()) == [1, 2, 3] and list(promoted.get_ydata()) == [0.5, 0.4, 0.3]
    assert promoted.get_color() == "black"  # the incumbent's best run
    assert first.get_color() != other.get_color()
    (circle,) = axes.collections
    assert [tuple(p) for p in circle.get_offsets()] == [(1, 0.5)]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels == ["best run (incumbent)", "promoted (continues)"]  # nothing was pruned
    ticks = [tick for tick in axes.get_xticks() if 1 <= tick <= 3]
    assert ticks and all(float(tick).is_integer() for tick in ticks), ticks  # epochs, no 1.25


def test_a_conditional_parameter_says_in_how_many_runs_it_was_inactive():
    """Three runs drawn of five: the plot of a child parameter looked like the whole launch."""
    runs = [run(1, 0.1, config={"momentum": 0.9}), run(2, 0.2, config={"momentum": 0.5})]
    runs += [run(n, 0.3) for n in (3, 4, 5)]  # DEFAULT has no momentum: the parent is off
    axis = plot_axes.axis_for("momentum", [0.9, 0.5])
    for records, label in (
        (runs, "momentum\n(inactive, so not shown, in 3 of 5 runs)"),
        (runs[:2], "momentum"),
    ):
        figure = plots.quality_vs_parameter(records, "momentum", "t", axis, 1.0)
        assert main_axes(figure).get_xlabel() == label


def test_a_run_stopped_at_its_cutoff_does_not_look_finished():
    """A run the cutoff stopped at epoch 3 of 10 drew the same solid line as a run that
    trained its 10 epochs: its curve seemed to end where the training had converged."""
    records = [run(1, 0.5), run(2, 0.4, "TIMEOUT", reason="wall_time limit reached")]
    curve = [{"step": 1, "quality": 0.7}, {"step": 2, "quality": 0.5}]
    figure = plots.learning_curves(records, {"00001": curve, "00002": curve}, "cut")
    axes = figure.axes[0]
    finished, stopped = axes.get_lines()
    assert finished.get_linestyle() == "-" and stopped.get_linestyle() == ":"
    (square,) = axes.collections
    assert [tuple(p) for p in square.get_offsets()] == [(2, 0.5)]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert "stopped (cutoff, or by hand)" in labels


def test_the_legend_names_only_what_the_curves_show():
    records = [run(1, 0.5), run(2, 0.6, config={"lr": 0.001})]
    curves = {"00001": [{"step": 1, "quality": 0.7}, {"step": 2, "quality": 0.5}]}
    figure = plots.learning_curves(records, curves, "plain")
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert labels == ["best run (incumbent)"]
    two = plots.learning_curves(records, {"00002": curves["00001"]}, "no best curve")
    assert two.axes[0].get_legend() is None


@pytest.mark.parametrize(("worst", "scale"), [(20.0, "linear"), (50.0, "linear"), (60.0, "log")])
def test_a_best_so_far_axis_is_logarithmic_beyond_two_decades(worst, scale):
    """A factor of 100 between the best and the worst quality shown: a linear axis would
    crush the improvements near the best into its bottom line."""
    records = [run(1, worst), run(2, 0.5)]
    (axes,) = plots.best_over_runs(records, "b").axes
    assert axes.get_yscale() == scale


@pytest.mark.parametrize(
    ("values", "log"),
    [
        ([0.001, 0.002, 0.004, 10.0], True),  # most below a tenth of the largest: log-uniform
        ([0.001, 0.002, 5.0, 10.0], False),  # half of them: no sign of a log scale
        ([1.0, 4.0, 8.0, 15.0], False),  # a uniform range
    ],
)
def test_a_parameter_without_a_pcs_gets_a_log_axis_only_when_sampled_so(values, log):
    """A design's column that no PCS declares: its axis is guessed from the values."""
    assert plot_axes.axis_for("lr", values).log is log
