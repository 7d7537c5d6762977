"""The context each kind of message receives: the keys its templates may use, as TypedDicts.

The kinds and locales a message can be written in are named here too, so that rendering,
samples and callers agree on them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from reliability.vocabulary import CheckInStatus, Locale, NoticeKind

KINDS: tuple[str, ...] = (
    NoticeKind.delay_notice,
    NoticeKind.mistake_remediation,
    NoticeKind.promise_confirmation,
    NoticeKind.request_acknowledgement,
    NoticeKind.checkin_request,
    NoticeKind.escalation,
    NoticeKind.digest,
    NoticeKind.webhook_disabled,
)
# Messages to the team rather than to a client: they name the zone beside every time.
STAFF_KINDS: frozenset[str] = frozenset({NoticeKind.checkin_request, NoticeKind.escalation,
                                         NoticeKind.digest, NoticeKind.webhook_disabled})
LOCALES: tuple[str, ...] = (Locale.en, Locale.zh, Locale.sv)
# Slack buttons a check-in request carries: action_id is f"checkin_{status}", value the promise id.
CHECKIN_STATUSES: tuple[str, ...] = tuple(CheckInStatus)
# How a credit reaches the client, and what it is for (CreditView.method and .basis).
CREDIT_METHODS: tuple[str, ...] = ("credit_note", "refund", "reissued_invoice")
CREDIT_BASES: tuple[str, ...] = ("overcharge", "goodwill")


def check_names(kind: str, locale: str) -> None:
    """A ValueError naming the choices for a kind or locale no template is written for."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}: choose from {', '.join(KINDS)}")
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}: choose from {', '.join(LOCALES)}")


# Every kind gets BaseContext. Datetimes are timezone-aware; the `date` and `datetime`
# filters show them in `timezone`, the recipient's zone. `str | None` keys are always
# present; None means "leave that part out".


class BaseContext(TypedDict):
    timezone: str  # the recipient's IANA zone, e.g. "Europe/Stockholm"
    now: datetime  # when the draft is made; dates in another year than this one show the year
    # How the reader is greeted: a first name or a title form ("Dana", "Dr Reed", "王经理").
    # None for a client with no contact: the letter opens with the locale's neutral greeting.
    recipient_name: str | None
    sender_name: str  # who signs: the promise's owner for clients, the product for staff
    team_name: str  # the team's own name, second line of the signature


class ClientLetterContext(BaseContext):
    address: str  # how a Swedish letter addresses the client: "ni" or "du"
    # The owner's own signature lines, which replace sender_name and team_name; None: those.
    signature_lines: list[str] | None


class PromiseItem(TypedDict):
    id: str
    title: str
    client_name: str
    owner_name: str
    due_at: datetime
    url: str  # the promise's page in the web app (staff messages only)


class DelayNoticeContext(ClientLetterContext):
    promise: PromiseItem
    # Why, in the client's language and written for the client: sentences, or a few words
    # naming the cause ("illness"). None: the letter says only what is known.
    reason: str | None
    new_due_at: datetime
    interim: str | None  # full sentence(s): what the client gets meanwhile
    progress: float | None  # share done at the latest check-in, 0 to 1
    # What the client still has to send ("the October returns data"): the letter asks for
    # it and makes the new date depend on it.
    waiting_for: str | None


class MistakeView(TypedDict):
    about: str | None  # the deliverable it concerns, for the subject line
    summary: str  # what went wrong, one or two sentences
    # True: someone said it is corrected. False: it will be, by fix_due_at. None: nobody
    # has said either, so the letter claims neither.
    fixed: bool | None
    fix_due_at: datetime | None  # set when fixed is False
    prevention: str  # what the team does from now on so it does not happen again


class CreditView(TypedDict):
    amount: Decimal
    currency: str  # ISO 4217, e.g. "SEK"
    method: str | None  # "credit_note", "refund" or "reissued_invoice"; None: not decided
    basis: str | None  # "overcharge" (money back) or "goodwill" (on top); None: not said


class MistakeRemediationContext(ClientLetterContext):
    mistake: MistakeView
    credit: CreditView | None  # only an approved credit


class PromiseConfirmationContext(ClientLetterContext):
    promise: PromiseItem
    details: str | None  # what exactly is included, if worth restating


class RequestView(TypedDict):
    summary: str
    received_at: datetime


class RequestAcknowledgementContext(ClientLetterContext):
    request: RequestView
    reply_by: datetime


class CheckinRequestContext(BaseContext):
    promise: PromiseItem
    checkin_url: str


class RiskEscalation(TypedDict):
    promise: PromiseItem
    p_late: float
    reasons: list[str]
    notice_by: datetime
    draft_url: str  # the delay notice awaiting approval


class RepeatedMistake(TypedDict):
    summary: str
    client_name: str
    owner_name: str
    occurrences: int
    first_at: datetime
    url: str


class EscalationContext(BaseContext):
    risk: RiskEscalation | None  # exactly one of risk and mistake is set
    mistake: RepeatedMistake | None


class DraftItem(TypedDict):
    kind: str  # one of KINDS
    subject: str
    client_name: str
    send_by: datetime | None
    url: str


class EscalationItem(TypedDict):
    summary: str
    url: str


class DeadDeliveryItem(TypedDict):
    subject: str
    recipient: str
    channel: str  # "email" or "slack"
    error: str
    url: str


class Decisions(TypedDict):
    drafts: list[DraftItem]
    escalations: list[EscalationItem]
    dead_deliveries: list[DeadDeliveryItem]


class RiskItem(TypedDict):
    promise: PromiseItem
    p_late: float
    reasons: list[str]
    overdue: bool


class CheckinItem(TypedDict):
    promise: PromiseItem
    asked_at: datetime


class UnassessedItem(TypedDict):
    promise: PromiseItem
    reason: str  # an AssessError code: date_out_of_range, unknown_calendar or unexpected


class MistakeItem(TypedDict):
    summary: str
    client_name: str
    owner_name: str
    occurred_at: datetime
    repeat: bool


class Beyond(TypedDict):
    """What a digest section holds beyond the items it lists."""

    count: int  # how many more; 0 when it lists them all
    url: str | None  # the page that lists them all; None where no page does


class DigestMore(TypedDict):
    drafts: Beyond
    escalations: Beyond
    dead_deliveries: Beyond
    at_risk: Beyond
    due_soon: Beyond
    unanswered_checkins: Beyond
    unassessed: Beyond
    mistakes: Beyond


class MonthStats(TypedDict):
    promises_due: int
    on_time_rate: float | None  # None when nothing was due
    proactive_notice_rate: float | None  # of late promises, the share with notice before due
    median_notice_lead_days: float | None  # business days between notice and original due


class ReliabilityView(TypedDict):
    this_month: MonthStats
    last_month: MonthStats


class DigestContext(BaseContext):
    all_clear: bool  # nothing needs attention: render a single all-clear line
    decisions: Decisions
    at_risk: list[RiskItem]  # at-risk and overdue promises, worst first
    due_soon: list[PromiseItem]  # due in the next 5 business days
    unanswered_checkins: list[CheckinItem]
    unassessed: list[UnassessedItem]  # open promises the scan could not assess, and why
    mistakes: list[MistakeItem]  # this week
    # Each list above holds at most `[digest] items_per_section`, worst or soonest first;
    # what each section holds beyond them, and where to read it all.
    more: DigestMore
    reliability: ReliabilityView | None


class DisabledEndpoint(TypedDict):
    url: str
    failures: int  # deliveries given up on in a row
    last_error: str  # what went wrong with the last one, as the outbox recorded it


class WebhookDisabledContext(BaseContext):
    """To an admin: an endpoint was switched off after failing too often."""

    endpoint: DisabledEndpoint
    webhooks_url: str  # the webhooks page, where it is switched on again


CONTEXTS: dict[str, type] = {
    NoticeKind.delay_notice: DelayNoticeContext,
    NoticeKind.mistake_remediation: MistakeRemediationContext,
    NoticeKind.promise_confirmation: PromiseConfirmationContext,
    NoticeKind.request_acknowledgement: RequestAcknowledgementContext,
    NoticeKind.checkin_request: CheckinRequestContext,
    NoticeKind.escalation: EscalationContext,
    NoticeKind.digest: DigestContext,
    NoticeKind.webhook_disabled: WebhookDisabledContext,
}
