"""Prometheus metrics of one service instance (its own registry, so that several apps in one
process, as in tests, do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events = Counter("bulkguard_events_total", "Accepted events by type", ["type"],
                              registry=r)
        self.rejected = Counter("bulkguard_events_rejected_total", "Rejected (bad) events",
                                registry=r)
        self.duplicates = Counter("bulkguard_events_duplicate_total",
                                  "Events skipped as already accepted (same id)", registry=r)
        self.decisions = Counter("bulkguard_decisions_total",
                                 "Decisions by action and first reason", ["action", "reason"],
                                 registry=r)
        self.checks = Counter("bulkguard_checks_total", "POST /v1/check answers by verdict",
                              ["verdict"], registry=r)
        self.latency = Histogram("bulkguard_request_seconds", "Request latency by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.commit = Histogram("bulkguard_db_commit_seconds", "Database commit time per batch",
                                buckets=LATENCY_BUCKETS, registry=r)
        self.batch = Histogram("bulkguard_batch_events", "Events per /v1/events request",
                               buckets=(1, 10, 100, 1000, 10_000), registry=r)
        self.line = Gauge("bulkguard_last_line", "Last line (event number) accepted", registry=r)
        self.snapshot_line = Gauge("bulkguard_snapshot_line", "Line of the last snapshot",
                                   registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
