"""What a `/promise …` line asks for, read without touching the database.

Slack sends the text after the command as typed, with mentions as `<@U123|name>`, links as
`<https://…|label>` and `&`, `<`, `>` escaped. Sub-commands are recognised only in a shape
that cannot be a promise's title ("done 42", not "done deal for Acme by Friday"), so any
other line is read as a promise to log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime

from reliability.models import CheckInStatus

# Slack's sequences hold no `<` (a typed one arrives as &lt;): stopping there keeps a line of
# unclosed ones linear, where scanning each to the end of the line was quadratic.
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
SPECIAL = re.compile(
    r"<(?:[#!][^<>|]*\|([^<>]*)|[#!]([^<>]*)|[^<>@#!|]+\|([^<>]*)|([^<>@#!|]+))>")
PROMISE_ID = r"#?(\d{1,9})"
STATUS_WORDS = {
    "on track": CheckInStatus.on_track, "ok": CheckInStatus.on_track,
    "at risk": CheckInStatus.at_risk, "risk": CheckInStatus.at_risk,
    "blocked": CheckInStatus.blocked, "done": CheckInStatus.done,
}
STATUS = re.compile(
    rf"^status\s+{PROMISE_ID}\s+(on[-_ ]track|at[-_ ]risk|ok|risk|blocked|done)\b[\s,:;-]*(.*)$",
    re.IGNORECASE | re.DOTALL)
PROGRESS = re.compile(r"(?<!\d)(\d{1,3})\s?%")
MOVE = re.compile(
    rf"^move\s+{PROMISE_ID}\s+(?:to\s+|till\s+|到\s*)?(.*?)\s*"
    r"(?:\b(?:because|since|eftersom|för att)\b|因为)\s*(.*)$",
    re.IGNORECASE | re.DOTALL)
PREVENT = re.compile(
    r"[;,.]?\s*\b(?:prevent(?:ion)?|förebygg|förhindra)\s*:\s*|[;；]?\s*预防[:：]\s*",
    re.IGNORECASE)

@dataclass(frozen=True)
class Help:
    """`/promise help`, or a line that could not be used: `note` names why (a key of
    `reliability.phrases`, worded in the reader's language by the caller)."""

    note: str = ""
    percent: int | None = None


@dataclass(frozen=True)
class Log:
    """A promise to understand and echo back: nothing is stored until it is confirmed."""

    text: str
    owner_user_id: str | None


@dataclass(frozen=True)
class ListMine:
    """`/promise list`: the caller's open promises."""


@dataclass(frozen=True)
class ListTeam:
    """`/promise team`: the open promises of the caller's reports."""


@dataclass(frozen=True)
class Done:
    promise_id: int


@dataclass(frozen=True)
class Status:
    promise_id: int
    status: str
    note: str | None
    progress: int | None


@dataclass(frozen=True)
class Move:
    promise_id: int
    when: str
    reason: str


@dataclass(frozen=True)
class LogMistake:
    """`rest` starts with the client's name, which only the list of clients can tell apart."""

    rest: str
    prevention: str


@dataclass(frozen=True)
class Watch:
    """`/promise watch [client]` in a channel: offer the promises written there."""

    client: str | None


@dataclass(frozen=True)
class Unwatch:
    """`/promise unwatch`: stop reading the channel."""


Command = Help | Log | ListMine | ListTeam | Done | Status | Move | LogMistake | Watch | Unwatch
WATCH_WORDS = 4  # "watch" and a client's name; a longer line is a promise about a watch


def plain(text: str) -> str:
    """Slack's markup back to what the person typed (mentions are kept for the caller)."""
    def label(found: re.Match[str]) -> str:
        return next(group for group in found.groups() if group is not None)

    text = SPECIAL.sub(label, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse(text: str) -> Command:
    """Read one `/promise` line; never raises, a line it cannot use becomes Help with a note."""
    mention = MENTION.search(text)
    owner = mention.group(1) if mention else None
    cleaned = " ".join(plain(MENTION.sub(" ", text)).split())
    first, _, rest = cleaned.partition(" ")
    word = first.casefold()
    if word in ("", "help", "?", "hjälp", "帮助"):
        return Help()
    if cleaned.casefold() in ("list", "mine", "lista"):
        return ListMine()
    if cleaned.casefold() in ("team", "teamet"):
        return ListTeam()
    if word == "done" and (found := re.fullmatch(PROMISE_ID, rest.strip())):
        return Done(int(found.group(1)))
    if word == "status" and re.match(PROMISE_ID + r"\b", rest):
        return _status(cleaned)
    if word == "move" and re.match(PROMISE_ID + r"\b", rest):
        return _move(cleaned)
    if word == "mistake":
        return _mistake(rest)
    if word in ("watch", "bevaka", "关注") and len(rest.split()) <= WATCH_WORDS:
        return Watch(rest.strip() or None)
    if cleaned.casefold() in ("unwatch", "sluta bevaka", "取消关注"):
        return Unwatch()
    return Log(cleaned, owner)


def _status(text: str) -> Command:
    found = STATUS.match(text)
    if found is None:
        return Help("note_status")
    promise_id, word, rest = found.groups()
    progress = PROGRESS.search(rest)
    if progress is not None:
        rest = (rest[: progress.start()] + rest[progress.end():]).strip(" ,;:-")
    percent = int(progress.group(1)) if progress else None
    if percent is not None and percent > 100:
        return Help("note_percent", percent)
    status = STATUS_WORDS[" ".join(re.split(r"[-_ ]+", word.casefold()))]
    return Status(int(promise_id), status, " ".join(rest.split()) or None, percent)


def _move(text: str) -> Command:
    found = MOVE.match(text)
    if found is None or not found.group(2).strip():
        return Help("note_move_when")
    promise_id, when, reason = found.groups()
    if not reason.strip():
        return Help("note_move_why")
    return Move(int(promise_id), when.strip(" ,"), reason.strip())


def _mistake(rest: str) -> Command:
    parts = PREVENT.split(rest, maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return Help("note_mistake")
    return LogMistake(parts[0].strip(" ;,."), parts[1].strip())


def client_prefix(text: str, client_names: list[str]) -> tuple[str, str] | None:
    """The known client a line starts with (the longest match) and what follows it."""
    for name in sorted(client_names, key=len, reverse=True):
        if text.casefold().startswith(name.casefold()):
            after = text[len(name):]
            if not after or not after[0].isalnum() or not name[-1].isalnum():
                return name, after.strip(" :,-–—")
    return None


# -- carrying a parsed promise in a button, tamper-proof ------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A promise understood but not stored yet: what the confirm button carries."""

    title: str
    client: str | None
    due_at: str
    owner_user_id: str
    text: str
    client_hint: str | None = None
    asked_due_at: str | None = None  # the date asked, when this proposes the likely one
    newcomer: bool = False  # logged by a Slack user not matched to a member: see understand

    @property
    def due(self) -> datetime:
        return datetime.fromisoformat(self.due_at)

    @property
    def asked(self) -> datetime | None:
        return datetime.fromisoformat(self.asked_due_at) if self.asked_due_at else None


class SealError(ValueError):
    """A button value that this app did not make (or made with another signing secret)."""


def seal(proposal: Proposal, secret: str) -> str:
    """Signed with the app's signing secret, so a confirm cannot carry different facts."""
    body = base64.urlsafe_b64encode(
        json.dumps(asdict(proposal), ensure_ascii=False, separators=(",", ":")).encode()
    ).decode()
    return f"{body}.{_mac(body, secret)}"


def unseal(value: str, secret: str) -> Proposal:
    body, _, mac = value.rpartition(".")
    if not body or not hmac.compare_digest(mac, _mac(body, secret)):
        raise SealError("this button was not made by this app")
    try:
        return Proposal(**json.loads(base64.urlsafe_b64decode(body.encode())))
    except (ValueError, TypeError) as exc:
        raise SealError("this button's value is damaged") from exc


def _mac(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]
