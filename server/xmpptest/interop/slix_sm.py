#!/usr/bin/python3
"""Stream management (XEP-0198) with slixmpp's xep_0198 plugin.

  /usr/bin/python3 slix_sm.py [--ca FILE | --insecure] [--timeout 30] [-v] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

A logs in on its "phone" with stream management (resumption on, as slixmpp
asks by default) and on its "pc" without; B logs in once.

1. Resumed: the phone's TCP connection is dropped without closing the
   stream. B sends one message to the phone and one to A's bare JID. The
   phone connects again and resumes: it must get both, under the same full
   JID, and the pc must not see the phone go offline.
2. Never resumed: the phone is dropped again and B sends it a message. The
   phone never comes back; once the server gives up on it (the test server
   holds sessions for a few seconds) the message must reach the pc.

Exit 0 and "PASS", 1 with "FAIL: ..." on stderr, 3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402


def drop(client):
    """Lose the connection as a phone does: no closing tag, no goodbye."""
    client.transport.abort()


async def main(args):
    a = ic.full_jid(args.jid_a, args.domain)
    b = ic.full_jid(args.jid_b, args.domain)
    phone = ic.Client("A/phone", a + "/phone", args.pass_a, args)
    phone.register_plugin("xep_0198")
    pc = ic.Client("A/pc", a + "/pc", args.pass_a, args)
    other = ic.Client("B", b + "/laptop", args.pass_b, args)
    clients = [phone, pc, other]

    enabled = phone.waiter("sm_enabled")
    for c in clients:
        await ic.login(c, clients)
    sm = await ic.wait("the phone has stream management", enabled, clients)
    if not sm["id"] or sm["resume"] not in (True, "true", "1"):
        raise ic.Failure(f"stream management enabled without resumption: {sm}")
    ok_id = sm["id"]
    ic.ok(f"stream management on, resumption id {ok_id[:6]}...")

    offline = []
    pc.add_event_handler("presence_unavailable",
                         lambda p: offline.append(p) if p["from"].resource == "phone" else None)

    # 1. Resumed.
    gone = phone.waiter("disconnected")
    drop(phone)
    await ic.wait("the phone's connection drops", gone, [pc, other])
    other.send_message(mto=a + "/phone", mbody="while you were away", mtype="chat")
    other.send_message(mto=a, mbody="to your account", mtype="chat")
    got_full = phone.waiter("message", lambda m: m["body"] == "while you were away")
    got_bare = phone.waiter("message", lambda m: m["body"] == "to your account")
    resumed = phone.waiter("session_resumed")
    phone.start()
    await ic.wait("the phone resumes its session", resumed, [pc, other])
    ic.ok(f"resumed as {phone.boundjid.full}")
    await ic.wait("the phone gets the message sent to it while away", got_full, clients)
    await ic.wait("the phone gets the message sent to the account", got_bare, clients)
    ic.ok("both messages arrived after the resumption")
    if offline:
        raise ic.Failure(f"the pc saw the phone go offline during the resumption: {offline[0]}")
    ic.ok("the pc never saw the phone go offline")

    # 2. Never resumed.
    gone = phone.waiter("disconnected")
    drop(phone)
    await ic.wait("the phone's connection drops again", gone, [pc, other])
    rescued = pc.waiter("message", lambda m: m["body"] == "are you there?")
    other.send_message(mto=a + "/phone", mbody="are you there?", mtype="chat")
    m = await ic.wait("the pc gets the message the phone never took", rescued, [pc, other], timeout=20)
    ic.ok(f"the pc got it (to {m['to']}, delayed: {bool(m['delay']['stamp'])})")

    for c in (pc, other):
        await ic.logout(c)
    ic.log("PASS")


if __name__ == "__main__":
    ic.run_two(main, __doc__)
