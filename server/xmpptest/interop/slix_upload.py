#!/usr/bin/python3
"""HTTP file upload (XEP-0363) with slixmpp's xep_0363 plugin.

  SSL_CERT_FILE=CA.pem /usr/bin/python3 slix_upload.py --ca CA.pem \\
      [--timeout 60] [-v] --max BYTES HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

A and B log in. A finds the upload service through disco (slixmpp's
upload_file: the server's items, the store/file identity, the feature and
the max-file-size form), uploads a file over HTTPS and sends B the URL; B
downloads it with aiohttp and gets the same bytes. A file one byte over
the limit is refused by the plugin from the form (FileTooBig with the
limit), and a slot asked for by hand gets the server's file-too-large
error with <max-file-size/>. A PUT to a slot URL with a forged signature
gets 403.

The domain's name resolves to HOST here (the test domain is in no DNS);
HTTPS trusts the CA through SSL_CERT_FILE, which aiohttp's default
context reads.
Exit 0 and "PASS", 1 with "FAIL: ..." on stderr, 3 on the hard timeout.
"""

import os
import socket
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402

NS = "urn:xmpp:http:upload:0"


def resolve_domain_to(host, domain):
    """Make the domain and its subdomains resolve to host, for aiohttp."""
    real = socket.getaddrinfo

    def getaddrinfo(name, *rest, **kw):
        if isinstance(name, str) and (name == domain or name.endswith("." + domain)):
            name = host
        return real(name, *rest, **kw)
    socket.getaddrinfo = getaddrinfo


def patch_asyncio_wait():
    """Debian's slixmpp 1.8.3 hands asyncio.wait coroutines in
    get_info_from_domain (which upload_file uses to find the service);
    Python 3.11 refuses them ("Passing coroutines is forbidden"). Wrap
    them in tasks, as older Pythons did."""
    import asyncio
    real = asyncio.wait

    async def wait(fs, *a, **kw):
        return await real([asyncio.ensure_future(f) for f in fs], *a, **kw)
    asyncio.wait = wait


async def main(args):
    from aiohttp import ClientSession
    from slixmpp.exceptions import IqError
    from slixmpp.plugins.xep_0363.http_upload import FileTooBig

    resolve_domain_to(args.host, args.domain)
    patch_asyncio_wait()
    a = ic.full_jid(args.jid_a, args.domain)
    b = ic.full_jid(args.jid_b, args.domain)
    ca = ic.Client("A", a + "/desk", args.pass_a, args)
    cb = ic.Client("B", b + "/phone", args.pass_b, args)
    clients = [ca, cb]
    for c in clients:
        c.register_plugin("xep_0363")
        await ic.login(c, clients)

    data = os.urandom(200_000) + "a photo, pretend".encode()
    ic.step("A uploads a file with upload_file")
    url = await ca.plugin["xep_0363"].upload_file(
        "garden photo.jpg", size=len(data), content_type="image/jpeg",
        input_file=__import__("io").BytesIO(data), domain=args.domain, timeout=10)
    service = ca.plugin["xep_0363"].upload_service
    if str(service) != "upload." + args.domain:
        raise ic.Failure(f"upload service found at {service}, want upload.{args.domain}")
    if ca.plugin["xep_0363"].max_file_size != args.max:
        raise ic.Failure(f"max-file-size from disco is {ca.plugin['xep_0363'].max_file_size}, want {args.max}")
    ic.ok(f"uploaded {len(data)} bytes through {service} (max {args.max}): {url}")

    got = cb.waiter("message", lambda m: m["body"] == url)
    ca.send_message(mto=b, mbody=url, mtype="chat")
    await ic.wait("B gets the URL", got, clients)
    ic.step("B downloads it")
    async with ClientSession() as s:
        async with s.get(url) as r:
            body = await r.read()
            if r.status != 200 or body != data:
                raise ic.Failure(f"GET {url}: {r.status}, {len(body)} bytes (want {len(data)} equal bytes)")
            if r.headers.get("Content-Type") != "image/jpeg":
                raise ic.Failure(f"Content-Type {r.headers.get('Content-Type')}")
    ic.ok(f"B got the same {len(body)} bytes")

    ic.step("A tries a file one byte over the limit")
    try:
        await ca.plugin["xep_0363"].upload_file(
            "big.bin", size=args.max + 1, input_file=__import__("io").BytesIO(b""), domain=args.domain, timeout=10)
        raise ic.Failure("upload_file took a file over the limit")
    except FileTooBig as e:
        if e.args[1] != args.max:
            raise ic.Failure(f"FileTooBig says the limit is {e.args[1]}, want {args.max}")
    ic.ok("the plugin refuses it from the service's form")
    try:
        await ca.plugin["xep_0363"].request_slot(service, "big.bin", args.max + 1, "application/octet-stream", timeout=10)
        raise ic.Failure("the server gave a slot over the limit")
    except IqError as e:
        cond = e.iq["error"]["condition"]
        mx = e.iq.xml.find(f".//{{{NS}}}file-too-large/{{{NS}}}max-file-size")
        if cond != "not-acceptable" or mx is None or int(mx.text) != args.max:
            raise ic.Failure(f"error {cond}, max-file-size {None if mx is None else mx.text}: {e.iq}")
    ic.ok(f"the server says file-too-large with max-file-size {args.max}")

    ic.step("A puts a file at a forged slot URL")
    slot = await ca.plugin["xep_0363"].request_slot(service, "note.txt", 5, "text/plain", timeout=10)
    put = slot["http_upload_slot"]["put"]["url"]
    i = put.index("sig=") + 4
    forged = put[:i] + ("B" if put[i] != "B" else "C") + put[i + 1:]
    async with ClientSession() as s:
        async with s.put(forged, data=b"hello", headers={"Content-Type": "text/plain"}) as r:
            if r.status != 403:
                raise ic.Failure(f"PUT to a forged URL: {r.status}, want 403")
        async with s.put(put, data=b"hello", headers={"Content-Type": "text/plain"}) as r:
            if r.status != 201:
                raise ic.Failure(f"PUT to the real URL after the forged one: {r.status}, want 201")
    ic.ok("403 for the forged URL; the real one still works")

    for c in clients:
        await ic.logout(c)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    p.add_argument("--max", type=int, required=True, help="the server's upload.max_file_bytes")
    for name in ("jid_a", "pass_a", "jid_b", "pass_b"):
        p.add_argument(name)
    ic.run(main, p.parse_args())
