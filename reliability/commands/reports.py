"""CLI commands: the reliability report, client trust and ratings, and the backtest."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from reliability import backtest, limits, metrics, suggestions
from reliability.calendar import BusinessCalendar
from reliability.commands.runtime import JsonOption, emit, runtime_of, sub_app, table
from reliability.drafting.rendering import money_text
from reliability.errors import UserError
from reliability.ratings import add_rating, rating_record, ratings
from reliability.trust import trust_view

rating_app = sub_app("Client ratings: 1-5, and what would make it a 5.")

DEFAULT_WEEKS = 4


def _day(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"{what} {value!r} is not a date; e.g. 2026-11-16") from None


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _range(calendar: BusinessCalendar, now: datetime, first: date | None,
           last: date | None) -> tuple[datetime, datetime]:
    """Whole local days from `first` to `last` inclusive; by default the last four weeks."""
    last = last or calendar.local(now).date()
    first = first or last - timedelta(days=last.weekday() + 7 * (DEFAULT_WEEKS - 1))
    limits.ledger_year(first.year, "start of the report", "from")
    limits.ledger_year(last.year, "end of the report", "to")
    if last < first:
        raise UserError(f"--to {last} is before --from {first}: give the earlier date first")
    return (datetime.combine(first, datetime.min.time(), calendar.tz),
            datetime.combine(last + timedelta(days=1), datetime.min.time(), calendar.tz))


def report(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option(help="owner | team | client")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="First day (YYYY-MM-DD); default four weeks back, from a Monday.")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="Last day, included (YYYY-MM-DD); default today.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The reliability ledger: kept, kept after notice, late without notice, by week."""
    if by is not None and by not in metrics.GROUPINGS:
        raise UserError(f"--by {by!r}: use one of {', '.join(metrics.GROUPINGS)}")
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    calendar = runtime.settings.calendar.calendar()
    begin, finish = _range(calendar, runtime.now, _day(start, "--from"), _day(end, "--to"))
    total, groups, weeks = ledger.read(metrics.report_figures, ledger.settings, start=begin,
                                       end=finish, by=by, now=runtime.now)
    captured = ledger.read(suggestions.capture_figures, ledger.settings, start=begin,
                           end=finish)
    document = {
        "from": begin.date().isoformat(),
        "to": (finish - timedelta(days=1)).date().isoformat(),
        "as_of": runtime.now.isoformat(),
        "by": by,
        "total": total.to_json(),
        "groups": [{"group": name, **figures.to_json()} for name, figures in groups.items()],
        "weeks": weeks,
        "capture": captured.to_json(),
    }
    emit(as_json, document, _report_text(document))


def _report_text(document: dict[str, Any]) -> str:
    headers = ["group", "made", "due", "on time", "after notice", "late silent", "broken",
               "on-time", "proactive", "lead (bd)", "reneg.", "mistakes", "check-ins"]

    def row(name: str, figures: dict[str, Any]) -> list[str]:
        lead = figures["median_notice_lead_days"]
        return [name, str(figures["made"]), str(figures["due"]), str(figures["kept_on_time"]),
                str(figures["kept_after_notice"]), str(figures["late_without_notice"]),
                str(figures["broken"]), _percent(figures["on_time_rate"]),
                _percent(figures["proactive_notice_rate"]), "-" if lead is None else f"{lead:g}",
                str(figures["renegotiations"]),
                f"{figures['mistakes']} ({figures['repeats']} rep.)",
                _percent(figures["checkin_answer_rate"])]

    rows = [row(group["group"], group) for group in document["groups"]
            if document["by"] is not None]
    rows.append(row("total", document["total"]))
    # The one money formatter the letters and the web use: "$200.00, SEK 1,250.00".
    credits = ", ".join(money_text(amount, currency, "en")
                        for currency, amount in document["total"]["credits"].items())
    return "\n".join([
        f"Reliability {document['from']} to {document['to']}",
        table(rows, headers),
        f"credits given: {credits or 'none'}",
        *_capture_text(document["capture"]),
    ])


def _capture_text(capture: dict[str, Any]) -> list[str]:
    """How promises were captured, the suggestions' fate, and how fast requests were
    acknowledged."""
    made = ", ".join(f"{count} {source}"
                     for source, count in capture["promises_by_source"].items())
    lines = [f"promises made, by how they were captured: {made or 'none'}"]
    if capture["suggestions"]:
        lines.append(table(
            [[source, str(row["made"]), str(row["accepted"]), str(row["declined"]),
              str(row["expired"]), str(row["offered"])]
             for source, row in capture["suggestions"].items()],
            ["suggested from", "made", "accepted", "declined", "expired", "open"]))
    dates = capture["suggested_dates"]
    if dates["offered"]:
        lines.append(
            f"later dates offered at capture: {dates['offered']}, taken {dates['taken']}; "
            f"kept on time: {dates['taken_kept']} of {dates['taken_settled']} settled when "
            f"taken, {dates['declined_kept']} of {dates['declined_settled']} when the date "
            "asked was kept")
    requests = capture["requests"]
    if requests["received"]:
        later = requests["later_business_days"]
        took = (f"; the rest took {', '.join(f'{days:g}' for days in later)} business days"
                if later else "")
        lines.append(
            f"client requests: {requests['received']} received, "
            f"{requests['acknowledged_within_one_business_day']} acknowledged within one "
            f"business day, {requests['acknowledged_later']} later, "
            f"{requests['not_acknowledged']} not yet{took}")
    return lines


@rating_app.command("add")
def rating_add(
    ctx: typer.Context,
    client: str,
    overall: Annotated[int, typer.Option(help="1 (poor) to 5 (excellent).")],
    would_continue: Annotated[int | None, typer.Option(
        help="1-5: how likely they are to keep working with us.")] = None,
    would_recommend: Annotated[int | None, typer.Option(
        help="1-5: how likely they are to recommend us.")] = None,
    to_make_it_5: Annotated[str | None, typer.Option(
        "--to-make-it-5", help="Their answer to 'what would make it a 5?'.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a client's rating as they gave it."""
    runtime = runtime_of(ctx)
    rating = add_rating(runtime.ledger, client_name=client, overall=overall,
                        would_continue=would_continue, would_recommend=would_recommend,
                        to_make_it_5=to_make_it_5, now=runtime.now, actor=runtime.actor)
    found = runtime.ledger.client_named(client)
    emit(as_json, rating_record(rating, found),
         f"rating #{rating.id} recorded for {found.name}: {rating.overall}/5")


@rating_app.command("list")
def rating_list(
    ctx: typer.Context,
    client: Annotated[str | None, typer.Argument(help="Only this client.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Ratings, newest first."""
    ledger = runtime_of(ctx).ledger
    clients = {found.id: found for found in ledger.clients()}
    only = [ledger.client_named(client).id or 0] if client else None
    rows = sorted((rating for per_client in ledger.read(ratings, only).values()
                   for rating in per_client), key=lambda r: (r.at, r.id or 0), reverse=True)
    records = [rating_record(rating, clients[rating.client_id]) for rating in rows]
    emit(as_json, records, table(
        [[str(r["id"]), r["client"], r["at"][:10], str(r["overall"]),
          str(r["would_continue"] or "-"), str(r["would_recommend"] or "-"),
          (r["to_make_it_5"] or "")[:50]] for r in records],
        ["id", "client", "date", "overall", "continue", "recommend", "to make it a 5"]))


def client_trust(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option(
        "--from", help="Figures from this day (YYYY-MM-DD); default the last 90 days.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Per client: stage (first-time, returning, regular, slipping, lost), figures, ratings."""
    runtime = runtime_of(ctx)
    ledger = runtime.ledger
    first = _day(start, "--from")
    calendar = runtime.settings.calendar.calendar()
    begin = datetime.combine(first, datetime.min.time(), calendar.tz) if first else None
    if begin is not None and begin >= runtime.now:
        raise UserError(f"--from {first} is not in the past")
    view = ledger.read(trust_view, ledger.settings, now=runtime.now, start=begin)
    records = [client.to_json() for client in view]
    emit(as_json, records, table(
        [[r["client"], r["stage"], str(r["promises_ever"]),
          _percent(r["stats"]["on_time_rate"]), _percent(r["stats"]["proactive_notice_rate"]),
          str(r["ratings"]["latest_overall"] or "-"), "; ".join(r["reasons"])]
         for r in records],
        ["client", "stage", "promises", "on-time", "proactive", "rating", "why"]))


def backtest_command(
    file: Annotated[Path, typer.Argument(help="CSV: id, owner, client, made_at, due_at, "
                                              "done_at [, estimate_hours, actual_hours, "
                                              "country, timezone]")],
    lead_business_days: Annotated[int, typer.Option(
        help="N: how many business days ahead a warning must come.")] = 2,
    effort: Annotated[bool, typer.Option(
        "--effort", help="Read past overruns from estimate_hours/actual_hours where a row "
        "has them, instead of from the dates.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Replay a history through the risk engine: would the warnings have come in time?"""
    if lead_business_days < 0:
        raise UserError("--lead-business-days is a number of business days, 0 or more")
    if not file.is_file():
        raise UserError(f"no such file: {file}")
    bar = _ProgressOnTerminal("replaying")
    try:
        result = backtest.run(backtest.read_history(file),
                              lead_business_days=lead_business_days, effort=effort,
                              progress=bar)
    finally:
        bar.close()
    emit(as_json, result.to_json(), result.summary())


class _ProgressOnTerminal:
    """A progress bar on stderr, drawn only when stderr is a terminal, so a log or a pipe
    gets nothing (click would still print the label there)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = typer.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
