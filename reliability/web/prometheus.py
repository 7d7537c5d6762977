"""Prometheus metrics: the process's own counters and the ledger's gauges.

/metrics is open unless `[web] metrics_token` is set.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reliability import feeds, telemetry  # noqa: F401  (registers the process metrics)
from reliability.ledger import Ledger
from reliability.web.auth import ledger_of

router = APIRouter(include_in_schema=False)
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


class _LedgerGauges(Collector):
    """Gauges read from the database at scrape time, so every process reports the same."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def collect(self) -> Iterator[GaugeMetricFamily]:
        levels = GaugeMetricFamily("reliability_open_promises", "Open promises by risk level.",
                                   labels=["level"])
        states = GaugeMetricFamily("reliability_notices", "Messages by state.",
                                   labels=["status"])
        counted = feeds.gauges(self.ledger)
        for level, count in counted.open_by_level:
            levels.add_metric([level], count)
        for status, count in counted.notices_by_status:
            states.add_metric([status], count)
        yield levels
        yield states

    def describe(self) -> list[GaugeMetricFamily]:
        return []


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    ledger = ledger_of(request)
    expected = ledger.settings.web.metrics_token
    if expected is not None:
        sent = request.headers.get("authorization", "").partition(" ")[2]
        if not secrets.compare_digest(sent.encode(), expected.get_secret_value().encode()):
            raise HTTPException(401, "metrics need the bearer token from [web] metrics_token",
                                headers={"WWW-Authenticate": "Bearer"})
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(_LedgerGauges(ledger))
    return Response(generate_latest(REGISTRY) + generate_latest(gauges), media_type=PROMETHEUS)
