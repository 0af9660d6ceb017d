#!/usr/bin/env python3
"""Receive Roundtable's webhook deliveries: verify each signature, apply each change once.

Roundtable POSTs every change a webhook selects to its URL as JSON (the change message,
docs/schemas/change.json), with these headers:

    Roundtable-Delivery:  <webhook_id>:<negotiation_id>:<version>  (the same on every retry)
    Roundtable-Timestamp: <unix seconds of this attempt>
    Roundtable-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
                          (several comma-separated v1= values while a secret is rotated)

This receiver, using only the standard library:

- refuses (401) a delivery whose signature does not verify with the shared secret, or
  whose timestamp is more than 5 minutes from its clock (a replayed capture);
- answers 200 to a delivery it has seen already (same Roundtable-Delivery) without
  applying it again: deliveries are at least once, so de-duplicate on that id;
- applies each change (here: prints it) and answers 200.

Answer 2xx only once the change is safely applied: anything else, or no answer within
the time-out, makes Roundtable try again later, with backoff.

    python3 docs/examples/webhook_receiver.py --secret-file webhook.secret --port 8099

Options for trying out retries: --fail-first N answers 500 to the first N deliveries.
It prints `listening on http://HOST:PORT/` once it takes requests, then one line per
delivery: `accepted`, `duplicate`, `rejected` or `failed on purpose`.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300
MAX_BODY = 1 << 20


def verify(secret, timestamp, signature, body, now=None):
    """Why the delivery is refused, or None when it verifies."""
    now = time.time() if now is None else now
    try:
        ts = int(timestamp.strip())
    except (AttributeError, ValueError):
        return f"timestamp {timestamp!r} is not a number of seconds"
    if abs(now - ts) > TOLERANCE_SECONDS:
        return f"timestamp {ts} is more than {TOLERANCE_SECONDS} s from now"
    expected = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    candidates = [part.strip()[3:] for part in (signature or "").split(",") if part.strip().startswith("v1=")]
    if not candidates:
        return f"signature {signature!r} has no v1= value"
    if any(hmac.compare_digest(expected, c) for c in candidates):
        return None
    return "signature does not match"


class Receiver:
    """What the handler shares: the secret, the delivery ids seen, a failure budget."""

    def __init__(self, secret, fail_first):
        self.secret = secret
        self.fail_left = fail_first
        self.seen = set()  # a real receiver keeps these with the data it updates
        self.lock = threading.Lock()


def handler_for(receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: one line per delivery below
            pass

        def answer(self, status, text):
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.answer(413, "too large")
                return
            body = self.rfile.read(length)
            delivery = self.headers.get("Roundtable-Delivery", "")
            refused = verify(
                receiver.secret,
                self.headers.get("Roundtable-Timestamp"),
                self.headers.get("Roundtable-Signature"),
                body,
            )
            if refused:
                print(f"rejected {delivery or '(no delivery id)'}: {refused}", flush=True)
                self.answer(401, refused)
                return
            with receiver.lock:
                if receiver.fail_left > 0:
                    receiver.fail_left -= 1
                    print(f"failed on purpose {delivery}", flush=True)
                    self.answer(500, "failing on purpose (--fail-first)")
                    return
                if delivery in receiver.seen:
                    print(f"duplicate {delivery}", flush=True)
                    self.answer(200, "already applied")
                    return
                try:
                    change = json.loads(body)
                    line = (
                        f"{change['negotiation_id']} v{change['version']} {change['event_type']}: "
                        f"{change.get('summary', '')}"
                    )
                except (ValueError, KeyError, TypeError) as e:
                    print(f"rejected {delivery}: not a change ({e})", flush=True)
                    self.answer(400, "not a change")
                    return
                # Apply the change here (in the same transaction as recording `delivery`).
                receiver.seen.add(delivery)
                print(f"accepted {delivery} {line}", flush=True)
            self.answer(200, "ok")

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099, help="0 picks a free port")
    parser.add_argument("--secret-file", help="file holding the webhook's secret (else $ROUNDTABLE_WEBHOOK_SECRET)")
    parser.add_argument("--fail-first", type=int, default=0, help="answer 500 to the first N deliveries")
    args = parser.parse_args()
    if args.secret_file:
        with open(args.secret_file, "rb") as f:
            secret = f.read().strip()
    else:
        secret = os.environ.get("ROUNDTABLE_WEBHOOK_SECRET", "").encode()
    if not secret:
        parser.error("give the webhook's secret: --secret-file FILE or $ROUNDTABLE_WEBHOOK_SECRET")
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Receiver(secret, args.fail_first)))
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
