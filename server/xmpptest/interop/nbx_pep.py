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

import hashlib  # noqa: E402
import os  # noqa: E402

try:
    from nbxmpp.modules.user_avatar import Avatar
    from nbxmpp.protocol import JID
    from nbxmpp.structs import OMEMOBundle
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import nbxmpp ({exc}); install python3-nbxmpp and run with /usr/bin/python3",
          file=sys.stderr, flush=True)
    sys.exit(4)

import nbx_common as nb  # noqa: E402
from nbx_common import Failure, call, login, ok  # noqa: E402


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
    nb.run(main, __doc__, accounts=("a", "b", "c"))
