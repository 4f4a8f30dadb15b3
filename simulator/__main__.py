"""Command line: ``python -m simulator --port 8090 --scenario small_home``."""

from __future__ import annotations

import argparse
from datetime import datetime
import logging
import sys

from aiohttp import web

from . import SCENARIOS, Simulator, create_app
from .state import DEFAULT_TOKEN_LIFETIME


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    parser.add_argument(
        "--scenario",
        default="small_home",
        help="scenario name (see --list-scenarios) or a scenario .json file",
    )
    parser.add_argument(
        "--list-scenarios", action="store_true", help="print the scenarios and exit"
    )
    parser.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve the authorize page at once (302 to redirect_uri)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="simulated start time, ISO 8601 with offset (default: now)",
    )
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=DEFAULT_TOKEN_LIFETIME,
        help="access token lifetime in seconds (default 86393)",
    )
    parser.add_argument(
        "--accept-form-body",
        action="store_true",
        help="also read token parameters from a form-encoded body",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted."""
    args = parse_args(argv)
    if args.list_scenarios:
        for name, description in SCENARIOS.items():
            sys.stdout.write(f"{name:16} {description}\n")
        return 0
    if args.start is not None and args.start.tzinfo is None:
        sys.stderr.write("--start needs a UTC offset, e.g. 2026-06-21T12:00:00+00:00\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sim = Simulator(
        args.scenario,
        auto_approve=args.auto_approve,
        start=args.start,
        speed=args.speed,
        token_lifetime=args.token_lifetime,
        accept_form_body=args.accept_form_body,
    )
    web.run_app(create_app(sim), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
