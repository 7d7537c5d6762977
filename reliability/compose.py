"""Render contexts for each kind of message, built from ledger rows.

`drafting` renders a context; this module decides what goes into it: who the message is
for, in which language and timezone, and which facts of the promise it states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from reliability.config import Settings
from reliability.drafting.reasons import reason_texts
from reliability.models import Client, Member, Mistake, Promise

# The signature's second line when `[team] name` is unset: visible to the owner at review.
TEAM_NAME_PLACEHOLDER = "[team name]"


# Who signs the messages the product sends the team itself (check-ins, escalations, digests).
PRODUCT = "Reliability"


def page_url(settings: Settings, path: str) -> str:
    """A page of the web app, as links in messages and feeds name it."""
    return f"{settings.web.base_url.rstrip('/')}{path}"


def promise_url(settings: Settings, promise_id: int | None) -> str:
    return page_url(settings, f"/promises/{promise_id}")


def notice_url(settings: Settings, notice_id: int | None) -> str:
    return page_url(settings, f"/drafts/{notice_id}")


def base_context(settings: Settings, *, timezone: str, now: datetime,
                 recipient: str | None, sender: str) -> dict[str, Any]:
    """What every message knows: whose clock, for whom, from whom, for which team."""
    return {
        "timezone": timezone,
        "now": now,
        "recipient_name": recipient,
        "sender_name": sender,
        "team_name": team_name(settings),
    }


def team_name(settings: Settings) -> str:
    """The team's name from `[team] name`; never the mail server's from-name, which is
    often a person's or the product's."""
    return (settings.team.name or "").strip() or TEAM_NAME_PLACEHOLDER


def member_locale(settings: Settings, member: Member) -> str:
    """The language a member reads: their own, else the team's (`[team] locale`)."""
    return member.locale or settings.team.locale


def member_greeting_name(settings: Settings, member: Member) -> str:
    """How a message to a colleague greets them: the first name ("Hi Alice,"), the full
    name in Chinese (陈梅，您好), where a given name alone would read oddly."""
    name = member.name.strip()
    if member_locale(settings, member) == "zh" or not name:
        return name
    return name.split()[0]


def promise_view(settings: Settings, promise: Promise, client: Client,
                 owner: Member) -> dict[str, Any]:
    return {
        "id": str(promise.id),
        "title": promise.title,
        "client_name": client.name,
        "owner_name": owner.name,
        "due_at": promise.due_at,
        "url": promise_url(settings, promise.id),
    }


def client_greeting_name(client: Client) -> str | None:
    """How a letter greets the client's contact: their greeting form if set ("Dr Reed",
    "王经理"), else the first name in English and Swedish and the name as written in Chinese;
    None (the locale's neutral greeting) without a contact. Never the company's name."""
    if client.greeting and client.greeting.strip():
        return client.greeting.strip()
    contact = (client.contact_name or "").strip()
    if not contact:
        return None
    return contact if client.locale == "zh" else contact.split()[0]


def letter_context(settings: Settings, *, client: Client, owner: Member,
                   now: datetime) -> dict[str, Any]:
    """What every client letter knows besides `base_context`: how a Swedish letter addresses
    the client (ni or du) and the owner's own signature, which replaces their name and the
    team's name under the closing when they have set one."""
    signature = (owner.signature or "").strip()
    return {
        **base_context(settings, timezone=client.timezone, now=now,
                       recipient=client_greeting_name(client), sender=owner.name),
        "address": client.address,
        "signature_lines": signature.splitlines() if signature else None,
    }


def delay_notice(settings: Settings, *, promise: Promise, client: Client, owner: Member,
                 new_due_at: datetime, reason: str | None, interim: str | None,
                 now: datetime, progress: float | None = None,
                 waiting_for: str | None = None) -> dict[str, Any]:
    """A delay notice's context; `reason` is client-facing text only, never a team note.
    Without one the letter states what is known (what is late, how far along, the new date)."""
    return {
        **letter_context(settings, client=client, owner=owner, now=now),
        "promise": promise_view(settings, promise, client, owner),
        "reason": reason.strip() if reason and reason.strip() else None,
        "new_due_at": new_due_at,
        "interim": interim,
        "progress": progress,
        "waiting_for": waiting_for,
    }


def promise_confirmation(settings: Settings, *, promise: Promise, client: Client,
                         owner: Member, now: datetime) -> dict[str, Any]:
    return {
        **letter_context(settings, client=client, owner=owner, now=now),
        "promise": promise_view(settings, promise, client, owner),
        "details": None,
    }


def checkin_request(settings: Settings, *, promise: Promise, client: Client, owner: Member,
                    now: datetime) -> dict[str, Any]:
    return {
        **base_context(settings, timezone=owner.timezone, now=now,
                       recipient=member_greeting_name(settings, owner), sender=PRODUCT),
        "promise": promise_view(settings, promise, client, owner),
        "checkin_url": promise_url(settings, promise.id),
    }


def risk_escalation(settings: Settings, *, promise: Promise, client: Client, owner: Member,
                    manager: Member, p_late: float, reasons: Sequence[Mapping[str, Any]],
                    notice_by: datetime, draft_id: int | None, now: datetime) -> dict[str, Any]:
    """An escalation's context, its reasons in the manager's language and timezone."""
    return {
        **base_context(settings, timezone=manager.timezone, now=now,
                       recipient=member_greeting_name(settings, manager), sender=PRODUCT),
        "risk": {
            "promise": promise_view(settings, promise, client, owner),
            "p_late": p_late,
            "reasons": reason_texts(reasons, member_locale(settings, manager),
                                    timezone=manager.timezone, now=now),
            "notice_by": notice_by,
            "draft_url": notice_url(settings, draft_id),
        },
        "mistake": None,
    }


def repeat_escalation(settings: Settings, *, mistake: Mistake, client: Client, owner: Member,
                      manager: Member, occurrences: int, first_at: datetime,
                      now: datetime) -> dict[str, Any]:
    return {
        **base_context(settings, timezone=manager.timezone, now=now,
                       recipient=member_greeting_name(settings, manager), sender=PRODUCT),
        "risk": None,
        "mistake": {
            "summary": mistake.summary,
            "client_name": client.name,
            "owner_name": owner.name,
            "occurrences": occurrences,
            "first_at": first_at,
            "url": f"{settings.web.base_url.rstrip('/')}/mistakes/{mistake.id}",
        },
    }


def mistake_remediation(settings: Settings, *, mistake: Mistake, client: Client, owner: Member,
                        fix_due_at: datetime | None, now: datetime,
                        about: str | None = None) -> dict[str, Any]:
    """A mistake note's context; `about` is the title of the promise it concerns, if any."""
    credit = None
    if mistake.credit_amount is not None and mistake.credit_currency:
        credit = {"amount": Decimal(str(mistake.credit_amount)),
                  "currency": mistake.credit_currency,
                  "method": mistake.credit_method, "basis": mistake.credit_basis}
    return {
        **letter_context(settings, client=client, owner=owner, now=now),
        "mistake": {
            "about": about,
            "summary": mistake.summary,
            # True only when someone said it is corrected; None: not said, nor by when.
            "fixed": True if mistake.fixed else (False if fix_due_at is not None else None),
            "fix_due_at": fix_due_at,
            "prevention": mistake.prevention,
        },
        "credit": credit,
    }


def request_acknowledgement(settings: Settings, *, summary: str, received_at: datetime,
                            reply_by: datetime, client: Client, owner: Member,
                            now: datetime) -> dict[str, Any]:
    return {
        **letter_context(settings, client=client, owner=owner, now=now),
        "request": {"summary": summary, "received_at": received_at},
        "reply_by": reply_by,
    }
