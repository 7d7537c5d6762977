"""Email notices against a real SMTP server on loopback (aiosmtpd), including its failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from servers.smtp import free_port, smtp_server

from reliability.channels import DeliveryError, OutgoingMessage, SendResult, send_all
from reliability.channels.email import EmailChannel, build_email, message_id_for
from reliability.config import SmtpSettings


def notice(
    key: str = "delay_notice:42:2026-11-20T22:00:00Z",
    recipient: str = "bob@client.example",
    **fields: str,
) -> OutgoingMessage:
    values = {
        "subject": "The Q3 report will arrive on Monday",
        "text": "Hi Bob,\nthe Q3 report needs two more days.\n",
        "html": "<p>Hi Bob,</p><p>the Q3 report needs two more days.</p>",
        "reply_to": "owner@team.example",
        "recipient_name": "Bob Client",
    }
    values.update(fields)
    return OutgoingMessage(idempotency_key=key, recipient=recipient, **values)


def send(
    channel: EmailChannel, messages: list[OutgoingMessage], concurrency: int = 1
) -> list[SendResult | DeliveryError]:
    return asyncio.run(send_all(channel, messages, concurrency=concurrency))


def test_notice_arrives_as_text_with_an_html_alternative_from_the_team_to_the_client() -> None:
    with smtp_server() as server:
        (result,) = send(EmailChannel(server.settings()), [notice()])

    assert isinstance(result, SendResult)
    (received,) = server.messages
    assert received.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in received.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "two more days" in received.get_body(("plain",)).get_content()
    assert "<p>Hi Bob,</p>" in received.get_body(("html",)).get_content()
    assert received["From"] == "Acme Delivery Team <promises@example.com>"
    assert received["To"] == "Bob Client <bob@client.example>"
    assert received["Reply-To"] == "owner@team.example"
    assert received["Subject"] == "The Q3 report will arrive on Monday"
    assert received["Date"] is not None
    assert received["Message-ID"] == result.provider_id
    assert server.recipients == [["bob@client.example"]]


def test_chinese_and_swedish_text_arrives_intact() -> None:
    message = notice(
        subject="Q3 报告将延迟 / Rapporten blir försenad", text="您好，报告需要再等两天。Hej!"
    )
    with smtp_server() as server:
        send(EmailChannel(server.settings()), [message])

    (received,) = server.messages
    assert received["Subject"] == "Q3 报告将延迟 / Rapporten blir försenad"
    assert received.get_body(("plain",)).get_content().strip() == "您好，报告需要再等两天。Hej!"


def test_notice_without_html_is_a_plain_text_email() -> None:
    with smtp_server() as server:
        send(EmailChannel(server.settings()), [notice(html=None)])

    assert server.messages[0].get_content_type() == "text/plain"


def test_starttls_with_login_delivers_over_an_encrypted_authenticated_session() -> None:
    with smtp_server(security="starttls", username="notices", password="s3cret") as server:
        channel = EmailChannel(server.settings(), server.client_tls_context())
        (result,) = send(channel, [notice()])

    assert isinstance(result, SendResult)
    assert server.logins == ["notices"]
    assert len(server.messages) == 1


def test_wrong_password_is_permanent_and_the_reason_never_shows_the_password() -> None:
    with smtp_server(security="starttls", username="notices", password="s3cret") as server:
        settings = server.settings(password="wrong-password")
        results = send(EmailChannel(settings, server.client_tls_context()), [notice(), notice()])

    assert all(isinstance(result, DeliveryError) and result.permanent for result in results)
    assert "username and password" in results[0].reason
    assert "wrong-password" not in results[0].reason
    assert server.messages == []


def test_implicit_tls_delivers() -> None:
    with smtp_server(security="tls") as server:
        channel = EmailChannel(server.settings(), server.client_tls_context())
        (result,) = send(channel, [notice()])

    assert isinstance(result, SendResult)
    assert len(server.messages) == 1


def test_server_with_an_untrusted_certificate_gets_nothing() -> None:
    with smtp_server(security="starttls") as server:
        (result,) = send(EmailChannel(server.settings()), [notice()])

    assert isinstance(result, DeliveryError)
    assert not result.permanent
    assert server.messages == []


def test_retried_notice_keeps_its_message_id_and_another_notice_gets_a_new_one() -> None:
    with smtp_server() as server:
        channel = EmailChannel(server.settings())
        send(channel, [notice(key="delay_notice:42:a")])
        send(channel, [notice(key="delay_notice:42:a")])
        send(channel, [notice(key="delay_notice:43:a")])

    first, retry, other = (message["Message-ID"] for message in server.messages)
    assert first == retry == message_id_for("delay_notice:42:a", "example.com")
    assert other != first


def test_line_breaks_in_subject_and_name_cannot_add_headers_or_recipients() -> None:
    attack = notice(
        subject="Delay\r\nBcc: eve@evil.example\r\n\r\nforged body",
        recipient_name="Bob\nCc: mallory@evil.example",
    )
    with smtp_server() as server:
        (result,) = send(EmailChannel(server.settings()), [attack])

    assert isinstance(result, SendResult)
    (received,) = server.messages
    assert received["Bcc"] is None and received["Cc"] is None
    assert received["Subject"] == "Delay Bcc: eve@evil.example forged body"
    assert len(received.get_all("Subject")) == 1
    assert server.recipients == [["bob@client.example"]]


def test_recipient_that_is_not_an_address_is_refused_before_any_mail_is_sent() -> None:
    with smtp_server() as server:
        results = send(
            EmailChannel(server.settings()),
            [notice(recipient="bob@client.example\r\nRCPT TO:<eve@evil.example>")],
        )

    assert isinstance(results[0], DeliveryError) and results[0].permanent
    assert "not a valid email address" in results[0].reason
    assert server.messages == []


def test_address_the_server_refuses_is_permanent_and_the_rest_of_the_batch_still_goes() -> None:
    refusal = {"gone@client.example": "550 5.1.1 no such user"}
    batch = [notice(key="1"), notice(key="2", recipient="gone@client.example"), notice(key="3")]
    with smtp_server(refuse=refusal) as server:
        first, refused, third = send(EmailChannel(server.settings()), batch)

    assert isinstance(refused, DeliveryError)
    assert refused.permanent
    assert refused.reason == (
        "The mail server refused the address gone@client.example: 550 5.1.1 no such user"
    )
    assert isinstance(first, SendResult) and isinstance(third, SendResult)
    assert server.recipients == [["bob@client.example"], ["bob@client.example"]]
    assert server.connections == 1


def test_temporary_refusal_is_retryable() -> None:
    with smtp_server(rcpt_reply="451 4.3.0 mailbox busy, try later") as server:
        (result,) = send(EmailChannel(server.settings()), [notice()])

    assert isinstance(result, DeliveryError)
    assert not result.permanent
    assert "451" in result.reason


def test_server_closing_with_421_is_retryable() -> None:
    with smtp_server(rcpt_reply="421 4.3.2 service shutting down") as server:
        results = send(EmailChannel(server.settings()), [notice(key="1"), notice(key="2")])

    assert all(isinstance(result, DeliveryError) for result in results)
    assert not any(result.permanent for result in results if isinstance(result, DeliveryError))


def test_connection_dropped_during_data_is_retryable_and_may_have_been_delivered() -> None:
    with smtp_server(drop_during_data=1) as server:
        dropped, next_one = send(EmailChannel(server.settings()), [notice("1"), notice("2")])

    assert isinstance(dropped, DeliveryError)
    assert not dropped.permanent
    assert dropped.maybe_sent
    assert "closed the connection" in dropped.reason
    assert isinstance(next_one, SendResult)
    assert len(server.messages) == 1


def test_batch_of_twenty_travels_over_one_connection_in_order() -> None:
    batch = [notice(key=f"delay_notice:{n}") for n in range(20)]
    with smtp_server() as server:
        results = send(EmailChannel(server.settings()), batch)

    assert server.connections == 1
    assert [result.provider_id for result in results if isinstance(result, SendResult)] == [
        message_id_for(message.idempotency_key, "example.com") for message in batch
    ]
    assert len(server.messages) == 20


def test_server_that_hangs_up_after_each_few_messages_is_reconnected() -> None:
    batch = [notice(key=f"delay_notice:{n}") for n in range(12)]
    with smtp_server(messages_per_connection=5) as server:
        results = send(EmailChannel(server.settings()), batch)

    assert all(isinstance(result, SendResult) for result in results)
    assert len(server.messages) == 12
    assert server.connections == 3


def test_concurrency_spreads_a_batch_over_at_most_that_many_connections() -> None:
    batch = [notice(key=f"delay_notice:{n}") for n in range(20)]
    with smtp_server() as server:
        results = send(EmailChannel(server.settings()), batch, concurrency=3)

    assert 1 <= server.connections <= 3
    assert [result.provider_id for result in results if isinstance(result, SendResult)] == [
        message_id_for(message.idempotency_key, "example.com") for message in batch
    ]


def test_unreachable_mail_server_fails_every_notice_as_retryable() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout_seconds=2)
    results = send(EmailChannel(settings), [notice("1"), notice("2"), notice("3")],
                   concurrency=2)

    assert len(results) == 3
    for result in results:
        assert isinstance(result, DeliveryError)
        assert not result.permanent
        assert result.reason.startswith("Could not connect to the mail server 127.0.0.1:")


def test_send_raises_the_delivery_error_for_a_single_notice() -> None:
    with smtp_server(refuse={"gone@client.example": "550 5.1.1 no such user"}) as server:
        channel = EmailChannel(server.settings())
        try:
            asyncio.run(channel.send(notice(recipient="gone@client.example")))
        except DeliveryError as error:
            assert error.permanent
        else:
            raise AssertionError("a refused address must raise DeliveryError")


def test_date_header_is_the_moment_of_sending() -> None:
    now = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
    email = build_email(notice(), SmtpSettings(from_address="a@team.example"), now)

    assert email["Date"] == "Wed, 18 Nov 2026 14:30:00 +0000"
    assert email["Message-ID"].endswith("@team.example>")


def test_a_long_subject_arrives_without_a_leading_space() -> None:
    subject = "At risk: Kvartalsrapporten for Norrsken AB, notice due Wednesday, November 18"
    with smtp_server() as server:
        asyncio.run(EmailChannel(server.settings()).send(
            OutgoingMessage("long-subject", "dana@acme.example", subject, "Body")))
    assert str(server.messages[0]["Subject"]) == subject


def test_over_several_connections_at_most_one_accepted_message_is_unrecorded_at_a_time() -> None:
    """What a crash can cost: a worker killed at any moment leaves at most one message that
    the server accepted and the worker never recorded, so at most one is sent again."""
    batch = [notice(key=f"delay_notice:{n}") for n in range(40)]
    recorded: list[int] = []
    unrecorded: list[int] = []
    with smtp_server() as server:
        server.on_message = lambda accepted: unrecorded.append(accepted - len(recorded))
        results = asyncio.run(send_all(EmailChannel(server.settings()), batch, concurrency=4,
                                       on_result=lambda index, result: recorded.append(index)))

    assert all(isinstance(result, SendResult) for result in results)
    assert server.connections == 4
    assert max(unrecorded) == 1  # the one being accepted at that moment
