"""Drive HTTP load with wrk (Debian package `wrk`): a C load generator whose own cost is
small next to the server's, which matters when both share the same CPUs.

(locust headless was tried first: on this machine its `--run-time` limit ended 4 s runs
after about 0.2 s with no requests recorded, so it is not used.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class LoadResult:
    tool: str
    url: str
    connections: int
    seconds: float
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tool_name() -> str | None:
    """The load tool's name, or None when it is missing."""
    return "wrk" if shutil.which("wrk") else None


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, float]:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if not (requests and rate and "50" in percentiles and "99" in percentiles):
        raise ValueError(f"cannot read wrk output:\n{output}")
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {
        "requests": int(requests.group(1)),
        "requests_per_second": float(rate.group(1)),
        "p50_ms": _ms(percentiles["50"]),
        "p99_ms": _ms(percentiles["99"]),
        "errors": errors,
    }


def run_wrk(url: str, *, connections: int, seconds: float, headers: dict[str, str]) -> LoadResult:
    threads = min(2, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
    ]
    command += ["--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    return LoadResult("wrk", url, connections, seconds, **parse_wrk(output))  # type: ignore[arg-type]


def run_load(url: str, *, connections: int, seconds: float, headers: dict[str, str]) -> LoadResult:
    return run_wrk(url, connections=connections, seconds=seconds, headers=headers)
