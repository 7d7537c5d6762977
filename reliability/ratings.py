"""Client ratings: the client's own 1-5 view of us, beside the figures we keep about ourselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any

from sqlmodel import Session, col, select

from reliability import limits
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Client, Rating
from reliability.records import iso

SCALE = range(1, 6)


def _score(value: int | None, what: str, field: str, *,
           required: bool = False) -> int | None:
    if value is None:
        if required:
            raise UserError(f"{what} is required", field=field,
                            hint="a whole number from 1 to 5")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in SCALE:
        raise UserError(f"{what} is a whole number from 1 (poor) to 5 (excellent), not {value!r}",
                        field=field)
    return value


def add_rating(
    ledger: Ledger,
    *,
    client_name: str,
    overall: int,
    would_continue: int | None = None,
    would_recommend: int | None = None,
    to_make_it_5: str | None = None,
    now: datetime,
    actor: str,
) -> Rating:
    """Record one rating as the client gave it; a 5 needs no answer to "what would make it a 5"."""
    rating = Rating(
        client_id=0,
        at=now,
        overall=_score(overall, "the overall rating", "overall", required=True),
        would_continue=_score(would_continue, "would-continue", "would_continue"),
        would_recommend=_score(would_recommend, "would-recommend", "would_recommend"),
        to_make_it_5=(limits.optional_text(to_make_it_5, "rating comment", "to_make_it_5")
                      or "").strip() or None,
        recorded_by=actor[:200],
    )
    with ledger.transaction() as session:
        client = ledger.find_client(session, client_name)
        rating.client_id = client.id or 0
        session.add(rating)
        session.flush()
        ledger.record(session, now=now, actor=actor, kind="client.rated", client_id=client.id,
                      rating_id=rating.id, overall=rating.overall,
                      would_continue=rating.would_continue,
                      would_recommend=rating.would_recommend)
    return rating


def ratings(session: Session, client_ids: Sequence[int] | None = None) -> dict[int, list[Rating]]:
    """Ratings per client, oldest first, in one query."""
    query = select(Rating).order_by(col(Rating.at), col(Rating.id))
    if client_ids is not None:
        query = query.where(col(Rating.client_id).in_(list(client_ids)))
    found: dict[int, list[Rating]] = {}
    for rating in session.exec(query).all():
        found.setdefault(rating.client_id, []).append(rating)
    return found


@dataclass(frozen=True)
class RatingSummary:
    """What a client has told us: the latest word, the averages, and every "make it a 5"."""

    count: int
    latest_overall: int | None
    latest_at: datetime | None
    average_overall: float | None
    average_would_continue: float | None
    average_would_recommend: float | None
    to_make_it_5: tuple[str, ...]

    @classmethod
    def of(cls, rows: Sequence[Rating]) -> RatingSummary:
        def average(values: list[int | None]) -> float | None:
            present = [value for value in values if value is not None]
            return round(fmean(present), 2) if present else None

        latest = rows[-1] if rows else None
        return cls(
            count=len(rows),
            latest_overall=latest.overall if latest else None,
            latest_at=latest.at if latest else None,
            average_overall=average([row.overall for row in rows]),
            average_would_continue=average([row.would_continue for row in rows]),
            average_would_recommend=average([row.would_recommend for row in rows]),
            to_make_it_5=tuple(row.to_make_it_5 for row in reversed(rows) if row.to_make_it_5),
        )

    def to_json(self, timezone: str | None = None) -> dict[str, Any]:
        return {
            "count": self.count,
            "latest_overall": self.latest_overall,
            "latest_at": iso(self.latest_at, timezone),
            "average_overall": self.average_overall,
            "average_would_continue": self.average_would_continue,
            "average_would_recommend": self.average_would_recommend,
            "to_make_it_5": list(self.to_make_it_5),
        }


def rating_record(rating: Rating, client: Client) -> dict[str, Any]:
    return {
        "id": rating.id,
        "client": client.name,
        "at": iso(rating.at, client.timezone),
        "overall": rating.overall,
        "would_continue": rating.would_continue,
        "would_recommend": rating.would_recommend,
        "to_make_it_5": rating.to_make_it_5,
        "recorded_by": rating.recorded_by,
    }
