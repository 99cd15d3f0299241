"""The bystander process of `tests.attack.support.Bystander`: reads its configuration
(one JSON line) from stdin, checks every page once, says ready, then GETs the pages in
turn until "stop" arrives on stdin; prints statuses and latencies as one JSON line."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

import httpx


def main() -> None:
    config = json.loads(sys.stdin.readline())
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    statuses: Counter[int] = Counter()
    seconds: list[float] = []
    paths = config["paths"]
    with httpx.Client(base_url=config["base_url"], cookies=config["cookies"], timeout=60) as http:
        for path in paths:
            response = http.get(path)
            if response.status_code != 200:
                print(json.dumps({"ready": False, "path": path, "status": response.status_code}))
                return
        print(json.dumps({"ready": True}), flush=True)
        index = 0
        while not stop.is_set() or index < config["minimum"]:
            started = time.perf_counter()
            response = http.get(paths[index % len(paths)])
            seconds.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            index += 1
            time.sleep(config["interval"])
    print(json.dumps({"statuses": statuses, "seconds": seconds}))


if __name__ == "__main__":
    main()
