#!/usr/bin/python3
"""Message archive (XEP-0313) with slixmpp's xep_0313 plugin, and the
stanza-ids of XEP-0359 with its xep_0359 plugin.

  /usr/bin/python3 slix_mam.py [--ca FILE | --insecure] [--timeout 60] [-v] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

A and B log in; A sends B 23 chat messages and B answers 7, each waited
for, so the archives' order is known. Every message B receives carries a
stanza-id by B's bare JID. Then, with slixmpp's plugin:
  - A reads the query form and the archive's metadata;
  - A reads the whole archive in pages of 4 (RSM, XEP-0059; 8 pages) and
    gets the 30 messages in order, no page larger than 4;
  - A reads it backwards from the last page (pages of 6) and gets them in
    reverse order;
  - B reads its archive with A (with_jid) in pages of 5 and finds each
    stanza-id it was delivered as the id of the same message.
Exit 0 and "PASS", 1 with "FAIL: ..." on stderr, 3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402

TO_B, TO_A = 23, 7


async def read_archive(c, pages, **kwargs):
    """All results of a MAM iteration, page by page; records page sizes."""
    out = []
    async for page in c.plugin["xep_0313"].retrieve(iterator=True, **kwargs):
        got = [r["mam_result"] for r in page["mam"]["results"]]
        pages.append(len(got))
        out.extend(got)
    return out


async def main(args):
    a = ic.full_jid(args.jid_a, args.domain)
    b = ic.full_jid(args.jid_b, args.domain)
    ca = ic.Client("A", a + "/desk", args.pass_a, args)
    cb = ic.Client("B", b + "/phone", args.pass_b, args)
    clients = [ca, cb]
    for c in clients:
        c.register_plugin("xep_0313")
        c.register_plugin("xep_0359")
        await ic.login(c, clients)

    # The conversation: 23 from A, then 7 answers from B, each received
    # before the next goes.
    sent = []  # (from, body) in order
    delivered = {}  # body -> stanza-id B got it with
    for i in range(TO_B + TO_A):
        src, dst, to = (ca, cb, b) if i < TO_B else (cb, ca, a)
        body = f"message {i:02d} from {src.name}"
        got = dst.waiter("message", lambda m, body=body: m["body"] == body)
        src.send_message(mto=to, mbody=body, mtype="chat")
        m = await ic.wait(f"{dst.name} gets {body!r}", got, clients)
        sid = m["stanza_id"]
        if sid["by"] != dst.boundjid.bare or not sid["id"]:
            raise ic.Failure(f"{dst.name} got {body!r} with stanza-id by={sid['by']!r} id={sid['id']!r}")
        if dst is cb:
            delivered[body] = sid["id"]
        sent.append((src.boundjid.bare, body))
    ic.ok(f"{len(sent)} messages exchanged, each delivered with a stanza-id by its recipient")

    ic.step("A reads the query form")
    form = await ca.plugin["xep_0313"].get_fields(timeout=10)
    fields = set(form.get_fields(use_dict=True).keys())
    if not {"FORM_TYPE", "with", "start", "end"} <= fields:
        raise ic.Failure(f"the query form has {sorted(fields)}")
    ic.ok(f"form fields: {', '.join(sorted(fields))}")

    ic.step("A reads the archive's metadata")
    md = await ca.plugin["xep_0313"].get_archive_metadata(timeout=10)
    start, end = md["mam_metadata"]["start"], md["mam_metadata"]["end"]
    if not start["id"] or not end["id"] or start["id"] == end["id"]:
        raise ic.Failure(f"metadata {md}")
    ic.ok(f"metadata: first {start['id']} at {start['timestamp']}, last {end['id']} at {end['timestamp']}")

    ic.step("A reads the archive in pages of 4")
    pages = []
    rs = await read_archive(ca, pages, rsm={"max": 4})
    got = [(r["forwarded"]["stanza"]["from"].bare, r["forwarded"]["stanza"]["body"]) for r in rs]
    if got != sent:
        raise ic.Failure(f"A's archive holds {len(got)} messages, not the {len(sent)} sent in order: {got[:5]}...")
    if max(pages) > 4 or sum(1 for n in pages if n) < 8:
        raise ic.Failure(f"pages of sizes {pages}")
    for r in rs:
        if not r["forwarded"]["delay"]["stamp"]:
            raise ic.Failure(f"result {r['id']} has no delay stamp")
    ic.ok(f"{len(rs)} messages in order, in pages of {[n for n in pages if n]}")

    ic.step("A reads the archive backwards in pages of 6")
    pages = []
    rs = await read_archive(ca, pages, rsm={"max": 6}, reverse=True)
    # Each page comes oldest first; the pages come newest first.
    back = [(r["forwarded"]["stanza"]["from"].bare, r["forwarded"]["stanza"]["body"]) for r in rs]
    if sorted(back) != sorted(sent) or len(back) != len(sent) or back[:6] != sent[-6:]:
        raise ic.Failure(f"backwards: {back[:8]}...")
    ic.ok(f"{len(rs)} messages backwards, in pages of {[n for n in pages if n]}")

    ic.step("B reads the conversation with A in pages of 5")
    pages = []
    rs = await read_archive(cb, pages, rsm={"max": 5}, with_jid=ca.boundjid.bare)
    if len(rs) != len(sent):
        raise ic.Failure(f"B's archive with A holds {len(rs)} messages, want {len(sent)}")
    for r in rs:
        body = r["forwarded"]["stanza"]["body"]
        if body in delivered and delivered[body] != r["id"]:
            raise ic.Failure(f"{body!r} was delivered with stanza-id {delivered[body]} but is {r['id']} in the archive")
    ic.ok(f"B's {len(rs)} messages with A; the {len(delivered)} B received carry their archive ids as stanza-ids")

    for c in clients:
        await ic.logout(c)
    ic.log("PASS")


if __name__ == "__main__":
    ic.run_two(main, __doc__)
