#!/usr/bin/python3
"""Gajim's library, nbxmpp, in a chat room (XEP-0045) on a real server.

  /usr/bin/python3 nbx_muc.py [--timeout 30] HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

A joins tea@conference.DOMAIN (a new room: 110 and 201), reads the room
configuration form with nbxmpp's MUC module, names the room and submits
it as Gajim does; reads the room's disco#info (its name and muc_*
features). B joins; A's groupchat message reaches B with A's occupant id;
A makes B a member and reads the member list; A changes the subject and B
sees it; A destroys the room and B is told. The certificate is not
checked. Exit 0 and "PASS" on success, 1 with "FAIL: ..." on stderr on a
failed check, 3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree


try:
    from nbxmpp.namespaces import Namespace
    from nbxmpp.protocol import JID, Message, Node, Presence
    from nbxmpp.structs import StanzaHandler
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import nbxmpp ({exc}); install python3-nbxmpp and run with /usr/bin/python3",
          file=sys.stderr, flush=True)
    sys.exit(4)

import nbx_common as nb  # noqa: E402
from nbx_common import Failure, call, ok, run_until, step  # noqa: E402


def login(args, user, password):
    """nbx_common's login, keeping every presence and message the client
    gets in c.seen (wait_for takes them from there)."""
    c = nb.login(args, user, password)
    c.seen = []

    def keep(_client, stanza, _properties):
        c.seen.append(stanza)
    c.register_handler(StanzaHandler(name="presence", callback=keep, priority=10))
    c.register_handler(StanzaHandler(name="message", callback=keep, priority=10))
    return c


def wait_for(what, c, pred):
    step(what)
    found = []

    def look():
        for s in c.seen:
            if pred(s):
                found.append(s)
                return True
        return False
    run_until(look)
    c.seen.remove(found[0])
    return found[0]


def codes(stanza):
    x = stanza.getTag("x", namespace=Namespace.MUC_USER)
    return {int(s.getAttr("code")) for s in x.getTags("status")} if x else set()


def main(args):
    a = login(args, args.jid_a, args.pass_a)
    b = login(args, args.jid_b, args.pass_b)
    room = f"tea@conference.{args.domain}"
    jid_b = f"{args.jid_b}@{args.domain}"

    def join(c, nick):
        c.send_stanza(Presence(to=f"{room}/{nick}", payload=[Node("x", {"xmlns": Namespace.MUC})]))
        return wait_for(f"{nick} joins {room}", c,
                        lambda s: s.getName() == "presence" and str(s.getFrom()) == f"{room}/{nick}" and 110 in codes(s))

    self_a = join(a, "Alice")
    if 201 not in codes(self_a):
        raise Failure(f"A's self-presence in a new room has status codes {sorted(codes(self_a))}, want 201")
    ok(f"room created, status codes {sorted(codes(self_a))}")
    res = call("A reads the configuration form", a.get_module("MUC").request_config, JID.from_string(room))
    form = res.form
    if form is None or "muc#roomconfig_roomname" not in [f.var for f in form.iter_fields()]:
        raise Failure("the configuration form lacks muc#roomconfig_roomname")
    form["muc#roomconfig_roomname"].value = "Tea"
    form.type_ = "submit"
    call("A submits the configuration", a.get_module("MUC").set_config, JID.from_string(room), form)
    info = call("A reads the room's disco#info", a.get_module("MUC").request_info, JID.from_string(room),
                request_vcard=False)
    features = set(info.info.features)
    for want in ("http://jabber.org/protocol/muc", "muc_open", "muc_unmoderated", "muc_semianonymous", "muc_temporary"):
        if want not in features:
            raise Failure(f"the room's features lack {want}: {sorted(features)}")
    if info.info.muc_name != "Tea":
        raise Failure(f"the room's name is {info.info.muc_name!r}")
    ok(f"the room is {info.info.muc_name!r} with {len(features)} features")

    join(b, "Bob")
    wait_for("B gets the subject", b, lambda s: s.getName() == "message" and s.getTag("subject") is not None)
    a.send_stanza(Message(to=room, typ="groupchat", body="hello Bob"))
    m = wait_for("B gets A's message", b, lambda s: s.getName() == "message" and s.getBody() == "hello Bob")
    if str(m.getFrom()) != f"{room}/Alice" or m.getTag("occupant-id", namespace="urn:xmpp:occupant-id:0") is None:
        raise Failure(f"the message came from {m.getFrom()} without an occupant id: {m}")
    ok("B got A's message with A's occupant id")

    call("A makes B a member", a.get_module("MUC").set_affiliation, JID.from_string(room),
         {JID.from_string(jid_b): {"affiliation": "member"}})
    got = call("A reads the member list", a.get_module("MUC").get_affiliation, JID.from_string(room), "member")
    if [str(j) for j in got.users] != [jid_b]:
        raise Failure(f"members: {got.users}")
    ok(f"members: {[str(j) for j in got.users]}")

    a.get_module("MUC").set_subject(JID.from_string(room), "Biscuits")
    s = wait_for("B sees A's subject", b, lambda s: s.getName() == "message" and s.getTag("subject") is not None)
    if s.getSubject() != "Biscuits":
        raise Failure(f"B saw the subject {s.getSubject()!r}")

    call("A destroys the room", a.get_module("MUC").destroy, JID.from_string(room), "done")
    p = wait_for("B is told", b, lambda s: s.getName() == "presence" and s.getType() == "unavailable"
                 and s.getTag("x", namespace=Namespace.MUC_USER) is not None
                 and s.getTag("x", namespace=Namespace.MUC_USER).getTag("destroy") is not None)
    ok(f"B was told the room was destroyed ({p.getFrom()})")
    for cl in (a, b):
        cl.disconnect()


if __name__ == "__main__":
    nb.run(main, __doc__)
