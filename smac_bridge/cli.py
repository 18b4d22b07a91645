"""The `smac-bridge` command: thin click commands that call the modules doing the work.

`wrap` runs once per trial, so `main()` hands it to the wrapper before click is imported;
every other command imports its module inside the command function.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["wrap"]:
        from smac_bridge.wrapper import main as wrap_main

        sys.exit(wrap_main(args[1:]))
    from smac_bridge.commands import cli

    cli.main(args=args, prog_name="smac-bridge")


if __name__ == "__main__":
    main()
