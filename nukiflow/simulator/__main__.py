"""`python -m nukiflow.simulator`: the fake Nuki cloud on its own."""

from __future__ import annotations

import argparse

from .settings import SimSettings
from .standalone import DEV_TOKEN, run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nukiflow.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--token", default=DEV_TOKEN, help=f"bearer token it accepts (default: {DEV_TOKEN})"
    )
    parser.add_argument("--locks", type=int, default=3, help="locks to seed (keypad paired)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device-delay", type=float, default=SimSettings().device_delay)
    parser.add_argument("--action-time", type=float, default=SimSettings().action_time)
    parser.add_argument("--offline-mode", choices=["hold", "drop"], default="drop")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    settings = SimSettings(
        device_delay=args.device_delay,
        action_time=args.action_time,
        offline_mode=args.offline_mode,
    )
    run(args.host, args.port, args.token, args.locks, args.seed, settings)


if __name__ == "__main__":
    main()
