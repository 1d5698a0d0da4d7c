package svcadmin

import (
	"context"
	"fmt"
	"strings"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/adhoc"
)

// eachAccount is a command over a list of accounts (XEP-0133's
// accountjids): its form, then what did does to each, with a note saying
// which were done and why the others were not.
func (m *Module) eachAccount(ctx context.Context, from jid.JID, in *adhoc.Form, title, instructions, did string, do func(acct string) error) adhoc.Step {
	if in == nil {
		x := form(title, instructions)
		adhoc.AddField(x, "accountjids", "jid-multi", "Addresses", true)
		return adhoc.Step{Form: x}
	}
	var ok, notes []string
	for _, s := range in.Values("accountjids") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		acct, err := m.account(s)
		if err == nil {
			err = do(acct)
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s was not %s: %v", s, did, err))
			continue
		}
		m.log.Info("accounts "+did+" by an administrator's command", "account", acct, "by", from.Bare().String())
		ok = append(ok, acct)
	}
	switch {
	case len(notes) > 0:
		if len(ok) > 0 {
			notes = append(notes, did+": "+strings.Join(ok, ", "))
		}
		return failed("%s", strings.Join(notes, "; "))
	case len(ok) == 0:
		return failed("no account was named")
	}
	return done("%s: %s", did, strings.Join(ok, ", "))
}

// disableUser (XEP-0133 4.3): the accounts cannot log in, and their
// sessions end, until enabled again; nothing they keep is deleted.
func (m *Module) disableUser(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	return m.eachAccount(ctx, from, in, "Disable accounts", "They cannot log in until enabled again; their sessions end and nothing they keep is deleted.", "disabled",
		func(acct string) error { return m.d.Admin.SetDisabled(ctx, acct, true) })
}

// reenableUser (XEP-0133 4.4).
func (m *Module) reenableUser(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	return m.eachAccount(ctx, from, in, "Enable accounts again", "They can log in again.", "enabled",
		func(acct string) error { return m.d.Admin.SetDisabled(ctx, acct, false) })
}

// endSessions (XEP-0133 4.5): an address with a resource ends that
// session; an account's address ends all of its sessions (a lost phone's
// too, held for stream management or not).
func (m *Module) endSessions(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	if in == nil {
		x := form("End sessions", "An account's address ends all of its sessions; an address with a device's resource ends that one.")
		adhoc.AddField(x, "accountjids", "jid-multi", "Addresses", true)
		return adhoc.Step{Form: x}
	}
	var ended, notes []string
	for _, s := range in.Values("accountjids") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		j, err := jid.Parse(s)
		if err != nil || j.Local == "" || j.Domain != m.d.Domain {
			notes = append(notes, fmt.Sprintf("%q is not the address of an account of this server or of one of its devices", s))
			continue
		}
		n, err := m.d.Admin.EndSessions(ctx, j.String())
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("%s: %v", j, err))
		case n == 0:
			notes = append(notes, fmt.Sprintf("%s has no session", j))
		default:
			m.log.Info("sessions ended by an administrator's command", "jid", j.String(), "sessions", n, "by", from.Bare().String())
			ended = append(ended, fmt.Sprintf("%s (%d)", j, n))
		}
	}
	switch {
	case len(notes) > 0:
		if len(ended) > 0 {
			notes = append(notes, "ended: "+strings.Join(ended, ", "))
		}
		return failed("%s", strings.Join(notes, "; "))
	case len(ended) == 0:
		return failed("no address was named")
	}
	return done("sessions ended: %s", strings.Join(ended, ", "))
}
