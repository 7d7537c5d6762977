"""Backtest at scale: generate a synthetic history, replay it, print the time and the scores.

Usage: .venv/bin/python bench/bench_backtest.py [--rows 100000] [--seed 7] [--lead 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate_history import write

from reliability import backtest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lead", type=int, default=2)
    parser.add_argument("--bad", type=int, default=25)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.csv"
        started = time.perf_counter()
        with path.open("w", newline="", encoding="utf-8") as handle:
            write(handle, args.rows, seed=args.seed, bad=args.bad)
        generated = time.perf_counter()
        history = backtest.read_history(path)
        read = time.perf_counter()
        result = backtest.run(history, lead_business_days=args.lead)
        replayed = time.perf_counter()

    print(f"rows: {args.rows} (seed {args.seed}, {args.bad} spoiled on purpose)")
    print(f"generate {generated - started:.1f}s, read {read - generated:.1f}s, "
          f"replay {replayed - read:.1f}s ({result.assessments} assessments, "
          f"{1e6 * (replayed - read) / max(result.assessments, 1):.0f} µs each)")
    print(result.summary(show=0))
    model = result.scores["model"].brier
    baselines = [result.scores[name].brier for name in ("calendar", "owner_rate")]
    beats = model is not None and all(b is not None and model < b for b in baselines)
    print(f"\nmodel beats both baselines on Brier: {'yes' if beats else 'NO'}")


if __name__ == "__main__":
    main()
