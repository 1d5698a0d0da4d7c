#!/usr/bin/python3
"""Group chat (XEP-0045) and the room's archive (XEP-0313) with slixmpp's
xep_0045, xep_0313 and xep_0359 plugins.

  /usr/bin/python3 slix_muc_archive.py [--ca FILE | --insecure] [--timeout 60] [-v] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B JID_C PASS_C

A, B and C log in.
  - A finds the group chat service in the server's disco items (identity
    conference/text, feature http://jabber.org/protocol/muc);
  - A joins a new room and is told it made it (status 201); it reads the
    configuration form, names the room, makes it persistent with its
    archive on, and submits it;
  - B joins; A sees B arrive; A and B send 12 groupchat messages in turn,
    each of which reaches both (the sender gets its own back), with a
    stanza-id by the room (XEP-0359);
  - C joins later asking for 5 messages of history, and gets the last 5,
    each with a delay from the room;
  - C reads the room's archive in pages of 5 (RSM) and gets the 12 in
    order, each with the stanza-id the others were sent it with, and the
    sender's nick in 'from'.
Exit 0 and "PASS", 1 with "FAIL: ..." on stderr, 3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402

from slixmpp import JID  # noqa: E402

MESSAGES = 12
HISTORY = 5


async def find_service(c, domain):
    items = await c.plugin["xep_0030"].get_items(jid=domain, timeout=10)
    for item in items["disco_items"]["items"]:
        jid = item[0]
        info = await c.plugin["xep_0030"].get_info(jid=jid, timeout=10)
        ids = info["disco_info"]["identities"]
        feats = info["disco_info"]["features"]
        if any(i[0] == "conference" and i[1] == "text" for i in ids) and "http://jabber.org/protocol/muc" in feats:
            return JID(jid), feats
    raise ic.Failure(f"no group chat service among the server's disco items: {[i[0] for i in items['disco_items']['items']]}")


def status_codes(pres):
    return {int(s) for s in pres["muc"]["status_codes"]}


async def main(args):
    names = [("A", args.jid_a, args.pass_a), ("B", args.jid_b, args.pass_b), ("C", args.jid_c, args.pass_c)]
    clients = []
    for name, jid, pw in names:
        c = ic.Client(name, ic.full_jid(jid, args.domain) + "/muc", pw, args)
        for p in ("xep_0045", "xep_0313", "xep_0359", "xep_0004"):
            c.register_plugin(p)
        clients.append(c)
    ca, cb, cc = clients
    for c in clients:
        await ic.login(c, clients)

    ic.step("A looks for the group chat service")
    service, feats = await find_service(ca, args.domain)
    ic.ok(f"service {service} found in disco items ({len(feats)} features)")
    room = JID(f"family-chat@{service}")
    muc_a, muc_b, muc_c = (c.plugin["xep_0045"] for c in clients)

    ic.step("A creates the room")
    pres, _subject, _occ, _hist = await muc_a.join_muc_wait(room, "Mum", maxstanzas=0, timeout=10)
    codes = status_codes(pres)
    if not {110, 201} <= codes:
        raise ic.Failure(f"A's own presence on creating {room} has status codes {sorted(codes)}, want 110 and 201")
    ic.ok(f"A made {room} (status {sorted(codes)}, affiliation {pres['muc']['affiliation']})")

    ic.step("A configures the room")
    form = await muc_a.get_room_config(room, timeout=10)
    fields = form.get_fields()
    want = {"muc#roomconfig_roomname", "muc#roomconfig_persistentroom"}
    if not want <= set(fields):
        raise ic.Failure(f"the configuration form lacks {sorted(want - set(fields))}: {sorted(fields)}")
    archive = [v for v in fields if v in ("muc#roomconfig_enablearchiving", "mam", "muc#roomconfig_mam")]
    if not archive:
        raise ic.Failure(f"the configuration form has no archive switch: {sorted(fields)}")
    submit = ca.plugin["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/muc#roomconfig")
    submit.add_field(var="muc#roomconfig_roomname", value="Family")
    submit.add_field(var="muc#roomconfig_persistentroom", ftype="boolean", value=True)
    submit.add_field(var=archive[0], ftype="boolean", value=True)
    await muc_a.set_room_config(room, submit, timeout=10)
    info = await ca.plugin["xep_0030"].get_info(jid=room, timeout=10)
    rfeats = info["disco_info"]["features"]
    for f in ("muc_persistent", "urn:xmpp:mam:2"):
        if f not in rfeats:
            raise ic.Failure(f"after configuration the room's disco#info lacks {f}: {sorted(rfeats)}")
    ic.ok(f"room named, persistent, archived ({archive[0]}); disco#info says so")

    ic.step("B joins")
    arrived = ca.waiter("groupchat_presence", lambda p: p["from"] == JID(f"{room}/Dad") and p["type"] != "unavailable")
    pres, _, occ, _ = await muc_b.join_muc_wait(room, "Dad", maxstanzas=0, timeout=10)
    if 110 not in status_codes(pres):
        raise ic.Failure(f"B's own presence has status codes {sorted(status_codes(pres))}")
    if not any(p["from"] == JID(f"{room}/Mum") for p in occ):
        raise ic.Failure(f"B was not told A is in the room: {[str(p['from']) for p in occ]}")
    await ic.wait("A sees B arrive", arrived, clients)
    ic.ok("B joined; each sees the other")

    sent = []  # (nick, body, stanza-id)
    for i in range(MESSAGES):
        src, nick = (ca, "Mum") if i % 2 == 0 else (cb, "Dad")
        body = f"family message {i:02d}"
        got = [c.waiter("groupchat_message", lambda m, body=body: m["body"] == body) for c in (ca, cb)]
        src.send_message(mto=room, mbody=body, mtype="groupchat")
        ids = set()
        for c, fut in zip((ca, cb), got):
            m = await ic.wait(f"{c.name} gets {body!r}", fut, clients)
            if m["from"] != JID(f"{room}/{nick}"):
                raise ic.Failure(f"{c.name} got {body!r} from {m['from']}, want {room}/{nick}")
            sid = m["stanza_id"]
            if sid["by"] != room.bare or not sid["id"]:
                raise ic.Failure(f"{c.name} got {body!r} with stanza-id by={sid['by']!r} id={sid['id']!r}, want by={room.bare}")
            ids.add(sid["id"])
        if len(ids) != 1:
            raise ic.Failure(f"{body!r} reached A and B with different stanza-ids {ids}")
        sent.append((nick, body, ids.pop()))
    ic.ok(f"{MESSAGES} groupchat messages reached both, each with one stanza-id by the room")

    ic.step(f"C joins asking for {HISTORY} messages of history")
    pres, subject, _, hist = await muc_c.join_muc_wait(room, "Gran", maxstanzas=HISTORY, timeout=10)
    got = [(m["from"].resource, m["body"]) for m in hist]
    want = [(n, b) for n, b, _ in sent[-HISTORY:]]
    if got != want:
        raise ic.Failure(f"C's history is {got}, want {want}")
    for m in hist:
        if not m["delay"]["stamp"] or m["delay"]["from"] != room.bare:
            raise ic.Failure(f"history message {m['body']!r} has delay {m['delay']}")
    ic.ok(f"C got the last {len(hist)} messages as history, each with a delay from the room")

    ic.step("C reads the room's archive in pages of 5")
    pages, rs = [], []
    async for page in cc.plugin["xep_0313"].retrieve(jid=room, iterator=True, rsm={"max": 5}):
        got = [r["mam_result"] for r in page["mam"]["results"]]
        pages.append(len(got))
        rs.extend(got)
    got = [(r["forwarded"]["stanza"]["from"].resource, r["forwarded"]["stanza"]["body"], r["id"]) for r in rs]
    if got != sent:
        raise ic.Failure(f"the room's archive gave {len(got)} messages, want the {len(sent)} sent in order: {got[:4]}... want {sent[:4]}...")
    if max(pages) > 5 or sum(1 for n in pages if n) < 3:
        raise ic.Failure(f"pages of sizes {pages}")
    ic.ok(f"{len(rs)} messages in order with their stanza-ids, in pages of {[n for n in pages if n]}")

    for c in clients:
        await ic.logout(c)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    for name in ("jid_a", "pass_a", "jid_b", "pass_b", "jid_c", "pass_c"):
        p.add_argument(name)
    ic.run(main, p.parse_args())
