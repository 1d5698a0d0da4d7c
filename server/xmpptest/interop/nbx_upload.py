#!/usr/bin/python3
"""Gajim's library, nbxmpp, shares a file the way Gajim does (XEP-0363).

  /usr/bin/python3 nbx_upload.py --ca CA.pem [--timeout 30] HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

A finds the upload service among the server's disco items (the store/file
identity, the feature, max-file-size in its form), asks for a slot with
nbxmpp's HTTPUpload module, and PUTs a file from disk with nbxmpp's
HTTPRequest (libsoup 3, as Gajim's upload does), the slot's headers
added; B GETs the URL with HTTPRequest and gets the same bytes. A slot one
byte over the limit is refused: HTTPUploadStanzaError, file-too-large,
with the limit. HTTPS is verified against the CA (a TLS database for the
Soup session); the XMPP stream's certificate is not checked here (the
slixmpp tests do).

DOMAIN must resolve to HOST (the test uses localhost). Exit 0 and "PASS"
on success, 1 with "FAIL: ..." on stderr on a failed check, 3 on the hard
timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

try:
    import gi
    gi.require_version("Soup", "3.0")
    from gi.repository import Gio, GLib
    from nbxmpp.client import Client
    from nbxmpp.const import ConnectionProtocol, ConnectionType
    from nbxmpp.errors import HTTPUploadStanzaError
    from nbxmpp.http import HTTPSession
    from nbxmpp.namespaces import Namespace
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import nbxmpp ({exc}); install python3-nbxmpp and run with /usr/bin/python3",
          file=sys.stderr, flush=True)
    sys.exit(4)

_step = "starting"


class Failure(Exception):
    pass


def step(name):
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


class Response:
    """What a finished HTTPRequest said: nbxmpp clears it right after its
    'finished' callback, so it is taken there, as Gajim does."""

    def __init__(self, req):
        self.complete = req.is_complete()
        self.status = int(req.get_status())
        self.error = req.get_error_string()
        self.data = req.get_data() if req.is_complete() else b""


def http(session, what, method, url, body_path=None, content_type="", headers=None):
    """One request with nbxmpp's HTTPRequest, run to its end."""
    step(what)
    req = session.create_request()
    if body_path is not None:
        req.set_request_body_from_path(content_type, body_path)
    for name, value in (headers or {}).items():
        req.get_request_headers().append(name, value)
    done = []
    req.send(method, url, timeout=20, callback=lambda r: done.append(Response(r)))
    run_until(lambda: done)
    return done[0]


def main(args):
    a = login(args, args.jid_a, args.pass_a)
    b = login(args, args.jid_b, args.pass_b)

    items = call("A lists the server's items", a.get_module("Discovery").disco_items, args.domain)
    service, limit = None, None
    for item in items.items:
        info = call(f"A asks {item.jid} what it is", a.get_module("Discovery").disco_info, item.jid)
        store = any(i.category == "store" and i.type == "file" for i in info.identities)
        if info.has_httpupload and store:
            service, limit = item.jid, info.httpupload_max_file_size
    if service is None:
        raise Failure(f"no upload service among the items {[str(i.jid) for i in items.items]}")
    if limit != args.max:
        raise Failure(f"max-file-size {limit}, want {args.max}")
    ok(f"upload service {service}, files up to {int(limit)} bytes")

    session = HTTPSession()
    session.get_soup_session().set_tls_database(Gio.TlsFileDatabase.new(args.ca))
    data = os.urandom(300_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "holiday photo.png"
        path.write_bytes(data)
        slot = call("A asks for a slot", a.get_module("HTTPUpload").request_slot,
                    service, path.name, len(data), "image/png")
        req = http(session, "A puts the file (HTTPRequest, from disk)", "PUT", slot.put_uri,
                   body_path=path, content_type="image/png", headers=slot.headers)
        if not req.complete or req.status not in (200, 201):
            raise Failure(f"PUT {slot.put_uri}: status {req.status} ({req.error})")
        ok(f"A put {len(data)} bytes: status {req.status}")

    req = http(session, "B gets the file (HTTPRequest)", "GET", slot.get_uri)
    if not req.complete or req.status != 200 or req.data != data:
        raise Failure(f"GET {slot.get_uri}: status {req.status} ({req.error}), {len(req.data)} bytes")
    ok(f"B got the same {len(data)} bytes from {slot.get_uri}")

    try:
        call("A asks for a slot one byte over the limit", a.get_module("HTTPUpload").request_slot,
             service, "big.bin", args.max + 1, "application/octet-stream")
        raise Failure("the server gave a slot over the limit")
    except HTTPUploadStanzaError as e:
        if e.condition != "not-acceptable" or e.get_max_file_size() != args.max:
            raise Failure(f"error {e.condition}/{e.app_condition}, max {e.get_max_file_size()}")
    ok(f"refused: not-acceptable, file-too-large, max-file-size {args.max}")
    for cl in (a, b):
        cl.disconnect()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("domain")
    for who in ("a", "b"):
        p.add_argument(f"jid_{who}")
        p.add_argument(f"pass_{who}")
    p.add_argument("--ca", required=True, help="PEM CA the HTTPS certificate is checked against")
    p.add_argument("--max", type=int, required=True, help="the server's upload.max_file_bytes")
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
