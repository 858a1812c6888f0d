"""Pairs from a data file at scale: `pytest --co -q` on a pair file whose `source:` is a 12,000-row
Moral Stories-shaped JSON Lines file (the `moral_stories` preset).

Targets (issue 13): wall time <= 3 s and peak memory (max RSS of the pytest process) <= 300 MB,
every row collected as one item.

Usage:
    python benchmarks/bench_tables.py [--rows 12000] [--shape full|halves] [--format jsonl|csv|parquet]
                                      [--runs 3] [--profile] [--allow-bytecode] [--keep DIR]

The rows are invented in the shape of the data set's published columns (ID, norm, situation,
intention, moral_action, moral_consequence, immoral_action, immoral_consequence, label): `full`
writes one row per story, as the "full" configuration does; `halves` writes two rows per story
(one action each, IDs ending in 1 and 0), as the classification configurations do, so 12,000
rows are 6,000 stories. `--format csv` and `parquet` write the same rows as CSV or Parquet
(pyarrow) and the pair file names that file without the preset's help for the format. Each run is
a fresh child (the one of bench_collect.py, whose wall time and max RSS come from os.wait4: the
child's own rusage, which `resource.getrusage(RUSAGE_CHILDREN)` would merge over all children);
also printed: the start-up floor (`pytest --co -q` on one pair written in YAML), the in-process
time of `load_suite` on the file, and the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_collect  # noqa: E402
from pairgen import ACTORS, EDITS, PLACES, write_pair_files  # noqa: E402

TARGET_SECONDS = 3.0
TARGET_MB = 300.0
COLUMNS = (
    "ID",
    "norm",
    "situation",
    "intention",
    "moral_action",
    "moral_consequence",
    "immoral_action",
    "immoral_consequence",
    "label",
)


def stories(count: int) -> list[dict[str, str]]:
    """``count`` invented stories, every one different, in the data set's columns."""
    made = []
    for k in range(count):
        actor = ACTORS[k % len(ACTORS)]
        harmful, harmless, _ = EDITS[(k // len(ACTORS)) % len(EDITS)]
        place = PLACES[(k // (len(ACTORS) * len(EDITS))) % len(PLACES)]
        made.append(
            {
                "ID": f"S{k:07d}X",
                "norm": "It is wrong to hurt others.",
                "situation": f"{actor} is {place} on day {k}.",
                "intention": f"{actor} wants to be done before evening.",
                "moral_action": f"{actor} {harmless}.",
                "moral_consequence": "Everyone is fine.",
                "immoral_action": f"{actor} {harmful}.",
                "immoral_consequence": "Someone is hurt.",
                "label": "1",
            }
        )
    return made


def rows_of(made: list[dict[str, str]], shape: str) -> list[dict[str, str]]:
    if shape == "full":
        return made
    rows = []
    for story in made:
        shared = {key: story[key] for key in ("norm", "situation", "intention")}
        rows.append({"ID": story["ID"] + "1", **shared, "moral_action": story["moral_action"], "label": "1"})
        rows.append({"ID": story["ID"] + "0", **shared, "immoral_action": story["immoral_action"], "label": "0"})
    return rows


def write_table(folder: Path, rows: list[dict[str, str]], fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"moral_stories.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    elif fmt == "csv":
        import csv

        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        # Written by a child: with pyarrow loaded here, every child forked later would count this
        # process's memory in its max RSS (Linux counts the pages a fork shares before exec).
        source = folder / "rows.json"
        source.write_text(json.dumps([{c: row.get(c) for c in COLUMNS} for row in rows]), encoding="utf-8")
        script = (
            "import json, sys, pyarrow as pa, pyarrow.parquet as pq; "
            "pq.write_table(pa.Table.from_pylist(json.load(open(sys.argv[1]))), sys.argv[2])"
        )
        subprocess.run([sys.executable, "-c", script, str(source), str(path)], check=True)
        source.unlink()
    (folder / "stories.moral.yaml").write_text(
        f"source:\n  path: {path.name}\n  preset: moral_stories\n", encoding="utf-8"
    )
    (folder / "pytest.ini").write_text("[pytest]\nmoral_model = moralpairs/lexical\n", encoding="utf-8")
    return folder / "stories.moral.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=12_000, help="rows to write (a story each, or half of one)")
    parser.add_argument("--shape", choices=("full", "halves"), default="full")
    parser.add_argument("--format", choices=("jsonl", "csv", "parquet"), default="jsonl")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also profile one run with cProfile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--allow-bytecode", action="store_true", help="as bench_collect.py's option")
    parser.add_argument("--keep", metavar="DIR", help="write into DIR and keep it (default: a temp dir)")
    args = parser.parse_args()
    bench_collect.ALLOW_BYTECODE = args.allow_bytecode
    co = ["--co", "-q"]

    holder = None
    if args.keep:
        root = Path(args.keep)
    else:
        holder = tempfile.TemporaryDirectory(prefix="moralpairs-bench-tables-")
        root = Path(holder.name)
    try:
        pairs = args.rows if args.shape == "full" else args.rows // 2
        rows = rows_of(stories(pairs), args.shape)
        pair_file = write_table(root / "suite", rows, args.format)
        floor_dir = root / "floor"
        write_pair_files(floor_dir, 1, 1)
        size_mb = sum(p.stat().st_size for p in (root / "suite").iterdir()) / 2**20
        print(
            f"table: {len(rows):,} rows ({pairs:,} stories, shape {args.shape}) as {args.format}, "
            f"{size_mb:.1f} MiB, in {root / 'suite'}"
        )
        print(f"python {sys.version.split()[0]}, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.allow_bytecode:
            bench_collect.run_child(floor_dir, co)  # warm-up: writes the rewritten-module caches
        floor = [bench_collect.run_child(floor_dir, co) for _ in range(args.runs)]
        runs = [bench_collect.run_child(root / "suite", co) for _ in range(args.runs)]
        for run in floor + runs:
            if run["code"] != 0:
                print(run["stdout"][-3000:], run["stderr"][-3000:], sep="\n")
                print(f"pytest --co failed with exit code {run['code']}")
                return 1
        counts = {bench_collect.collected_count(run["stdout"]) for run in runs}
        wall = statistics.median(run["wall"] for run in runs)
        peak = max(run["rss_mb"] for run in runs)
        floor_wall = statistics.median(run["wall"] for run in floor)
        floor_rss = max(run["rss_mb"] for run in floor)

        from pytest_moralpairs.pairs import load_suite

        start = time.perf_counter()
        loaded = len(load_suite(pair_file).pairs)
        load_seconds = time.perf_counter() - start

        print(f"items collected: {', '.join(f'{c:,}' for c in sorted(counts))} (expected {pairs:,})")
        print(
            f"pytest --co -q, {len(rows):,} rows, {pairs:,} pairs: wall median {wall:.2f} s (min "
            f"{min(r['wall'] for r in runs):.2f}, max {max(r['wall'] for r in runs):.2f}, {args.runs} runs)  "
            f"target <= {TARGET_SECONDS:g} s  -> {'OK' if wall <= TARGET_SECONDS else 'OVER'}"
        )
        print(
            f"peak memory (max RSS of the pytest process): {peak:.0f} MB  target <= {TARGET_MB:g} MB  "
            f"-> {'OK' if peak <= TARGET_MB else 'OVER'}"
        )
        print(
            f"start-up floor (pytest --co -q on 1 pair in YAML): wall median {floor_wall:.2f} s, "
            f"max RSS {floor_rss:.0f} MB"
        )
        print(
            f"collection beyond start-up: {wall - floor_wall:.2f} s, {peak - floor_rss:.0f} MB; of which "
            f"pairs.load_suite in-process: {load_seconds:.2f} s for {loaded:,} pairs "
            f"({load_seconds / max(loaded, 1) * 1e6:.0f} us/pair)"
        )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.profile:
            stats_file = str(root / "collect.prof")
            bench_collect.print_profile(root / "suite", co, stats_file, args.top)
        ok = counts == {pairs} and wall <= TARGET_SECONDS and peak <= TARGET_MB
        print(f"result: {'all targets met' if ok else 'TARGETS MISSED'}")
        return 0
    finally:
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    sys.exit(main())
