#!/usr/bin/env python3
"""The side-by-side table of chatd and Redis from scripts/bench's raw CSV files.

Usage: benchmarks/redis_table.py RESULTS_DIR

Reads RESULTS_DIR/raw/redis-*.rN.csv (each repetition measured chatd's transports and Redis
under one load, in one sitting) and prints, per cell and transport, the medians and their ratio
to Redis's medians in the same cell: msgs/s (higher is better), server CPU per message and p99
latency (lower is better).
"""
import csv
import glob
import os
import re
import statistics
import sys


def load(out):
    cells = {}
    for path in sorted(glob.glob(os.path.join(out, "raw", "redis-*.r*.csv"))):
        name = re.match(r"(.+)\.r\d+\.csv$", os.path.basename(path)).group(1)
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row["phase"] == "load":
                    cells.setdefault(name, {}).setdefault(row["transport"], []).append(row)
    return cells


def med(rows, key):
    values = [float(r[key]) for r in rows if r.get(key) not in ("", None)]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}".replace(",", " ")


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cells = load(sys.argv[1])
    print("| cell | transport | client | store | reps | msgs/s | × Redis | server CPU µs/msg "
          "| × Redis | p50 µs | p99 µs | p99 × Redis |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, by_transport in cells.items():
        redis = by_transport.get("redis", [])
        r_rate = med(redis, "msgs_per_s")
        r_cpu = med(redis, "server_cpu_us")
        r_p99 = med(redis, "p99_us")
        for transport, rows in by_transport.items():
            rate = med(rows, "msgs_per_s")
            cpu = med(rows, "server_cpu_us")
            p99 = med(rows, "p99_us")
            print(f"| {name} | {transport} | {rows[0]['client']} | {rows[0]['store']} "
                  f"| {len(rows)} | {fmt(rate, 0)} | {ratio(rate, r_rate)} | {fmt(cpu, 2)} "
                  f"| {ratio(cpu, r_cpu)} | {fmt(med(rows, 'p50_us'))} | {fmt(p99)} "
                  f"| {ratio(p99, r_p99)} |")


if __name__ == "__main__":
    main()
