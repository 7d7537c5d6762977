"""Outgoing webhooks: the endpoints admins register, and what their deliveries' outcomes do.

Deliveries are rows of the outbox (`Notice`, kind `webhook`, channel `webhook`), made by
`webhook_events` in the transaction of the change they report and sent by the same claim,
lease, retry and attempt code as every email and Slack message (`reliability.outbox`),
through `channels.webhook`. This module adds only what is particular to webhooks: who may
register an endpoint and where it may point, its secret, and the rule that switches off an
endpoint after `[webhooks] disable_after` deliveries in a row were given up on, telling
the admins by email.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from reliability import compose, limits, notices
from reliability.access import Actor, require_admin
from reliability.channels.webhook import addresses_refusal, url_refusal
from reliability.config import Settings
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import (
    Member,
    Notice,
    NoticeAttempt,
    NoticeKind,
    NoticeStatus,
    Role,
    WebhookEndpoint,
)
from reliability.vocabulary import DeliveryChannel, WebhookEvent

SECRET_PREFIX = "whsec_"
ACTOR = "webhooks"
EVENTS: tuple[str, ...] = tuple(WebhookEvent)
ALL = "all"
PENDING = (NoticeStatus.queued, NoticeStatus.retry)


@dataclass(frozen=True)
class EndpointView:
    id: int
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    failures_in_a_row: int
    disabled_reason: str | None
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointView:
        return cls(endpoint.id or 0, endpoint.url, list(endpoint.events), endpoint.description,
                   endpoint.enabled, endpoint.failures_in_a_row, endpoint.disabled_reason,
                   endpoint.created_at, endpoint.disabled_at)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "events": self.events,
                "description": self.description, "enabled": self.enabled,
                "failures_in_a_row": self.failures_in_a_row,
                "disabled_reason": self.disabled_reason,
                "created_at": self.created_at.isoformat(),
                "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None}


@dataclass(frozen=True)
class Registered:
    """An endpoint and its secret: the one time the secret is shown."""

    endpoint: EndpointView
    secret: str


@dataclass(frozen=True)
class Delivery:
    """One event sent (or being sent) to one endpoint, with every try at it."""

    notice: Notice
    attempts: list[NoticeAttempt]


# -- commands ---------------------------------------------------------------------------


def add_endpoint(ledger: Ledger, actor: Actor, *, url: str, events: Sequence[str],
                 now: datetime, description: str | None = None) -> Registered:
    """Register a URL for some events; its signing secret is made here and returned once.
    The URL is checked (and its host resolved) before the transaction opens."""
    ledger.read(require_admin, actor, "manage webhooks")
    url = check_url(url, ledger.settings)
    wanted = check_events(events)
    limits.optional_text(description, "webhook description", "description")
    secret = new_secret()
    with ledger.transaction() as session:
        require_admin(session, actor, "manage webhooks")
        endpoint = WebhookEndpoint(url=url, events=wanted, secret=secret,
                                   description=(description or "").strip() or None,
                                   created_by=actor.label, created_at=now)
        session.add(endpoint)
        session.flush()
        ledger.record(session, now=now, actor=actor.label, kind="webhook.added",
                      endpoint_id=endpoint.id, url=url, events=wanted)
        return Registered(EndpointView.of(endpoint), secret)


def rotate_secret(ledger: Ledger, actor: Actor, endpoint_id: int, *,
                  now: datetime) -> Registered:
    """A new secret at once: every delivery from now on, retries included, is signed with it."""
    secret = new_secret()
    with ledger.transaction() as session:
        endpoint = _endpoint(session, actor, endpoint_id)
        endpoint.secret = secret
        session.add(endpoint)
        ledger.record(session, now=now, actor=actor.label, kind="webhook.secret_rotated",
                      endpoint_id=endpoint.id)
        return Registered(EndpointView.of(endpoint), secret)


def set_enabled(ledger: Ledger, actor: Actor, endpoint_id: int, enabled: bool, *,
                now: datetime) -> EndpointView:
    """Switch an endpoint on (its failure count starts again) or off (its queued deliveries
    are called off; events while it is off are not kept for it)."""
    with ledger.transaction() as session:
        endpoint = _endpoint(session, actor, endpoint_id)
        if enabled == endpoint.enabled:
            return EndpointView.of(endpoint)
        if enabled:
            endpoint.enabled, endpoint.failures_in_a_row = True, 0
            endpoint.disabled_at, endpoint.disabled_reason = None, None
            session.add(endpoint)
            ledger.record(session, now=now, actor=actor.label, kind="webhook.enabled",
                          endpoint_id=endpoint.id)
        else:
            _disable(session, endpoint, reason=f"switched off by {actor.label}", now=now,
                     actor=actor.label)
        return EndpointView.of(endpoint)


def remove_endpoint(ledger: Ledger, actor: Actor, endpoint_id: int, *,
                    now: datetime) -> EndpointView:
    """Stop sending to an endpoint for good; its deliveries stay in the history."""
    with ledger.transaction() as session:
        endpoint = _endpoint(session, actor, endpoint_id)
        cancelled = _call_off(session, endpoint, "the endpoint was removed")
        endpoint.enabled, endpoint.removed_at = False, now
        session.add(endpoint)
        ledger.record(session, now=now, actor=actor.label, kind="webhook.removed",
                      endpoint_id=endpoint.id, url=endpoint.url, deliveries_cancelled=cancelled)
        return EndpointView.of(endpoint)


# -- reads ------------------------------------------------------------------------------


def endpoints(session: Session, actor: Actor) -> list[EndpointView]:
    """The registered endpoints, oldest first; removed ones are left out."""
    require_admin(session, actor, "manage webhooks")
    rows = session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.removed_at).is_(None))
                        .order_by(col(WebhookEndpoint.id))).all()
    return [EndpointView.of(row) for row in rows]


def recent_deliveries(session: Session, actor: Actor, endpoint_id: int,
                      limit: int = 20) -> tuple[EndpointView, list[Delivery]]:
    """An endpoint and its latest deliveries, newest first, each with its attempts."""
    endpoint = _endpoint(session, actor, endpoint_id)
    rows = list(session.exec(select(Notice).where(Notice.webhook_endpoint_id == endpoint.id)
                             .order_by(col(Notice.id).desc()).limit(limit)).all())
    tries: dict[int, list[NoticeAttempt]] = {}
    if rows:
        for attempt in session.exec(select(NoticeAttempt).where(
                col(NoticeAttempt.notice_id).in_([row.id for row in rows]))
                .order_by(col(NoticeAttempt.id))).all():
            tries.setdefault(attempt.notice_id, []).append(attempt)
    return EndpointView.of(endpoint), [Delivery(row, tries.get(row.id or 0, [])) for row in rows]


# -- the outbox's side ------------------------------------------------------------------


def signing_key(session: Session, notice: Notice) -> str | None:
    """The secret a delivery is signed with now; None when its endpoint is off or removed,
    or has no secret (an imported one, until it is given a new secret)."""
    if notice.webhook_endpoint_id is None:
        return None
    endpoint = session.get(WebhookEndpoint, notice.webhook_endpoint_id)
    if endpoint is None or not endpoint.enabled or endpoint.removed_at is not None:
        return None
    return endpoint.secret or None


def delivered(session: Session, notice: Notice) -> None:
    """A delivery arrived: the endpoint's run of failures is over."""
    endpoint = _of(session, notice)
    if endpoint is not None and endpoint.failures_in_a_row:
        endpoint.failures_in_a_row = 0
        session.add(endpoint)


def gave_up(session: Session, settings: Settings, notice: Notice, *, now: datetime) -> None:
    """A delivery was given up on. At `[webhooks] disable_after` in a row the endpoint is
    switched off, and each admin gets an email through the outbox, in their language."""
    endpoint = _of(session, notice)
    if endpoint is None or not endpoint.enabled:
        return
    endpoint.failures_in_a_row += 1
    session.add(endpoint)
    limit = settings.webhooks.disable_after
    if endpoint.failures_in_a_row < limit:
        return
    reason = (f"{endpoint.failures_in_a_row} deliveries in a row failed; the last: "
              f"{notice.last_error}")
    _disable(session, endpoint, reason=reason, now=now, actor=ACTOR)
    admins = session.exec(select(Member).where(Member.role == Role.admin,
                                               col(Member.removed_at).is_(None))
                          .order_by(col(Member.id))).all()
    for admin in admins:
        notices.create(
            session, settings, kind=NoticeKind.webhook_disabled,
            key=f"webhook_disabled:{endpoint.id}:{notices.key_moment(now)}:{admin.id}",
            recipient=notices.Recipient(DeliveryChannel.email, admin.email, admin.name,
                                        compose.member_locale(settings, admin)),
            context={
                **compose.base_context(settings, timezone=admin.timezone, now=now,
                                       recipient=admin.name, sender=compose.PRODUCT),
                "endpoint": {"url": endpoint.url, "failures": endpoint.failures_in_a_row,
                             "last_error": notice.last_error or ""},
                "webhooks_url": f"{settings.web.base_url.rstrip('/')}/webhooks",
            },
            now=now, created_by=ACTOR, member_id=admin.id)


# -- rules ------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def check_url(url: str, settings: Settings) -> str:
    """A URL events may go to: https (http only where allowed) on a host whose every
    address is public (private ones only where allowed); see [webhooks] in the settings."""
    url = limits.text(url, "webhook URL", "url").strip()
    hint = "e.g. https://hooks.example.com/reliability"
    if not url:
        raise UserError("the webhook URL is empty", field="url", hint=hint)
    refusal = url_refusal(url, settings.webhooks)
    if refusal is None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            refusal = f"its host {host!r} could not be resolved ({exc})"
        else:
            refusal = addresses_refusal(host, [str(info[4][0]) for info in found],
                                        settings.webhooks)
    if refusal is not None:
        raise UserError(f"{url!r} cannot receive events: {refusal}", field="url", hint=hint)
    return url


def check_events(events: Sequence[str]) -> list[str]:
    chosen = {event.strip() for event in events if event.strip()}
    if ALL in chosen:
        return list(EVENTS)
    unknown = sorted(chosen - set(EVENTS))
    if unknown or not chosen:
        what = f"unknown event {', '.join(map(repr, unknown))}" if unknown else "no events"
        raise UserError(what, field="events",
                        hint=f"choose from {', '.join(EVENTS)}, or {ALL!r}")
    return [event for event in EVENTS if event in chosen]


def _endpoint(session: Session, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    require_admin(session, actor, "manage webhooks")
    endpoint = session.get(WebhookEndpoint, limits.identifier(endpoint_id, "webhook", "webhook"))
    if endpoint is None or endpoint.removed_at is not None:
        raise UserError(f"there is no webhook #{endpoint_id}", field="webhook",
                        hint="`reliability webhook list` shows the ones that exist")
    return endpoint


def _of(session: Session, notice: Notice) -> WebhookEndpoint | None:
    if notice.kind != NoticeKind.webhook or notice.webhook_endpoint_id is None:
        return None
    return session.get(WebhookEndpoint, notice.webhook_endpoint_id)


def _disable(session: Session, endpoint: WebhookEndpoint, *, reason: str, now: datetime,
             actor: str) -> None:
    cancelled = _call_off(session, endpoint, "the endpoint was switched off")
    endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
    session.add(endpoint)
    Ledger.record(session, now=now, actor=actor, kind="webhook.disabled",
                  endpoint_id=endpoint.id, reason=reason, deliveries_cancelled=cancelled)


def _call_off(session: Session, endpoint: WebhookEndpoint, reason: str) -> int:
    """Cancel the endpoint's deliveries still waiting for a try; a try under way finishes."""
    waiting = session.exec(select(Notice).where(Notice.webhook_endpoint_id == endpoint.id,
                                                col(Notice.status).in_(PENDING))).all()
    for notice in waiting:
        notice.status, notice.cancel_reason, notice.next_attempt_at = (
            NoticeStatus.cancelled, reason, None)
        session.add(notice)
    return len(waiting)

