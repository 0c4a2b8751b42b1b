#!/usr/bin/env python3
"""Merges the benchmark rows of tests/bench/cli.py and tests/bench/app.py into one table.

Prints the table (metric, N, deskrun, peer, ratio, goal, met?) and writes the same rows as
JSON (with when, where and at which commit they were taken) and as a Markdown table, which is
what the README's Performance section shows. It measures nothing itself.

    python3 tests/bench/report.py cli.json app.json --json results.json --markdown results.md
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

COLUMNS = ["metric", "N", "deskrun", "peer", "ratio", "goal", "met?"]


def figure(value, unit):
    if value is None:
        return "–"
    if unit == "writes" or unit == "count":
        return f"{value:g} {unit}"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "%":
        return f"{value:.3f} %"
    return f"{value:g} {unit}"


def cells(row):
    peer = figure(row.get("peer"), row["unit"])
    if row.get("peer") is not None and row.get("peer_name"):
        peer = f"{peer} ({row['peer_name']})"
    ratio = row.get("ratio")
    met = row.get("met")
    return [
        row["metric"],
        "" if row.get("n") is None else str(row["n"]),
        figure(row.get("deskrun"), row["unit"]),
        peer,
        "–" if ratio is None else f"{ratio:.1f}×",
        row.get("goal") or "",
        {True: "yes", False: "**no**", None: ""}[met],
    ]


def machine():
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "taken": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit or None,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "load_average_at_end": os.getloadavg()[0],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="JSON row files (cli, app)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--markdown", type=Path, required=True)
    args = parser.parse_args()

    rows = []
    for path in args.inputs:
        if path.exists():
            rows += json.loads(path.read_text())
        else:
            print(f"report: {path} is missing (that bench failed?); its rows are left out")
    about = machine()
    args.json.write_text(json.dumps({"machine": about, "rows": rows}, indent=2) + "\n")

    table = [cells(row) for row in rows]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in table]
    missed = [row["metric"] + (f" (N={row['n']})" if row.get("n") else "") for row in rows
              if row.get("met") is False]
    footer = (
        f"\nTaken {about['taken']} at commit {about['commit']} on {about['cpus']} CPUs "
        f"(load average {about['load_average_at_end']:.1f} at the end). "
        + (f"Goals missed: {'; '.join(missed)}." if missed else "Every goal met.")
    )
    args.markdown.write_text("\n".join(lines) + "\n" + footer + "\n")

    widths = [max(len(COLUMNS[i]), *(len(line[i]) for line in table)) for i in
              range(len(COLUMNS))] if table else [len(c) for c in COLUMNS]
    widths[0] = min(widths[0], 48)
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)))
    for line in table:
        print("  ".join(c.replace("**", "").ljust(w) for c, w in zip(line, widths)))
    print(footer.strip())
    for row in rows:
        if row.get("note"):
            print(f"- {row['metric']}" + (f" (N={row['n']})" if row.get("n") else "")
                  + f": {row['note']}")


if __name__ == "__main__":
    main()
