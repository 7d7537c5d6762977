"""Mistakes owned up to: the remediation draft, the prevention commitment, repeats.

Owning a mistake keeps a client when it comes with a concrete step that stops it happening
again. That step becomes an internal commitment the scanner follows like any promise; the
same kind of mistake for the same client within the policy window is a repeat, which the
approver is told about and the manager hears of.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from babel.numbers import get_currency_precision
from sqlmodel import Session, col, select

from reliability import compose, limits, notices
from reliability.access import Actor, actor_of, owner_for, owner_named, promise_for, scope_for
from reliability.drafting.contexts import CREDIT_BASES, CREDIT_METHODS
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Client, Member, Mistake, NoticeKind, Promise, Severity, Source

PREVENTION_LEAD_BUSINESS_DAYS = 5
# The largest credit a letter may state: docs/limits.md.
MAX_CREDIT = Decimal(1_000_000_000)
AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class Credit:
    amount: Decimal
    currency: str
    method: str | None = None  # CREDIT_METHODS: how the money reaches the client
    basis: str | None = None  # CREDIT_BASES: the overcharge returned, or goodwill

    @classmethod
    def parse(cls, amount: str, currency: str, method: str | None = None,
              basis: str | None = None) -> Credit:
        """The one rule for a credit a letter will state: ASCII digits with an optional
        decimal point, a whole number of the currency's smallest unit (0.01 USD, 1 JPY), at
        most MAX_CREDIT."""
        code = currency.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise UserError(f"{currency!r} is not an ISO 4217 currency code", field="credit",
                            hint="e.g. USD, SEK, CNY")
        digits = get_currency_precision(code)
        unit = Decimal(1).scaleb(-digits)
        value = Decimal(amount) if AMOUNT.fullmatch(amount) else None
        if value is None or not unit <= value <= MAX_CREDIT or value % unit:
            decimals = f"up to {digits} decimals" if digits else "no decimals"
            raise UserError(f"credit amount {amount!r} is not a number from {unit} to "
                            f"{MAX_CREDIT:,} {code}", field="credit",
                            hint=f"give digits 0-9 with {decimals}, e.g. 500")
        if method is not None and method not in CREDIT_METHODS:
            raise UserError(f"unknown credit method {method!r}", field="credit_method",
                            hint=f"use {', '.join(CREDIT_METHODS)}")
        if basis is not None and basis not in CREDIT_BASES:
            raise UserError(f"unknown credit basis {basis!r}", field="credit_basis",
                            hint=f"use {', '.join(CREDIT_BASES)}")
        return cls(value, code, method, basis)


@dataclass(frozen=True)
class LoggedMistake:
    mistake: Mistake
    client: Client
    draft_id: int | None
    prevention_promise_id: int
    repeat_count: int
    escalation_id: int | None
    owner: Member


def log_mistake(
    ledger: Ledger,
    *,
    client_name: str,
    summary: str,
    prevention: str,
    now: datetime,
    actor: str | Actor,
    owner_email: str | None,
    promise_id: int | None = None,
    category: str = "general",
    severity: str = Severity.minor,
    credit: Credit | None = None,
    fixed: bool = False,
    fix_due_at: datetime | None = None,
    prevention_due_at: datetime | None = None,
) -> LoggedMistake:
    """A member logs mistakes of their own; a manager also their reports'; an admin or the
    operator (a plain string `actor`) anyone's."""
    by = actor_of(actor)
    actor = by.label
    summary = limits.text(summary, "mistake summary", "summary").strip()
    prevention = limits.text(prevention, "prevention step", "prevention").strip()
    category = limits.text(category, "category", "category")
    if not summary:
        raise UserError("the mistake has no summary", field="summary",
                        hint="say what went wrong")
    if not prevention:
        raise UserError("a mistake needs a prevention step", field="prevention",
                        hint="say what changes from now")
    if severity not in (Severity.minor, Severity.major):
        raise UserError(f"unknown severity {severity!r}", field="severity",
                        hint="use minor or major")
    if fixed and fix_due_at is not None:
        raise UserError("a mistake is either corrected already or due to be, not both",
                        field="fix_due", hint="leave out the fix date, or say it is not fixed yet")
    if fix_due_at is not None:
        limits.within_horizon(fix_due_at, now, ledger.settings.policy.due_horizon_years,
                              "fix date", "fix_due")
    category = category.strip().lower() or "general"
    settings = ledger.settings
    with ledger.transaction() as session:
        scope = scope_for(session, by)
        client = ledger.find_client(session, client_name)
        promise = promise_for(session, scope, promise_id) if promise_id is not None else None
        if promise is not None and promise.client_id != client.id:
            raise UserError(f"promise #{promise_id} is not {client.name}'s", field="promise")
        if owner_email:
            owner = owner_named(session, scope, owner_email, "log a mistake", current=False)
        elif promise is not None:
            found = session.get(Member, promise.owner_id)
            assert found is not None
            owner = owner_for(scope, found, "log a mistake")
        else:
            raise UserError("say who owns the mistake", field="owner",
                            hint="give their email, or the promise it concerns")
        calendar = ledger.calendar_for(client)
        window_start = now - timedelta(days=settings.policy.mistake_repeat_window_days)
        earlier = list(session.exec(
            select(Mistake).where(Mistake.client_id == client.id, Mistake.category == category,
                                  col(Mistake.created_at) >= window_start)
            .order_by(col(Mistake.created_at))).all())
        prevention_due = prevention_due_at or calendar.end_of(
            calendar.add_business_days(calendar.local(now).date(), PREVENTION_LEAD_BUSINESS_DAYS))
        if prevention_due <= now:
            raise UserError("the prevention step's due date is in the past",
                            field="prevention_due", hint="give a later date")
        commitment = Promise(
            title=f"Prevention: {prevention}"[:500], client_id=client.id, owner_id=owner.id,
            made_at=now, due_at=prevention_due, original_due_at=prevention_due,
            source=Source.cli, raw_text=prevention, internal=True, next_check_at=now,
        )
        session.add(commitment)
        session.flush()
        mistake = Mistake(
            client_id=client.id, promise_id=promise_id, owner_id=owner.id, summary=summary,
            prevention=prevention, category=category, severity=severity,
            credit_amount=float(credit.amount) if credit else None,
            credit_currency=credit.currency if credit else None,
            credit_method=credit.method if credit else None,
            credit_basis=credit.basis if credit else None, fixed=fixed,
            repeat_of_id=earlier[0].id if earlier else None,
            prevention_promise_id=commitment.id, created_at=now,
        )
        session.add(mistake)
        session.flush()
        ledger.record(session, now=now, actor=actor, kind="mistake.logged",
                      promise_id=promise_id, mistake_id=mistake.id, category=category,
                      severity=severity, repeat=bool(earlier),
                      prevention_promise_id=commitment.id)
        note = None
        if earlier:
            note = (f"Repeat: mistake number {len(earlier) + 1} in category '{category}' for "
                    f"{client.name} within {settings.policy.mistake_repeat_window_days} days "
                    f"(first on {calendar.local(earlier[0].created_at):%d %b %Y}). "
                    "Make sure the prevention step is one that will hold.")
        draft = notices.create(
            session, settings, kind=NoticeKind.mistake_remediation,
            key=f"mistake_remediation:{mistake.id}",
            recipient=notices.client_recipient(client), client=client,
            context=compose.mistake_remediation(settings, mistake=mistake, client=client,
                                                owner=owner, fix_due_at=fix_due_at, now=now,
                                                about=promise.title if promise else None),
            now=now, created_by=actor, promise_id=promise_id, mistake_id=mistake.id,
            reply_to=owner.email, approver_note=note,
        )
        escalation = None
        if earlier:
            escalation = _escalate_repeat(session, ledger, mistake, client, owner,
                                          len(earlier) + 1, earlier[0].created_at, now, actor)
        return LoggedMistake(mistake, client, draft.id if draft else None, commitment.id or 0,
                             len(earlier), escalation, owner)


def _escalate_repeat(session: Session, ledger: Ledger, mistake: Mistake, client: Client,
                     owner: Member, occurrences: int, first_at: datetime, now: datetime,
                     actor: str) -> int | None:
    manager = session.get(Member, owner.manager_id) if owner.manager_id else None
    if manager is None:
        return None
    notice = notices.create(
        session, ledger.settings, kind=NoticeKind.escalation,
        key=f"escalation:mistake:{mistake.id}",
        recipient=notices.member_recipient(ledger.settings, manager), member_id=manager.id,
        context=compose.repeat_escalation(ledger.settings, mistake=mistake, client=client,
                                          owner=owner, manager=manager,
                                          occurrences=occurrences, first_at=first_at, now=now),
        now=now, created_by=actor, mistake_id=mistake.id,
    )
    return notice.id if notice else None


def mistakes(ledger: Ledger) -> list[tuple[Mistake, Client, Member]]:
    with ledger.session() as session:
        rows = session.exec(
            select(Mistake, Client, Member)
            .join(Client, col(Mistake.client_id) == Client.id)
            .join(Member, col(Mistake.owner_id) == Member.id)
            .order_by(col(Mistake.created_at).desc())
        ).all()
        return [(m, c, o) for m, c, o in rows]
