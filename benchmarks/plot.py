#!/usr/bin/python3
"""Summarises chat-bench runs: medians per cell, a Markdown table, and the plots of
docs/benchmarks.md (throughput vs pairs, latency vs offered rate) as PNG.

Input: a directory of CSV files written by `chat-bench --csv`, named <cell>.r<rep>.csv, in it or
in its raw/ subdirectory (where scripts/bench writes them). Each file holds one line per transport (and per window).
Usage: benchmarks/plot.py RESULTS_DIR [--plots DIR]
Needs /usr/bin/python3 with python3-matplotlib (Debian).
"""
import argparse
import collections
import csv
import glob
import os
import re
import statistics
import sys

NUMERIC = [
    "pairs", "window", "size", "rate", "idle", "seconds", "delivered", "msgs_per_s",
    "offered_per_s", "skipped", "send_errors", "p50_us", "p90_us", "p99_us", "p999_us",
    "max_us", "mean_us", "send_bytes", "reply_bytes", "push_bytes", "ack_bytes",
    "server_cpu_us", "server_cpu_load", "client_cpu_us", "client_cpu_load",
    "idle_bytes_per_client", "server_rss",
]


def load(results_dir):
    """{(cell, transport, phase): [row, ...]} over every repetition."""
    runs = collections.defaultdict(list)
    paths = glob.glob(os.path.join(results_dir, "*.csv"))
    paths += glob.glob(os.path.join(results_dir, "raw", "*.csv"))
    for path in sorted(paths):
        match = re.match(r"(.+)\.r(\d+)\.csv$", os.path.basename(path))
        if not match:
            continue
        cell = match.group(1)
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for key in NUMERIC:
                    value = row.get(key, "")
                    row[key] = float(value) if value not in ("", None) else None
                runs[(cell, row["transport"], row["phase"])].append(row)
    return runs


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.{digits}f}"


def summary_table(runs):
    lines = [
        "| cell | transport | client | store | P | W | reps | msgs/s | server CPU µs/msg | "
        "client CPU µs/msg | p50 µs | p99 µs | p99.9 µs | bytes/msg (send+reply+push+ack) | "
        "idle KiB/client |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (cell, transport, phase), rows in sorted(runs.items()):
        if phase != "load":
            continue
        first = rows[0]
        wire = [median(rows, k) for k in ("send_bytes", "reply_bytes", "push_bytes", "ack_bytes")]
        wire_text = "-" if None in wire else (
            f"{sum(wire):.0f} ({wire[0]:.0f}+{wire[1]:.0f}+{wire[2]:.0f}+{wire[3]:.0f})")
        idle = median(rows, "idle_bytes_per_client")
        lines.append(
            f"| {cell} | {transport} | {first['client']} | {first['store']} | "
            f"{first['pairs']:.0f} | {first['window']:.0f} | {len(rows)} | "
            f"{fmt(median(rows, 'msgs_per_s'))} | {fmt(median(rows, 'server_cpu_us'), 2)} | "
            f"{fmt(median(rows, 'client_cpu_us'), 2)} | {fmt(median(rows, 'p50_us'))} | "
            f"{fmt(median(rows, 'p99_us'))} | {fmt(median(rows, 'p999_us'))} | {wire_text} | "
            f"{fmt(idle / 1024 if idle is not None else None, 2)} |")
    return "\n".join(lines) + "\n"


def series(runs, prefix, x_key, y_key):
    """{label: [(x, median y), ...]} for cells named <prefix>-<label>-<x>."""
    out = collections.defaultdict(list)
    for (cell, transport, phase), rows in runs.items():
        match = re.match(re.escape(prefix) + r"-(.+)-(\d+)$", cell)
        if not match or phase != "load":
            continue
        label = match.group(1)
        x = median(rows, x_key)
        y = median(rows, y_key)
        if x is not None and y is not None:
            out[label].append((x, y))
    return {label: sorted(points) for label, points in out.items()}


def plot(runs, plots_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot.py: matplotlib missing (apt-get install python3-matplotlib); no plots",
              file=sys.stderr)
        return
    os.makedirs(plots_dir, exist_ok=True)

    throughput = series(runs, "pairs", "pairs", "msgs_per_s")
    if throughput:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, points in sorted(throughput.items()):
            ax.plot([p[0] for p in points], [p[1] / 1000 for p in points], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sender/receiver pairs (W = 64 sends in flight each)")
        ax.set_ylabel("delivered messages/s (thousands)")
        ax.set_title("Throughput vs pairs (memory store, chatd on 1 core)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(plots_dir, "throughput_vs_pairs.png"), dpi=110)
        plt.close(fig)

    p50 = series(runs, "rate", "offered_per_s", "p50_us")
    p99 = series(runs, "rate", "offered_per_s", "p99_us")
    achieved = dict(series(runs, "rate", "offered_per_s", "msgs_per_s"))
    if p50:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label in sorted(p50):
            line, = ax.plot([p[0] / 1000 for p in p50[label]], [p[1] for p in p50[label]],
                            marker="o", label=f"{label} p50")
            if label in p99:
                ax.plot([p[0] / 1000 for p in p99[label]], [p[1] for p in p99[label]],
                        marker="s", linestyle="--", color=line.get_color(), label=f"{label} p99")
            # Offered more than it delivered: saturated (the latency is then queueing).
            for (x, rate), (_, y) in zip(achieved.get(label, []), p50[label]):
                if rate < 0.95 * x:
                    ax.plot([x / 1000], [y], marker="x", markersize=12, color="black")
        ax.plot([], [], marker="x", linestyle="", color="black", label="saturated")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("offered load (thousand messages/s, open loop)")
        ax.set_ylabel("one-way latency (µs)")
        ax.set_title("Latency vs offered rate (P = 16, memory store)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(plots_dir, "latency_vs_rate.png"), dpi=110)
        plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="directory of <cell>.r<rep>.csv files")
    parser.add_argument("--plots", help="where to write the PNG plots (default: RESULTS)")
    args = parser.parse_args()
    runs = load(args.results)
    if not runs:
        print(f"plot.py: no results in {args.results}", file=sys.stderr)
        return 1
    table = summary_table(runs)
    with open(os.path.join(args.results, "summary.md"), "w") as f:
        f.write(table)
    sys.stdout.write(table)
    plot(runs, args.plots or args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
