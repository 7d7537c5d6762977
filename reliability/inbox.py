"""The inbox: client mail read for promises, each offered to its author for a yes.

A message comes in piped from a mail server (`reliability inbox -`), from the IMAP
mailbox the team BCCs or forwards client mail to (`reliability inbox --imap`), or delivered
to an SMTP listener (`reliability inbox --smtp`). A member's
sent mail to a client yields the member's commitments; a client's mail yields requests,
offered to the member it was sent to (else the member who forwarded it, else the member who
owns the client's latest promise). Each finding becomes one offer (`suggestions.offer`,
keyed `mail:<message-id>:<n>`), asked by Slack DM when the member is in Slack, else by an
email with single-use Log / Not a promise links to the web's confirm page; both go out
through the outbox. Every message read is recorded by its Message-ID, with no words, so
none is read twice: not after a restart, a reconnect or the same message piped again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reliability import capture, compose, limits, notices, phrases, suggestions
from reliability.channels.imap import Mailbox, MailboxError
from reliability.channels.listener import MailListener
from reliability.commitments import Finding, FindingKind
from reliability.drafting.rendering import QUOTES, mrkdwn
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.mail import Mail, message_key, parse
from reliability.models import (
    Client,
    DeliveryChannel,
    Member,
    Notice,
    NoticeKind,
    NoticeStatus,
    ProcessedMail,
    Promise,
    Source,
)

log = logging.getLogger(__name__)
ACTOR = "inbox"
# Addresses anyone can have: a client's contact at one of these is matched exactly only.
PUBLIC_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com",
    "gmx.com", "gmx.de", "web.de", "qq.com", "163.com", "126.com", "sina.com", "yeah.net",
    "hotmail.se", "live.se", "telia.com", "bredband.net",
})


# Why a message offered nothing, by the outcome recorded for it.
WHY_NOTHING = {
    "no sender": "the message names no sender",
    "no client": "a member wrote it, but to no client's address",
    "stranger": "the sender is neither a member nor a client",
    "no member": "no member received it and the client has no promises yet",
}


@dataclass(frozen=True)
class Receipt:
    """What reading one message did: its key, the outcome, and the offers made."""

    key: str
    outcome: str
    offers: list[suggestions.Offer] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"message": self.key, "outcome": self.outcome,
                "offers": [{"id": o.id, "kind": str(o.kind), "title": o.title,
                            "member": o.member_email, "client": o.client,
                            "due_at": o.due_at.isoformat() if o.due_at else None}
                           for o in self.offers]}


@dataclass(frozen=True)
class _Roles:
    """Who wrote the conversation, for which client, and who is asked."""

    client: Client
    author: str  # the member's email, or the client's contact address
    member: Member | None  # for a client's mail: the member who owns the request
    from_member: bool
    team: frozenset[str]  # the current members' addresses


def receive(ledger: Ledger, raw: bytes, *, now: datetime, via: str = "stdin") -> Receipt:
    """Read one RFC 822 message: offer what it promises or asks, once, ever."""
    key = message_key(raw)
    if _read_before(ledger, key):
        return Receipt(key, "already read")
    if len(raw) > limits.MAX_MAIL_BYTES:
        log.warning("mail %s skipped: %s bytes, over the inbox's limit of %s", key,
                    f"{len(raw):,}", f"{limits.MAX_MAIL_BYTES:,}")
        return _done(ledger, key, via, "too large", [], now)
    mail = parse(raw)
    conversation = mail.forwarded or mail
    roles = _roles(ledger, mail, conversation)
    if isinstance(roles, str):
        log.info("mail %s: nothing offered: %s", key, WHY_NOTHING[roles])
        return _done(ledger, key, via, roles, [], now)
    text = conversation.text
    if len(text) > limits.TEXT["message text"].maximum:
        log.warning("mail %s skipped: its newest text is %s characters, over the limit of %s",
                    key, f"{len(text):,}", f"{limits.TEXT['message text'].maximum:,}")
        return _done(ledger, key, via, "too long", [], now)
    findings, _ = capture.extract(ledger, text, client=roles.client.name, author=roles.author,
                                  now=now)
    wanted = FindingKind.commitment if roles.from_member else FindingKind.request
    found = [finding for finding in findings if finding.kind == wanted]
    made = []
    # Keyed by the conversation's own Message-ID: a client's mail that arrives CC'd and
    # again forwarded as an attachment is the same mail, offered once.
    for index, finding in enumerate(found):
        try:
            offer = suggestions.offer(
                ledger, finding, member_email=_asked(finding, roles), source=Source.email,
                origin_key=f"mail:{conversation.key}:{index}", now=now, with_link=True,
                confirm=lambda session, o, m: _confirm(ledger, session, o, m, now))
        except UserError as exc:
            log.warning("mail %s: finding %s not offered: %s", key, index, exc)
            continue
        except IntegrityError:  # another reader offered it at the same moment
            continue
        if offer is not None:
            made.append(offer)
    outcome = "offered" if made else "nothing new" if found else "nothing found"
    return _done(ledger, key, via, outcome, made, now)


def poll(ledger: Ledger, *, now: datetime, mailbox: Mailbox | None = None) -> list[Receipt]:
    """Read every message waiting in the mailbox, and mark each one once it is recorded.
    A message recorded before (the mark was lost with a connection) is only marked."""
    box = mailbox or Mailbox(ledger.settings.inbox, max_bytes=limits.MAX_MAIL_BYTES)
    receipts = []
    with box:
        for uid in box.waiting():
            fetched = box.fetch(uid)
            if fetched is None:
                continue
            if fetched.raw is None:
                log.warning("mail uid %s skipped: %s bytes, over the inbox's limit of %s",
                            uid, f"{fetched.size:,}", f"{limits.MAX_MAIL_BYTES:,}")
                box.mark(uid)
                continue
            try:
                receipts.append(receive(ledger, fetched.raw, now=now, via="imap"))
            except Exception:  # one message that cannot be read must not stop the rest
                log.exception("mail uid %s could not be read; it is tried again next round",
                              uid)
                continue
            box.mark(uid)
    return receipts


def listener(ledger: Ledger, *, clock: Callable[[], datetime]) -> MailListener:
    """An SMTP listener on `[inbox] listen_host:listen_port` that reads each message it is
    given before it answers 250 (a failure is a 451: the sender tries again)."""
    settings = ledger.settings.inbox
    return MailListener(lambda raw: receive(ledger, raw, now=clock(), via="smtp"),
                        host=settings.listen_host, port=settings.listen_port,
                        max_bytes=limits.MAX_MAIL_BYTES)


def read_mailbox(ledger: Ledger, *, now: datetime) -> list[Receipt]:
    """One round for the scheduler: a mailbox that cannot be reached is logged and tried
    again next round; nothing read is lost, since nothing is marked before it is recorded."""
    if not ledger.settings.inbox.host:
        return []
    try:
        return poll(ledger, now=now)
    except MailboxError as exc:
        log.warning("inbox: %s; trying again next round", exc)
        return []


def _read_before(ledger: Ledger, key: str) -> bool:
    with ledger.session() as session:
        return session.exec(select(ProcessedMail.id).where(
            ProcessedMail.message_key == key)).first() is not None


def _done(ledger: Ledger, key: str, via: str, outcome: str,
          made: list[suggestions.Offer], now: datetime) -> Receipt:
    """Record the message as read; a second reader of the same message records nothing."""
    try:
        with ledger.transaction() as session:
            session.add(ProcessedMail(message_key=key, via=via, outcome=outcome,
                                      offers=len(made), processed_at=now))
            session.flush()
            ledger.record(session, now=now, actor=ACTOR, kind="mail.read", via=via,
                          outcome=outcome, offers=[offer.id for offer in made])
    except IntegrityError:
        return Receipt(key, "already read")
    return Receipt(key, outcome, made)


def _roles(ledger: Ledger, mail: Mail, conversation: Mail) -> _Roles | str:
    """Whose words these are and for which client, or why nothing can be offered (a key
    of WHY_NOTHING)."""
    with ledger.session() as session:
        members = {m.email: m for m in session.exec(
            select(Member).where(col(Member.removed_at).is_(None))).all()}
        clients = list(session.exec(select(Client)).all())
        author = conversation.sender
        if author is None:
            return "no sender"
        if mail.forwarded is not None and mail.sender not in members:
            # A forward's inner headers are words in the body, written by whoever sent it:
            # only a member's forward is read as the conversation it quotes.
            return "stranger"
        if author in members:
            client = next((c for a in conversation.recipients
                           if (c := _client_for(a, clients, members)) is not None), None)
            if client is None:
                return "no client"
            return _Roles(client, author, None, from_member=True, team=frozenset(members))
        client = _client_for(author, clients, members)
        if client is None:
            return "stranger"
        receivers = [*conversation.recipients,
                     *([mail.sender] if mail.forwarded and mail.sender else []),
                     *(mail.recipients if mail.forwarded else ())]
        member = next((members[a] for a in receivers if a in members), None)
        member = member or _usual_owner(session, client)
        if member is None:
            return "no member"
        return _Roles(client, client.email.lower(), member, from_member=False,
                      team=frozenset(members))


def _client_for(address: str, clients: Sequence[Client],
                members: dict[str, Member]) -> Client | None:
    """The client whose contact address this is; else the one client whose contact shares
    its domain (not a public mail domain, nor the team's own)."""
    exact = [c for c in clients if c.email.strip().lower() == address]
    if exact:
        return exact[0]
    domain = address.rpartition("@")[2]
    if domain in PUBLIC_DOMAINS or any(m.rpartition("@")[2] == domain for m in members):
        return None
    same = [c for c in clients if c.email.strip().lower().rpartition("@")[2] == domain]
    return same[0] if len(same) == 1 else None


def _usual_owner(session: Session, client: Client) -> Member | None:
    """The member who owns the client's most recent promise, still on the team."""
    return session.exec(
        select(Member).join(Promise, col(Promise.owner_id) == col(Member.id))
        .where(Promise.client_id == client.id, col(Member.removed_at).is_(None))
        .order_by(col(Promise.made_at).desc(), col(Promise.id).desc())).first()


def _asked(finding: Finding, roles: _Roles) -> str:
    """A commitment is put to its owner (the author, or the member named); a request to
    the member who owns it."""
    if roles.member is not None:
        return roles.member.email
    return finding.owner if finding.owner in roles.team else roles.author


def _confirm(ledger: Ledger, session: Session, offer: suggestions.Offer, member: Member,
             now: datetime) -> None:
    """Queue the question to the member in their language, with the words of a Slack offer:
    a Slack DM when they are in Slack, else an email greeting them by first name; both with
    the offer's single-use Log / Not a promise links."""
    assert offer.token is not None
    base = f"{ledger.settings.web.base_url.rstrip('/')}/confirm/{offer.token}"
    locale = compose.member_locale(ledger.settings, member)
    said = phrases.words(locale)
    calendar = ledger.calendar_for(
        ledger.find_client(session, offer.client) if offer.client else None)
    slack = bool(member.slack_user_id) and ledger.settings.slack.bot_token is not None
    request = offer.kind == FindingKind.request
    key = ("request" if request else "commitment") + ("" if offer.due_at else "_undated")
    if not slack and key == "commitment_undated":
        key = "commitment_undated_mail"  # a mail has no Change button; the page asks
    due = phrases.when(offer.due_at, calendar.timezone, locale) if offer.due_at else ""
    # What the mail says is someone else's text: in Slack's mrkdwn it is shown, never a
    # link, a mention or an @channel.
    shown = mrkdwn if slack else str
    question = said[key].format(client=shown(offer.client or "?"), due=due,
                                title=shown(offer.title))
    if not request:
        question += "\n" + said["mail_title"].format(title=shown(offer.title))
    subject = said["mail_subject_request" if request else "mail_subject_commitment"].format(
        client=offer.client or "?", title=offer.title)
    if slack:
        text = f"{question}\n{said['from_email'].format(sentence=mrkdwn(offer.sentence))}\n"
    else:
        greeting = said["mail_greeting"].format(
            name=compose.member_greeting_name(ledger.settings, member))
        text = (f"{greeting}\n\n{said['mail_found'].format(sentence=offer.sentence)}\n\n"
                f"{_quoted(question, locale)}\n\n"
                f"{said['mail_link'].format(label=said['log'], url=base + '?answer=log')}\n"
                f"{said['mail_link'].format(label=said['decline'], url=base + '?answer=decline')}"
                "\n\n"
                f"{said['mail_links'].format(days=suggestions.OFFER_LIFETIME.days)}\n")
    notices.store(session, Notice(
        kind=NoticeKind.suggestion_offer, idempotency_key=f"suggestion_offer:{offer.id}",
        member_id=member.id,
        channel=DeliveryChannel.slack if slack else DeliveryChannel.email,
        recipient=member.slack_user_id if slack and member.slack_user_id else member.email,
        recipient_name=member.name, locale=locale, subject=subject[:200], text=text,
        blocks=_blocks(question, offer, base, said) if slack else None,
        context={"suggestion_id": offer.id}, status=NoticeStatus.queued, created_by=ACTOR,
        created_at=now, approved_at=now, next_attempt_at=now), now=now)


def _quoted(text: str, locale: str) -> str:
    """Slack's *bold* title as a mail writes it: in the locale's quotation marks."""
    opening, closing = QUOTES.get(locale, QUOTES["en"])
    return re.sub(r"\*([^*]+)\*", lambda found: f"{opening}{found.group(1)}{closing}", text)


def _blocks(question: str, offer: suggestions.Offer, link: str,
            said: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": question}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": said["from_email"].format(
                sentence=mrkdwn(offer.sentence[:2800]))}]},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "suggestion_link_log", "style": "primary",
             "text": {"type": "plain_text", "text": said["log"]}, "url": f"{link}?answer=log"},
            {"type": "button", "action_id": "suggestion_link_decline",
             "text": {"type": "plain_text", "text": said["decline"]},
             "url": f"{link}?answer=decline"},
        ]},
    ]
