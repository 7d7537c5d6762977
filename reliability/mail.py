"""Reading one RFC 822 message: who wrote it to whom, and the words they wrote this time.

A client's mail and a member's sent mail carry promises in their newest words only: the
quoted message being answered and the signature were said before, or are no promise at
all. The body is the text/plain part (else the HTML one made text), decoded by its charset,
with quoted replies and the signature removed by `mail-parser-reply` (which knows the
reply headers of English, Swedish, Chinese and a dozen more). A forwarded message, attached
or inline, is read as its own message: its author is the one who wrote it, not the one who
forwarded it. Pure: bytes in, plain data out.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import quopri
import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import getaddresses

import html2text
from mailparser_reply import EmailReplyParser

# Reply headers and signatures are recognised in these languages (English is always on).
LANGUAGES = ("en", "sv", "zh")
# Headers longer than this are not mail a person sent.
HEADER_BYTES = 256 * 1024
# A forward inside a forward inside...: past this depth, the outer message is read alone.
MAX_FORWARD_DEPTH = 3
# Declared charsets that mail clients stretch: GB2312 mail carries GBK characters, and
# "iso-8859-1" mail carries Windows-1252 quotes and dashes (as browsers read it too).
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030",
              "x-gbk": "gb18030", "iso-8859-1": "cp1252", "latin-1": "cp1252",
              "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}
_FORWARD_MARKER = re.compile(
    r"^[ \t>]*(?:-{2,}\s*(?:forwarded message|original message|vidarebefordrat meddelande"
    r"|ursprungligt meddelande|转发的邮件|原始邮件)\s*-{2,}|begin forwarded message:)[ \t]*$",
    re.IGNORECASE | re.MULTILINE)
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|vb|vs|转发)\s*[:：]", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^[ \t>]*\*?([^\s:：*]{1,20})\*?\s*[:：]\s*(.*)$")
_FROM_NAMES = frozenset({"from", "från", "发件人", "寄件者", "de", "von"})
_TO_NAMES = frozenset({"to", "till", "收件人", "cc", "kopia", "抄送"})
_SUBJECT_NAMES = frozenset({"subject", "ämne", "主题", "主旨"})


@dataclass(frozen=True)
class Mail:
    """One message as the inbox reads it. `key` names it for good (its Message-ID, else a
    hash of its bytes); addresses are lower-cased; `text` is the newest words only."""

    key: str
    sender: str | None
    recipients: tuple[str, ...]  # To and Cc, in order
    subject: str
    text: str
    forwarded: Mail | None = None


def parse(raw: bytes, *, depth: int = 0) -> Mail:
    """The message in `raw`; never raises on malformed mail (what cannot be read is empty,
    a message nested too deep for the parser included)."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        return _read(message, raw, depth)
    except RecursionError:
        return Mail(key=message_key(raw), sender=None, recipients=(), subject="", text="",
                    forwarded=None)


def message_key(raw: bytes) -> str:
    """The key `parse` gives the message, read from its headers alone: a message too large
    to read is still named, and recorded as skipped."""
    head = re.split(rb"\r?\n\r?\n", raw[:HEADER_BYTES], maxsplit=1)[0]
    return _key(email.message_from_bytes(head, policy=email.policy.default), raw)


def _read(message: Message, raw: bytes, depth: int) -> Mail:
    key = _key(message, raw)
    sender = next(iter(_addresses(message, "from")), None)
    recipients = tuple(dict.fromkeys(_addresses(message, "to") + _addresses(message, "cc")))
    subject = _header(message, "subject")
    body = _body(message)
    attached = _attached(message) if depth < MAX_FORWARD_DEPTH else None
    forwarded: Mail | None = None
    if attached is not None:
        forwarded = _read(attached, attached.as_bytes(), depth + 1)
    elif depth < MAX_FORWARD_DEPTH:
        body, forwarded = _inline_forward(body, subject, key)
    return Mail(key=key, sender=sender, recipients=recipients, subject=subject,
                text=newest_words(body), forwarded=forwarded)


def newest_words(text: str) -> str:
    """The text without the quoted message it answers and without the signature."""
    if not text.strip():
        return ""
    replies = EmailReplyParser(languages=list(LANGUAGES)).read(_printable(text)).replies
    newest = replies[0].body if replies else ""
    return "\n".join(line for line in newest.splitlines()
                     if not line.lstrip().startswith(">")).strip()


def _printable(text: str) -> str:
    """Control characters (a NUL, an escape) become spaces: no database stores them alike,
    and no sentence needs them. Line breaks and tabs stay."""
    return "".join(" " if unicodedata.category(char) == "Cc" and char not in "\n\t"
                   else char for char in text)


def _key(message: Message, raw: bytes) -> str:
    found = re.search(r"<([!-;=?-~]{1,250})>", _header(message, "message-id"))
    if found:
        return found.group(1)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _header(message: Message, name: str) -> str:
    try:
        value = str(message.get(name) or "")
    except (ValueError, IndexError, TypeError, AttributeError):  # a header beyond repair
        value = ""
    return " ".join(value.split())


def _addresses(message: Message, name: str) -> list[str]:
    try:
        values = [str(value) for value in (message.get_all(name) or [])]
    except (ValueError, IndexError, TypeError, AttributeError):
        return []
    return [address.strip().lower() for _, address in getaddresses(values)
            if "@" in address]


def _body(message: Message) -> str:
    """The text/plain part, else the text/html part made text; attachments are not read."""
    part: Message | None = message
    if isinstance(message, EmailMessage) and message.is_multipart():
        part = message.get_body(preferencelist=("plain", "html"))
    if part is None or part.get_content_maintype() != "text":
        return ""
    text = _decoded(part).replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_subtype() == "html":
        return _html_text(text)
    return text


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    try:
        return payload.decode(_SUPERSETS.get(charset, charset), errors="replace")
    except LookupError:  # a charset Python does not know: read it as UTF-8
        return payload.decode("utf-8", errors="replace")


def _html_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_links = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    # html2text writes Markdown; its escapes ("1\\." at a line's start) are no one's words.
    text = _MARKDOWN_ESCAPE.sub(r"\1", converter.handle(html))
    return re.sub(r"\n{3,}", "\n\n", text)


def _attached(message: Message) -> Message | None:
    """The first message attached whole (a forward "as attachment")."""
    if not isinstance(message, EmailMessage):
        return None
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            if part.get("content-transfer-encoding", "").lower() in ("base64",
                                                                      "quoted-printable"):
                # Against RFC 2046, yet sent: the whole message encoded.
                raw = _encoded_payload(part)
                return email.message_from_bytes(raw, policy=email.policy.default)
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
    return None


def _encoded_payload(part: Message) -> bytes:
    inner = part.get_payload()
    body = inner[0].get_payload() if isinstance(inner, list) and inner else inner
    text = body if isinstance(body, str) else ""
    encoding = part.get("content-transfer-encoding", "").lower()
    try:
        if encoding == "base64":
            return base64.b64decode(text)
        return quopri.decodestring(text.encode("ascii", errors="replace"))
    except (ValueError, binascii.Error):
        return b""


def _inline_forward(body: str, subject: str, key: str) -> tuple[str, Mail | None]:
    """Split a forward written into the body: the forwarder's note, and the message below
    the marker ("---------- Forwarded message ---------" and its From:/To: lines)."""
    marker = _FORWARD_MARKER.search(body)
    if marker is None or ("original" in marker.group(0).lower()
                          and not _FORWARD_SUBJECT.match(subject)):
        return body, None  # "-----Original Message-----" heads replies too
    note, rest = body[:marker.start()], body[marker.end():].lstrip("\n")
    sender: str | None = None
    recipients: list[str] = []
    inner_subject = ""
    lines = rest.splitlines()
    index = 0
    while index < len(lines) and (header := _HEADER_LINE.match(lines[index])):
        name, value = header.group(1).lower(), header.group(2)
        addresses = [a.strip().lower() for _, a in getaddresses([value]) if "@" in a]
        if name in _FROM_NAMES and addresses:
            sender = addresses[0]
        elif name in _TO_NAMES:
            recipients.extend(addresses)
        elif name in _SUBJECT_NAMES:
            inner_subject = value.strip()
        index += 1
    inner = "\n".join(line.removeprefix(">").removeprefix(" ") for line in lines[index:])
    forwarded = Mail(key=f"{key}/forwarded", sender=sender, recipients=tuple(recipients),
                     subject=inner_subject, text=newest_words(inner))
    return note, forwarded
