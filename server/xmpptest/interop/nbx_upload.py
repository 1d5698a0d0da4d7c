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

import os  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

try:
    import gi
    gi.require_version("Soup", "3.0")
    from gi.repository import Gio
    from nbxmpp.errors import HTTPUploadStanzaError
    from nbxmpp.http import HTTPSession
    from nbxmpp.namespaces import Namespace
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import nbxmpp ({exc}); install python3-nbxmpp and run with /usr/bin/python3",
          file=sys.stderr, flush=True)
    sys.exit(4)

import nbx_common as nb  # noqa: E402
from nbx_common import Failure, call, login, ok, run_until, step  # noqa: E402


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


def _upload_args(p):
    p.add_argument("--ca", required=True, help="PEM CA the HTTPS certificate is checked against")
    p.add_argument("--max", type=int, required=True, help="the server's upload.max_file_bytes")


if __name__ == "__main__":
    nb.run(main, __doc__, more=_upload_args)
