"""Drive HTTP load with a well-kept tool: wrk (Debian package `wrk`) when installed,
otherwise locust headless. Both report throughput and p50/p99 latency."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


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


def tool_name() -> str:
    return "wrk" if shutil.which("wrk") else "locust"


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
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command += ["--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    return LoadResult("wrk", url, connections, seconds, **parse_wrk(output))  # type: ignore[arg-type]


def run_locust(
    url: str, *, connections: int, seconds: float, headers: dict[str, str]
) -> LoadResult:
    base, _, path = url.partition("//")[2].partition("/")
    with tempfile.TemporaryDirectory() as scratch:
        prefix = Path(scratch) / "run"
        env_headers = ";".join(f"{k}={v}" for k, v in headers.items())
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                str(connections),
                "-r",
                str(connections),
                "-t",
                f"{int(seconds)}s",
                "--host",
                f"http://{base}",
                "--csv",
                str(prefix),
                "--only-summary",
            ],
            env={**os.environ, "BENCH_PATH": "/" + path, "BENCH_HEADERS": env_headers},
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        with open(f"{prefix}_stats.csv", newline="") as handle:
            total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return LoadResult(
        "locust",
        url,
        connections,
        seconds,
        requests=int(total["Request Count"]),
        requests_per_second=float(total["Requests/s"]),
        p50_ms=float(total["50%"]),
        p99_ms=float(total["99%"]),
        errors=int(total["Failure Count"]),
    )


def run_load(url: str, *, connections: int, seconds: float, headers: dict[str, str]) -> LoadResult:
    runner = run_wrk if tool_name() == "wrk" else run_locust
    return runner(url, connections=connections, seconds=seconds, headers=headers)
