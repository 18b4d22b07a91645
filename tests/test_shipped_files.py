"""Every scenario and PCS file the project ships passes `smac-bridge check`."""

from __future__ import annotations

import pytest
from conftest import REPO

SHIPPED = sorted(
    str(path.relative_to(REPO))
    for folder in ("scenarios", "pcs")
    for path in (REPO / folder).iterdir()
    if path.suffix in (".txt", ".pcs")
)


@pytest.mark.parametrize("relative_path", SHIPPED)
def test_shipped_file_passes_check(cli, relative_path):
    result = cli("check", relative_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_shipped_files_to_check():
    assert "scenarios/quickstart.txt" in SHIPPED and "pcs/quickstart.pcs" in SHIPPED
