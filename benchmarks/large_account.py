"""Large-account benchmark: set-up of a 10,000-device system, before and after, in one process.

A real Home Assistant (the test harness's) sets the entry up against the simulator over
loopback, once as the integration does now and once with this change's three fixes turned
back off (the baseline: the inventory parsed on the event loop, every device looked up by
walking the whole list, all entities added in one go). It prints, for each, how long
``async_setup`` took (what Home Assistant's 10 s warning measures), how long until every
entity was added, and the longest stretch the event loop was blocked, then the ratios.

    .venv/bin/python -m benchmarks.large_account [--devices 10000]
"""

# ruff: noqa: T201 - a command-line benchmark prints its table
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import tempfile

import pytest

CASE = Path(__file__).with_name("large_account_case.py")


def main(argv: list[str] | None = None) -> int:
    """Run both set-ups in one pytest process and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000, help="microinverters to add")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        os.environ["LARGE_ACCOUNT_DEVICES"] = str(args.devices)
        os.environ["LARGE_ACCOUNT_RESULTS"] = str(results)
        code = pytest.main(
            [
                str(CASE),
                "-q",
                "-n",
                "0",
                "-p",
                "no:logging",
                "-o",
                "timeout=0",
            ]
        )
        if code != 0 or not results.exists():
            print("benchmark run failed", file=sys.stderr)
            return 1
        found = json.loads(results.read_text())
    print(f"\nSet-up of one system with {args.devices} more microinverters (wall clock, s)")
    print(f"{'':10} {'async_setup':>12} {'all entities':>13} {'longest block':>14} entities")
    for mode in ("baseline", "now"):
        row = found[mode]
        print(
            f"{mode:10} {row['setup']:12.2f} {row['added']:13.2f} {row['block']:14.2f}"
            f" {row['entities']}"
        )
    base, now = found["baseline"], found["now"]
    print(
        "ratio (baseline / now): "
        f"async_setup {base['setup'] / now['setup']:.1f}x, "
        f"all entities {base['added'] / now['added']:.1f}x, "
        f"longest block {base['block'] / now['block']:.1f}x"
    )
    return 0 if now["setup"] < 10 and now["entities"] == base["entities"] else 1


if __name__ == "__main__":
    sys.exit(main())
