"""`python -m medianest_simulators [--json] [--youtube-dir DIR]`: serve the whole suite."""

from __future__ import annotations

import argparse

from medianest_simulators.suite import run_suite_forever


def main() -> None:
    parser = argparse.ArgumentParser(description="Run MediaNest's loopback simulators.")
    parser.add_argument("--youtube-dir", help="folder scanned as the Plex YouTube section")
    parser.add_argument("--json", action="store_true", help="print the URLs as one JSON line")
    args = parser.parse_args()
    run_suite_forever(youtube_dir=args.youtube_dir, print_json=args.json)


if __name__ == "__main__":
    main()
