"""Shared helpers for the nbxmpp interop scripts (nbx_pep.py, nbx_muc.py,
nbx_upload.py): Gajim's library, run with Debian's interpreter
(/usr/bin/python3, which has python3-nbxmpp), driven step by step on
GLib's main context. Every script has a hard deadline: a SIGALRM that
prints what it was waiting for and exits 3, so a broken server never hangs
a test.
"""

import argparse
import os
import signal
import sys

try:
    from gi.repository import GLib
    from nbxmpp.client import Client
    from nbxmpp.const import ConnectionProtocol, ConnectionType
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import nbxmpp ({exc}); install python3-nbxmpp and run with /usr/bin/python3",
          file=sys.stderr, flush=True)
    sys.exit(4)

_step = "starting"


class Failure(Exception):
    """A check failed; the message says which and why."""


def step(name):
    """Record and print the step in progress, so a timeout can name it."""
    global _step
    _step = name
    print(f"... {name}", flush=True)


def ok(msg):
    print(f"ok  {msg}", flush=True)


def run_until(done):
    """Run GLib's main context until done() holds (the deadline bounds it)."""
    ctx = GLib.MainContext.default()
    while not done():
        ctx.iteration(True)


def call(what, method, *args, **kwargs):
    """Run an nbxmpp task to its end and return its result (or raise)."""
    step(what)
    box = []

    def done(task):
        # The result must be taken here: the task forgets it after its
        # callbacks ran.
        try:
            box.append((task.finish(), None))
        except Exception as exc:  # an nbxmpp error, raised to the caller
            box.append((None, exc))
    method(*args, callback=done, **kwargs)
    run_until(lambda: box)
    result, err = box[0]
    if err is not None:
        raise err
    return result


def login(args, user, password):
    """Log user in over STARTTLS (the certificate is not checked here: the
    slixmpp tests check TLS) and return the connected client."""
    step(f"{user} logs in")
    c = Client(log_context=user)
    c.set_domain(args.domain)
    c.set_username(user)
    c.set_password(password)
    c.set_resource("nbxmpp")
    c.set_custom_host(f"{args.host}:{args.port}", ConnectionProtocol.TCP, ConnectionType.START_TLS)
    c.set_ignore_tls_errors(True)
    state = []
    c.subscribe("connected", lambda *a: state.append("connected"))
    c.subscribe("connection-failed", lambda *a: state.append("failed"))
    c.subscribe("disconnected", lambda *a: state.append("disconnected"))
    c.connect()
    run_until(lambda: state)
    if state[0] != "connected":
        raise Failure(f"{user} could not log in: {state[0]} ({c.get_error()})")
    ok(f"{user} logged in as {c.get_bound_jid()}")
    return c


def run(main, doc, accounts=("a", "b"), more=None):
    """Parse HOST PORT DOMAIN and a JID and password per account (plus what
    more(parser) adds), then run main(args) under the deadline: exit 0 and
    PASS, 1 with FAIL on stderr, 3 on the timeout."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("domain")
    for who in accounts:
        p.add_argument(f"jid_{who}")
        p.add_argument(f"pass_{who}")
    if more is not None:
        more(p)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("-v", "--verbose", action="store_true", help="log nbxmpp's stream (XML) to stderr")
    args = p.parse_args()
    if args.verbose:
        import logging
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)

    def on_alarm(signum, frame):
        print(f"FAIL: timed out after {args.timeout:g}s while: {_step}", file=sys.stderr, flush=True)
        os._exit(3)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    try:
        main(args)
    except Failure as exc:
        print(f"FAIL: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    except Exception as exc:
        print(f"FAIL: while {_step}: unexpected {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    print("PASS", flush=True)
    os._exit(0)
