"""Precision and recall of commitment and request detection, per language and kind.

    python bench/bench_commitments.py [--show-errors] [--part dev|heldout]

The corpus is tests/commitment_corpus/: a development part the rules were tuned on and a
held-out part written before the detector and not looked at while tuning. Each sentence is
read as one message in a conversation with Acme, by a member or by Acme's contact, on a
Monday morning (2026-11-16 09:00) in the client's calendar for that language.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from commitment_corpus import LANGUAGES, PARTS, Labelled, load, read  # noqa: E402

from reliability.commitments import detect  # noqa: E402

KINDS = ("commitment", "request")


def predicted(case: Labelled) -> str | None:
    findings = detect(case.text, **read(case))
    return str(findings[0].kind) if findings else None


def score(cases: list[Labelled], kind: str) -> tuple[float | None, float | None, int, int]:
    hits = [(c.kind == kind, predicted(c) == kind) for c in cases]
    true_positive = sum(truth and guess for truth, guess in hits)
    guessed = sum(guess for _truth, guess in hits)
    actual = sum(truth for truth, _guess in hits)
    precision = true_positive / guessed if guessed else None
    recall = true_positive / actual if actual else None
    return precision, recall, guessed, actual


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, action="append")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    print(f"{'part':8} {'lang':4} {'kind':10} {'n':>4} {'precision':>9} {'recall':>6}")
    for part in args.part or PARTS:
        for language in LANGUAGES:
            cases = load(language, part)
            for kind in KINDS:
                precision, recall, _guessed, actual = score(cases, kind)
                shown = [f"{v:.2f}" if v is not None else "-" for v in (precision, recall)]
                print(f"{part:8} {language:4} {kind:10} {actual:>4} {shown[0]:>9} {shown[1]:>6}")
            wrong = Counter(c.label for c in cases if c.kind == "none" and predicted(c))
            print(f"{'':13} hard negatives suggested: "
                  + (", ".join(f"{k} {n}" for k, n in sorted(wrong.items())) or "none"))
            if args.show_errors:
                for case in cases:
                    guess = predicted(case)
                    if (guess or "none") != (case.kind if case.kind in KINDS else "none"):
                        print(f"   {case.label:18} got {guess or 'none':10} {case.text!r}")
    sizes = {lang: sum(len(load(lang, p)) for p in PARTS) for lang in LANGUAGES}
    print("sentences: " + ", ".join(f"{lang} {n}" for lang, n in sizes.items()))


if __name__ == "__main__":
    main()
