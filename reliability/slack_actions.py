"""What each Slack command and button does: a thin caller of the service layer.

Synchronous and free of Slack I/O, so the Bolt listeners run these in a worker thread
and the tests call them directly. Each returns the Reply to show; bad input raises
UserError (or DeadlineError / CalendarError) with one message for the person.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from babel.numbers import format_percent

from reliability import capture, compose, drafts, limits, phrases, slack_views, suggestions
from reliability.access import Actor, owner_for, scope_for
from reliability.calendar import BusinessCalendar, CalendarError
from reliability.commitments import FindingKind
from reliability.deadlines import DeadlineError, Resolution, echo, resolve, resolve_due
from reliability.drafting import rendering
from reliability.drafting.rendering import zone_label
from reliability.drafts import DraftView
from reliability.errors import UserError
from reliability.ledger import Ledger, PromiseView
from reliability.mistakes import log_mistake
from reliability.models import (
    Client,
    Member,
    PromiseStatus,
    Source,
)
from reliability.phrases import say
from reliability.slack_commands import (
    Done,
    ListMine,
    ListTeam,
    LogMistake,
    Move,
    Proposal,
    Status,
    client_prefix,
    plain,
    seal,
)
from reliability.slack_views import Reply, text_reply

OFFERED_BY = "slack:app"  # who queues the offers of drafts
MAX_BUTTON_VALUE = 2000


@dataclass(frozen=True)
class SlackUser:
    """What users.info tells about a person."""

    id: str
    name: str
    email: str | None
    timezone: str | None
    locale: str | None = None  # one we write in, from Slack's language for this person

    @classmethod
    def from_api(cls, user: dict[str, Any]) -> SlackUser:
        profile = user.get("profile") or {}
        name = (profile.get("real_name") or user.get("real_name") or profile.get("display_name")
                or user.get("name") or user.get("id") or "")
        tag = user.get("locale")
        return cls(id=str(user.get("id", "")), name=str(name), email=profile.get("email"),
                   timezone=user.get("tz"),
                   locale=rendering.choose_locale(tag) if isinstance(tag, str) else None)


def actor_of(member: Member) -> Actor:
    return Actor(f"slack:{member.email}", member.id)


def reader_locale(ledger: Ledger, member: Member | None, slack_locale: str | None = None) -> str:
    """The language a Slack user reads: a member's own (else the team's); someone not
    matched to a member, Slack's language for them when known (what `enrol` would store as
    theirs), else `[team] locale`."""
    if member is not None:
        return compose.member_locale(ledger.settings, member)
    return phrases.language(slack_locale) if slack_locale else ledger.settings.team.locale


def due_text(moment: datetime, calendar: BusinessCalendar, now: datetime, locale: str) -> str:
    """A due moment in a reply, in the client's zone, which is named: 'Fri 20 Nov, 17:00
    (America/New_York)', 'fre 20 nov. kl. 17.00 (New York-tid)', '11月20日（周五）17:00
    （美国东部时间）'."""
    if phrases.language(locale) == "en":
        return echo(moment, calendar, now)
    zone = zone_label(calendar.timezone, locale)
    shown = phrases.when(moment, calendar.timezone, locale, now=now)
    return f"{shown}（{zone}）" if locale == "zh" else f"{shown} ({zone})"


# -- members ------------------------------------------------------------------------------


def enrol(ledger: Ledger, user: SlackUser, *, now: datetime, create: bool = False) -> Member:
    """The member behind a Slack user, linked by email on first use. Someone no admin has
    added is added only to own a promise they log themselves (`create`): until then they
    may change nothing and create nothing else.

    From then on their check-in requests and digests come to Slack, where they answer."""
    if not user.email:
        raise UserError(say(reader_locale(ledger, None, user.locale), "no_email", user=user.id))
    timezone = user.timezone if user.timezone and _known_zone(user.timezone) else None
    return ledger.link_slack_user(email=user.email, slack_user_id=user.id,
                                  name=user.name or user.email, timezone=timezone, now=now,
                                  actor=f"slack:{user.id}", create=create, locale=user.locale)


def _known_zone(name: str) -> bool:
    try:
        BusinessCalendar(name)
    except Exception:
        return False
    return True


# -- /promise <text>: understand, confirm, change the date, add the client --------------------


def understand(ledger: Ledger, text: str, *, owner_user_id: str, by_user_id: str,
               member: bool, now: datetime, secret: str, locale: str) -> Reply:
    """Echo what the line says, with buttons to confirm it; nothing is stored.

    `by_user_id` typed it; unless they are a `member` (matched to one) they may log only
    their own promise, and their echo shows nobody's record and nothing about which
    clients exist: see `_newcomer_echo`."""
    if not member:
        if owner_user_id != by_user_id:
            raise UserError(say(locale, "not_member", user=by_user_id), field="owner")
        return _newcomer_echo(ledger, text, owner_user_id=owner_user_id, now=now,
                              secret=secret, locale=locale)
    if owner_user_id != by_user_id:
        _may_log_for(ledger, owner_user_id, by_user_id)
    clients = ledger.clients()
    names = [client.name for client in clients]
    named = _named_client(text, clients)
    calendar = ledger.calendar_for(named)
    found = _with_title(resolve(text, now=now, calendar=calendar, client_names=names),
                        ledger, calendar, now, locale)
    if found.client is None and named is not None:  # a name inside a longer word
        found = resolve(text, now=now, calendar=ledger.calendar_for(), client_names=names)
    if found.client is None:
        if found.client_hint is None:
            raise UserError(say(locale, "which_client", title=found.title,
                                matched=found.matched, known=_known(names, locale)))
        proposal = Proposal(title=_without(found.title, found.client_hint), client=None,
                            due_at=found.due_at.isoformat(), owner_user_id=owner_user_id,
                            text=text, client_hint=found.client_hint)
        return slack_views.unknown_client(
            name=found.client_hint, title=proposal.title, locale=locale,
            due=due_text(found.due_at, ledger.calendar_for(), now, locale),
            sealed=_sealed(proposal, secret, locale))
    client = next(c for c in clients if c.name == found.client)
    if client is not named:
        calendar = ledger.calendar_for(client)
        found = resolve(text, now=now, calendar=calendar, client_names=names)
    proposal = Proposal(title=found.title, client=client.name, due_at=found.due_at.isoformat(),
                        owner_user_id=owner_user_id, text=text)
    alternatives = say(locale, "list_separator").join(
        due_text(moment, calendar, now, locale) for moment in found.alternatives)
    return _preview(
        ledger, proposal, calendar, now=now, secret=secret, locale=locale,
        ambiguous=say(locale, "ambiguous", matched=found.matched, alternatives=alternatives)
        if found.ambiguous else None)


def _may_log_for(ledger: Ledger, owner_user_id: str, by_user_id: str) -> None:
    """A colleague named as owner must be one the member may log for (`access.owner_for`),
    refused before the echo shows their record; one not linked to Slack yet has no record
    to show, and **Looks right** checks them once they are. The refusal names them as the
    author did, by their Slack mention, never by their email."""
    by, owner = ledger.member_by_slack_id(by_user_id), ledger.member_by_slack_id(owner_user_id)
    if by is not None and owner is not None:
        ledger.read(lambda session: owner_for(scope_for(session, actor_of(by)), owner,
                                              "log a promise", named=f"<@{owner_user_id}>"))


def _newcomer_echo(ledger: Ledger, text: str, *, owner_user_id: str, now: datetime,
                   secret: str, locale: str) -> Reply:
    """The echo for someone not a member yet: the line is read against no client names and
    in the team's time zone, and the forecast rests on no one's record (a rough guess), so
    it looks the same whether the client exists; Looks right checks the client."""
    calendar = ledger.calendar_for()
    found = _with_title(resolve(text, now=now, calendar=calendar, client_names=[]), ledger,
                        calendar, now, locale)
    if found.client_hint is None:
        raise UserError(say(locale, "which_client_newcomer", title=found.title,
                            matched=found.matched))
    proposal = Proposal(title=_without(found.title, found.client_hint),
                        client=found.client_hint, due_at=found.due_at.isoformat(),
                        owner_user_id=owner_user_id, text=text, newcomer=True)
    return _preview(ledger, proposal, calendar, now=now, secret=secret, locale=locale)


def _with_title(found: Resolution, ledger: Ledger, calendar: BusinessCalendar, now: datetime,
                locale: str) -> Resolution:
    """A line with what is promised and a deadline within the horizon."""
    limits.within_horizon(found.due_at, now, ledger.settings.policy.due_horizon_years)
    if not found.title:
        raise UserError(say(locale, "no_title", due=due_text(found.due_at, calendar, now,
                                                              locale)))
    return found


def _known(names: list[str], locale: str) -> str:
    """The first clients' names, for an error that asks which one (Chinese lists with 、)."""
    return say(locale, "list_separator").join(names[:10]) if names else say(locale, "none_yet")


def _preview(ledger: Ledger, proposal: Proposal, calendar: BusinessCalendar, *,
             now: datetime, secret: str, locale: str, ambiguous: str | None = None) -> Reply:
    """The echo with the forecast at capture, offering the likely day when it is later. It
    reads the owner's record as the owner's own: the sealed proposal exists only once
    `understand` let its author name them (`_may_log_for`); Looks right checks again."""
    assert proposal.client is not None
    owner = None if proposal.newcomer else ledger.member_by_slack_id(proposal.owner_user_id)
    made = (capture.rough_guess(ledger, due_at=proposal.due, now=now) if proposal.newcomer
            else capture.forecast(ledger, client_name=proposal.client,
                                  owner_email=owner.email if owner else None,
                                  due_at=proposal.due, now=now,
                                  actor=actor_of(owner) if owner else OFFERED_BY))
    later = made.suggested_due_at
    suggested = (capture.day(later, calendar, locale), _sealed(replace(
        proposal, due_at=later.isoformat(), asked_due_at=proposal.due_at), secret, locale)
    ) if later else None
    return slack_views.preview(
        title=proposal.title, client=proposal.client,
        due=due_text(proposal.due, calendar, now, locale), locale=locale,
        owner_user_id=proposal.owner_user_id, sealed=_sealed(proposal, secret, locale),
        ambiguous=ambiguous, suggested=suggested,
        forecast=capture.describe(made, owner_name=owner.name if owner else None,
                                  calendar=calendar, now=now, locale=locale))


def _named_client(text: str, clients: list[Client]) -> Client | None:
    """The longest client name in the text, a first guess that saves resolving twice."""
    folded = limits.name_key(text)
    named = [client for client in clients if client.name_key in folded]
    return max(named, key=lambda client: len(client.name_key)) if named else None


def confirm(ledger: Ledger, proposal: Proposal, *, owner: Member, by: Member,
            now: datetime) -> Reply:
    locale = reader_locale(ledger, by)
    if proposal.client is None:
        raise UserError(say(locale, "add_client_first"))
    view, _ = capture.log_promise(
        ledger, title=proposal.title, client_name=proposal.client, owner_email=owner.email,
        due_at=proposal.due, asked_due_at=proposal.asked, now=now, actor=actor_of(by),
        source=Source.slack, raw_text=proposal.text)
    calendar = ledger.calendar_for(view.client)
    who = say(locale, "you") if owner.id == by.id else f"<@{owner.slack_user_id}>"
    return text_reply(say(
        locale, "logged_promise", id=view.promise.id,
        title=slack_views.mrkdwn(view.promise.title), client=slack_views.mrkdwn(view.client.name),
        due=due_text(view.promise.due_at, calendar, now, locale), who=who))


def with_new_date(ledger: Ledger, proposal: Proposal, phrase: str, *, now: datetime,
                  secret: str, locale: str) -> Reply:
    """The same promise with the date the person typed in the Change date modal."""
    client = (_client(ledger, proposal.client) if proposal.client and not proposal.newcomer
              else None)
    calendar = ledger.calendar_for(client)
    due = limits.within_horizon(resolve_due(phrase, now=now, calendar=calendar), now,
                                ledger.settings.policy.due_horizon_years)
    changed = replace(proposal, due_at=due.isoformat())
    if client is None and not proposal.newcomer:
        return slack_views.unknown_client(name=proposal.client_hint or "?", title=proposal.title,
                                          due=due_text(due, calendar, now, locale),
                                          sealed=_sealed(changed, secret, locale),
                                          locale=locale)
    return _preview(ledger, changed, calendar, now=now, secret=secret, locale=locale)


def with_client(ledger: Ledger, proposal: Proposal, client_name: str, *, now: datetime,
                secret: str, locale: str) -> Reply:
    """The promise for the client just added: the same local day and hour, in its zone."""
    client = _client(ledger, client_name)
    calendar = ledger.calendar_for(client)
    local = ledger.calendar_for().local(proposal.due)
    due = calendar.at(local.date(), local.time().replace(tzinfo=None))
    changed = replace(proposal, client=client.name, due_at=due.isoformat())
    return _preview(ledger, changed, calendar, now=now, secret=secret, locale=locale)


def add_client(ledger: Ledger, values: dict[str, str | None], *, by: Member,
               now: datetime) -> Client:
    """Only a member of the team adds a client (the caller has matched `by`)."""
    return ledger.add_client(
        name=values.get("name") or "", email=values.get("email") or "",
        contact_name=values.get("contact"), locale=values.get("locale") or "en",
        timezone=values.get("timezone"), country=(values.get("country") or "").upper() or None,
        now=now, actor=actor_of(by).label)


def current_due(ledger: Ledger, proposal: Proposal, now: datetime, locale: str) -> str:
    client = _client(ledger, proposal.client) if proposal.client else None
    return due_text(proposal.due, ledger.calendar_for(client), now, locale)


def _sealed(proposal: Proposal, secret: str, locale: str) -> str:
    value = seal(proposal, secret)
    if len(value) > MAX_BUTTON_VALUE:
        raise UserError(say(locale, "too_long"))
    return value


def _without(title: str, hint: str) -> str:
    """The title without "for <new client>", which the resolver leaves in for unknown names."""
    pattern = rf"\s*(?:for|to|till|åt|för|with|给|为|帮|替)?\s*{re.escape(hint)}\b\s*"
    return " ".join(re.sub(pattern, " ", title, count=1).split()) or title


def newcomers_client(ledger: Ledger, proposal: Proposal, locale: str) -> None:
    """Looks right on a newcomer's echo checks the client, before they are added as a
    member, naming no other client."""
    if proposal.newcomer and not client_exists(ledger, proposal.client or ""):
        raise UserError(say(locale, "not_our_client", client=proposal.client),
                        field="client")


def client_exists(ledger: Ledger, name: str) -> bool:
    return any(client.name_key == limits.name_key(name) for client in ledger.clients())


def _client(ledger: Ledger, name: str) -> Client:
    return ledger.client_named(name)


# -- the sub-commands ---------------------------------------------------------------------


def run(ledger: Ledger, command: ListMine | ListTeam | Done | Status | Move | LogMistake, *,
        member: Member, now: datetime) -> Reply:
    if isinstance(command, ListMine):
        return mine(ledger, member, now=now)
    if isinstance(command, ListTeam):
        return team(ledger, member, now=now)
    if isinstance(command, Done):
        return done(ledger, member, command.promise_id, now=now)
    if isinstance(command, Status):
        return check_in(ledger, member, command.promise_id, command.status, now=now,
                        note=command.note, progress=command.progress)
    if isinstance(command, Move):
        return move(ledger, member, command, now=now)
    return mistake(ledger, member, command, now=now)


def mine(ledger: Ledger, member: Member, *, now: datetime) -> Reply:
    locale = reader_locale(ledger, member)
    views = ledger.promises(status=PromiseStatus.open, owner_email=member.email)
    return slack_views.listing(say(locale, "mine_heading"),
                               _lines(ledger, views, now, owners=False, locale=locale),
                               say(locale, "mine_empty"))


def team(ledger: Ledger, member: Member, *, now: datetime) -> Reply:
    locale = reader_locale(ledger, member)
    reports = [m for m, boss in ledger.members() if boss is not None and boss.id == member.id]
    if not reports:
        return text_reply(say(locale, "team_nobody"))
    views = sorted((view for report in reports
                    for view in ledger.promises(status=PromiseStatus.open,
                                                owner_email=report.email)),
                   key=lambda view: view.promise.due_at)
    return slack_views.listing(say(locale, "team_heading", count=len(reports)),
                               _lines(ledger, views, now, owners=True, locale=locale),
                               say(locale, "team_empty"))


def _lines(ledger: Ledger, views: list[PromiseView], now: datetime, *,
           owners: bool, locale: str) -> list[str]:
    rows = []
    for view in views:
        if view.promise.internal:
            continue
        owner = None
        if owners:
            owner = (f"<@{view.owner.slack_user_id}>" if view.owner.slack_user_id
                     else view.owner.name)
        rows.append((view.promise.id or 0, view.promise.title, view.client.name,
                     due_text(view.promise.due_at, ledger.calendar_for(view.client), now,
                              locale),
                     view.promise.level, owner))
    return slack_views.promise_lines(rows, locale)


def done(ledger: Ledger, member: Member, promise_id: int, *, now: datetime) -> Reply:
    locale = reader_locale(ledger, member)
    view = ledger.complete(promise_id, now=now, actor=actor_of(member))
    late = say(locale, "done_late") if now > view.promise.due_at else ""
    return text_reply(say(locale, "done", id=promise_id,
                          title=slack_views.mrkdwn(view.promise.title),
                          client=slack_views.mrkdwn(view.client.name), late=late))


def check_in(ledger: Ledger, member: Member, promise_id: int, status: str, *, now: datetime,
             note: str | None = None, progress: int | None = None,
             client_reason: str | None = None) -> Reply:
    view = _may_change(ledger, member, promise_id)
    checkin = ledger.check_in(promise_id, status=status, note=note, progress=progress, now=now,
                              actor=actor_of(member), member_email=member.email,
                              client_reason=client_reason)
    locale = reader_locale(ledger, member)
    extra = (say(locale, "checkin_progress",
                 percent=format_percent(checkin.progress / 100, locale=locale))
             if checkin.progress is not None else "")
    said = say(locale, "checkin_reply", id=promise_id,
               title=slack_views.mrkdwn(view.promise.title),
               status=say(locale, f"checkin_{checkin.status}"), progress=extra)
    return text_reply(said + (f"\n> {slack_views.mrkdwn(checkin.note)}" if checkin.note
                              else ""))


def move(ledger: Ledger, member: Member, command: Move, *, now: datetime) -> Reply:
    view = _may_change(ledger, member, command.promise_id)
    calendar = ledger.calendar_for(view.client)
    due = resolve_due(command.when, now=now, calendar=calendar)
    ledger.move(command.promise_id, due_at=due, reason=command.reason, now=now,
                actor=actor_of(member))
    locale = reader_locale(ledger, member)
    return text_reply(say(
        locale, "moved", id=command.promise_id, title=slack_views.mrkdwn(view.promise.title),
        due=due_text(due, calendar, now, locale),
        was=due_text(view.promise.due_at, calendar, now, locale),
        client=slack_views.mrkdwn(view.client.name)))


def mistake(ledger: Ledger, member: Member, command: LogMistake, *, now: datetime) -> Reply:
    locale = reader_locale(ledger, member)
    names = [client.name for client in ledger.clients()]
    found = client_prefix(command.rest, names)
    if found is None:
        raise UserError(say(locale, "mistake_client", known=_known(names, locale)))
    client_name, summary = found
    if not summary:
        raise UserError(say(locale, "mistake_what", client=client_name))
    logged = log_mistake(ledger, client_name=client_name, summary=summary,
                         prevention=command.prevention, owner_email=member.email, now=now,
                         actor=actor_of(member).label)
    calendar = ledger.calendar_for(logged.client)
    prevention = ledger.promise_view(logged.prevention_promise_id, actor_of(member)).promise
    client = slack_views.mrkdwn(client_name)
    lines = [say(locale, "mistake_logged", id=logged.mistake.id, client=client),
             say(locale, "mistake_drafted", id=logged.draft_id, client=client),
             say(locale, "mistake_prevention", id=prevention.id,
                 due=due_text(prevention.due_at, calendar, now, locale))]
    if logged.repeat_count:
        lines.append(say(locale, "mistake_repeat", count=logged.repeat_count + 1))
    return text_reply("\n".join(lines))


def _may_change(ledger: Ledger, member: Member, promise_id: int) -> PromiseView:
    """The owner, their managers or an admin may speak for a promise."""
    return ledger.promise_view(promise_id, actor_of(member))


# -- drafts offered to their owners ------------------------------------------------------------


def review(ledger: Ledger, member: Member, notice_id: int, *, now: datetime,
           status_line: str | None = None) -> Reply:
    """The owner's view of a draft, with Send / Edit / Snooze / Not needed."""
    return _review(drafts.show(ledger, actor_of(member), notice_id), now, status_line,
                   reader_locale(ledger, member))


def _review(view: DraftView, now: datetime, status_line: str | None, locale: str) -> Reply:
    notice, promise, calendar = view.notice, view.promise, view.calendar
    return slack_views.draft_review(
        notice_id=notice.id or 0, kind=notice.kind,
        client=view.client.name if view.client else notice.recipient,
        title=promise.title if promise else None,
        due=due_text(promise.due_at, calendar, now, locale) if promise else None,
        proposed=(due_text(notice.proposed_due_at, calendar, now, locale)
                  if notice.proposed_due_at else None),
        text=notice.text, approver_note=notice.approver_note, status_line=status_line,
        locale=locale)


def queue_offers(ledger: Ledger, *, now: datetime) -> list[int]:
    """Queue each waiting draft's offer, shown as its Slack review, in its owner's DM and
    language."""
    return drafts.queue_offers(
        ledger, now=now, actor=OFFERED_BY,
        review=lambda view, at, owner: _review(view, at, None,
                                               reader_locale(ledger, owner)).message())


def send_draft(ledger: Ledger, member: Member, notice_id: int, *, now: datetime) -> Reply:
    view = drafts.approve(ledger, actor_of(member), notice_id, now=now)
    locale = reader_locale(ledger, member)
    return _review(view, now, say(locale, "approved"), locale)


def cancel_draft(ledger: Ledger, member: Member, notice_id: int, *, now: datetime) -> Reply:
    view = drafts.cancel(ledger, actor_of(member), notice_id,
                         reason="not needed (said in Slack)", now=now)
    locale = reader_locale(ledger, member)
    return _review(view, now, say(locale, "draft_cancelled"), locale)


def snooze_draft(ledger: Ledger, member: Member, notice_id: int, *, now: datetime) -> Reply:
    """Until the member's next business morning, when it comes back to them."""
    view = drafts.snooze(ledger, actor_of(member), notice_id, now=now)
    until = view.notice.snoozed_until
    assert until is not None
    calendar = ledger.calendar_for(owner=member)
    locale = reader_locale(ledger, member)
    return _review(view, now, say(locale, "snoozed", until=due_text(until, calendar, now, locale)),
                   locale)


def draft_for_editing(ledger: Ledger, member: Member, notice_id: int) -> tuple[str, date | None]:
    """The draft's text and its proposed day in the client's calendar, if the member may
    edit it."""
    view = drafts.for_editing(ledger, actor_of(member), notice_id)
    return view.notice.text, view.proposed_day


def edit_draft(ledger: Ledger, member: Member, notice_id: int, *, text: str | None,
               day: date | None, now: datetime) -> Reply:
    """Save the member's changes; an unchanged field is left alone, so a new date alone
    re-renders the notice from its template."""
    view = drafts.edit(ledger, actor_of(member), notice_id, text=text, due=day, now=now)
    return _review(view, now, None, reader_locale(ledger, member))


def checkin_note_target(ledger: Ledger, member: Member, promise_id: int) -> str:
    """The title shown in the note modal, only to someone who may check in on it."""
    return _may_change(ledger, member, promise_id).promise.title


def meta(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def parse_meta(raw: str | None) -> dict[str, Any]:
    try:
        found = json.loads(raw or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}



# -- watched channels and the promises found in them -------------------------------------------


def watch_channel(ledger: Ledger, member: Member, channel_id: str, client_name: str | None,
                  *, now: datetime) -> Reply:
    """`/promise watch [client]`: without a client, which one, or what it is watched for."""
    locale = reader_locale(ledger, member)
    if client_name is None:
        current = suggestions.watched_client(ledger, channel_id)
        if current is not None:
            return text_reply(say(locale, "watch_current", client=slack_views.mrkdwn(current)))
        names = [client.name for client in ledger.clients()]
        raise UserError(say(locale, "watch_which", known=_known(names, locale)),
                        field="client")
    done = suggestions.watch(ledger, channel_id=channel_id, client_name=client_name,
                             actor=actor_of(member), now=now)
    client = slack_views.mrkdwn(done.client)
    if not done.changed:
        return text_reply(say(locale, "watch_already", client=client))
    return text_reply(say(locale, "watching", client=client))


def unwatch_channel(ledger: Ledger, member: Member, channel_id: str, *,
                    now: datetime) -> Reply:
    locale = reader_locale(ledger, member)
    client = suggestions.unwatch(ledger, channel_id=channel_id, actor=actor_of(member), now=now)
    if client is None:
        return text_reply(say(locale, "unwatch_none"))
    return text_reply(say(locale, "unwatched", client=slack_views.mrkdwn(client)))


def offer_from_message(ledger: Ledger, message: suggestions.SlackMessage, *,
                       now: datetime) -> tuple[str, Reply] | None:
    """The Slack user to ask and the offer to show them, for a message in a watched channel;
    None when there is nothing new to ask (or nobody to ask in Slack)."""
    found = suggestions.offer_from_slack(ledger, message, now=now)
    if found is None or found.member_slack_user_id is None:
        return None
    return found.member_slack_user_id, _offer_reply(ledger, found)


def _offer_reply(ledger: Ledger, found: suggestions.Offer) -> Reply:
    client = _client(ledger, found.client) if found.client else None
    due = (phrases.when(found.due_at, client.timezone if client else
                        ledger.calendar_for().timezone, found.member_locale)
           if found.due_at else None)
    return slack_views.suggestion_offer(
        suggestion_id=found.id, request=found.kind == FindingKind.request,
        client=found.client or "?", title=found.title, sentence=found.sentence, due=due,
        locale=found.member_locale)


def accept_offer(ledger: Ledger, member: Member, suggestion_id: int, *, now: datetime,
                 title: str | None = None, client_name: str | None = None,
                 due_at: datetime | None = None) -> Reply:
    logged = suggestions.accept(ledger, suggestion_id, actor=actor_of(member), now=now,
                                title=title, client_name=client_name, due_at=due_at)
    return _logged(ledger, logged.view, member,
                   logged.acknowledgement.id if logged.acknowledgement else None)


def _logged(ledger: Ledger, view: PromiseView, member: Member, draft_id: int | None) -> Reply:
    locale = reader_locale(ledger, member)
    return slack_views.suggestion_logged(
        promise_id=view.promise.id or 0, title=view.promise.title, client=view.client.name,
        due=phrases.when(view.promise.due_at, view.client.timezone, locale),
        draft_id=draft_id, locale=locale)


def decline_offer(ledger: Ledger, member: Member, suggestion_id: int, *,
                  now: datetime) -> Reply:
    found = suggestions.open_offer(ledger, suggestion_id, actor=actor_of(member))
    suggestions.decline(ledger, suggestion_id, actor=actor_of(member), now=now)
    return slack_views.suggestion_declined(title=found.title,
                                           locale=reader_locale(ledger, member))


def offer_form(ledger: Ledger, member: Member, suggestion_id: int,
               meta: dict[str, Any]) -> dict[str, Any]:
    """*Change*: the offer in the log form, each part editable."""
    found = suggestions.open_offer(ledger, suggestion_id, actor=actor_of(member))
    client = _client(ledger, found.client) if found.client else None
    return slack_views.log_modal(
        title=found.title, client=found.client or "", locale=reader_locale(ledger, member),
        due=_typed(found.due_at, ledger.calendar_for(client)) if found.due_at else "",
        meta={**meta, "suggestion_id": found.id})


def shortcut_form(ledger: Ledger, member: Member, text: str, *, channel_id: str | None,
                  now: datetime, meta: dict[str, Any]) -> dict[str, Any]:
    """"Log as promise" on a message: the form filled from the message, with the likeliest
    promise or request found in it (in a watched channel, for its client), else with what
    the words say as a /promise line, else with the words themselves."""
    words = plain(text)
    watched = suggestions.watched_client(ledger, channel_id) if channel_id else None
    findings, calendar = capture.extract(ledger, words, client=watched, author=member.email,
                                         now=now)
    title, client, due = words, watched, None
    if findings:
        best = max(findings, key=lambda found: found.confidence)
        title, client, due = best.title, best.client or watched, best.due_at
    else:
        with contextlib.suppress(UserError, DeadlineError, CalendarError):  # just the words
            title, client, due = capture.understand(ledger, words, client=watched, due=None,
                                                    now=now)
    if client is not None:
        calendar = ledger.calendar_for(_client(ledger, client))
    return slack_views.log_modal(
        title=title, client=client or "", due=_typed(due, calendar) if due else "",
        locale=reader_locale(ledger, member), meta={**meta, "text": words[:1500]})


def read_log_form(ledger: Ledger, values: dict[str, str | None], *, now: datetime,
                  locale: str) -> tuple[str, str, datetime]:
    """The title, client and due moment the form says, or the first thing wrong with it
    (a UserError whose `field` names the form's input)."""
    title = (values.get("what") or "").strip()
    if not title:
        raise UserError(say(locale, "say_what"), field="what")
    name = (values.get("client") or "").strip()
    if not name:
        raise UserError(say(locale, "name_client"), field="client")
    try:
        client = _client(ledger, name)
    except UserError as exc:
        raise UserError(str(exc), field="client") from None
    calendar = ledger.calendar_for(client)
    try:
        due = limits.within_horizon(resolve_due(values.get("when") or "", now=now,
                                                calendar=calendar),
                                    now, ledger.settings.policy.due_horizon_years)
    except (UserError, DeadlineError, CalendarError) as exc:
        raise UserError(str(exc), field="when") from None
    return title, client.name, due


def log_from_form(ledger: Ledger, member: Member, values: dict[str, str | None],
                  meta: dict[str, Any], *, now: datetime) -> Reply:
    """The form submitted: the offer taken up as changed, or the shortcut's promise logged."""
    title, client, due = read_log_form(ledger, values, now=now,
                                       locale=reader_locale(ledger, member))
    if meta.get("suggestion_id") is not None:
        return accept_offer(ledger, member, int(meta["suggestion_id"]), now=now, title=title,
                            client_name=client, due_at=due)
    view, _ = capture.log_promise(ledger, title=title, client_name=client,
                                  owner_email=member.email, due_at=due, now=now,
                                  actor=actor_of(member), source=Source.slack_shortcut,
                                  raw_text=str(meta.get("text") or "") or None)
    return _logged(ledger, view, member, None)


def _typed(moment: datetime, calendar: BusinessCalendar) -> str:
    """A due moment as the form's input takes it back: '2026-12-03 17:00'."""
    return f"{calendar.local(moment):%Y-%m-%d %H:%M}"
