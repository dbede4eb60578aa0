#!/usr/bin/env python3
"""Load for autosa's daemon test and benefit benchmark.

  benefit_load.py sleeper NAME [--interval-us 1000]
      Sleeps the interval, wakes, repeats, and measures its own wakeup
      latency: actual sleep minus requested (CLOCK_MONOTONIC).
  benefit_load.py hog NAME
      Spins, counting loop iterations (its throughput).

NAME becomes the process name (comm), so that autosa's `eevdf.only_comms`
can keep the daemon away from every other process on the machine.

SIGUSR1 opens a measurement window; SIGUSR2 closes it and prints one JSON
line on stdout with what the window saw. The sleeper's line also holds its
latency distribution: `hist` is `[[i, count], ...]` over log buckets,
bucket i holding latencies in [2^(i/k), 2^((i+1)/k)) ns, k = `hist_per_octave`
(latencies under 1 ns count as 1 ns). The process dies with its parent
(PR_SET_PDEATHSIG), so a crashed test or benchmark leaves no load behind.

The timer slack is set to 1 ns: the default 50 us slack of a normal task
would otherwise add a constant to every wakeup and hide the scheduler's part.
"""

import ctypes
import json
import math
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_TIMERSLACK = 29


def prctl(option, arg):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


class Window:
    """The measurement window. The signal handlers only set flags; the main
    loop acts on them, so a handler never races the loop's own counting."""

    def __init__(self):
        self.open = False
        self.opened_at = 0
        self.open_requested = False
        self.close_requested = False
        signal.signal(signal.SIGUSR1, self.on_open)
        signal.signal(signal.SIGUSR2, self.on_close)

    def on_open(self, _sig, _frame):
        self.open_requested = True

    def on_close(self, _sig, _frame):
        self.close_requested = True

    def take_open(self):
        """True once after SIGUSR1: the window starts now."""
        if not self.open_requested:
            return False
        self.open_requested = False
        self.open = True
        self.opened_at = time.monotonic_ns()
        return True

    def take_close(self):
        """The window's length in seconds once after SIGUSR2 (0 if it was
        never opened), else None."""
        if not self.close_requested:
            return None
        self.close_requested = False
        secs = (time.monotonic_ns() - self.opened_at) / 1e9 if self.open else 0.0
        self.open = False
        return secs


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    # Nearest rank.
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[rank - 1]


HIST_PER_OCTAVE = 8


def log_hist(values, per_octave):
    """[[bucket, count], ...], ascending; bucket i is [2^(i/k), 2^((i+1)/k)) ns."""
    counts = {}
    for v in values:
        i = math.floor(math.log2(max(v, 1)) * per_octave)
        counts[i] = counts.get(i, 0) + 1
    return [[i, counts[i]] for i in sorted(counts)]


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def run_sleeper(interval_us):
    req_ns = interval_us * 1000
    req_s = interval_us / 1e6
    samples = []
    w = Window()
    clock = time.monotonic_ns
    while True:
        t0 = clock()
        time.sleep(req_s)
        lat = clock() - t0 - req_ns
        # A sample a signal arrived in also holds the handler: drop it.
        if w.take_open():
            samples.clear()
            continue
        secs = w.take_close()
        if secs is None:
            if w.open:
                samples.append(lat)
            continue
        s = sorted(samples)
        samples.clear()
        emit(
            {
                "role": "sleeper",
                "secs": secs,
                "wakeups": len(s),
                "p50_ns": percentile(s, 50),
                "p99_ns": percentile(s, 99),
                "max_ns": s[-1] if s else 0,
                "mean_ns": sum(s) // len(s) if s else 0,
                "hist_per_octave": HIST_PER_OCTAVE,
                "hist": log_hist(s, HIST_PER_OCTAVE),
            }
        )


def run_hog():
    chunk = 10_000
    w = Window()
    n = 0
    while True:
        # Plain Python iterations in chunks: the count is the throughput,
        # the chunk keeps the flag checks off the hot path.
        for _ in range(chunk):
            pass
        n += 1
        if w.take_open():
            n = 0
        secs = w.take_close()
        if secs is not None:
            emit({"role": "hog", "secs": secs, "iterations": n * chunk if secs else 0})


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("sleeper", "hog"):
        sys.exit(__doc__)
    role, name = sys.argv[1], sys.argv[2]
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]))
    prctl(PR_SET_TIMERSLACK, 1)
    if role == "sleeper":
        interval_us = 1000
        if len(sys.argv) >= 5 and sys.argv[3] == "--interval-us":
            interval_us = int(sys.argv[4])
        run_sleeper(interval_us)
    else:
        run_hog()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
