package pie

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"slices"
	"strconv"

	"hearth/server/internal/stanza"
)

// Write writes d as a XEP-0227 file. Passwords are never written: an
// account goes out with its SCRAM keys.
func Write(w io.Writer, d *Data) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='" + NS + "'>\n")
	var b bytes.Buffer
	for _, h := range d.Hosts {
		bw.WriteString("<host jid='")
		b.Reset()
		stanza.EscapeAttr(&b, h.JID)
		bw.Write(b.Bytes())
		bw.WriteString("'>\n")
		for _, u := range h.Users {
			b.Reset()
			userElement(u).WriteTo(&b, NS)
			b.WriteByte('\n')
			if _, err := bw.Write(b.Bytes()); err != nil {
				return err
			}
		}
		bw.WriteString("</host>\n")
	}
	bw.WriteString("</server-data>\n")
	return bw.Flush()
}

func userElement(u User) *stanza.Element {
	el := stanza.New("user", NS, "name", u.Name)
	for _, s := range u.SCRAM {
		enc := base64.StdEncoding.EncodeToString
		el.Append(stanza.New("scram-credentials", NSSCRAM, "mechanism", s.Mechanism).Append(
			stanza.New("iter-count", NSSCRAM).AppendText(strconv.Itoa(s.Iters)),
			stanza.New("salt", NSSCRAM).AppendText(enc(s.Salt)),
			stanza.New("server-key", NSSCRAM).AppendText(enc(s.ServerKey)),
			stanza.New("stored-key", NSSCRAM).AppendText(enc(s.StoredKey))))
	}
	if len(u.Roster) > 0 {
		q := stanza.New("query", stanza.NSRoster)
		for _, it := range u.Roster {
			item := stanza.New("item", stanza.NSRoster, "jid", it.JID, "subscription", it.Subscription)
			if it.Name != "" {
				item.SetAttr("name", it.Name)
			}
			if it.Ask {
				item.SetAttr("ask", "subscribe")
			}
			if it.Approved {
				item.SetAttr("approved", "true")
			}
			for _, g := range it.Groups {
				item.Append(stanza.New("group", stanza.NSRoster).AppendText(g))
			}
			q.Append(item)
		}
		el.Append(q)
	}
	for _, p := range u.Pending {
		pr := p.Stanza
		if pr == nil {
			pr = stanza.New("presence", stanza.NSClient, "from", p.From, "type", "subscribe")
		}
		el.Append(pr)
	}
	if u.VCard != nil {
		el.Append(u.VCard)
	}
	if len(u.Private) > 0 {
		el.Append(stanza.New("query", stanza.NSPrivate).Append(u.Private...))
	}
	if len(u.Offline) > 0 {
		el.Append(stanza.New("offline-messages", NS).Append(u.Offline...))
	}
	if len(u.PEP) > 0 {
		owner := stanza.New("pubsub", NSPubSubOwner)
		items := stanza.New("pubsub", NSPubSub)
		for _, n := range u.PEP {
			form := stanza.New("x", stanza.NSDataForms, "type", "submit").Append(
				stanza.New("field", stanza.NSDataForms, "var", "FORM_TYPE", "type", "hidden").Append(
					stanza.New("value", stanza.NSDataForms).AppendText(NSPubSub + "#node_config")))
			keys := make([]string, 0, len(n.Config))
			for k := range n.Config {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				form.Append(stanza.New("field", stanza.NSDataForms, "var", k).Append(
					stanza.New("value", stanza.NSDataForms).AppendText(n.Config[k])))
			}
			owner.Append(stanza.New("configure", NSPubSubOwner, "node", n.Name).Append(form))
			its := stanza.New("items", NSPubSub, "node", n.Name)
			for _, it := range n.Items {
				its.Append(stanza.New("item", NSPubSub, "id", it.ID).Append(it.Payload))
			}
			items.Append(its)
		}
		el.Append(owner, items)
	}
	return el
}
