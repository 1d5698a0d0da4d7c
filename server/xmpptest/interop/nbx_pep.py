#!/usr/bin/python3
"""Gajim's library, nbxmpp, against a real server: OMEMO and avatars (PEP).

  /usr/bin/python3 nbx_pep.py [--timeout 30] HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B JID_C PASS_C

A and B are contacts of each other (the test makes them so); C is nobody's.
nbxmpp's own OMEMO and UserAvatar modules do what Gajim does: A publishes
its OMEMO device list and bundle (public: publish-options access_model
open); C, with no roster relation, reads both. A publishes an avatar for
contacts only (access_model presence); B reads it byte for byte, C is
refused. A makes the avatar public: the node exists with another
configuration, so the publish meets an unmet precondition and nbxmpp
reconfigures the node (pubsub#owner configure) and publishes again, as
Gajim does; then C reads it.

The certificate is not checked (this is about personal eventing; the
slixmpp tests check TLS). Exit 0 and "PASS" on success, 1 with "FAIL: ..."
on stderr on a failed check, 3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import argparse  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

try:
    from gi.repository import GLib
    from nbxmpp.client import Client
    from nbxmpp.const import ConnectionProtocol, ConnectionType
    from nbxmpp.modules.user_avatar import Avatar
    from nbxmpp.protocol import JID
    from nbxmpp.structs import OMEMOBundle
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


def main(args):
    a = login(args, args.jid_a, args.pass_a)
    b = login(args, args.jid_b, args.pass_b)
    c = login(args, args.jid_c, args.pass_c)
    jid_a = JID.from_string(f"{args.jid_a}@{args.domain}")

    device = int.from_bytes(os.urandom(3), "big") + 1
    call("A publishes its OMEMO device list (public)", a.get_module("OMEMO").set_devicelist, [device], public=True)
    bundle = OMEMOBundle(spk={"id": 1, "key": os.urandom(33)}, spk_signature=os.urandom(64), ik=os.urandom(33),
                         otpks=[{"id": i, "key": os.urandom(33)} for i in range(1, 4)])
    call("A publishes its OMEMO bundle (public)", a.get_module("OMEMO").set_bundle, bundle, device, public=True)
    ok(f"A published device {device} and its bundle")
    got = call("C reads A's device list", c.get_module("OMEMO").request_devicelist, jid=jid_a)
    if list(got) != [device]:
        raise Failure(f"C read devices {got}, want [{device}]")
    got = call("C reads A's bundle", c.get_module("OMEMO").request_bundle, jid_a, device)
    if got.ik != bundle.ik or len(got.otpks) != 3:
        raise Failure("C's copy of the bundle differs from A's")
    ok("C (no roster relation) read A's device list and bundle")

    img = b"\x89PNG\r\n\x1a\n" + os.urandom(200)
    sha = hashlib.sha1(img).hexdigest()
    avatar = Avatar()
    avatar.add_image_source(img, "image/png", 32, 32)
    call("A publishes its avatar for contacts", a.get_module("UserAvatar").set_avatar, avatar, public=False)
    meta = call("B reads A's avatar metadata", b.get_module("UserAvatar").request_avatar_metadata, jid=jid_a)
    if meta is None or meta.default != sha:
        raise Failure(f"B read metadata {meta}, want the avatar {sha}")
    data = call("B reads A's avatar", b.get_module("UserAvatar").request_avatar_data, sha, jid=jid_a)
    if data is None or data.data != img:
        raise Failure("B's copy of the avatar differs from A's")
    ok("B (a contact) read A's avatar, byte for byte")
    try:
        call("C tries A's avatar", c.get_module("UserAvatar").request_avatar_data, sha, jid=jid_a)
        raise Failure("C, no contact of A's, read A's contacts-only avatar")
    except Failure:
        raise
    except Exception as exc:
        ok(f"C is refused A's contacts-only avatar ({getattr(exc, 'condition', exc)})")
    call("A makes its avatar public (precondition, reconfigure, publish again)",
         a.get_module("UserAvatar").set_avatar, avatar, public=True)
    model = call("A reads the avatar node's access model", a.get_module("PubSub").get_access_model,
                 "urn:xmpp:avatar:data")
    if model != "open":
        raise Failure(f"the avatar node's access model is {model}, want open")
    data = call("C reads A's public avatar", c.get_module("UserAvatar").request_avatar_data, sha, jid=jid_a)
    if data is None or data.data != img:
        raise Failure("C's copy of the public avatar differs from A's")
    ok("C read A's avatar once A made it public")
    for cl in (a, b, c):
        cl.disconnect()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("domain")
    for who in ("a", "b", "c"):
        p.add_argument(f"jid_{who}")
        p.add_argument(f"pass_{who}")
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
