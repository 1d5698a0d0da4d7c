#!/usr/bin/python3
"""The publish-subscribe service (XEP-0060) with slixmpp's own plugins, four clients.

  /usr/bin/python3 slix_pubsub.py [--ca FILE | --insecure] [--timeout 30] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B JID_C PASS_C JID_D PASS_D

Steps, one line each: all log in; A finds pubsub.DOMAIN among the server's
disco items and creates a node with a configuration form; B and C
subscribe; A publishes a social feed entry (XEP-0472: an Atom entry); B
and C are both notified with the entry; D subscribes late and gets the
last item; A retracts it and B, C and D are told; B reads the node's
items; A creates a node with the whitelist access model, to which D, a
stranger, may neither subscribe nor read.

Exit 0 and "PASS" on success, 1 with "FAIL: ..." on stderr on a failed check,
3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import asyncio  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

import interop_common as ic  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402

ATOM = "http://www.w3.org/2005/Atom"
NODE = "urn:xmpp:microblog:0"
ENTRY = (f"<entry xmlns='{ATOM}'><title type='text'>Hello from Hearth</title>"
         "<id>tag:hearth.test,2026:posts-1</id><published>2026-12-07T05:00:00Z</published>"
         "<updated>2026-12-07T05:00:00Z</updated></entry>")


def title_of(msg):
    entry = msg["pubsub_event"]["items"]["item"]["payload"]
    if entry is None:
        return None
    t = entry.find(f"{{{ATOM}}}title")
    return None if t is None else t.text


async def refused(what, fut, clients, want):
    try:
        await ic.wait(what, fut, clients)
    except IqError as exc:
        cond = exc.iq["error"]["condition"]
        if cond != want:
            raise ic.Failure(f"{what}: refused with {cond}, want {want}")
        return
    raise ic.Failure(f"{what}: accepted, want {want}")


async def main(args):
    names = ("A", "B", "C", "D")
    creds = ((args.jid_a, args.pass_a), (args.jid_b, args.pass_b), (args.jid_c, args.pass_c), (args.jid_d, args.pass_d))
    clients = [ic.Client(n, ic.full_jid(j, args.domain), p, args) for n, (j, p) in zip(names, creds)]
    a, b, c, d = clients
    for cl in clients:
        for p in ("xep_0004", "xep_0030", "xep_0059", "xep_0060"):
            cl.register_plugin(p)
    for cl in clients:
        await ic.login(cl, clients)
    service = "pubsub." + args.domain

    items = await ic.wait("A lists the server's disco items",
                          asyncio.ensure_future(a["xep_0030"].get_items(jid=args.domain, timeout=10)), clients)
    jids = [i[0] for i in items["disco_items"]["items"]]
    if service not in jids:
        raise ic.Failure(f"{service} is not among the server's items {jids}")
    ic.ok(f"the server lists {service}")

    form = a["xep_0004"].make_form(ftype="submit")
    form.add_field(var="pubsub#access_model", value="open")
    form.add_field(var="pubsub#max_items", value="20")
    form.add_field(var="pubsub#title", value="A's microblog")
    await ic.wait("A creates the node", asyncio.ensure_future(
        a["xep_0060"].create_node(service, NODE, config=form, timeout=10)), clients)
    ic.ok(f"A created {NODE} with a configuration form")

    for cl in (b, c):
        await ic.wait(f"{cl.name} subscribes", asyncio.ensure_future(cl["xep_0060"].subscribe(service, NODE, timeout=10)), clients)
    ic.ok("B and C subscribed")

    got = [cl.waiter("pubsub_publish", lambda m: m["pubsub_event"]["items"]["node"] == NODE) for cl in (b, c)]
    iq = await ic.wait("A publishes an Atom entry", asyncio.ensure_future(
        a["xep_0060"].publish(service, NODE, id="post-1", payload=ET.fromstring(ENTRY), timeout=10)), clients)
    if iq["pubsub"]["publish"]["item"]["id"] != "post-1":
        raise ic.Failure("the publish result names another item")
    for cl, fut in zip((b, c), got):
        msg = await ic.wait(f"{cl.name} is notified", fut, clients)
        if msg["from"].bare != service or title_of(msg) != "Hello from Hearth":
            raise ic.Failure(f"{cl.name}'s notification: from {msg['from']}, title {title_of(msg)!r}")
    ic.ok("B and C were both notified, with the entry")

    last = d.waiter("pubsub_publish", lambda m: m["pubsub_event"]["items"]["node"] == NODE)
    await ic.wait("D subscribes late", asyncio.ensure_future(d["xep_0060"].subscribe(service, NODE, timeout=10)), clients)
    msg = await ic.wait("D gets the last item", last, clients)
    if msg["pubsub_event"]["items"]["item"]["id"] != "post-1" or title_of(msg) != "Hello from Hearth":
        raise ic.Failure("D's last item is not the entry A published")
    ic.ok("D, a late subscriber, got the last item")

    gone = [cl.waiter("pubsub_retract", lambda m: m["pubsub_event"]["items"]["node"] == NODE) for cl in (b, c, d)]
    await ic.wait("A retracts the entry", asyncio.ensure_future(
        a["xep_0060"].retract(service, NODE, "post-1", timeout=10)), clients)
    for cl, fut in zip((b, c, d), gone):
        msg = await ic.wait(f"{cl.name} is told of the retraction", fut, clients)
        if msg["pubsub_event"]["items"]["retract"]["id"] != "post-1":
            raise ic.Failure(f"{cl.name}'s retraction names another item")
    ic.ok("the retraction reached B, C and D")

    await ic.wait("A publishes again", asyncio.ensure_future(
        a["xep_0060"].publish(service, NODE, id="post-2", payload=ET.fromstring(ENTRY), timeout=10)), clients)
    iq = await ic.wait("B reads the items", asyncio.ensure_future(
        b["xep_0060"].get_items(service, NODE, max_items=5, timeout=10)), clients)
    ids = [i["id"] for i in iq["pubsub"]["items"]]
    if ids != ["post-2"]:
        raise ic.Failure(f"B read items {ids}, want ['post-2']")
    ic.ok("B read the node's items")

    closed = a["xep_0004"].make_form(ftype="submit")
    closed.add_field(var="pubsub#access_model", value="whitelist")
    await ic.wait("A creates a whitelist node", asyncio.ensure_future(
        a["xep_0060"].create_node(service, "private", config=closed, timeout=10)), clients)
    await refused("D subscribes to the whitelist node", asyncio.ensure_future(
        d["xep_0060"].subscribe(service, "private", timeout=10)), clients, "not-allowed")
    await refused("D reads the whitelist node", asyncio.ensure_future(
        d["xep_0060"].get_items(service, "private", timeout=10)), clients, "not-allowed")
    ic.ok("the whitelist node refused D, a stranger")

    for cl in clients:
        await ic.logout(cl)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    for who in ("a", "b", "c", "d"):
        p.add_argument(f"jid_{who}")
        p.add_argument(f"pass_{who}")
    ic.run(main, p.parse_args())
