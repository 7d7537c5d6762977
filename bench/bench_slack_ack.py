"""Ack latency of `/promise …` against a minimal signed endpoint, side by side.

The product's web app runs in uvicorn (one process, as `reliability serve` runs it) with the
fake Slack Web API behind it; an aiohttp client in a second process (as wrk would be)
keeps 50 signed slash commands in flight and times each answer: the echo of the promise with
its buttons, which is the ack itself. The same client, in the same run, also times the
smallest thing that could answer: Starlette and slack-sdk's `SignatureVerifier` returning a
fixed echo. Rounds alternate between the two, so a busy machine slows both alike; the ratio
of the p99s is what the product adds.

    python -m bench.bench_slack_ack [--requests 1000] [--concurrency 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reliability.config import Settings
from reliability.db import make_engine, upgrade
from reliability.deadlines import warm
from reliability.ledger import Ledger
from reliability.web.app import create_app
from tests.servers.slack_api import slack_api
from tests.slack_harness import SIGNING_SECRET, command_body, serve, signed_headers

TEXTS = ("Q3 report for Acme by Friday", "Brand audit for Acme in 3 business days",
         "Q3 报告 给 Acme 周五前", "Q3-rapport till Acme senast fredag",
         "<@UALICE|alice> Launch plan for Acme by end of month")
# What the product answers to the first text, so both endpoints send the same bytes.
FIXED_ECHO = {
    "text": "Q3 report for Acme, due Fri 4 Dec, 17:00 (America/New_York): looks right?",
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "*Q3 report* for *Acme*\nDue *Fri 4 Dec, 17:00 (America/New_York)*\n"
            "Owner <@UALICE>")}},
        {"type": "actions", "block_id": "promise", "elements": [
            {"type": "button", "action_id": action, "value": "x" * 160,
             "text": {"type": "plain_text", "text": label}}
            for action, label in (("promise_confirm", "Looks right"),
                                  ("promise_change_date", "Change date"),
                                  ("promise_cancel", "Cancel"))]},
    ],
}


async def fire(url: str, response_url: str, requests: int,
               concurrency: int) -> list[tuple[int, float, float]]:
    """Each request's (index, wall-clock send time, ack milliseconds); request i names its
    response_url `<response_url>-i`, so its echo can be timed too.

    aiohttp, not httpx: under 50 concurrent requests httpx's own pool costs more time
    than the server being measured (a trivial endpoint showed p50 170 ms through it)."""
    gate = asyncio.Semaphore(concurrency)
    timings: list[tuple[int, float, float]] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def one(index: int) -> None:
            body = command_body(TEXTS[index % len(TEXTS)], user="UALICE",
                                response_url=f"{response_url}-{index}")
            async with gate:
                sent, started = time.time(), time.perf_counter()
                async with client.post(url, data=body.encode(),
                                       headers=signed_headers(body)) as response:
                    await response.read()
                timings.append((index, sent, (time.perf_counter() - started) * 1000))
            assert response.status == 200, response.status

        await asyncio.gather(*(one(-1 - i) for i in range(concurrency)))  # connections, warm-up
        timings.clear()
        await asyncio.gather(*(one(i) for i in range(requests)))
    return timings


def minimal_app(secret: str) -> Starlette:
    """The yardstick: verify the signature, answer a fixed echo of the same size."""
    verifier = SignatureVerifier(secret)
    echo = json.dumps(FIXED_ECHO).encode()

    async def events(request: Request) -> Response:
        body = await request.body()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return Response(status_code=401)
        return Response(echo, media_type="application/json")

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def measure(app: Any, response_url: str, requests: int, concurrency: int,
            echoed: Callable[[], None] | None = None) -> list[tuple[int, float, float]]:
    with serve(app) as url:
        client = subprocess.run(
            [sys.executable, "-m", "bench.bench_slack_ack", "--client", url + "/slack/events",
             "--response-url", response_url, "--requests", str(requests),
             "--concurrency", str(concurrency)],
            check=True, capture_output=True, text=True)
        if echoed is not None:
            echoed()  # the server keeps running until the echoes posted after the acks are in
    return [(index, sent, ms) for index, sent, ms in json.loads(client.stdout)]


def summary(name: str, timings: list[float]) -> tuple[str, float]:
    timings = sorted(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return (f"{name}: p50 {statistics.median(timings):.1f} ms, p99 {p99:.1f} ms, "
            f"max {timings[-1]:.1f} ms", p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint and round")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--response-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(fire(args.client, args.response_url, args.requests,
                                          args.concurrency))))
        return
    warm()
    product: list[float] = []
    minimal: list[float] = []
    echoes: list[float] = []
    with tempfile.TemporaryDirectory() as folder, slack_api() as api:
        api.add_user("UALICE", "Alice", email="alice@example.com", tz="America/New_York")
        settings = Settings()
        settings.database.url = f"sqlite:///{Path(folder) / 'bench.db'}"
        settings.slack = api.settings()
        settings.slack.signing_secret = SecretStr(SIGNING_SECRET)
        engine = make_engine(settings.database.url)
        upgrade(engine)
        ledger = Ledger(engine, settings)
        moment = datetime.now(UTC)
        ledger.add_client(name="Acme", email="dana@acme.example", timezone="America/New_York",
                          country="US", now=moment, actor="bench")
        ledger.add_member(email="alice@example.com", name="Alice", slack_user_id="UALICE",
                          timezone="America/New_York", now=moment, actor="bench")
        for round_ in range(args.rounds):
            base = api.response_url(f"r{round_}")
            minimal += [ms for _, _, ms in measure(minimal_app(SIGNING_SECRET), base + "m",
                                                args.requests, args.concurrency)]
            names = [f"r{round_}-{index}" for index in range(args.requests)]
            acks = measure(create_app(ledger), base, args.requests, args.concurrency,
                           echoed=lambda names=names: api.wait_until(
                               lambda: all(name in api.answered_at for name in names), 120))
            product += [ms for _, _, ms in acks]
            echoes += [(api.answered_at[f"r{round_}-{index}"] - sent) * 1000
                       for index, sent, _ in acks]
        engine.dispose()
    ours, p99 = summary("/promise ack (the product)", product)
    base_line, p99_minimal = summary("minimal signed endpoint", minimal)
    echo_line, _ = summary("/promise echo at the response_url", echoes)
    ratio = p99 / p99_minimal
    print(f"{len(product)} signed requests to each, {args.concurrency} concurrent over "
          f"loopback, {args.rounds} alternating rounds\n  {ours}\n  {base_line}\n"
          f"  ratio of ack p99s {ratio:.2f} (goal <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'})"
          f"\n  {echo_line}")


if __name__ == "__main__":
    main()
