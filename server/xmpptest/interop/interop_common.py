"""Shared helpers for the slixmpp interop scripts (slix_pair.py, slix_recv.py).

Run the scripts with Debian's interpreter, /usr/bin/python3, which has
python3-slixmpp (1.8.3). Every script has a hard deadline: a SIGALRM that
prints what it was waiting for and exits 3, so a broken server never hangs a
test.
"""

import argparse
import asyncio
import logging
import os
import signal
import ssl
import sys
import time

try:
    import slixmpp
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import slixmpp ({exc}); install python3-slixmpp and run with /usr/bin/python3",
          file=sys.stderr, flush=True)
    sys.exit(4)

EXIT_FAIL = 1
EXIT_TIMEOUT = 3

_current_step = "starting"


class Failure(Exception):
    """A check failed; the message says which and why."""


def log(msg):
    print(msg, flush=True)


def step(name):
    """Record and print the step in progress, so a timeout can name it."""
    global _current_step
    _current_step = name
    log(f"... {name}")


def ok(msg):
    log(f"ok  {msg}")


def add_common_args(p):
    p.add_argument("host", help="server address to connect to, e.g. 127.0.0.1")
    p.add_argument("port", type=int, help="server port")
    p.add_argument("domain", help="XMPP domain, e.g. hearth.test (JIDs without @ get it appended)")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--ca", metavar="FILE",
                     help="PEM CA (or self-signed certificate) to verify the server against; the name checked is the domain")
    tls.add_argument("--insecure", action="store_true",
                     help="do not verify the server certificate")
    p.add_argument("--direct-tls", action="store_true",
                   help="connect with direct TLS (XEP-0368) instead of STARTTLS")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="hard limit for the whole run in seconds (default 20)")
    p.add_argument("-v", "--verbose", action="store_true", help="log slixmpp's stream (XML) to stderr")


def full_jid(jid, domain):
    return jid if "@" in jid else f"{jid}@{domain}"


def install_deadline(seconds):
    """Exit with EXIT_TIMEOUT once seconds have passed, whatever is running."""
    def on_alarm(signum, frame):
        print(f"FAIL: timed out after {seconds:g}s while: {_current_step}", file=sys.stderr, flush=True)
        os._exit(EXIT_TIMEOUT)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def setup_logging(verbose):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.CRITICAL,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


class Client(slixmpp.ClientXMPP):
    """A ClientXMPP that reports connection, TLS and auth failures as Failure."""

    def __init__(self, name, jid, password, args):
        super().__init__(jid, password)
        self.name = name
        self.args = args
        self.failed = asyncio.get_event_loop().create_future()
        self.started = asyncio.get_event_loop().create_future()
        # Subscription requests are answered by the scripts, not by slixmpp
        # (None = neither approve nor refuse automatically).
        self.auto_authorize = None
        self.auto_subscribe = False
        self.register_plugin("xep_0030")  # disco
        self.register_plugin("xep_0199")  # ping
        self.register_plugin("xep_0203")  # delayed delivery
        if args.insecure:
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        elif args.ca:
            self.ca_certs = args.ca
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("connection_failed", lambda e: self._fail(f"connection failed: {e}"))
        self.add_event_handler("ssl_invalid_chain",
                               lambda e: self._fail(f"TLS certificate not trusted: {e} (use --ca FILE or --insecure)"))
        self.add_event_handler("failed_all_auth", lambda _: self._fail("authentication failed (all SASL mechanisms)"))
        self.add_event_handler("stream_error", lambda e: self._fail(f"stream error: {e['condition']} {e['text']}"))
        self.add_event_handler("disconnected", self._on_disconnected)

    def _fail(self, why):
        if not self.failed.done():
            self.failed.set_result(f"{self.name} ({self.boundjid.bare}): {why}")

    def _on_disconnected(self, reason):
        if not self.started.done():
            self._fail(f"disconnected before the session started: {reason or 'no reason given'}")

    async def _on_start(self, _):
        try:
            await self.get_roster(timeout=10)
        except Exception as exc:  # IqError or IqTimeout
            self._fail(f"roster get failed: {exc}")
            return
        self.send_presence()
        if not self.started.done():
            self.started.set_result(True)

    def start(self):
        self.connect(address=(self.args.host, self.args.port), use_ssl=self.args.direct_tls,
                     force_starttls=not self.args.direct_tls, disable_starttls=self.args.direct_tls)

    def waiter(self, event, pred=lambda _: True):
        """A future for the next event that pred accepts; register it before acting."""
        fut = asyncio.get_event_loop().create_future()

        def handler(arg):
            if not fut.done() and pred(arg):
                fut.set_result(arg)
        self.add_event_handler(event, handler)
        fut.add_done_callback(lambda _: self.del_event_handler(event, handler))
        return fut


async def wait(what, fut, clients, timeout=10.0):
    """Wait for fut, failing early when a client reports a failure."""
    step(what)
    watch = [c.failed for c in clients]
    done, _ = await asyncio.wait([fut, *watch], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for f in watch:
        if f in done:
            raise Failure(f.result())
    if fut not in done:
        raise Failure(f"timed out after {timeout:g}s: {what}")
    return fut.result()


async def until(what, cond, clients, timeout=10.0):
    """Poll cond until it holds (for state slixmpp keeps, such as the roster)."""
    step(what)
    deadline = time.monotonic() + timeout
    while not cond():
        for c in clients:
            if c.failed.done():
                raise Failure(c.failed.result())
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:g}s: {what}")
        await asyncio.sleep(0.05)


async def login(client, clients):
    client.start()
    await wait(f"{client.name} logs in as {client.boundjid.bare}", client.started, clients)
    ok(f"{client.name} logged in as {client.boundjid.full}"
       f" ({'direct TLS' if client.args.direct_tls else 'STARTTLS'} to {client.args.host}:{client.args.port})")


async def logout(client):
    step(f"{client.name} disconnects")
    client.disconnect()
    try:
        await asyncio.wait_for(client.disconnected, 5)
    except asyncio.TimeoutError:
        client.abort()


def run(main, args):
    """Run main(args) under the deadline; exit 0, EXIT_FAIL or EXIT_TIMEOUT."""
    setup_logging(args.verbose)
    install_deadline(args.timeout)
    try:
        asyncio.run(main(args))
    except Failure as exc:
        print(f"FAIL: {exc}", file=sys.stderr, flush=True)
        os._exit(EXIT_FAIL)
    except Exception as exc:  # an unexpected error is a failure too, never a hang
        print(f"FAIL: unexpected {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(EXIT_FAIL)
    log("PASS")
    sys.stdout.flush()
    os._exit(0)


def parser(description):
    return argparse.ArgumentParser(description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def run_two(main, doc):
    """Run main with the common arguments and two accounts, JID_A PASS_A JID_B PASS_B."""
    p = parser(doc)
    add_common_args(p)
    for name in ("jid_a", "pass_a", "jid_b", "pass_b"):
        p.add_argument(name)
    run(main, p.parse_args())
