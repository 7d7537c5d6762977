"""Backtest at scale: generate a synthetic history, replay it, print the time and the scores,
and the bound no forecast at capture can beat (the generator's own chances).

Usage: .venv/bin/python bench/bench_backtest.py [--rows 100000] [--seed 7] [--lead 2]
       [--effort]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from array import array
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
    parser.add_argument("--effort", action="store_true",
                        help="read past overruns from the effort columns where rows have them")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.csv"
        started = _clocks()
        with path.open("w", newline="", encoding="utf-8") as handle:
            truth = write(handle, args.rows, seed=args.seed, bad=args.bad)
        generated = _clocks()
        history = backtest.read_history(path)
        read = _clocks()
        result = backtest.run(history, lead_business_days=args.lead, effort=args.effort)
        replayed = _clocks()
        # The history is read once more, from the file it streams from, before that goes.
        bound = oracle(history, truth, result.capture["owner_rate"].brier or 1.0)

    print(f"rows: {args.rows} (seed {args.seed}, {args.bad} spoiled on purpose)")
    print(f"wall: generate {generated[0] - started[0]:.1f}s, read {read[0] - generated[0]:.1f}s, "
          f"replay {replayed[0] - read[0]:.1f}s ({result.assessments} assessments, "
          f"{1e6 * (replayed[0] - read[0]) / max(result.assessments, 1):.0f} µs each)")
    print(f"CPU: generate {generated[1] - started[1]:.1f}s, read {read[1] - generated[1]:.1f}s, "
          f"replay {replayed[1] - read[1]:.1f}s ({result.assessments} assessments, "
          f"{1e6 * (replayed[1] - read[1]) / max(result.assessments, 1):.0f} µs each)")
    print(result.summary(show=0))
    print()
    for point, scores in (("at capture", result.capture),
                          (f"at due - {args.lead} business days", result.scores)):
        model = scores["model"]
        better = min(scores[name].brier or 1.0 for name in ("calendar", "owner_rate"))
        gain = 1 - (model.brier or 1.0) / better
        print(f"{point}: Brier {model.brier:.4f}, {_percent(gain)} than the better "
              f"baseline ({better:.4f}; goal 10%), calibration error {model.ece:.3f} "
              "(goal at most 0.05)")
    print(bound)


def _clocks() -> tuple[float, float]:
    """Wall and CPU time: on a shared machine the wall clock measures the neighbours too."""
    return time.perf_counter(), time.process_time()


def _percent(gain: float) -> str:
    return f"{100 * abs(gain):.1f}% {'better' if gain >= 0 else 'worse'}"


def oracle(history: backtest.HistoryFile, truth: dict[str, float], owner_rate: float) -> str:
    """The bound at capture: the Brier score of the world's own chances (each owner's true
    habit, spread and load, which no history shows), on the rows the backtest scored."""
    end = history.survey.end
    assert end is not None
    errors = array("d", ((truth[row.id] - row.late) ** 2 for row in history
                         if row.done_at is not None or row.due_at < end))
    brier = sum(errors) / len(errors)
    return (f"bound at capture: the generator's true chances score Brier {brier:.4f}, "
            f"{_percent(1 - brier / owner_rate)} than the owner rate "
            f"({owner_rate:.4f})")


if __name__ == "__main__":
    main()
