"""smac-bridge installed as users install it, other than the README's editable venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

TRAIN = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
print(parser.parse_args().x ** 2)
"""


def run(argv: list[str], **options) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, **options)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_an_install_whose_console_script_is_not_beside_its_python_launches(tmp_path):
    """`pip install --user` puts `smac-bridge` in ~/.local/bin, which PATH may not hold, and
    the README then says `python -m smac_bridge launch ...` is the same command: its
    workers started, and every trial's `smac-bridge wrap` was not found ("No such file or
    directory"), so the launch aborted on its first run. Here the package is installed under
    a prefix of its own (its console script in PREFIX/bin) and run by an interpreter whose
    folder has no smac-bridge, with PATH holding neither."""
    source = tmp_path / "source"  # a copy: the build leaves its files where it builds
    shutil.copytree(REPO / "smac_bridge", source / "smac_bridge",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheel"), str(source)])  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("smac_bridge-*.whl")
    prefix = tmp_path / "prefix"
    # --ignore-installed: else pip uninstalls this environment's smac-bridge first
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
         "--prefix", str(prefix), str(wheel)])  # fmt: skip
    site = sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)})
    assert (prefix / "bin" / "smac-bridge").exists() and (Path(site) / "smac_bridge").is_dir()
    bare = tmp_path / "bare"  # an interpreter whose folder holds no smac-bridge
    run([sys.executable, "-m", "venv", "--without-pip", str(bare)])
    python = bare / "bin" / "python"
    ours = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    deps = sysconfig.get_path("purelib")  # smac and the rest, from this environment
    Path(ours.stdout.strip(), "deps.pth").write_text(deps + "\n")

    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(TRAIN)
    (project / "space.pcs").write_text("x real [-1, 1] [0.5]\n")
    (project / "tune.txt").write_text(
        'algo = smac-bridge wrap --cmd "python train.py"\nparamfile = space.pcs\n'
        "run_obj = quality\nruncount_limit = 3\ncheck-sat-consistency = false\n"
    )
    env = {**os.environ, "PATH": "/usr/bin:/bin", "PYTHONPATH": site}
    done = run(
        [str(python), "-m", "smac_bridge", "launch", "tune.txt", "--gpus", "none", "--quiet"],
        cwd=project,
        env=env,
    )
    results = run([str(python), "-m", "smac_bridge", "results", "smac-bridge-output", "--json"],
                  cwd=project, env=env)  # fmt: skip
    rows = json.loads(results.stdout)
    assert [row["status"] for row in rows] == ["SAT"] * 3, done.stdout

    # Run from a source tree first on sys.path, that installation is not the one running:
    # its folder must not send the workers to it (an older release beside a checkout).
    folders = "from smac_bridge.executors import install_folders; print(install_folders())"
    installed = run([str(python), "-c", folders], cwd=project, env=env).stdout
    checkout = {**env, "PYTHONPATH": f"{REPO}:{site}"}
    from_source = run([str(python), "-c", folders], cwd=project, env=checkout).stdout
    assert str(prefix / "bin") in installed and str(prefix / "bin") not in from_source
