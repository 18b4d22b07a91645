"""`python -m smac_bridge ...`: the `smac-bridge` command, for an environment whose scripts
folder is not on PATH."""

from smac_bridge.cli import main

if __name__ == "__main__":
    main()
