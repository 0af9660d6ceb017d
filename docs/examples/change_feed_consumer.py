#!/usr/bin/env python3
"""Consume Roundtable's change feed with a durable JetStream consumer: miss nothing.

Every change Roundtable projects is kept in the JetStream stream ROUNDTABLE_CHANGES
(subjects roundtable.changes.<negotiation_id>; docs/asyncapi.yaml, docs/PROJECTOR.md).
This script reads it through a durable pull consumer of its own, so that:

- started after a negotiation concluded, it receives every change from the beginning
  (or from --since TIME), in order;
- stopped and started again with the same --durable name, it resumes after the last
  change it acknowledged: no gap, no repeat.

Each change carries its negotiation's `version`, so applying it is idempotent: the
script keeps the last version it applied per negotiation (in memory; a real
integration stores it with its own data, in the same transaction) and skips a change at
or below it, as the views rebuild (`roundtable project --rebuild`) announces every
change again. It acknowledges a change only once it is applied.

    pip install nats-py==2.16.0
    python3 docs/examples/change_feed_consumer.py --server nats://127.0.0.1:4222 --durable portal
    python3 docs/examples/change_feed_consumer.py --durable portal harbourside-waste --count 10
    python3 docs/examples/change_feed_consumer.py --durable audit-2027 --since 2027-06-08T00:00:00Z

It prints one line per change applied:

    harbourside-waste v23 proposal_adopted: clause collection agreed at version 1

and stops on Ctrl-C, after --count changes, or after --idle seconds with nothing new.
"""

import argparse
import asyncio
import json
import os
import re
import signal
from datetime import datetime, timezone

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

STREAM = "ROUNDTABLE_CHANGES"
PREFIX = "roundtable.changes"
NEGOTIATION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
DURABLE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("negotiation", nargs="?", help="only this negotiation id")
    parser.add_argument(
        "--server",
        default=os.environ.get("ROUNDTABLE_NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS URL (default: $ROUNDTABLE_NATS_URL or nats://127.0.0.1:4222)",
    )
    parser.add_argument(
        "--durable",
        required=True,
        help="the durable consumer's name: use the same name to resume where you stopped",
    )
    parser.add_argument(
        "--since",
        help="for a new consumer: start with the changes stored at or after this RFC 3339 time "
        "(default: from the first change)",
    )
    parser.add_argument("--count", type=int, help="stop after applying this many changes")
    parser.add_argument("--idle", type=float, help="stop after this many seconds with nothing new")
    parser.add_argument("--batch", type=int, default=100, help="changes fetched at once (default 100)")
    args = parser.parse_args()
    if args.negotiation and not NEGOTIATION_ID.match(args.negotiation):
        parser.error(f"{args.negotiation!r} is not a negotiation id (a-z, 0-9 and -)")
    if not DURABLE.match(args.durable):
        parser.error(f"{args.durable!r}: a durable name is letters, digits, '-' and '_'")
    return args


def consumer_config(args):
    """The consumer to create when --durable does not exist yet."""
    subject = f"{PREFIX}.{args.negotiation}" if args.negotiation else f"{PREFIX}.>"
    config = ConsumerConfig(
        durable_name=args.durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30,
        filter_subject=subject,
        deliver_policy=DeliverPolicy.ALL,
    )
    if args.since:
        start = datetime.fromisoformat(args.since.replace("Z", "+00:00")).astimezone(timezone.utc)
        config.deliver_policy = DeliverPolicy.BY_START_TIME
        config.opt_start_time = start.isoformat().replace("+00:00", "Z")
    return subject, config


def describe(change):
    """One line for a change."""
    summary = change.get("summary") or f"by {change['actor']}"
    return f"{change['negotiation_id']} v{change['version']} {change['event_type']}: {summary}"


async def main():
    args = parse_args()
    subject, config = consumer_config(args)
    nc = await nats.connect(args.server)
    js = nc.jetstream()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)

    # Binds to the durable consumer if it exists (resuming after its last ack), or
    # creates it with `config`.
    sub = await js.pull_subscribe(subject, durable=args.durable, stream=STREAM, config=config)
    print(f"consuming {subject} from stream {STREAM} as {args.durable} at {args.server}", flush=True)

    applied = {}  # negotiation id -> last version applied
    done = 0
    idle_since = asyncio.get_running_loop().time()
    while not stop.is_set():
        wanted = args.batch if args.count is None else min(args.batch, args.count - done)
        if wanted <= 0:
            break
        try:
            # Never fetch more than will be applied: what is fetched and not acknowledged
            # is delivered again only after the ack wait.
            messages = await sub.fetch(wanted, timeout=1)
        except (NatsTimeout, asyncio.TimeoutError):
            # nats-py raises its own TimeoutError, or asyncio's from some fetch paths
            # (seen when the server is slow to answer): both mean nothing came in time.
            if args.idle is not None and asyncio.get_running_loop().time() - idle_since >= args.idle:
                break
            continue
        idle_since = asyncio.get_running_loop().time()
        for msg in messages:
            try:
                change = json.loads(msg.data)
                negotiation, version = change["negotiation_id"], change["version"]
            except (ValueError, KeyError, TypeError) as e:
                print(f"{msg.subject}: not a change ({e}); skipped", flush=True)
                await msg.ack()
                continue
            last = applied.get(negotiation, 0)
            if version <= last:
                await msg.ack()  # applied already (a rebuild announces every change again)
                continue
            if last and version > last + 1:
                print(f"{negotiation}: versions {last + 1}..{version - 1} are not in the feed; read the view", flush=True)
            # Apply the change here (update your records), then acknowledge it.
            print(describe(change), flush=True)
            applied[negotiation] = version
            await msg.ack_sync()
            done += 1
    # Every change applied was acknowledged (ack_sync waits for the server), so closing
    # loses nothing; the consumer keeps its place on the server.
    await sub.unsubscribe()
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
