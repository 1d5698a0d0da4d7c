#!/usr/bin/python3
"""Log in with slixmpp to an account that moved in (XEP-0227 import) and
check that it brought its roster and vCard along.

  /usr/bin/python3 slix_moved.py [--ca FILE | --insecure] [--timeout 20] [--mech MECH] \\
      [--expect-mech MECH] [--contact JID|NAME|SUBSCRIPTION|GROUP,GROUP]... [--fn TEXT] \\
      HOST PORT DOMAIN JID PASSWORD

Logs in with the password (slixmpp picks the mechanism and tries the next
one offered when one fails; --mech forces one, e.g. PLAIN; --expect-mech
says which must succeed), fetches the
roster and checks that each --contact is on it with that name, subscription
and groups (in any order), then, with --fn, fetches its own vCard and checks
its FN. Exit 0 and "PASS" when all holds, 1 with "FAIL: ..." on stderr, 3 on
the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402


async def main(args):
    jid = ic.full_jid(args.jid, args.domain)
    c = ic.Client("mover", jid, args.password, args)
    if args.mech:
        c.plugin["feature_mechanisms"].use_mech = args.mech
    c.register_plugin("xep_0054")  # vcard-temp
    used, refused = {}, []
    mechs = c.plugin["feature_mechanisms"]
    c.add_event_handler("auth_success", lambda _: used.setdefault("mech", mechs.mech.name))
    c.add_event_handler("failed_auth", lambda s: refused.append(f"{mechs.mech.name} ({s['condition']})"))
    await ic.login(c, [c])
    ic.ok(f"logged in with {used.get('mech', '?')}; refused before: {', '.join(refused) or 'none'}")
    if args.expect_mech and used.get("mech") != args.expect_mech:
        raise ic.Failure(f"logged in with {used.get('mech')}, want {args.expect_mech}")

    roster = c.client_roster
    for spec in args.contact:
        contact, name, sub, groups = (spec.split("|") + ["", "", ""])[:4]
        contact = ic.full_jid(contact, args.domain)
        ic.step(f"roster has {contact}")
        if contact not in roster:
            raise ic.Failure(f"{contact} is not on the roster; it has {sorted(roster.keys())}")
        item = roster[contact]
        want_groups = sorted(g for g in groups.split(",") if g)
        got = (item["name"], item["subscription"], sorted(item["groups"]))
        if got != (name, sub, want_groups):
            raise ic.Failure(f"{contact}: name, subscription, groups are {got}, want {(name, sub, want_groups)}")
        ic.ok(f"{contact}: name {name!r}, subscription {sub}, groups {want_groups}")

    if args.fn:
        ic.step("fetch own vCard")
        iq = await c.plugin["xep_0054"].get_vcard(jid=None, local=False, cached=False, timeout=10)
        fn = iq["vcard_temp"]["FN"]
        if fn != args.fn:
            raise ic.Failure(f"vCard FN is {fn!r}, want {args.fn!r}")
        ic.ok(f"vCard FN {fn!r}")
    await ic.logout(c)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    p.add_argument("jid", help="JID (or localpart) to log in as")
    p.add_argument("password")
    p.add_argument("--mech", help="the only SASL mechanism to use, e.g. PLAIN")
    p.add_argument("--contact", action="append", default=[], metavar="JID|NAME|SUBSCRIPTION|GROUPS",
                   help="a contact the roster must have (groups comma-separated)")
    p.add_argument("--expect-mech", help="the SASL mechanism the login must succeed with")
    p.add_argument("--fn", help="the FN the account's vCard must have")
    ic.run(main, p.parse_args())
