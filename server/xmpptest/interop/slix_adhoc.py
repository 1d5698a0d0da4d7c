#!/usr/bin/python3
"""Service administration (XEP-0133) over ad-hoc commands (XEP-0050) with
slixmpp's xep_0050 and xep_0133 plugins.

  /usr/bin/python3 slix_adhoc.py [--ca FILE] HOST PORT DOMAIN ADMIN ADMIN_PASS USER USER_PASS NEW NEW_PASS

ADMIN is named in admin.jids, USER is not. The admin lists the commands,
gets the list of accounts online (a form, then the submitted form) and
adds the account NEW with the xep_0133 plugin's add_user workflow; NEW
then logs in. USER sees only XEP-0401's Invite user, which makes a contact invitation
(the admin's lets the invitee make an account too), and gets forbidden
when it runs an administrator's command.
Exit 0 and "PASS", 1 with "FAIL: ..." on a failed check, 3 on the timeout.
"""

import asyncio
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

from slixmpp.exceptions import IqError  # noqa: E402

import interop_common as ic  # noqa: E402

ADMIN = "http://jabber.org/protocol/admin#"


def client(name, jid, password, args):
    c = ic.Client(name, ic.full_jid(jid, args.domain), password, args)
    c.register_plugin("xep_0004")
    c.register_plugin("xep_0050")
    c.register_plugin("xep_0133")
    return c


def values(form, var):
    f = form.get_fields().get(var)
    if f is None:
        raise ic.Failure(f"the result has no field {var}: {list(form.get_fields())}")
    v = f["value"]
    return v if isinstance(v, list) else [v]


async def main(args):
    admin = client("admin", args.admin, args.admin_pass, args)
    user = client("user", args.user, args.user_pass, args)
    await ic.login(admin, [admin])
    await ic.login(user, [admin, user])
    server = args.domain

    ic.step("the admin lists the commands")
    items = await admin["xep_0133"].get_commands(jid=server, timeout=10)
    nodes = [i[1] for i in items["disco_items"]["items"]]
    for want in ("add-user", "get-online-users-list", "delete-user", "change-user-password"):
        if ADMIN + want not in nodes:
            raise ic.Failure(f"{ADMIN + want} is not listed: {nodes}")
    ok_nodes = len(nodes)
    ic.ok(f"the admin sees {ok_nodes} commands")

    ic.step("the admin gets the accounts online")
    iq = await admin["xep_0050"].send_command(server, ADMIN + "get-online-users-list", timeout=10)
    cmd = iq["command"]
    if cmd["status"] != "executing":
        raise ic.Failure(f"status {cmd['status']}, want executing")
    form = admin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", value="http://jabber.org/protocol/admin")
    form.add_field(var="max_items", value="none")
    iq = await admin["xep_0050"].send_command(server, ADMIN + "get-online-users-list", action="complete",
                                               payload=form, sessionid=cmd["sessionid"], timeout=10)
    if iq["command"]["status"] != "completed":
        raise ic.Failure(f"status {iq['command']['status']} after the submit, want completed")
    online = sorted(str(j) for j in values(iq["command"]["form"], "onlineuserjids"))
    want = sorted([admin.boundjid.bare, user.boundjid.bare])
    if online != want:
        raise ic.Failure(f"accounts online {online}, want {want}")
    ic.ok(f"accounts online: {online}")

    ic.step("the admin adds an account with xep_0133's add_user")
    done = asyncio.get_event_loop().create_future()
    new_jid = ic.full_jid(args.new, args.domain)

    def on_form(iq, session):
        form = iq["command"]["form"]
        if "accountjid" not in form.get_fields():
            done.set_exception(ic.Failure(f"the add-user form has no accountjid: {list(form.get_fields())}"))
            return
        answer = admin["xep_0004"].make_form(ftype="submit")
        answer.add_field(var="FORM_TYPE", value="http://jabber.org/protocol/admin")
        answer.add_field(var="accountjid", value=new_jid)
        answer.add_field(var="password", value=args.new_pass)
        answer.add_field(var="password-verify", value=args.new_pass)
        session["payload"] = answer
        session["next"] = on_done
        admin["xep_0050"].complete_command(session)

    def on_done(iq, session):
        if not done.done():
            done.set_result(iq)

    def on_error(iq, session):
        if not done.done():
            done.set_exception(ic.Failure(f"add-user failed: {iq['error']['condition']} {iq['error']['text']}"))

    admin["xep_0133"].add_user(jid=server, session={"next": on_form, "error": on_error})
    iq = await ic.wait("add-user completes", done, [admin, user])
    cmd = iq["command"]
    notes = [n[1] for n in cmd["notes"]]
    if cmd["status"] != "completed" or any(n[0] == "error" for n in cmd["notes"]):
        raise ic.Failure(f"add-user: status {cmd['status']}, notes {cmd['notes']}")
    ic.ok(f"add-user: {notes}")
    new = client("new", args.new, args.new_pass, args)
    await ic.login(new, [new])
    await ic.logout(new)

    ic.step("the other account sees only XEP-0401's Invite user")
    items = await user["xep_0050"].get_commands(jid=server, timeout=10)
    seen = {(i[1], i[2]) for i in items["disco_items"]["items"]}
    if seen != {("urn:xmpp:invite#invite", "Invite user")}:
        raise ic.Failure(f"a user who is no admin sees {seen}")
    ic.step("the other account makes a contact invitation (XEP-0401)")
    res = await user["xep_0050"].send_command(server, "urn:xmpp:invite#invite", timeout=10)
    form = res["command"]["form"].get_values()
    uri = form.get("uri", "")
    if not uri.startswith(f"xmpp:{args.user}@{args.domain}?roster;preauth=") or "ibr=y" in uri:
        raise ic.Failure(f"a user's invitation URI is {uri!r}: want a contact invitation without ibr=y")
    if not form.get("landing-url", "").startswith("https://") or not form.get("expire"):
        raise ic.Failure(f"a user's invitation lacks its landing page or expiry: {form}")
    ic.ok(f"invitation {uri.split('preauth=')[0]}preauth=…, page {form['landing-url'].split('/invite/')[0]}/invite/…, expires {form['expire']}")
    ic.step("the admin's invitation also lets the invitee make an account")
    res = await admin["xep_0050"].send_command(server, "urn:xmpp:invite#invite", timeout=10)
    uri = res["command"]["form"].get_values().get("uri", "")
    if not uri.startswith(f"xmpp:{args.admin}@{args.domain}?roster;preauth=") or not uri.endswith(";ibr=y"):
        raise ic.Failure(f"the admin's invitation URI is {uri!r}: want one with ibr=y")
    ic.ok("the admin's invitation carries ibr=y")
    ic.step("the other account runs one")
    try:
        await user["xep_0050"].send_command(server, ADMIN + "get-online-users-num", timeout=10)
    except IqError as e:
        if e.condition != "forbidden":
            raise ic.Failure(f"a user who is no admin got {e.condition}, want forbidden")
    else:
        raise ic.Failure("a user who is no admin ran get-online-users-num")
    ic.ok("a user who is no admin sees only Invite user and gets forbidden")
    await ic.logout(user)
    await ic.logout(admin)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    for name in ("admin", "admin_pass", "user", "user_pass", "new", "new_pass"):
        p.add_argument(name)
    ic.run(main, p.parse_args())
