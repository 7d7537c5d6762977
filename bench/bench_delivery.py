"""Delivery throughput: emails into a local aiosmtpd sink, Slack posts into the local Slack API.

Run from the repository root:  .venv/bin/python -m bench.bench_delivery [--emails N] [--posts N]
Both servers run in this process (their own threads), so the figures include the server's
share of the CPU: a floor for what the transports manage against a real remote server.
Each row is the best of --repeat runs, since other work on a shared machine only slows a run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reliability.channels import DeliveryError, OutgoingMessage, send_all
from reliability.channels.email import EmailChannel
from reliability.channels.slack import SlackChannel
from tests.servers.slack_api import slack_api
from tests.servers.smtp import smtp_server

CHANNEL = "C0000BENCH"


@dataclass(frozen=True)
class Row:
    transport: str
    mode: str
    messages: int
    seconds: float
    connections: int | None = None

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def notices(count: int, recipient: str) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            idempotency_key=f"delay_notice:{n}:2026-11-20T22:00:00Z",
            recipient=recipient,
            subject=f"The Q3 report for client {n} moves to Monday",
            text="Hi,\nthe Q3 report needs two more business days. Sorry for the wait.\n",
            html="<p>Hi,</p><p>the Q3 report needs two more business days.</p>",
            reply_to="owner@team.example",
            recipient_name="Client Contact",
        )
        for n in range(count)
    ]


async def send_emails(
    channel: EmailChannel, messages: Sequence[OutgoingMessage], batch: int, concurrency: int
) -> int:
    failed = 0
    for start in range(0, len(messages), batch):
        results = await send_all(channel, messages[start : start + batch],
                                 concurrency=concurrency)
        failed += sum(isinstance(result, DeliveryError) for result in results)
    return failed


def bench_email(count: int, batch: int, concurrency: int, accept_ms: int = 0) -> Row:
    messages = notices(count, "client@client.example")
    with smtp_server(count_only=True) as server:
        server.accept_seconds = accept_ms / 1000
        channel = EmailChannel(server.settings())
        started = time.perf_counter()
        failed = asyncio.run(send_emails(channel, messages, batch, concurrency))
        seconds = time.perf_counter() - started
        if failed or server.received != count:
            raise SystemExit(f"email: {failed} failed, {server.received} of {count} received")
        mode = f"batch {batch}, concurrency {concurrency}"
        if accept_ms:
            mode += f", server takes {accept_ms} ms to accept"
        return Row("email (SMTP)", mode, count, seconds, server.connections)


async def post_all(slack: SlackChannel, messages: Sequence[OutgoingMessage], parallel: int) -> None:
    limit = asyncio.Semaphore(parallel)

    async def post(message: OutgoingMessage) -> None:
        async with limit:
            await slack.send(message)

    async with slack:
        await asyncio.gather(*(post(message) for message in messages))


def bench_slack(count: int, parallel: int) -> Row:
    messages = notices(count, CHANNEL)
    with slack_api(channels=(CHANNEL,)) as api:
        started = time.perf_counter()
        asyncio.run(post_all(SlackChannel(api.settings()), messages, parallel))
        seconds = time.perf_counter() - started
        if len(api.posted(CHANNEL)) != count:
            raise SystemExit(f"slack: {len(api.posted(CHANNEL))} of {count} posted")
        return Row("slack (Web API)", f"{parallel} in flight, one session", count, seconds)


def best(runs: int, measure: Callable[[], Row]) -> Row:
    return min((measure() for _ in range(runs)), key=lambda row: row.seconds)


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| transport | mode | messages | SMTP connections | seconds | per second |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        connections = "" if row.connections is None else str(row.connections)
        lines.append(
            f"| {row.transport} | {row.mode} | {row.messages} | {connections} "
            f"| {row.seconds:.2f} | {row.per_second:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    emails, posts, runs = args.emails, args.posts, args.repeat
    rows = [
        best(runs, lambda: bench_email(min(emails, 200), batch=1, concurrency=1)),
        best(runs, lambda: bench_email(emails, batch=50, concurrency=1)),
        best(runs, lambda: bench_email(emails, batch=50, concurrency=4)),
        best(runs, lambda: bench_email(emails, batch=500, concurrency=4)),
        best(runs, lambda: bench_email(min(emails, 200), batch=50, concurrency=1, accept_ms=20)),
        best(runs, lambda: bench_email(min(emails, 200), batch=50, concurrency=4, accept_ms=20)),
        best(runs, lambda: bench_slack(posts, parallel=1)),
        best(runs, lambda: bench_slack(posts, parallel=4)),
    ]
    print(table(rows))


if __name__ == "__main__":
    main()
