#!/usr/bin/python3
"""Group chat (XEP-0045) with slixmpp's xep_0045 plugin.

  /usr/bin/python3 slix_muc.py [--ca FILE | --insecure] [--timeout 20] [-v] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

A creates a room on conference.DOMAIN (status 201), reads its
configuration form, names it and submits it; B joins with a history of
one message and gets A's earlier message with its delay, then the
subject. A's groupchat message reaches B; B may not change the subject,
A may; A gives B membership and reads the member list, kicks B (307),
and destroys the room. Exit 0 and "PASS", 1 with "FAIL: ..." on stderr,
3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402


async def main(args):
    a = ic.full_jid(args.jid_a, args.domain)
    b = ic.full_jid(args.jid_b, args.domain)
    room = "tea@conference." + args.domain
    alice = ic.Client("A", a + "/pc", args.pass_a, args)
    bob = ic.Client("B", b + "/laptop", args.pass_b, args)
    clients = [alice, bob]
    for c in clients:
        c.register_plugin("xep_0045")
        c.register_plugin("xep_0004")
    for c in clients:
        await ic.login(c, clients)
    muc_a, muc_b = alice.plugin["xep_0045"], bob.plugin["xep_0045"]

    ic.step("A creates the room")
    pres, _, _, _ = await muc_a.join_muc_wait(room, "Alice", timeout=10)
    codes = pres["muc"]["status_codes"]
    if 201 not in codes or 110 not in codes:
        raise ic.Failure(f"A's self-presence has status codes {codes}, want 110 and 201")
    ic.ok(f"room created, status codes {sorted(codes)}")
    form = await muc_a.get_room_config(room, timeout=10)
    fields = form.get_fields()
    for var in ("muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_membersonly"):
        if var not in fields:
            raise ic.Failure(f"the configuration form lacks {var}: {sorted(fields)}")
    fields["muc#roomconfig_roomname"]["value"] = "Tea"
    await muc_a.set_room_config(room, form, timeout=10)
    ic.ok("room configured")

    got = alice.waiter("groupchat_message", lambda m: m["body"] == "before you came")
    alice.send_message(mto=room, mbody="before you came", mtype="groupchat")
    await ic.wait("A's message comes back from the room", got, clients)

    ic.step("B joins with one message of history")
    pres, subject, occupants, history = await muc_b.join_muc_wait(room, "Bob", maxstanzas=1, timeout=10)
    if [m["body"] for m in history] != ["before you came"]:
        raise ic.Failure(f"B's history: {[m['body'] for m in history]}")
    if "Alice" not in [p["from"].resource for p in occupants]:
        raise ic.Failure(f"B saw occupants {[str(p['from']) for p in occupants]}")
    ic.ok(f"B joined as {pres['from']}, history {[m['body'] for m in history]!r}")

    got = bob.waiter("groupchat_message", lambda m: m["body"] == "hello Bob")
    alice.send_message(mto=room, mbody="hello Bob", mtype="groupchat")
    m = await ic.wait("B gets A's message", got, clients)
    if m["from"] != room + "/Alice":
        raise ic.Failure(f"the message came from {m['from']}")

    err = bob.waiter("groupchat_subject", lambda _: True)
    refused = bob.waiter("message_error", lambda m: m["error"]["condition"] == "forbidden")
    muc_b.set_subject(room, "mine now")
    await ic.wait("B may not change the subject", refused, clients)
    muc_a.set_subject(room, "Biscuits")
    s = await ic.wait("B sees A's subject", err, clients)
    if s["subject"] != "Biscuits":
        raise ic.Failure(f"B saw the subject {s['subject']!r}")

    ic.step("A makes B a member and lists the members")
    await muc_a.set_affiliation(room, "member", jid=b, timeout=10)
    members = await muc_a.get_affiliation_list(room, "member", timeout=10)
    if [str(j) for j in members] != [b]:
        raise ic.Failure(f"members: {members}")
    ic.ok(f"members: {[str(j) for j in members]}")

    kicked = bob.waiter("muc::%s::presence" % room,
                        lambda p: p["type"] == "unavailable" and 307 in p["muc"]["status_codes"])
    await muc_a.set_role(room, "Bob", "none", reason="enough", timeout=10)
    await ic.wait("B is kicked (307)", kicked, clients)

    ic.step("A destroys the room")
    await muc_a.destroy(room, reason="done", timeout=10)
    ic.ok("room destroyed")

    for c in clients:
        await ic.logout(c)
    ic.log("PASS")


if __name__ == "__main__":
    ic.run_two(main, __doc__)
