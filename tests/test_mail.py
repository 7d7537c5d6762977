"""Reading real .eml files: the newest words only, whatever the charset, format or forward."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from reliability.mail import message_key, parse

MAIL = Path(__file__).parent / "mail"


def read(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def test_a_plain_message_gives_its_sender_recipients_and_words_without_the_sign_off() -> None:
    mail = parse(read("plain_request.eml"))
    assert mail.key == "plain-request-1@acme.example"
    assert mail.sender == "dana@acme.example"
    assert mail.recipients == ("alice@example.com", "promises@example.com")
    assert mail.text == "Hi Alice,\n\nCould you send the invoice copies by Thursday?"


def test_an_html_only_message_is_read_as_text_and_its_signature_dropped() -> None:
    mail = parse(read("html_only.eml"))
    assert mail.text == "Hi Alice,\n\nPlease send the workshop agenda by Wednesday."


def test_html_is_read_as_words_without_markdown_escapes() -> None:
    raw = (b"From: dana@acme.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<ol><li>Send the deck</li></ol><p>1. Review - then + sign.</p>")
    assert parse(raw).text == "1. Send the deck\n\n1. Review - then + sign."


def test_multipart_alternative_is_read_from_its_plain_part() -> None:
    mail = parse(read("multipart_sent.eml"))
    assert "I'll send the revised deck by Thursday." in mail.text
    assert "<p>" not in mail.text and mail.text.count("revised deck") == 1


def test_gb2312_chinese_is_decoded_with_its_gbk_superset() -> None:
    mail = parse(read("gbk_chinese.eml"))
    assert mail.subject == "报告"
    assert "我们周五前把报告发给您。" in mail.text


def test_iso_8859_1_swedish_is_decoded_with_windows_1252_punctuation() -> None:
    mail = parse(read("latin1_swedish.eml"))
    assert mail.subject == "Mötet"
    assert "Vi skickar rapporten senast fredag. Tack för ett bra möte – vi hörs!" in mail.text
    assert "hälsningar" not in mail.text  # the sign-off goes with the signature


def test_the_quoted_message_and_the_signature_of_a_reply_are_not_read() -> None:
    mail = parse(read("reply_quoted.eml"))
    assert mail.text == "Hi Dana,\n\nGlad you liked the first draft."


def test_an_inline_forward_is_read_as_the_forwarded_authors_message() -> None:
    mail = parse(read("forwarded.eml"))
    assert (mail.sender, mail.text) == ("alice@example.com", "FYI, for the ledger.")
    assert mail.forwarded is not None
    assert mail.forwarded.sender == "dana@acme.example"
    assert mail.forwarded.recipients == ("alice@example.com",)
    assert mail.forwarded.subject == "Budget figures"
    assert mail.forwarded.text.startswith(
        "Hi Alice,\n\nCan you share the budget figures by Friday?")
    assert "Forwarded" not in mail.forwarded.text and "From:" not in mail.forwarded.text


def test_a_message_forwarded_as_an_attachment_is_read_whole() -> None:
    outer = EmailMessage()
    outer["From"] = "alice@example.com"
    outer["To"] = "promises@example.com"
    outer["Subject"] = "Fwd: Budget figures"
    outer["Message-ID"] = "<attached-forward@example.com>"
    outer.set_content("See below.")
    outer.add_attachment(email.message_from_bytes(read("plain_request.eml"),
                                                  policy=email.policy.default))
    mail = parse(outer.as_bytes())
    assert mail.forwarded is not None
    assert mail.forwarded.sender == "dana@acme.example"
    assert mail.forwarded.text == "Hi Alice,\n\nCould you send the invoice copies by Thursday?"


def test_an_outlook_original_message_header_in_a_reply_is_no_forward() -> None:
    raw = (b"From: alice@example.com\r\nTo: dana@acme.example\r\nSubject: RE: Deck\r\n\r\n"
           b"Noted.\r\n\r\n-----Original Message-----\r\nFrom: dana@acme.example\r\n\r\n"
           b"Please send the deck by Friday.\r\n")
    mail = parse(raw)
    assert mail.forwarded is None
    assert mail.text == "Noted."


def test_a_message_without_message_id_is_named_by_its_bytes_and_the_same_either_way() -> None:
    raw = b"From: dana@acme.example\r\nSubject: hi\r\n\r\nHello\r\n"
    assert parse(raw).key == message_key(raw)
    assert message_key(raw).startswith("sha256:")
    assert message_key(read("plain_request.eml")) == "plain-request-1@acme.example"


def test_a_forward_attached_base64_encoded_against_the_rules_is_read_too() -> None:
    outer = EmailMessage()
    outer["From"] = "alice@example.com"
    outer.set_content("See below.")
    outer.add_attachment(read("plain_request.eml"), maintype="message", subtype="rfc822")
    forwarded = parse(outer.as_bytes()).forwarded
    assert forwarded is not None and forwarded.sender == "dana@acme.example"


@pytest.mark.parametrize("raw", [
    b"",
    b"\x00\xff\xfe garbage without headers",
    b"From: <<<>>>\r\nTo: ,,,\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\n"
    b"caf\xe9\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n",
])
def test_malformed_mail_is_read_as_far_as_it_goes_never_raising(raw: bytes) -> None:
    mail = parse(raw)
    assert isinstance(mail.text, str)
