"""The product's words: every status, level, kind and name that the core, the storage and
the interfaces share. Pure: it imports nothing from the product, so anything may import it.

The values are what the database stores and the API shows; renaming one needs a migration.
"""

from __future__ import annotations

from enum import StrEnum


class Locale(StrEnum):
    en = "en"
    zh = "zh"
    sv = "sv"


class Address(StrEnum):
    """How a Swedish letter addresses the client: the polite plural ni, or the familiar du."""

    ni = "ni"
    du = "du"


class DeliveryChannel(StrEnum):
    email = "email"
    slack = "slack"


class Role(StrEnum):
    member = "member"
    manager = "manager"
    admin = "admin"


class TokenScope(StrEnum):
    """What a service token may do: read everything its creator may see, or change it too."""

    read = "read"
    write = "write"


class PromiseStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class Source(StrEnum):
    """Where a promise or a mistake was captured."""

    cli = "cli"
    slack = "slack"
    web = "web"
    api = "api"
    rule = "rule"
    # Found in a conversation and confirmed by a person (reliability.commitments):
    slack_shortcut = "slack_shortcut"  # "Log as promise" on a Slack message
    slack_watch = "slack_watch"  # suggested from a watched Slack channel
    email = "email"  # suggested from client mail (`reliability inbox`)
    notes = "notes"  # found in meeting notes (`promise extract`, the web's Paste notes)


class SuggestionStatus(StrEnum):
    offered = "offered"
    accepted = "accepted"
    declined = "declined"  # "Not a promise": remembered, the words forgotten
    expired = "expired"  # nobody answered in time: the words forgotten


class CheckInStatus(StrEnum):
    on_track = "on_track"
    at_risk = "at_risk"
    blocked = "blocked"
    done = "done"


class RiskLevel(StrEnum):
    """An open promise's level; a promise reported done is assessed at `CheckInStatus.done`."""

    on_track = "on_track"
    watch = "watch"
    at_risk = "at_risk"
    overdue = "overdue"


class NextAction(StrEnum):
    """What an assessment asks the scan to do next."""

    checkin = "checkin"
    delay_notice = "delay_notice"
    escalate = "escalate"
    none = "none"


class Evidence(StrEnum):
    """Whose history a forecast rests on."""

    owner = "owner"
    team = "team"
    prior = "prior"


class AssessError(StrEnum):
    """Why the scan could not assess a promise."""

    date_out_of_range = "date_out_of_range"  # a moment too far out to compute with
    unknown_calendar = "unknown_calendar"  # the client's timezone or country is unknown
    unexpected = "unexpected"  # anything else: the log has the details


class NoticeKind(StrEnum):
    delay_notice = "delay_notice"
    mistake_remediation = "mistake_remediation"
    promise_confirmation = "promise_confirmation"
    request_acknowledgement = "request_acknowledgement"
    checkin_request = "checkin_request"
    escalation = "escalation"
    digest = "digest"
    draft_offer = "draft_offer"  # a draft shown to its owner in Slack, with Send / Edit
    webhook = "webhook"  # one event POSTed to one registered endpoint (reliability.webhooks)
    webhook_disabled = "webhook_disabled"  # tells the admins an endpoint was switched off
    # A promise found in mail, put to its author (Slack DM or email) with Log / Not a promise
    suggestion_offer = "suggestion_offer"


# The kinds a client reads; the rest go to the team.
CLIENT_KINDS = frozenset({
    NoticeKind.delay_notice,
    NoticeKind.mistake_remediation,
    NoticeKind.promise_confirmation,
    NoticeKind.request_acknowledgement,
})


class WebhookEvent(StrEnum):
    """The events an endpoint may subscribe to, as receivers see them in `type`."""

    promise_created = "promise.created"
    promise_at_risk = "promise.at_risk"
    promise_overdue = "promise.overdue"
    promise_done = "promise.done"
    promise_moved = "promise.moved"
    notice_sent = "notice.sent"
    notice_dead = "notice.dead"
    mistake_logged = "mistake.logged"


class NoticeStatus(StrEnum):
    draft = "draft"
    approved = "approved"
    queued = "queued"
    sending = "sending"
    retry = "retry"
    sent = "sent"
    dead = "dead"
    cancelled = "cancelled"


class Severity(StrEnum):
    minor = "minor"
    major = "major"
