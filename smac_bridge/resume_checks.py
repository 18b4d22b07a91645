"""What a resume (or a worker joining a rungroup) must keep of the rungroup it goes on with:
its search space, budgets, objective, determinism and instances. The checks that need no
search space come first, so that a resume refused for them is refused at once, before the
search space's check imports ConfigSpace (about 2 s). And what it may change, but is told
of: the algo, the determinism, the cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smac_bridge.errors import InputError
from smac_bridge.instances import read_instances
from smac_bridge.layout import GroupLayout
from smac_bridge.records import NO_INSTANCE, RunRecord
from smac_bridge.scenario import Scenario, passed_budget, stage_budgets


def check_resume(
    folder: Path,
    layout: GroupLayout,
    records: Sequence[RunRecord],
    launched: Mapping[str, Any],
    scenario: Scenario,
) -> None:
    """What a resume (or a worker joining a rungroup) must keep of the rungroup in FOLDER,
    whose runs are RECORDS and whose launch.json is LAUNCHED: its search space, budgets,
    objective, determinism and instances; InputError naming what differs."""
    check_fidelity(folder, records, scenario, launched.get("budget_flag"))
    check_objective(folder, launched, scenario)
    if not layout.design.exists():  # a design runs each row once: nothing to match
        check_determinism(folder, launched, scenario)
    check_instances(folder, records, scenario)
    from smac_bridge.design import check_saved_space  # ConfigSpace: once the rest holds

    check_saved_space(layout, scenario.paramfile, records)


def changes_to_warn_of(
    folder: Path, launched: Mapping[str, Any], records: Sequence[RunRecord], scenario: Scenario
) -> list[str]:
    """What a resume, or a worker that joins, changes of the rungroup in FOLDER that mixes
    two kinds of runs in one model and one table: another algo (two commands' results), a
    determinism turned off (one seed for all runs against a seed each; from false to true
    is refused, `check_determinism`), another cutoff_time (a run cut at 60 s against runs
    given 600)."""
    warnings = []
    algo = launched.get("algo")
    if algo is not None and algo != scenario.algo:
        warnings.append(
            f"the algo differs from the one the runs in {folder} were made with ({algo});"
            " their results and the new runs' are compared as one"
        )
    if launched.get("deterministic") and not scenario.deterministic:
        warnings.append(
            f"deterministic = false differs from the earlier launch of {folder}: its runs were"
            " made with one seed for all runs (-1), the new runs with a seed of their own each;"
            " their results are compared as one"
        )
    cutoff = scenario.cutoff_time
    earlier = {r.get("cutoff") for r in records if r.get("cutoff") != cutoff}
    if earlier:
        had = ", ".join("none" if c is None else f"{c:g} s" for c in sorted(earlier, key=str))
        now = "none" if cutoff is None else f"{cutoff:g} s"
        warnings.append(
            f"cutoff_time ({now}) differs from that of earlier runs in {folder} ({had}); their"
            " results and the new runs' are compared as one"
        )
    return warnings


def check_fidelity(
    folder: Path, records: Sequence[RunRecord], scenario: Scenario, flag_made_with: Any = None
) -> None:
    """A rungroup keeps its fidelity: a multi-fidelity optimiser cannot take runs that have
    no budget (its workers died telling them), nor one without a budget flag runs of a
    budget, nor runs of budgets its stages do not have (a changed min-budget, max-budget or
    eta: its trials repeated trainings already done as promotions), nor its budget under
    another flag than FLAG_MADE_WITH (the script failed on the unknown flag, and every
    later resume kept it); InputError naming FOLDER otherwise."""
    budgets = {r.get("budget") is not None for r in records}
    wanted = bool(scenario.budget_flag)
    if budgets and budgets != {wanted}:
        made = "without" if wanted else "with"
        raise InputError(
            scenario.path,
            None,
            f"the runs in {folder} were made {made} a budget flag: resume with the budget-flag"
            " they were made with, or launch into another --outdir or --set rungroup=NAME",
        )
    if not wanted:
        return
    if flag_made_with and records and flag_made_with != scenario.budget_flag:
        raise InputError(
            scenario.path,
            None,
            f"the runs in {folder} were made with budget-flag = {flag_made_with}, and this"
            f" scenario says {scenario.budget_flag}: resume with the budget-flag they were"
            " made with, or launch into another --outdir or --set rungroup=NAME",
        )
    stages = stage_budgets(scenario)
    made_with = sorted({b for r in records if (b := r.get("budget")) is not None})
    if any(not any(math.isclose(b, s, rel_tol=1e-9) for s in stages) for b in made_with):
        passed = [passed_budget(s, scenario) for s in stages]
        given = _numbers(passed) + (f" (SMAC3's {_numbers(stages)})" if passed != stages else "")
        raise InputError(
            scenario.path,
            None,
            f"the runs in {folder} were made with the budgets {_numbers(made_with)}, but"
            f" min-budget = {scenario.min_budget:g}, max-budget = {scenario.max_budget:g} and"
            f" eta = {scenario.eta} give {given}: its trials would repeat trainings"
            " already done; resume with the min-budget, max-budget and eta they were made"
            " with, or launch into another --outdir or --set rungroup=NAME",
        )


def check_objective(folder: Path, launched: Mapping[str, Any], scenario: Scenario) -> None:
    """A rungroup keeps its run_obj: a cost of seconds and a cost of quality cannot be
    compared, and a resume with the other one made a 2-second run the incumbent over
    qualities of 5 to 115. Nor, for a runtime objective, its overall_obj: a run's PAR-k
    cost is fixed when it is recorded, and timeouts at 10 and at 1 times the cutoff made
    another incumbent (a quality's cost has no PAR factor). LAUNCHED is the rungroup's
    launch.json (overall_obj since 2026-12-07); InputError naming FOLDER."""
    for key in ("run_obj", "overall_obj") if scenario.run_obj == "runtime" else ("run_obj",):
        made_with, now = launched.get(key), getattr(scenario, key)
        if made_with is not None and made_with != now:
            raise InputError(
                scenario.path,
                None,
                f"the runs in {folder} were made with {key} = {made_with}, and this scenario"
                f" says {now}: their costs cannot be compared; resume with the {key} they"
                " were made with, or launch into another --outdir or --set rungroup=NAME",
            )


def check_determinism(folder: Path, launched: Mapping[str, Any], scenario: Scenario) -> None:
    """A rungroup made with `deterministic = false` stays so: the incumbent is raced on
    (instance, seed) pairs, and a new configuration, run on seed -1 alone, never races an
    earlier one on its seeds: one lucky run would compete with means over several (before
    the incumbent rule raced by pairs, it pinned the incumbent for good). LAUNCHED is the
    rungroup's launch.json; InputError naming FOLDER."""
    if launched.get("deterministic") is False and scenario.deterministic:
        raise InputError(
            scenario.path,
            None,
            f"the runs in {folder} were made with deterministic = false (a seed of their own"
            " each), and this scenario says true: a new configuration, run on seed -1 alone,"
            " could never race the earlier ones on their seeds, and one lucky run would"
            " compete with their means over several; resume with deterministic = false, or"
            " launch into another --outdir or --set rungroup=NAME",
        )


def check_instances(folder: Path, records: Sequence[RunRecord], scenario: Scenario) -> None:
    """A resume keeps the instances its runs were made on: the workers leave out the runs
    on an instance the scenario no longer has, while the views count them, so the two named
    different incumbents (the views' one, run on more pairs, never beaten). Instances may
    be added. InputError naming the instance file (the scenario without one)."""
    instance_file = scenario.used_instance_file
    if instance_file is None:
        now = {NO_INSTANCE}
    else:
        now = {instance.name for instance in read_instances(instance_file)}
    gone = sorted({str(r["instance"]) for r in records} - now)
    if not gone:
        return
    if gone == [NO_INSTANCE]:
        made = "without instances"
    else:
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        made = f"on instances this scenario no longer has ({shown})"
    raise InputError(
        instance_file or scenario.path,
        None,
        f"the runs in {folder} were made {made}: their costs cannot be compared with the new"
        " runs'; resume with the instances they were made on (more may be added), or launch"
        " into another --outdir or --set rungroup=NAME",
    )


def _numbers(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)
