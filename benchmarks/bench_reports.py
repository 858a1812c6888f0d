"""What the statistics and reports cost at the end of a large run (no model, no pytest).

Judges N pairs of K samples each (bootstrap interval per pair), N/10 pairs across the 72 personas
of the example grid, then builds the run document and writes the JSON and HTML reports.

    python benchmarks/bench_reports.py [--pairs 1000] [--samples 10]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from pytest_moralpairs.engine import ModelSettings, Rating, RatingRequest
from pytest_moralpairs.pairs import parse_suite
from pytest_moralpairs.personas import judge_personas, rated_personas
from pytest_moralpairs.report.document import build_document, write_json
from pytest_moralpairs.report.html import write_html
from pytest_moralpairs.verdicts import judge

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def ratings(sentence: str, values: list[float]) -> list[Rating]:
    model = ModelSettings("bench/model", temperature=0.7)
    return [Rating(RatingRequest(model, (("user", sentence),), sentence, i), v, str(v)) for i, v in enumerate(values)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(1)

    started = time.perf_counter()
    results = []
    for i in range(args.pairs):
        harmful = [float(rng.choice([-4, -3, -2, -1])) for _ in range(args.samples)]
        harmless = [float(rng.choice([-1, 0, 1, 2, 3])) for _ in range(args.samples)]
        verdict = judge(f"p{i}", ratings(f"harm {i}", harmful), ratings(f"help {i}", harmless), 2.0)
        result = dict(verdict.to_dict(), nodeid=f"bench.moral.yaml::p{i}", suite="bench.moral.yaml", kind="pair")
        results.append(result)
    judged = time.perf_counter() - started
    outcomes = {o: sum(r["outcome"] == o for r in results) for o in ("passed", "failed", "inconclusive")}

    persona_pairs = max(1, args.pairs // 10)
    text = (EXAMPLES / "personas.moral.yaml").read_text()
    pair = parse_suite(text, str(EXAMPLES / "personas.moral.yaml")).pairs[1]  # with max_inconsistency
    started = time.perf_counter()
    for i in range(persona_pairs):
        by_persona = {p.id: (float(rng.choice([-3, -2])), float(rng.choice([0, 1, 2]))) for p in rated_personas(pair)}
        results[i]["personas"] = judge_personas(pair, by_persona, threshold=2.0, model="bench/model").to_dict()
    personas_judged = time.perf_counter() - started

    meta = {"model": "bench/model", "settings": {"samples": args.samples}}
    started = time.perf_counter()
    document = build_document(results, meta)
    built = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        json_path = write_json(Path(folder) / "r.json", document)
        wrote_json = time.perf_counter() - started
        started = time.perf_counter()
        write_html(Path(folder) / "r.html", document)
        wrote_html = time.perf_counter() - started
        json_size = json_path.stat().st_size
        html_size = (Path(folder) / "r.html").stat().st_size

    n, k = args.pairs, args.samples
    per_pair = judged / n * 1e3
    print(f"judge {n:,} pairs x {k} samples (bootstrap, 4,000 resamples each): {judged:.2f} s ({per_pair:.2f} ms/pair)")
    print(f"  outcomes: {outcomes}")
    print(
        f"judge {persona_pairs:,} pairs across {len(rated_personas(pair))} personas (72 + broad + 12 marginals): "
        f"{personas_judged:.2f} s ({personas_judged / persona_pairs * 1e3:.1f} ms/pair)"
    )
    print(f"build_document: {built:.2f} s; write_json: {wrote_json:.2f} s ({json_size / 2**20:.1f} MiB)")
    print(f"write_html: {wrote_html:.2f} s ({html_size / 2**20:.1f} MiB, self-contained)")


if __name__ == "__main__":
    main()
