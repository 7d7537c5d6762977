"""Ack latency of `/promise …` against a minimal signed endpoint, side by side.

The product's web app runs in uvicorn (one process, as `reliability serve` runs it); Slack's
side (its Web API and the response_urls) runs in a process of its own, as Slack's servers
are elsewhere; an aiohttp client in a third process (as wrk would be) keeps 50 signed slash
commands in flight and times each answer. Three endpoints, in alternating rounds so a busy
machine slows them alike:

- the yardstick: Starlette and slack-sdk's `SignatureVerifier` answering a fixed echo;
- `/promise help`, which the product answers in the ack itself: what the endpoint costs
  around the answer (checks, parsing, dispatch);
- `/promise <a promise>`: the ack is an empty 200 and the echo follows through the
  response_url, composed in the echo process (`reliability.slack_echo`, at idle priority); the
  echo's arrival is timed too (from the request's send).

Under a closed loop of 50 the echoes queue up behind each other, so their figure is what a
burst of that size costs, not what one person waits at an ordinary moment. The heap is
settled first (`scheduler.settle_heap`), as in `reliability serve` once its first scan has
assessed something; unsettled, one full collection stalls every ack for about 200 ms.

    python -m bench.bench_slack_ack [--requests 1000] [--concurrency 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

from reliability.config import Settings, SlackSettings
from reliability.db import make_engine, upgrade
from reliability.deadlines import warm
from reliability.ledger import Ledger
from reliability.scheduler import settle_heap
from reliability.web.app import create_app
from tests.servers.slack_api import TOKEN, slack_api
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


async def fire(url: str, response_url: str, requests: int, concurrency: int,
               texts: tuple[str, ...]) -> list[tuple[int, float, float]]:
    """Each request's (index, wall-clock send time, ack milliseconds); request i names its
    response_url `<response_url>-i`, so its echo can be timed too.

    aiohttp, not httpx: under 50 concurrent requests httpx's own pool costs more time
    than the server being measured (a trivial endpoint showed p50 170 ms through it)."""
    gate = asyncio.Semaphore(concurrency)
    timings: list[tuple[int, float, float]] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def one(index: int) -> None:
            body = command_body(texts[index % len(texts)], user="UALICE",
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
            echoed: Callable[[], None] | None = None,
            text: str | None = None) -> tuple[list[tuple[int, float, float]], float]:
    """The client's timings, and the CPU seconds the server (this process) spent meanwhile:
    a figure a busy machine does not move, where latencies move with the load."""
    with serve(app) as url:
        cpu = time.process_time()
        client = subprocess.run(
            [sys.executable, "-m", "bench.bench_slack_ack", "--client", url + "/slack/events",
             "--response-url", response_url, "--requests", str(requests),
             "--concurrency", str(concurrency), *(["--text", text] if text else [])],
            check=True, capture_output=True, text=True)
        cpu = time.process_time() - cpu
        if echoed is not None:
            echoed()  # the server keeps running until the echoes posted after the acks are in
    return [(index, sent, ms) for index, sent, ms in json.loads(client.stdout)], cpu


def summary(name: str, timings: list[float]) -> tuple[str, float]:
    timings = sorted(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return (f"{name}: p50 {statistics.median(timings):.1f} ms, p99 {p99:.1f} ms, "
            f"max {timings[-1]:.1f} ms", p99)


def sink() -> None:
    """Slack's side in a process of its own (its Web API and the response_urls), as Slack's
    servers are elsewhere: prints its address, then for each JSON list of response_url names
    read from stdin waits for their posts and prints when each arrived. It runs at idle
    priority: on Slack's own servers it would cost this machine nothing, so here it must not
    take the CPU the acks being measured need (the minimal endpoint makes it no work at all)."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    with slack_api() as api:
        print(api.base_url, flush=True)
        for line in sys.stdin:
            names = json.loads(line)
            api.wait_until(lambda names=names: all(n in api.answered_at for n in names), 300)
            print(json.dumps({name: api.answered_at[name] for name in names}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint and round")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--response-url", help=argparse.SUPPRESS)
    parser.add_argument("--text", help=argparse.SUPPRESS)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        texts = (args.text,) if args.text else TEXTS
        print(json.dumps(asyncio.run(fire(args.client, args.response_url, args.requests,
                                          args.concurrency, texts))))
        return
    if args.sink:
        sink()
        return
    warm()
    settle_heap()  # as `reliability serve` is once its first scan has assessed something
    product: list[float] = []
    helped: list[float] = []
    minimal: list[float] = []
    echoes: list[float] = []
    cpu = {"minimal": 0.0, "help": 0.0, "promise": 0.0}  # server CPU seconds, all rounds
    slack = subprocess.Popen([sys.executable, "-m", "bench.bench_slack_ack", "--sink"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert slack.stdin is not None and slack.stdout is not None
    api_url = slack.stdout.readline().strip()

    def arrivals(names: list[str]) -> dict[str, float]:
        assert slack.stdin is not None and slack.stdout is not None
        slack.stdin.write(json.dumps(names) + "\n")
        slack.stdin.flush()
        return dict(json.loads(slack.stdout.readline()))

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings()
        settings.database.url = f"sqlite:///{Path(folder) / 'bench.db'}"
        settings.slack = SlackSettings(bot_token=SecretStr(TOKEN), base_url=api_url,
                                       signing_secret=SecretStr(SIGNING_SECRET))
        engine = make_engine(settings.database.url)
        upgrade(engine)
        ledger = Ledger(engine, settings)
        moment = datetime.now(UTC)
        ledger.add_client(name="Acme", email="dana@acme.example", timezone="America/New_York",
                          country="US", now=moment, actor="bench")
        ledger.add_member(email="alice@example.com", name="Alice", slack_user_id="UALICE",
                          timezone="America/New_York", now=moment, actor="bench")
        for round_ in range(args.rounds):
            base = api_url.removesuffix("/api/") + f"/response/r{round_}"
            timings, spent = measure(minimal_app(SIGNING_SECRET), base + "m", args.requests,
                                     args.concurrency)
            minimal += [ms for _, _, ms in timings]
            cpu["minimal"] += spent
            timings, spent = measure(create_app(ledger), base + "h", args.requests,
                                     args.concurrency, text="help")
            helped += [ms for _, _, ms in timings]
            cpu["help"] += spent
            names = [f"r{round_}-{index}" for index in range(args.requests)]
            arrived: dict[str, float] = {}
            acks, spent = measure(create_app(ledger), base, args.requests, args.concurrency,
                                  echoed=lambda names=names, arrived=arrived: arrived.update(
                                      arrivals(names)))
            cpu["promise"] += spent
            product += [ms for _, _, ms in acks]
            echoes += [(arrived[f"r{round_}-{index}"] - sent) * 1000 for index, sent, _ in acks]
        engine.dispose()
    slack.stdin.close()
    slack.wait(10)
    base_line, p99_minimal = summary("minimal signed endpoint", minimal)
    help_line, p99_help = summary("/promise help (answered in the ack)", helped)
    ours, p99 = summary("/promise <a promise> (ack; echo after)", product)
    echo_line, _ = summary("  its echo at the response_url", echoes)
    print(f"{len(product)} signed requests to each, {args.concurrency} concurrent over "
          f"loopback, {args.rounds} alternating rounds\n  {base_line}\n  {help_line}: "
          f"{p99_help / p99_minimal:.2f}x\n  {ours}: {p99 / p99_minimal:.2f}x\n  {echo_line}"
          f"\n(p99 against the minimal endpoint's; goal <= 1.3x)\nserver CPU per request: "
          + ", ".join(f"{name} {spent * 1000 / len(product):.2f} ms "
                      f"({spent / cpu['minimal']:.2f}x)" for name, spent in cpu.items()))


if __name__ == "__main__":
    main()
