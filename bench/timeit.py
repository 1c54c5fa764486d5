#!/usr/bin/env python3
"""Whole-process timing of shell commands, interleaved so that machine noise hits all alike.

usage: timeit.py [--runs N] [--warmup N] LABEL=COMMAND [LABEL=COMMAND ...]
Prints median/min/mean per command and, for every command after the first, its ratio to the
first one (median / median). Exit status 1 if any run fails.
"""
import argparse
import shlex
import statistics
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("commands", nargs="+", help="LABEL=COMMAND")
    args = parser.parse_args()
    cases = []
    for item in args.commands:
        label, _, command = item.partition("=")
        cases.append((label, command))
    for _ in range(args.warmup):
        for _, command in cases:
            run(command)
    samples = {label: [] for label, _ in cases}
    for _ in range(args.runs):
        for label, command in cases:
            samples[label].append(run(command))
    base = statistics.median(samples[cases[0][0]])
    print(f"{'command':<28} {'median':>10} {'min':>10} {'mean':>10} {'ratio':>8}   (runs={args.runs})")
    for label, _ in cases:
        s = samples[label]
        med = statistics.median(s)
        print(f"{label:<28} {fmt(med):>10} {fmt(min(s)):>10} {fmt(statistics.mean(s)):>10} {med / base:>7.3f}x")
    return 0


def run(command: str) -> float:
    started = time.perf_counter()
    # Without a shell where possible, so the figure is the command's own start-up and work.
    shell = any(token in command for token in ("|", ">", "<", ";", "&&", "$(", "`"))
    argv = command if shell else shlex.split(command)
    done = subprocess.run(argv, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(f"command failed ({done.returncode}): {command}\n{done.stderr.decode(errors='replace')}\n")
        sys.exit(1)
    return elapsed


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 10 else f"{seconds:.2f} s"


if __name__ == "__main__":
    sys.exit(main())
