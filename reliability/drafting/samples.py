"""Realistic data for previews and `reliability templates check`: one client per locale, in
that client's zone and language (`sample_data/<locale>.json`). The promise is due on Friday
20 November 2026 and the draft is made on the Wednesday before, as the product intends."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from reliability.calendar import zone
from reliability.drafting.contexts import (
    CREDIT_BASES,
    CREDIT_METHODS,
    STAFF_KINDS,
    Beyond,
    CheckinItem,
    CreditView,
    DeadDeliveryItem,
    Decisions,
    DigestMore,
    DisabledEndpoint,
    DraftItem,
    EscalationItem,
    MistakeItem,
    MistakeView,
    MonthStats,
    PromiseItem,
    ReliabilityView,
    RepeatedMistake,
    RequestView,
    RiskEscalation,
    RiskItem,
    UnassessedItem,
    check_names,
)
from reliability.drafting.reasons import reason_texts
from reliability.vocabulary import Address, DeliveryChannel, NoticeKind

SAMPLE_DATA = Path(__file__).resolve().parent / "sample_data"


def sample_context(kind: str, locale: str) -> dict[str, Any]:
    """Exactly the keys the kind's context declares, filled with one locale's sample data."""
    return variants(kind, locale)[0]


@functools.cache
def _words(locale: str) -> dict[str, Any]:
    """The locale's sample client: its zone and the words its messages are about."""
    words: dict[str, Any] = json.loads((SAMPLE_DATA / f"{locale}.json").read_text("utf-8"))
    return words


def variants(kind: str, locale: str) -> list[dict[str, Any]]:
    """The sample context of `kind` first, then variants that take the other branches."""
    found = _kind_variants(kind, locale)
    if kind in STAFF_KINDS:
        return found
    # A client addressed as du, written by an owner who signs with their own lines.
    words = _words(locale)
    return [*found, {**found[0], "address": Address.du,
                     "signature_lines": [words["owner"], "Account Director", words["team"]]}]


def _kind_variants(kind: str, locale: str) -> list[dict[str, Any]]:
    check_names(kind, locale)
    words = _words(locale)
    tz = zone(words["timezone"])

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=tz)

    def promise(number: int, title: str, day: int) -> PromiseItem:
        return PromiseItem(
            id=str(number),
            title=title,
            client_name=words["client"],
            owner_name=words["owner"],
            due_at=at(day, 17),
            url=f"https://reliability.example.com/promises/{number}",
        )

    staff = kind in STAFF_KINDS
    base: dict[str, Any] = {
        "timezone": words["timezone"],
        "now": at(18, 10),
        "recipient_name": {
            NoticeKind.checkin_request: words["owner_first"],
            NoticeKind.escalation: words["manager"],
            NoticeKind.digest: words["manager"],
            NoticeKind.webhook_disabled: words["manager"],
        }.get(kind, words["recipient"]),
        "sender_name": "Reliability" if staff else words["owner"],
        "team_name": words["team"],
    }
    if not staff:
        base.update(address=Address.ni, signature_lines=None)
    report = promise(42, words["title"], 20)
    # Risk reasons as the scan stores them, worded by the one function every reader sees.
    reasons = reason_texts([
        {"code": "progress", "done": 20, "time_left": 25, "at": at(17, 16).isoformat()},
        {"code": "reported_status", "owner": words["owner"], "status": "at_risk",
         "at": at(17, 11).isoformat(), "days_ago": None, "note": None},
        {"code": "track_record", "whose": "owner", "owner": words["owner"], "count": 8,
         "late": 3, "broken": 0, "median_late_hours": 12.0, "hours_per_day": 8.0},
        {"code": "crowded", "owner": words["owner"], "others": 3, "by": at(20, 17).isoformat()},
    ], locale, timezone=words["timezone"], now=at(18, 10))
    words = {**words, "reasons": reasons}
    if kind == NoticeKind.delay_notice:
        full = {
            **base,
            "promise": report,
            "reason": words["reason"],
            "new_due_at": at(24, 17),
            "interim": words["interim"],
            "progress": 0.6,
            "waiting_for": None,
        }
        known_only = {**full, "reason": None, "interim": None, "recipient_name": None}
        return [
            full,
            {**full, "interim": None, "waiting_for": words["waiting_for"]},
            {**full, "reason": words["short_reason"]},
            known_only,
            {**known_only, "progress": None},
        ]
    if kind == NoticeKind.mistake_remediation:
        fixed = MistakeView(
            about=words["title"], summary=words["mistake"], fixed=True, fix_due_at=None,
            prevention=words["prevention"],
        )
        credit = CreditView(amount=Decimal("1250.00"), currency=words["currency"],
                            method="credit_note", basis="overcharge")
        full = {**base, "mistake": fixed, "credit": credit}
        pending = MistakeView(
            about=None,
            summary=words["mistake"],
            fixed=False,
            fix_due_at=at(20, 12),
            prevention=words["prevention"],
        )
        unknown = MistakeView(**{**pending, "fixed": None, "fix_due_at": None})
        variants = [full, {**full, "mistake": pending, "credit": None},
                    {**full, "mistake": unknown, "credit": None, "recipient_name": None}]
        for method in (*CREDIT_METHODS, None):
            for basis in (*CREDIT_BASES, None):
                variants.append({**full, "mistake": pending,
                                 "credit": {**credit, "method": method, "basis": basis}})
        return variants
    if kind == NoticeKind.promise_confirmation:
        full = {**base, "promise": report, "details": words["details"]}
        return [full, {**full, "details": None}]
    if kind == NoticeKind.request_acknowledgement:
        request = RequestView(summary=words["request"], received_at=at(18, 9, 12))
        return [{**base, "request": request, "reply_by": at(19, 12)}]
    if kind == NoticeKind.checkin_request:
        return [
            {
                **base,
                "promise": report,
                "checkin_url": "https://reliability.example.com/checkins/42",
            }
        ]
    if kind == NoticeKind.escalation:
        risk = RiskEscalation(
            promise=report,
            p_late=0.72,
            reasons=words["reasons"],
            notice_by=at(18, 17),
            draft_url="https://reliability.example.com/drafts/7",
        )
        repeated = RepeatedMistake(
            summary=words["mistake"],
            client_name=words["client"],
            owner_name=words["owner"],
            occurrences=3,
            first_at=datetime(2026, 6, 2, 11, tzinfo=tz),
            url="https://reliability.example.com/mistakes/12",
        )
        return [
            {**base, "risk": risk, "mistake": None},
            {**base, "risk": None, "mistake": repeated},
        ]
    if kind == NoticeKind.webhook_disabled:
        endpoint = DisabledEndpoint(url="https://hooks.example.com/reliability", failures=10,
                                    last_error="https://hooks.example.com/reliability "
                                               "answered HTTP 500")
        return [{**base, "endpoint": endpoint,
                 "webhooks_url": "https://reliability.example.com/webhooks"}]
    return _digest_samples(base, words, report, promise, at)


def _digest_samples(
    base: dict[str, Any],
    words: Mapping[str, Any],
    report: PromiseItem,
    promise: Callable[[int, str, int], PromiseItem],
    at: Callable[..., datetime],
) -> list[dict[str, Any]]:
    dashboard = promise(43, words["other_title"], 17)
    contracts = promise(44, words["third_title"], 24)
    full: dict[str, Any] = {
        **base,
        "all_clear": False,
        "decisions": Decisions(
            drafts=[
                DraftItem(
                    kind=NoticeKind.delay_notice,
                    subject=words["title"],
                    client_name=words["client"],
                    send_by=at(18, 17),
                    url="https://reliability.example.com/drafts/7",
                )
            ],
            escalations=[
                EscalationItem(
                    summary=words["escalation"], url="https://reliability.example.com/promises/42"
                )
            ],
            dead_deliveries=[
                DeadDeliveryItem(
                    subject=words["other_title"],
                    recipient="ops@acme.example",
                    channel=DeliveryChannel.email,
                    error=words["dead_error"],
                    url="https://reliability.example.com/outbox/91",
                )
            ],
        ),
        "at_risk": [
            RiskItem(promise=report, p_late=0.72, reasons=words["reasons"][:2], overdue=False),
            RiskItem(promise=dashboard, p_late=1.0, reasons=words["reasons"][2:], overdue=True),
        ],
        "due_soon": [report, contracts],
        "unanswered_checkins": [CheckinItem(promise=contracts, asked_at=at(16, 9))],
        "unassessed": [UnassessedItem(promise=dashboard, reason="date_out_of_range")],
        "mistakes": [
            MistakeItem(
                summary=words["mistake"],
                client_name=words["client"],
                owner_name=words["owner"],
                occurred_at=at(17, 14),
                repeat=True,
            ),
        ],
        "more": _more(0),
        "reliability": ReliabilityView(
            this_month=MonthStats(
                promises_due=23,
                on_time_rate=0.913,
                proactive_notice_rate=0.5,
                median_notice_lead_days=2.0,
            ),
            last_month=MonthStats(
                promises_due=20,
                on_time_rate=0.85,
                proactive_notice_rate=0.333,
                median_notice_lead_days=1.5,
            ),
        ),
    }
    empty = Decisions(drafts=[], escalations=[], dead_deliveries=[])
    first_month = ReliabilityView(
        this_month=MonthStats(
            promises_due=4,
            on_time_rate=1.0,
            proactive_notice_rate=None,
            median_notice_lead_days=None,
        ),
        last_month=MonthStats(
            promises_due=0,
            on_time_rate=None,
            proactive_notice_rate=None,
            median_notice_lead_days=None,
        ),
    )
    quiet = {
        **full,
        "decisions": empty,
        "at_risk": [],
        "due_soon": [],
        "unanswered_checkins": [],
        "unassessed": [],
        "mistakes": [],
        "reliability": first_month,
    }
    # A busy team's day: every section lists its first items and says how many more.
    busy = {**full, "more": _more(1234)}
    return [full, quiet, {**quiet, "all_clear": True, "reliability": None}, busy]


def _more(count: int) -> DigestMore:
    def beyond(page: str | None) -> Beyond:
        return Beyond(count=count, url=f"https://reliability.example.com{page}" if page else None)

    return DigestMore(drafts=beyond("/drafts"), escalations=beyond(None),
                      dead_deliveries=beyond("/drafts"), at_risk=beyond("/board"),
                      due_soon=beyond("/promises"), unanswered_checkins=beyond(None),
                      unassessed=beyond("/board"), mistakes=beyond("/mistakes"))
