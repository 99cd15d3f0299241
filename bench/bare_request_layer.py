"""A third baseline: bare Starlette (bench/bare_app.py) inside MediaNest's outermost
request layer — correlation id, the JSON request log line, Prometheus metrics, security
headers — with logging configured as `medianest serve` configures it. What every
MediaNest answer pays before any of its own work: the floor of the hot path."""

from __future__ import annotations

from bench.bare_app import app as bare
from medianest.core.logging import configure_logging
from medianest.core.middleware import RequestContextMiddleware

configure_logging(level="INFO")
app = RequestContextMiddleware(bare)
