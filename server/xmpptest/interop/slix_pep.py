#!/usr/bin/python3
"""Personal eventing (XEP-0163) with slixmpp's own plugins, three clients.

  /usr/bin/python3 slix_pep.py [--ca FILE | --insecure] [--timeout 30] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B JID_C PASS_C

A and B are contacts of each other (the test makes them so); C is nobody's.
Steps, one line each: all log in, B with slixmpp's XEP-0115 caps and the
XEP-0084 plugin, so that its presence asks for avatar metadata
notifications (+notify); A publishes an OMEMO device list and a bundle
(XEP-0384, the axolotl nodes) with XEP-0223 publish-options
access_model=open, and the newer urn:xmpp:omemo:2:devices list; C, with no
roster relation, fetches all three; a publish-options precondition the node
does not meet is refused with conflict; A publishes an avatar (data, then
metadata) with the XEP-0084 plugin; B is notified of the metadata and
fetches the data, which must be the bytes A published; B fetches A's vCard
(XEP-0054), whose photo must be the avatar (XEP-0398).

Exit 0 and "PASS" on success, 1 with "FAIL: ..." on stderr on a failed check,
3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import asyncio  # noqa: E402
import base64  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

import interop_common as ic  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402

AXOLOTL = "eu.siacs.conversations.axolotl"
DEVICELIST = AXOLOTL + ".devicelist"
OMEMO2 = "urn:xmpp:omemo:2"
OMEMO2_DEVICES = OMEMO2 + ":devices"
AVATAR_META = "urn:xmpp:avatar:metadata"


def open_options(client, **extra):
    form = client["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="pubsub#access_model", value="open")
    for k, v in extra.items():
        form.add_field(var=k, value=v)
    return form


async def publish(client, node, item_id, xml, options, clients):
    fut = asyncio.ensure_future(client["xep_0060"].publish(None, node, id=item_id, payload=ET.fromstring(xml),
                                                           options=options, timeout=10))
    try:
        await ic.wait(f"{client.name} publishes to {node}", fut, clients)
    except IqError as exc:
        raise ic.Failure(f"publish to {node} refused: {exc.iq['error']['condition']} {exc.iq['error']['text']}")
    ic.ok(f"{client.name} published {node} with access_model=open")


async def fetch_one(client, owner, node, clients):
    fut = asyncio.ensure_future(client["xep_0060"].get_items(owner, node, timeout=10))
    try:
        iq = await ic.wait(f"{client.name} fetches {owner}'s {node}", fut, clients)
    except IqError as exc:
        raise ic.Failure(f"{client.name} could not fetch {node}: {exc.iq['error']['condition']}")
    items = list(iq["pubsub"]["items"])
    if len(items) != 1:
        raise ic.Failure(f"{node}: {len(items)} items, want 1")
    return items[0]["payload"]


async def main(args):
    a = ic.Client("A", ic.full_jid(args.jid_a, args.domain), args.pass_a, args)
    b = ic.Client("B", ic.full_jid(args.jid_b, args.domain), args.pass_b, args)
    c = ic.Client("C", ic.full_jid(args.jid_c, args.domain), args.pass_c, args)
    clients = [a, b, c]
    for cl in clients:
        for p in ("xep_0004", "xep_0060", "xep_0163", "xep_0084", "xep_0054", "xep_0153"):
            cl.register_plugin(p)
    # B announces its caps (XEP-0115): the server asks what they mean
    # and then sends B the metadata notifications it asks for.
    b.register_plugin("xep_0115")
    for cl in clients:
        await ic.login(cl, clients)
    jid_a = a.boundjid.bare

    # OMEMO: device list and bundle, open to anyone.
    device = str(int.from_bytes(os.urandom(3), "big") + 1)
    await publish(a, DEVICELIST, "current", f"<list xmlns='{AXOLOTL}'><device id='{device}'/></list>", open_options(a), clients)
    bundle = (f"<bundle xmlns='{AXOLOTL}'><signedPreKeyPublic signedPreKeyId='1'>BQ==</signedPreKeyPublic>"
              f"<signedPreKeySignature>AA==</signedPreKeySignature><identityKey>BQ==</identityKey>"
              f"<prekeys><preKeyPublic preKeyId='1'>BQ==</preKeyPublic></prekeys></bundle>")
    await publish(a, f"{AXOLOTL}.bundles:{device}", "current", bundle, open_options(a), clients)
    await publish(a, OMEMO2_DEVICES, "current", f"<devices xmlns='{OMEMO2}'><device id='{device}'/></devices>",
                  open_options(a, **{"pubsub#max_items": "max"}), clients)

    got = await fetch_one(c, jid_a, DEVICELIST, clients)
    ids = [d.get("id") for d in got.findall(f"{{{AXOLOTL}}}device")]
    if ids != [device]:
        raise ic.Failure(f"C read device ids {ids}, want [{device}]")
    ic.ok(f"C (no roster relation) read A's device list: {ids}")
    got = await fetch_one(c, jid_a, f"{AXOLOTL}.bundles:{device}", clients)
    if got.find(f"{{{AXOLOTL}}}identityKey") is None:
        raise ic.Failure("C's copy of the bundle has no identityKey")
    ic.ok("C read A's bundle")
    got = await fetch_one(c, jid_a, OMEMO2_DEVICES, clients)
    if [d.get("id") for d in got.findall(f"{{{OMEMO2}}}device")] != [device]:
        raise ic.Failure("C read the wrong urn:xmpp:omemo:2 device list")
    ic.ok("C read A's urn:xmpp:omemo:2 device list")

    # A precondition the node does not meet (XEP-0223).
    wrong = a["xep_0004"].make_form(ftype="submit")
    wrong.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    wrong.add_field(var="pubsub#access_model", value="whitelist")
    try:
        await ic.wait("A publishes with a precondition the node does not meet",
                      asyncio.ensure_future(a["xep_0060"].publish(None, DEVICELIST, id="current",
                                                                  payload=ET.fromstring(f"<list xmlns='{AXOLOTL}'/>"),
                                                                  options=wrong, timeout=10)), clients)
        raise ic.Failure("a publish with a precondition the node does not meet was accepted")
    except IqError as exc:
        if exc.iq["error"]["condition"] != "conflict":
            raise ic.Failure(f"precondition not met: {exc.iq['error']['condition']}, want conflict")
    ic.ok("a precondition the node does not meet is refused with conflict")

    # Avatar (XEP-0084), B notified through its caps.
    img = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    avatar_id = hashlib.sha1(img).hexdigest()
    notified = b.waiter("avatar_metadata_publish", lambda msg: msg["from"].bare == jid_a)
    await ic.wait("A publishes its avatar data", asyncio.ensure_future(a["xep_0084"].publish_avatar(img, timeout=10)), clients)
    await ic.wait("A publishes its avatar metadata", asyncio.ensure_future(a["xep_0084"].publish_avatar_metadata(
        [{"id": avatar_id, "type": "image/png", "bytes": len(img)}], timeout=10)), clients)
    ic.ok(f"A published its avatar {avatar_id}")
    msg = await ic.wait("B is notified of A's avatar metadata", notified, clients)
    meta = msg["pubsub_event"]["items"]["item"]["avatar_metadata"]
    infos = [i.get("id") for i in meta.xml.findall(f"{{{AVATAR_META}}}info")]
    if infos != [avatar_id]:
        raise ic.Failure(f"B's notification names {infos}, want [{avatar_id}]")
    ic.ok("B was notified of A's avatar (its caps asked for urn:xmpp:avatar:metadata+notify)")
    iq = await ic.wait("B fetches A's avatar data", asyncio.ensure_future(b["xep_0084"].retrieve_avatar(jid_a, avatar_id, timeout=10)), clients)
    data = iq["pubsub"]["items"]["item"]["avatar_data"]["value"]
    if data != img:
        raise ic.Failure("B's copy of the avatar differs from what A published")
    ic.ok("B fetched A's avatar, byte for byte")
    iq = await ic.wait("B fetches A's vCard", asyncio.ensure_future(b["xep_0054"].get_vcard(a.boundjid.bare, local=False, timeout=10)), clients)
    photo = iq["vcard_temp"]["PHOTO"]["BINVAL"]
    if photo != img:
        raise ic.Failure(f"A's vCard photo is not the avatar ({len(photo or b'')} bytes)")
    ic.ok("A's vCard shows the avatar (XEP-0398)")
    for cl in clients:
        await ic.logout(cl)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    for who in ("a", "b", "c"):
        p.add_argument(f"jid_{who}")
        p.add_argument(f"pass_{who}")
    ic.run(main, p.parse_args())
