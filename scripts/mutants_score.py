"""Summarise `mutmut results` (written to a file by `make mutants`): counts per outcome and the score."""

from __future__ import annotations

import collections
import json
import sys


def main(path: str) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    per_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    survivors = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            name, sep, outcome = line.strip().rpartition(": ")
            if not sep or "__mutmut_" not in name:
                continue
            outcomes[outcome] += 1
            per_module[name.split(".x")[0]][outcome] += 1
            if outcome == "survived":
                survivors.append(name)
    def judged(counts: collections.Counter[str]) -> int:  # mutants a test run decided (not "not checked" yet)
        return counts["killed"] + counts["survived"] + counts["timeout"]

    for module, counts in sorted(per_module.items()):
        print(f"{module:36} killed {counts['killed']:4} of {judged(counts):4} run "
              f"({counts['survived']} survived, {counts['no tests']} not covered, "
              f"{counts['not checked']} not run yet)")
    tested = judged(outcomes)
    score = outcomes["killed"] / tested if tested else 0.0
    print(f"{len(survivors)} survivors; `mutmut show NAME` shows one")
    print(json.dumps({"mutants": sum(outcomes.values()), "tested": tested, "killed": outcomes["killed"],
                      "survived": outcomes["survived"], "no_tests": outcomes["no tests"],
                      "timeout": outcomes["timeout"], "not_checked": outcomes["not checked"],
                      "score": round(score, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
