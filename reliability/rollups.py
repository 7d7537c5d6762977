"""What the ledger's figures read, kept beside the events that change it.

A figure counts a window of promises. Whether the client was told of a slip, whether a
check-in request was answered and how many promises a client has had are facts about other
rows (renegotiations, delay notices, check-ins, every promise ever made), so reading them
costs lookups per promise. They are written here instead, in the same transaction as the
event, on the row the figure reads:

- a promise's `client_told_at` (when the client first heard of a slip: a renegotiation they
  were told of, or a delay notice that reached them) and `client_told_due_at` (the latest
  date they were told);
- a check-in request's `answered_at` (the first check-in on its promise at or after it);
- a client's `promises_made`, `first_promise_at` and `last_promise_at`.

These are moments and counts, never judgements: an outcome still depends on the moment a
figure is asked as of, and the notice lead on the client's business calendar, so both are
worked out when read (docs/ledger.md). `recount` rebuilds every one of them from the rows
they summarise (`reliability recount`, after an import or a bulk load).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func, literal_column, union_all
from sqlmodel import Session, col, select

from reliability import tallies
from reliability.config import Settings
from reliability.db import locked
from reliability.models import (
    CheckIn,
    Client,
    DueChange,
    Notice,
    NoticeKind,
    NoticeStatus,
    Promise,
)


def client_told(promise: Promise, *, at: datetime, new_due_at: datetime | None) -> None:
    """The client heard of a slip at `at`, with a new date or without one."""
    if promise.client_told_at is None or at < promise.client_told_at:
        promise.client_told_at = at
    if new_due_at is not None and (promise.client_told_due_at is None
                                   or new_due_at > promise.client_told_due_at):
        promise.client_told_due_at = new_due_at


def _answered(session: Session, requests: sa.ColumnElement[bool]) -> None:
    """Set these requests' `answered_at` from the check-ins on their promises."""
    session.execute(
        sa.update(Notice).where(Notice.kind == NoticeKind.checkin_request, requests)
        .values(answered_at=select(func.min(CheckIn.at))
                .where(col(CheckIn.promise_id) == Notice.promise_id,
                       col(CheckIn.at) >= Notice.created_at).scalar_subquery()))


def checked_in(session: Session, promise: Promise, at: datetime) -> None:
    """A check-in at `at` answers the promise's requests made at or before it that no
    earlier check-in answered. The promise's notices are found by its id and sorted out
    here: asked with the kind and moment too, SQLite walked every request made before `at`
    through the (kind, created_at) index (0.17 s a check-in at a million promises)."""
    answered = [(notice_id, created_at) for notice_id, kind, created_at, answered_at in
                session.exec(select(Notice.id, Notice.kind, Notice.created_at,
                                    Notice.answered_at)
                             .where(col(Notice.promise_id) == promise.id)).all()
                if kind == NoticeKind.checkin_request and created_at <= at
                and (answered_at is None or answered_at > at)]
    if not answered:
        return
    for _, created_at in answered:
        tallies.touch(session, tallies.REQUEST, created_at, promise.owner_id, promise.client_id)
    session.execute(sa.update(Notice).where(col(Notice.id).in_([notice_id for notice_id, _
                                                                in answered]))
                    .values(answered_at=at))


def requests_made(session: Session, promise_ids: Sequence[int], at: datetime) -> None:
    """Check-in requests just made at `at`: a check-in already stamped at or after that
    moment (the same instant, or a clock ahead) answers them. Usually there is none, so
    this is one indexed read."""
    if not promise_ids:
        return
    for owner_id, client_id in session.exec(select(Promise.owner_id, Promise.client_id).where(
            col(Promise.id).in_(sorted(set(promise_ids))))).all():
        tallies.touch(session, tallies.REQUEST, at, owner_id, client_id)
    for promise_id, first in session.execute(
            select(CheckIn.promise_id, func.min(CheckIn.at))
            .where(col(CheckIn.promise_id).in_(sorted(set(promise_ids))), col(CheckIn.at) >= at)
            .group_by(col(CheckIn.promise_id))).all():
        session.execute(
            sa.update(Notice)
            .where(col(Notice.promise_id) == promise_id,
                   Notice.kind == NoticeKind.checkin_request, col(Notice.created_at) == at)
            .values(answered_at=first))


def promise_made(session: Session, client: Client, promise: Promise) -> None:
    """One more promise to the client (a mistake's internal prevention step is none),
    counted on the client's row read afresh and locked (`db.locked`): two promises made to
    one client at once are both counted."""
    if promise.internal:
        return
    for kind, moment in ((tallies.MADE, promise.made_at), (tallies.DUE, promise.original_due_at)):
        tallies.touch(session, kind, moment, promise.owner_id, promise.client_id)
    locked(session, Client, client.id)  # the same object, read again under the lock
    client.promises_made += 1
    if client.first_promise_at is None or promise.made_at < client.first_promise_at:
        client.first_promise_at = promise.made_at
    if client.last_promise_at is None or promise.made_at > client.last_promise_at:
        client.last_promise_at = promise.made_at
    session.add(client)


# -- recount: the same facts from the rows they summarise ------------------------------


def _told_moments() -> sa.Subquery:
    """Each time a client heard of a slip: (promise, when, the date they were told)."""
    told = col(DueChange.client_told).is_(True)
    return union_all(
        select(col(DueChange.promise_id).label("promise_id"),
               func.coalesce(DueChange.client_told_at, DueChange.changed_at).label("at"),
               col(DueChange.new_due_at).label("new_due_at")).where(told),
        select(col(Notice.promise_id).label("promise_id"), col(Notice.sent_at).label("at"),
               col(Notice.proposed_due_at).label("new_due_at"))
        .where(Notice.kind == NoticeKind.delay_notice, Notice.status == NoticeStatus.sent,
               col(Notice.sent_at).is_not(None), col(Notice.promise_id).is_not(None)),
    ).subquery("told")


def recount(session: Session, settings: Settings, *, now: datetime) -> None:
    """Rebuild every kept fact from the rows it summarises, then the tally (`tallies`)
    from them."""
    session.execute(sa.update(Promise).where(
        sa.or_(col(Promise.client_told_at).is_not(None),
               col(Promise.client_told_due_at).is_not(None)))
        .values(client_told_at=None, client_told_due_at=None))
    told = _told_moments()
    heard = session.execute(
        select(told.c.promise_id, func.min(told.c.at), func.max(told.c.new_due_at))
        .group_by(told.c.promise_id)).all()
    if heard:  # one pass over the tellings, then the few promises they concern by id
        session.execute(sa.update(Promise), [
            {"id": promise_id, "client_told_at": at, "client_told_due_at": due}
            for promise_id, at, due in heard])
    _answered(session, col(Notice.promise_id).is_not(None))
    made = (col(Promise.client_id) == Client.id, col(Promise.internal).is_(False))
    session.execute(
        sa.update(Client)
        .values(promises_made=func.coalesce(
                    select(func.count()).select_from(Promise).where(*made).scalar_subquery(),
                    literal_column("0")),
                first_promise_at=select(func.min(Promise.made_at)).where(*made)
                .scalar_subquery(),
                last_promise_at=select(func.max(Promise.made_at)).where(*made)
                .scalar_subquery()))
    tallies.recount(session, settings, now=now)
