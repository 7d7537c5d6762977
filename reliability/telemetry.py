"""Process metrics for /metrics (Prometheus): how long ticks take, what deliveries do."""

from prometheus_client import Counter, Histogram

SCAN_TICK_SECONDS = Histogram(
    "reliability_scan_tick_seconds", "Duration of one scan tick.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SCAN_ASSESSED = Counter("reliability_scan_assessed_total", "Promises assessed by the scanner.")
DELIVERY_ATTEMPTS = Counter(
    "reliability_delivery_attempts_total", "Delivery attempts by outcome.", ["outcome"]
)
DELIVERY_ROUND_SECONDS = Histogram(
    "reliability_delivery_round_seconds", "Duration of one outbox round.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
