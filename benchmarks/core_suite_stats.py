"""How much of a shipped suite word valence alone can solve: per edit kind and overall.

Usage: python benchmarks/core_suite_stats.py [--suite core] [--pairs]

For each kind (pair file) prints the number of pairs; how many have a harmless edited span whose
words weigh more negative than the harmful span's ("sounds worse", the valence split
tests/test_core_suite.py requires in at least half of each kind); and how many pairs the offline
`moralpairs/lexical` rater passes, with the rate. The last line is the overall lexical pass rate:
the figure to quote. --pairs adds one line per pair: the edit, the span valences and the ratings.
Offline and deterministic: no model is called.
"""

from __future__ import annotations

import argparse

from pytest_moralpairs.pairs import load_suite
from pytest_moralpairs.suites import suite_files
from pytest_moralpairs.suites.audit import PairAudit, audit_pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="core", help="a shipped suite (default: core)")
    parser.add_argument("--pairs", action="store_true", help="also list every pair")
    args = parser.parse_args()

    kinds: dict[str, list[PairAudit]] = {}
    for path in suite_files(args.suite):
        kinds[path.name.removesuffix(".moral.yaml")] = [audit_pair(pair) for pair in load_suite(path).pairs]

    print(f"suite {args.suite}: what the offline rater moralpairs/lexical (word valence only) makes of it")
    print(f"{'kind':<16}{'pairs':>6}{'sounds worse':>14}{'lexical pass':>14}{'rate':>8}")
    for kind, audits in kinds.items():
        worse = sum(a.harmless_sounds_worse for a in audits)
        passed = sum(a.lexical_passes for a in audits)
        print(f"{kind:<16}{len(audits):>6}{worse:>14}{passed:>14}{passed / len(audits):>8.1%}")
        if args.pairs:
            for a in audits:
                print(
                    f"    {'PASS' if a.lexical_passes else 'fail'} {a.harmful_rating:+d} -> {a.harmless_rating:+d}"
                    f"  [{' '.join(a.span.harmful)}] {a.harmful_valence:+.1f} -> "
                    f"[{' '.join(a.span.harmless)}] {a.harmless_valence:+.1f}  {a.pair.id}"
                )
    every = [a for audits in kinds.values() for a in audits]
    worse = sum(a.harmless_sounds_worse for a in every)
    passed = sum(a.lexical_passes for a in every)
    print(f"{'all':<16}{len(every):>6}{worse:>14}{passed:>14}{passed / len(every):>8.1%}")
    print(
        f"moralpairs/lexical passes {passed} of {len(every)} pairs ({passed / len(every):.1%}) "
        f"in {len(kinds)} kinds; harmless span sounds worse in {worse} ({worse / len(every):.1%})"
    )


if __name__ == "__main__":
    main()
