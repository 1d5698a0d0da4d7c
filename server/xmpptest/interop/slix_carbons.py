#!/usr/bin/python3
"""Message carbons (XEP-0280) with slixmpp's xep_0280 plugin.

  /usr/bin/python3 slix_carbons.py [--ca FILE | --insecure] [--timeout 20] [-v] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

A logs in twice (resources "phone" and "pc"), B once; both of A's resources
enable carbons with slixmpp's plugin. B sends a chat message to A's phone:
the pc must get it as a received carbon (the forwarded message from B to
the phone). The phone sends a chat message to B: B gets it, and the pc gets
it as a sent carbon. Exit 0 and "PASS", 1 with "FAIL: ..." on stderr, 3 on
the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402


async def main(args):
    a = ic.full_jid(args.jid_a, args.domain)
    b = ic.full_jid(args.jid_b, args.domain)
    phone = ic.Client("A/phone", a + "/phone", args.pass_a, args)
    pc = ic.Client("A/pc", a + "/pc", args.pass_a, args)
    other = ic.Client("B", b + "/laptop", args.pass_b, args)
    clients = [phone, pc, other]
    for c in (phone, pc):
        c.register_plugin("xep_0280")
    for c in clients:
        await ic.login(c, clients)
    for c in (phone, pc):
        ic.step(f"{c.name} enables carbons")
        try:
            await c.plugin["xep_0280"].enable(timeout=10)
        except Exception as exc:  # IqError, IqTimeout
            raise ic.Failure(f"{c.name}: enabling carbons failed: {exc}")
        ic.ok(f"{c.name} has carbons on")

    received = pc.waiter("carbon_received")
    got = phone.waiter("message", lambda m: m["body"] == "to your phone")
    other.send_message(mto=a + "/phone", mbody="to your phone", mtype="chat")
    await ic.wait("the phone gets B's message", got, clients)
    m = await ic.wait("the pc gets a received carbon", received, clients)
    inner = m["carbon_received"]
    if inner["from"].bare != b or inner["body"] != "to your phone":
        raise ic.Failure(f"the received carbon holds {inner['from']}: {inner['body']!r}")
    ic.ok(f"received carbon on the pc: {inner['from']} -> {inner['to']}: {inner['body']!r}")

    sent = pc.waiter("carbon_sent")
    got = other.waiter("message", lambda m: m["body"] == "from my phone")
    phone.send_message(mto=b, mbody="from my phone", mtype="chat")
    await ic.wait("B gets the phone's message", got, clients)
    m = await ic.wait("the pc gets a sent carbon", sent, clients)
    inner = m["carbon_sent"]
    if inner["to"].bare != b or inner["body"] != "from my phone" or inner["from"].resource != "phone":
        raise ic.Failure(f"the sent carbon holds {inner['from']} -> {inner['to']}: {inner['body']!r}")
    ic.ok(f"sent carbon on the pc: {inner['from']} -> {inner['to']}: {inner['body']!r}")

    for c in clients:
        await ic.logout(c)
    ic.log("PASS")


if __name__ == "__main__":
    ic.run_two(main, __doc__)
