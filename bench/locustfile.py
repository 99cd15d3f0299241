"""Locust user for the fallback load driver: one GET path, fixed headers, no think time."""

from __future__ import annotations

import os

from locust import constant
from locust.contrib.fasthttp import FastHttpUser, task

PATH = os.environ.get("BENCH_PATH", "/")
HEADERS = dict(
    pair.split("=", 1) for pair in os.environ.get("BENCH_HEADERS", "").split(";") if "=" in pair
)


class BenchUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get(PATH, headers=HEADERS)
