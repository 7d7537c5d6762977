"""Backtest: replaying a team's history through the risk engine, morning by morning."""

import csv
import io
import json
import random
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from conftest import Cli

from reliability import backtest
from reliability.calendar import BusinessCalendar
from reliability.errors import UserError

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from generate_history import write

HEADER = "id,owner,client,made_at,due_at,done_at,country,timezone"
NEW_YORK = BusinessCalendar("America/New_York", "US")


def week_long(number: int, owner: str, monday: date, *, late: bool) -> str:
    """A promise made Monday 09:00 for Friday 17:00, delivered Thursday or the next Tuesday."""
    made = NEW_YORK.start_of(monday)
    due = NEW_YORK.end_of(monday + timedelta(days=4))
    done = due + timedelta(days=4) if late else due - timedelta(days=1)
    return (f"{number},{owner},Acme,{made.isoformat()},{due.isoformat()},{done.isoformat()},"
            "US,America/New_York")


def history(lines: list[str]) -> backtest.History:
    return backtest.parse_rows(io.StringIO("\n".join([HEADER, *lines]) + "\n"))


def two_owners(weeks: int = 10) -> list[str]:
    """Carol is late every week, Dave never; each makes one promise a week."""
    first = date(2026, 9, 7)
    lines = []
    for week in range(weeks):
        monday = first + timedelta(weeks=week)
        lines.append(week_long(2 * week + 1, "carol", monday, late=True))
        lines.append(week_long(2 * week + 2, "dave", monday, late=False))
    return lines


def test_a_habitually_late_owner_is_flagged_days_ahead_and_a_reliable_one_is_not() -> None:
    result = backtest.run(history(two_owners()), lead_business_days=2)

    late_owners = {item.owner for item in result.late}
    assert late_owners == {"carol"} and len(result.late) == 10
    flagged = [item for item in result.late if item.flagged_at is not None]
    # Once Carol's record holds five late promises, every later one is flagged ahead.
    assert len(flagged) >= 5
    assert all(item.flagged_lead_business_days >= 2 for item in flagged)
    model = result.scores["model"]
    assert model.precision == 1.0  # Dave is never flagged
    assert model.brier < result.scores["calendar"].brier


def test_unreadable_rows_are_counted_and_listed_by_line_never_dropped(tmp_path: Path) -> None:
    lines = [
        *two_owners(3),
        "x1,carol,Acme,yesterday,2026-11-20T17:00-05:00,,US,America/New_York",
        "x2,carol,Acme,2026-11-20T09:00-05:00,2026-11-19T17:00-05:00,,US,America/New_York",
        "x3,,Acme,2026-11-16T09:00-05:00,2026-11-20T17:00-05:00,,US,America/New_York",
        "1,carol,Acme,2026-11-16T09:00-05:00,2026-11-20T17:00-05:00,,US,America/New_York",
        "x4,carol,Acme,2026-11-16T09:00-05:00,2026-11-20T17:00-05:00,,US,Mars/Base",
        "x5,carol,Acme,2026-11-16T09:00-05:00,2026-11-20T17:00-05:00,,US,America/New_York,9",
    ]
    result = backtest.run(history(lines))
    assert result.rows == 6
    problems = {problem.line: problem.why for problem in result.problems}
    assert sorted(problems) == [8, 9, 10, 11, 12, 13]
    assert "made_at 'yesterday' is not an ISO 8601" in problems[8]
    assert problems[9] == "due_at is not after made_at"
    assert problems[10] == "owner is empty"
    assert problems[11] == "id '1' already used on line 2"
    assert "Mars/Base" in problems[12]
    assert "more field(s) than the header" in problems[13]


def test_a_file_without_the_required_columns_is_refused() -> None:
    with pytest.raises(UserError, match="lacks the column\\(s\\) done_at"):
        backtest.parse_rows(io.StringIO("id,owner,client,made_at,due_at\n1,a,b,c,d\n"))


def test_dates_without_a_time_or_offset_are_read_in_the_rows_calendar() -> None:
    result = history(["1,carol,Acme,2026-11-16,2026-11-20,2026-11-20T10:00,US,"
                      "America/New_York"])
    [row] = result.rows
    assert row.made_at == NEW_YORK.start_of(date(2026, 11, 16))
    assert row.due_at == NEW_YORK.end_of(date(2026, 11, 20))
    assert not row.late


def test_later_history_never_changes_an_earlier_assessment() -> None:
    """Only what was known at each morning: rows finished later cannot leak backwards."""
    early = two_owners(6)
    later = early + [week_long(100 + week, "carol", date(2026, 11, 2) + timedelta(weeks=week),
                               late=False) for week in range(4)]
    first = {item.id: item.p_late for item in backtest.run(history(early)).late}
    second = {item.id: item.p_late for item in backtest.run(history(later)).late}
    assert first and all(second[key] == value for key, value in first.items())


def test_a_promise_never_delivered_is_late_once_the_history_has_passed_its_due() -> None:
    lines = [
        *two_owners(3),
        "n1,dave,Acme,2026-09-07T09:00-04:00,2026-09-11T17:00-04:00,,US,America/New_York",
        "n2,dave,Acme,2026-09-21T09:00-04:00,2026-12-31T17:00-05:00,,US,America/New_York",
    ]
    result = backtest.run(history(lines))
    assert "n1" in {item.id for item in result.late}
    assert result.unresolved == 1  # n2's outcome is not known yet


def test_a_generated_history_is_replayed_with_its_spoiled_rows_listed() -> None:
    buffer = io.StringIO()
    write(buffer, 600, owners=6, seed=3, bad=6)
    buffer.seek(0)
    result = backtest.run(backtest.parse_rows(buffer), lead_business_days=2)

    assert result.rows + len(result.problems) == 600 and len(result.problems) == 6
    assert result.assessments > result.rows
    calendar = result.scores["calendar"]
    evaluated_late = [item for item in result.late if item.p_late is not None]
    assert calendar.precision == pytest.approx(len(evaluated_late) / calendar.evaluated)
    for score in result.scores.values():
        assert score.brier is not None and 0 <= score.brier <= 1
        assert score.evaluated == calendar.evaluated


def test_backtest_command_prints_json_scores(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("\n".join([HEADER, *two_owners(), "bad,carol,Acme,,,,US,UTC"]) + "\n")
    result = cli("backtest", str(path), "--lead-business-days", "1", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["lead_business_days"] == 1
    assert (document["rows"], document["unreadable"]) == (20, 1)
    assert document["problems"] == [{"line": 22, "why": "made_at is empty"}]
    assert set(document["scores"]) == {"model", "calendar", "owner_rate"}
    assert len(document["late_items"]) == 10


def test_the_replay_reports_its_progress_to_the_end_without_changing_its_result() -> None:
    heard: list[tuple[int, int]] = []
    quiet = backtest.run(history(two_owners()), lead_business_days=1)
    told = backtest.run(history(two_owners()), lead_business_days=1,
                        progress=lambda done, total: heard.append((done, total)))
    assert told == quiet
    total = heard[-1][1]
    assert heard[0] == (0, total) and heard[-1] == (total, total)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)


def test_backtest_command_draws_no_progress_bar_off_a_terminal(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("\n".join([HEADER, *two_owners()]) + "\n")
    result = cli("backtest", str(path), "--json")
    assert result.exit_code == 0 and result.stderr == ""


def test_backtest_command_refuses_a_missing_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("backtest", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "no such file" in result.stderr


def generated(rows: int, *, seed: int = 3, bad: int = 0) -> str:
    buffer = io.StringIO()
    write(buffer, rows, owners=6, seed=seed, bad=bad)
    return buffer.getvalue()


def apart(lines: list[str]) -> list[str]:
    """The rows with every making and delivery a few microseconds apart from any other's,
    so that no two events tie and the order of the rows in the file cannot matter."""
    header = backtest.REQUIRED + backtest.OPTIONAL
    moved = []
    for number, values in enumerate(csv.DictReader(lines), start=1):
        for name in ("made_at", "done_at"):
            if values[name]:
                moment = datetime.fromisoformat(values[name]) + timedelta(microseconds=number)
                values[name] = moment.isoformat()
        moved.append(",".join(values[name] for name in header))
    return [",".join(header), *moved]


def test_a_file_far_out_of_time_order_streams_to_the_scores_of_one_in_order(
        tmp_path: Path) -> None:
    """The replay reads ahead just far enough: rows shuffled over months score as they do
    sorted by their making (to the last bits of a sum taken in another order)."""
    header, *lines = apart(generated(600).splitlines())
    made = {line: datetime.fromisoformat(line.split(",")[3]) for line in lines}
    in_order, shuffled = tmp_path / "in_order.csv", tmp_path / "shuffled.csv"
    in_order.write_text("\n".join([header, *sorted(lines, key=made.__getitem__)]) + "\n")
    random.Random(5).shuffle(lines)
    shuffled.write_text("\n".join([header, *lines]) + "\n")

    expected = backtest.run(backtest.read_history(in_order))
    history = backtest.read_history(shuffled)
    assert history.survey.disorder > timedelta(days=100)
    result = backtest.run(history)
    assert result.assessments == expected.assessments > 600
    assert ({(item.id, item.flagged_at, item.p_late) for item in result.late}
            == {(item.id, item.flagged_at, item.p_late) for item in expected.late})
    for moment in ("scores", "capture"):
        for method, scores in getattr(result, moment).items():
            other = getattr(expected, moment)[method]
            assert (scores.flagged, scores.evaluated) == (other.flagged, other.evaluated)
            assert scores.brier == pytest.approx(other.brier, abs=1e-12)


class CountedHistory(backtest.History):
    """A history that counts the rows the replay has taken from it."""

    taken = 0

    def __iter__(self) -> Iterator[backtest.Row]:
        for row in self.rows:
            self.taken += 1
            yield row


def test_the_replay_reads_a_history_in_time_order_as_it_goes() -> None:
    parsed = backtest.parse_rows(io.StringIO(generated(600)))
    history = CountedHistory(parsed.rows, parsed.problems)
    taken_halfway: list[int] = []

    def progress(done: int, total: int) -> None:
        if not taken_halfway and done >= total // 2:
            taken_halfway.append(history.taken)

    result = backtest.run(history, progress=progress)
    assert result == backtest.run(parsed)
    assert history.taken == 600 and taken_halfway[0] < 450


def test_a_file_that_changes_during_the_replay_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("\n".join([HEADER, *two_owners(3)]) + "\n")
    history = backtest.read_history(path)
    path.write_text("\n".join([HEADER, *two_owners(4)]) + "\n")
    with pytest.raises(UserError, match="changed while it was read"):
        backtest.run(history)


def test_generated_rows_are_all_readable_without_spoiling() -> None:
    buffer = io.StringIO()
    write(buffer, 300, owners=3, seed=11)
    buffer.seek(0)
    rows = list(csv.DictReader(buffer))
    buffer.seek(0)
    assert len(rows) == 300 and backtest.parse_rows(buffer).problems == ()


def test_the_generators_true_chances_stay_out_of_the_history_it_writes() -> None:
    """The bound bench_backtest prints comes from chances no history shows."""
    buffer = io.StringIO()
    truth = write(buffer, 300, owners=3, seed=11)
    buffer.seek(0)
    rows = list(csv.DictReader(buffer))
    assert "true_p_late" not in rows[0]
    assert set(truth) == {row["id"] for row in rows}
    assert all(0 < chance < 1 for chance in truth.values())


def test_every_promise_is_scored_at_capture_and_short_ones_are_counted_apart() -> None:
    """A promise made Thursday for Friday cannot be warned about two business days ahead,
    but it can be judged when it is made."""
    made = NEW_YORK.at(date(2026, 11, 19), time(9)).isoformat()
    due = NEW_YORK.end_of(date(2026, 11, 20)).isoformat()
    done = NEW_YORK.end_of(date(2026, 11, 23)).isoformat()
    rushed = f"r1,carol,Acme,{made},{due},{done},US,America/New_York"
    result = backtest.run(history([*two_owners(), rushed]), lead_business_days=2)

    assert result.short_notice == 1 and result.too_short == 1
    assert ("1 promise made with under 2 business days' notice (1 late): scored at capture "
            "only") in result.summary()
    for method, score in result.capture.items():
        assert score.evaluated == result.scored == 21, method
        assert sum(b.count for b in score.calibration) == 21
    assert result.scores["model"].evaluated < 21
    # Carol's record makes the model sure of her and of Dave long before the owner rate is.
    assert result.capture["model"].brier < result.capture["calendar"].brier


def test_calibration_bins_say_what_was_predicted_and_what_happened() -> None:
    bins, ece = backtest.calibration([(0.05, False), (0.15, False), (0.12, True),
                                      (0.95, True), (1.0, True)])
    assert [(b.low, b.count) for b in bins] == [(0.0, 1), (0.1, 2), (0.9, 2)]
    assert bins[1].mean_p == pytest.approx(0.135) and bins[1].observed == 0.5
    assert ece == pytest.approx((0.05 + 2 * 0.365 + 2 * 0.025) / 5)
    assert backtest.calibration([]) == ((), None)


def test_the_summary_and_json_carry_both_moments_with_their_calibration() -> None:
    result = backtest.run(history(two_owners()), lead_business_days=2)
    summary = result.summary()
    assert "at capture (all 20)" in summary and "at due - 2 business days" in summary
    assert "calibration at capture (mean p_late / observed late share / count)" in summary
    document = json.loads(json.dumps(result.to_json()))
    assert set(document["capture"]) == {"model", "calendar", "owner_rate"}
    model = document["capture"]["model"]
    assert 0 <= model["ece"] <= 1
    assert sum(b["count"] for b in model["calibration"]) == 20


def test_effort_columns_are_used_only_when_asked() -> None:
    """A multitasker logs the hours estimated while the calendar slips: by default the dates
    speak (docs/risk-model.md: they predict date lateness better)."""
    lines = [line.replace(",US,", ",10,10,US,") for line in two_owners()]
    effort = backtest.parse_rows(io.StringIO("\n".join(
        ["id,owner,client,made_at,due_at,done_at,estimate_hours,actual_hours,country,timezone",
         *lines]) + "\n"))
    by_dates = backtest.run(effort)
    by_hours = backtest.run(effort, effort=True)
    assert by_dates.scores["model"].brier < by_hours.scores["model"].brier
