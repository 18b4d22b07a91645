"""A training-script stand-in for the wrapper tests: `--mode` picks how it behaves.

Every process it starts appends its pid to `$SMAC_BRIDGE_RUN_DIR/pids.txt`, so a test can
check that none of them outlives the run.
"""

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN_DIR = Path(os.environ["SMAC_BRIDGE_RUN_DIR"])


def note_pid(pid: int) -> None:
    with open(RUN_DIR / "pids.txt", "a") as pids:
        pids.write(f"{pid}\n")


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--mode", default="success")
    parser.add_argument("--x", type=float, default=0.25)
    args, _ = parser.parse_known_args()
    note_pid(os.getpid())
    (RUN_DIR / "argv.json").write_text(json.dumps(sys.argv))
    mode = args.mode
    print(f"training with x={args.x}", flush=True)
    if mode == "success":
        print(f"final loss {args.x}")
    elif mode == "print":  # its last line is $TARGET_TEXT, as given
        print(os.environ["TARGET_TEXT"])
    elif mode == "report":
        from smac_bridge import report

        report(args.x, test_error=0.04)
    elif mode in ("report_unsat", "report_abort"):
        from smac_bridge import report

        report(None, mode.split("_")[1].upper(), reason="diverged, loss nan")
    elif mode == "report_odd_keys":
        from smac_bridge import report

        report(args.x, **{"val acc": 0.9, "k,ey": 1})
    elif mode == "report_nan":
        from smac_bridge import report

        report(float("nan"), optimizer="adam, then sgd")
    elif mode == "env":
        (RUN_DIR / "env.json").write_text(json.dumps(dict(os.environ)))
        print(f"final loss {args.x}")
    elif mode == "fail":
        sys.exit(1)
    elif mode == "raise":
        raise ValueError("bad value, really")
    elif mode == "nan":
        print("nan")
    elif mode == "hang":
        time.sleep(100)
    elif mode == "partial_hang":
        from smac_bridge import report

        report(args.x, partial=True, epoch=1)
        time.sleep(100)
    elif mode == "metric_hang":  # an epoch's metric printed, then the cutoff
        print(f"epoch 1 - val_acc: {args.x}", flush=True)
        time.sleep(100)
    elif mode == "final_hang":  # trained and reported, then hung at its exit
        from smac_bridge import report

        report(args.x)
        time.sleep(100)
    elif mode == "report_on_term":  # a final report() made only once SIGTERM came
        from smac_bridge import report

        signal.signal(signal.SIGTERM, lambda *_: (report(args.x), sys.exit(0)))
        time.sleep(100)
    elif mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(100)
    elif mode in ("line_on_term", "timeout_line_on_term"):
        word = "TIMEOUT" if mode.startswith("timeout") else "SAT"

        def on_term(signum, frame):
            print(f"Result of this algorithm run: {word}, 1.0, 0, {args.x}, -1", flush=True)
            sys.exit(0)

        signal.signal(signal.SIGTERM, on_term)
        time.sleep(100)
    elif mode == "grandchild":
        sleeper = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(100)"], start_new_session=True
        )
        note_pid(sleeper.pid)
        print(args.x)
    elif mode == "chatty_child":  # a helper left behind that says goodbye when stopped
        helper = (
            "import signal, sys, time\n"
            "def goodbye(*_):\n"
            "    print('shutting down, workers left: 7', flush=True)\n"
            "    sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, goodbye)\n"
            "open(sys.argv[1], 'w').close()\n"
            "time.sleep(100)\n"
        )
        ready = RUN_DIR / "helper-ready"
        child = subprocess.Popen([sys.executable, "-c", helper, str(ready)])
        note_pid(child.pid)
        while not ready.exists():
            time.sleep(0.01)
        print(args.x)
    elif mode == "deaf_child":  # a helper that ignores SIGTERM; the script itself does not
        helper = "import signal as s, time; s.signal(s.SIGTERM, s.SIG_IGN); time.sleep(100)"
        child = subprocess.Popen([sys.executable, "-c", helper])
        time.sleep(0.5)  # its handler is set
        note_pid(child.pid)
        time.sleep(100)
    elif mode == "memory":
        chunks = []
        for _ in range(100):
            chunks.append(bytearray(b"\x01") * (20 << 20))
            time.sleep(0.02)
        time.sleep(100)
    elif mode == "flood":
        line = b"x" * 1023 + b"\n"
        block = line * 1024
        for _ in range(50):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
        print(args.x)
    elif mode == "chatter":  # 20 million short lines (as `yes` writes them), then the metric
        block = b"step\n" * (1 << 20)
        for _ in range(20):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
        print(f"val_loss {args.x}")
    elif mode == "stderr_tail":  # a library's shutdown warning after the final number
        print(f"val_loss {args.x}", flush=True)
        print("W0000 shutdown: threads still alive: 3", file=sys.stderr, flush=True)
    elif mode == "stderr_result":  # a result line on stderr is none (SMAC reads stdout)
        print(f"final loss {args.x}", flush=True)
        print("Result of this algorithm run: SAT, 1.0, 0, 0.001, -1", file=sys.stderr, flush=True)
    elif mode == "logged_result":  # through a logger to stdout, as many training scripts log
        logging.basicConfig(stream=sys.stdout, level=logging.INFO)
        logging.info("Result of this algorithm run: SAT, 1.2, 0, %s, 42", args.x)
    elif mode == "logged_to_stderr":  # logging's default stream: stderr, which SMAC never reads
        logging.basicConfig(level=logging.INFO)
        logging.info("Result of this algorithm run: SAT, 1.2, 0, %s, 42", args.x)
    elif mode == "quoted_result":  # its result line, then a log line that quotes it
        line = f"Result of this algorithm run: SAT, 0.1, 0, {args.x}, 1"
        print(line, flush=True)
        print(f"INFO:reporter: sent {line!r} to the tuner", flush=True)
    elif mode == "two_lines":
        print("Result of this algorithm run: SAT, 0.5, 0, 0.75, -1")
        print(f"Result of this algorithm run: SAT, 1.0, 0, {args.x}, -1, note=second")
    elif mode == "binary":
        sys.stdout.flush()
        sys.stdout.buffer.write(b"\xff\xfe\x80 not utf-8 \xc3\x28\n")
        sys.stdout.buffer.flush()
        print(args.x)
    elif mode == "cuda":
        print("RuntimeError: CUDA driver version is insufficient for CUDA runtime version")
        sys.exit(1)
    elif mode == "gpu":
        start = time.time()
        time.sleep(0.5)
        record = {"gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}
        (RUN_DIR / "gpu.json").write_text(json.dumps(record))
        print(args.x)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
