"""click command group of `smac-bridge` (everything but `wrap`, see cli.py)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from smac_bridge import __version__
from smac_bridge.errors import InputError


def reports_input_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an InputError into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)

    return wrapped


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
    """Run one trial: SMAC's classic call in, one result line out (see `smac-bridge wrap --help`)."""
    from smac_bridge.wrapper import main as wrap_main

    sys.exit(wrap_main(list(args)))
