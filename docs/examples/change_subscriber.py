#!/usr/bin/env python3
"""Follow Roundtable negotiations without polling: print each change notification.

The projector publishes one notification per projected event on
roundtable.changes.<negotiation_id> (see docs/PROJECTOR.md). Notifications are hints:
they reach the subscribers connected at that moment, may be missed (this script was
down, a projector crashed between storing a view and announcing it) and may come again
(after a rebuild). So this script keeps the last version it saw per negotiation,
ignores what it has seen, and says when versions were missed: that is when an
integration reads the view (GET /negotiations/{id}/view) for the facts.

    pip install nats-py
    python3 docs/examples/change_subscriber.py                      # every negotiation
    python3 docs/examples/change_subscriber.py harbourside-waste    # one negotiation
    python3 docs/examples/change_subscriber.py --server nats://host:4222 --count 10

Stops on Ctrl-C, or after --count notifications.
"""

import argparse
import asyncio
import json
import os
import re
import signal

import nats

PREFIX = "roundtable.changes"
NEGOTIATION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def describe(change):
    """One line for a change notification."""
    return (
        f"{change['negotiation_id']} v{change['version']}: {change['event_type']}"
        f" by {change['actor']} (agreement version {change['agreement_version']},"
        f" {change['status']}, occurred {change['occurred_at']})"
    )


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("negotiation", nargs="?", help="only this negotiation id")
    parser.add_argument(
        "--server",
        default=os.environ.get("ROUNDTABLE_NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS URL (default: $ROUNDTABLE_NATS_URL or nats://127.0.0.1:4222)",
    )
    parser.add_argument("--count", type=int, help="stop after this many notifications")
    args = parser.parse_args()
    if args.negotiation and not NEGOTIATION_ID.match(args.negotiation):
        parser.error(f"{args.negotiation!r} is not a negotiation id (a-z, 0-9 and -)")
    subject = f"{PREFIX}.{args.negotiation}" if args.negotiation else f"{PREFIX}.>"

    nc = await nats.connect(args.server)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    last_seen = {}
    received = 0

    async def on_change(msg):
        nonlocal received
        try:
            change = json.loads(msg.data)
            negotiation, version = change["negotiation_id"], change["version"]
        except (ValueError, KeyError, TypeError) as e:
            print(f"{msg.subject}: not a change notification ({e})", flush=True)
            return
        seen = last_seen.get(negotiation, 0)
        if version <= seen:
            return  # seen already (a rebuild announces everything again)
        if seen and version > seen + 1:
            print(f"{negotiation}: missed v{seen + 1}..v{version - 1}; read the view", flush=True)
        last_seen[negotiation] = version
        print(describe(change), flush=True)
        received += 1
        if args.count and received >= args.count:
            stop.set()

    await nc.subscribe(subject, cb=on_change)
    print(f"listening on {subject} at {args.server}", flush=True)
    await stop.wait()
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
