// Package svcadmin is service administration (XEP-0133) as ad-hoc
// commands (mod/adhoc) for the accounts named in the setting admin.jids:
// add, delete and change the password of accounts, the online and
// registered accounts, announcements to everyone online, and the message
// of the day, which each device gets as it logs in.
package svcadmin

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/adhoc"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// NS is XEP-0133's namespace: the FORM_TYPE of its forms and the prefix
// of its commands' nodes.
const NS = "http://jabber.org/protocol/admin"

// Setting keys the module reads and writes (server/settings has them).
const (
	KeyAdmins = "admin.jids"
	KeyMOTD   = "motd"
)

// Admin is what the commands change, the admin API's way (so that the
// modules hear of added and deleted accounts, and settings apply).
type Admin interface {
	AddUser(ctx context.Context, bareJID, password string) error
	DeleteUser(ctx context.Context, bareJID string) error
	SetPassword(ctx context.Context, bareJID, password string) error
	// Users returns every account's bare JID.
	Users(ctx context.Context) ([]string, error)
	Setting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
	// SetDisabled disables (its sessions end) or enables an account.
	SetDisabled(ctx context.Context, bareJID string, disabled bool) error
	// EndSessions ends a session (a full JID) or all of an account's
	// (a bare JID), and says how many.
	EndSessions(ctx context.Context, jid string) (int, error)
}

// Deps are what the module needs.
type Deps struct {
	Domain string
	Router *router.Router
	Adhoc  *adhoc.Module
	Admin  Admin
	Log    *slog.Logger
}

// Module holds the commands and the message of the day.
type Module struct {
	d      Deps
	log    *slog.Logger
	motd   atomic.Pointer[string]
	admins atomic.Pointer[[]string] // the bare JIDs of admin.jids
}

// New adds the commands to d.Adhoc.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Module{d: d, log: d.Log}
	empty := ""
	m.motd.Store(&empty)
	m.admins.Store(&[]string{})
	for _, c := range []struct {
		node, name string
		run        func(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step
	}{
		{"add-user", "Add an account", m.addUser},
		{"delete-user", "Delete accounts", m.deleteUser},
		{"disable-user", "Disable accounts", m.disableUser},
		{"reenable-user", "Enable accounts again", m.reenableUser},
		{"end-user-session", "End sessions", m.endSessions},
		{"change-user-password", "Change an account's password", m.changePassword},
		{"get-registered-users-num", "Number of accounts", m.registeredNum},
		{"get-registered-users-list", "List of accounts", m.registeredList},
		{"get-online-users-num", "Number of accounts online", m.onlineNum},
		{"get-online-users-list", "List of accounts online", m.onlineList},
		{"announce", "Send an announcement to everyone online", m.announce},
		{"set-motd", "Set the message of the day", m.setMOTD},
		{"edit-motd", "Edit the message of the day", m.setMOTD},
		{"delete-motd", "Delete the message of the day", m.deleteMOTD},
	} {
		d.Adhoc.Add(adhoc.Command{Node: NS + "#" + c.node, Name: c.name, Allowed: m.isAdmin, Run: c.run})
	}
	return m
}

// SetMOTD sets the message of the day new logins get (the setting motd,
// applied live).
func (m *Module) SetMOTD(text string) { m.motd.Store(&text) }

// SetAdmins sets who may run the commands: the setting admin.jids, bare
// JIDs separated by spaces or commas (applied live).
func (m *Module) SetAdmins(list string) {
	admins := strings.Fields(strings.ReplaceAll(list, ",", " "))
	m.admins.Store(&admins)
}

// SessionBound sends the message of the day to a session that just
// bound (XEP-0133 4.23).
func (m *Module) SessionBound(ctx context.Context, s *router.Session) {
	text := *m.motd.Load()
	if text == "" {
		return
	}
	msg := stanza.New("message", stanza.NSClient, "from", m.d.Domain, "to", s.JID.String(), "type", "normal")
	msg.Append(stanza.New("subject", stanza.NSClient).AppendText("Message of the day"))
	msg.Append(stanza.New("body", stanza.NSClient).AppendText(text))
	m.d.Router.Deliver(ctx, s, msg)
}

// IsAdmin: a local account named in admin.jids.
func (m *Module) IsAdmin(ctx context.Context, from jid.JID) bool { return m.isAdmin(ctx, from) }

func (m *Module) isAdmin(_ context.Context, from jid.JID) bool {
	if from.Domain != m.d.Domain || from.Local == "" {
		return false
	}
	return slices.Contains(*m.admins.Load(), from.Bare().String())
}

func form(title, instructions string) *stanza.Element {
	return adhoc.NewForm("form", title, instructions, NS)
}

func done(format string, args ...any) adhoc.Step {
	return adhoc.Step{Note: fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) adhoc.Step {
	return adhoc.Step{Note: fmt.Sprintf(format, args...), NoteType: "error"}
}

// account checks a submitted account address: one of this server's.
func (m *Module) account(s string) (string, error) {
	j, err := jid.Parse(strings.TrimSpace(s))
	if err != nil || j.Local == "" || j.Resource != "" {
		return "", fmt.Errorf("%q is not an account's address such as alice@%s", s, m.d.Domain)
	}
	if j.Domain != m.d.Domain {
		return "", fmt.Errorf("%s is not an account of this server (%s)", j, m.d.Domain)
	}
	return j.String(), nil
}

func (m *Module) addUser(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	if in == nil {
		x := form("Add an account", "The new account's address and password.")
		adhoc.AddField(x, "accountjid", "jid-single", "Address", true)
		adhoc.AddField(x, "password", "text-private", "Password", true)
		adhoc.AddField(x, "password-verify", "text-private", "Password again", true)
		return adhoc.Step{Form: x}
	}
	acct, err := m.account(in.Value("accountjid"))
	if err != nil {
		return failed("%v", err)
	}
	pw := in.Value("password")
	if v := in.Values("password-verify"); v != nil && in.Value("password-verify") != pw {
		return failed("the two passwords differ; nothing was changed")
	}
	if err := m.d.Admin.AddUser(ctx, acct, pw); err != nil {
		return failed("%s was not added: %v", acct, err)
	}
	m.log.Info("account added by an administrator's command", "account", acct, "by", from.Bare().String())
	return done("%s was added", acct)
}

func (m *Module) deleteUser(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	return m.eachAccount(ctx, from, in, "Delete accounts", "The accounts to delete, with everything they keep on the server.", "deleted",
		func(acct string) error { return m.d.Admin.DeleteUser(ctx, acct) })
}

func (m *Module) changePassword(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	if in == nil {
		x := form("Change an account's password", "")
		adhoc.AddField(x, "accountjid", "jid-single", "Address", true)
		adhoc.AddField(x, "password", "text-private", "New password", true)
		return adhoc.Step{Form: x}
	}
	acct, err := m.account(in.Value("accountjid"))
	if err != nil {
		return failed("%v", err)
	}
	if err := m.d.Admin.SetPassword(ctx, acct, in.Value("password")); err != nil {
		return failed("the password of %s was not changed: %v", acct, err)
	}
	m.log.Info("password changed by an administrator's command", "account", acct, "by", from.Bare().String())
	return done("the password of %s was changed", acct)
}

// result is a completed command's result form.
func result(title string) *stanza.Element { return adhoc.NewForm("result", title, "", NS) }

func (m *Module) registered(ctx context.Context) ([]string, error) {
	us, err := m.d.Admin.Users(ctx)
	slices.Sort(us)
	return us, err
}

func (m *Module) registeredNum(ctx context.Context, _ jid.JID, _ *adhoc.Form) adhoc.Step {
	us, err := m.registered(ctx)
	if err != nil {
		return adhoc.Step{Err: stanza.ErrInternal()}
	}
	x := result("Number of accounts")
	adhoc.AddField(x, "registeredusersnum", "text-single", "Accounts", false, strconv.Itoa(len(us)))
	return adhoc.Step{Result: x}
}

func (m *Module) registeredList(ctx context.Context, _ jid.JID, in *adhoc.Form) adhoc.Step {
	if in == nil {
		return adhoc.Step{Form: maxItemsForm("List of accounts")}
	}
	us, err := m.registered(ctx)
	if err != nil {
		return adhoc.Step{Err: stanza.ErrInternal()}
	}
	x := result("Accounts")
	adhoc.AddField(x, "registereduserjids", "jid-multi", "Accounts", false, limit(us, in)...)
	return adhoc.Step{Result: x}
}

// online returns the bare JIDs of the accounts with an available session.
func (m *Module) online() []string {
	var out []string
	for _, s := range m.d.Router.All() {
		if s.Available() {
			out = append(out, s.JID.Bare().String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (m *Module) onlineNum(_ context.Context, _ jid.JID, _ *adhoc.Form) adhoc.Step {
	x := result("Number of accounts online")
	adhoc.AddField(x, "onlineusersnum", "text-single", "Accounts online", false, strconv.Itoa(len(m.online())))
	return adhoc.Step{Result: x}
}

func (m *Module) onlineList(_ context.Context, _ jid.JID, in *adhoc.Form) adhoc.Step {
	if in == nil {
		return adhoc.Step{Form: maxItemsForm("List of accounts online")}
	}
	x := result("Accounts online")
	adhoc.AddField(x, "onlineuserjids", "jid-multi", "Accounts online", false, limit(m.online(), in)...)
	return adhoc.Step{Result: x}
}

// maxItemsForm asks how many to list (XEP-0133 4.18, 4.21).
func maxItemsForm(title string) *stanza.Element {
	x := form(title, "")
	f := adhoc.AddField(x, "max_items", "list-single", "How many at most", false)
	for _, n := range []string{"25", "50", "75", "100", "150", "200"} {
		adhoc.AddOption(f, n, n)
	}
	adhoc.AddOption(f, "All", "none")
	return x
}

func limit(list []string, in *adhoc.Form) []string {
	if n, err := strconv.Atoi(in.Value("max_items")); err == nil && n >= 0 && n < len(list) {
		return list[:n]
	}
	return list
}

func (m *Module) announce(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	if in == nil {
		x := form("Send an announcement", "A message to every device online now.")
		adhoc.AddField(x, "subject", "text-single", "Subject", false)
		adhoc.AddField(x, "body", "text-multi", "Message", true)
		return adhoc.Step{Form: x}
	}
	body := strings.Join(in.Values("body"), "\n")
	if strings.TrimSpace(body) == "" {
		return failed("the announcement has no text; nothing was sent")
	}
	subject := in.Value("subject")
	n := 0
	for _, s := range m.d.Router.All() {
		if !s.Available() {
			continue
		}
		msg := stanza.New("message", stanza.NSClient, "from", m.d.Domain, "to", s.JID.String(), "type", "normal")
		if subject != "" {
			msg.Append(stanza.New("subject", stanza.NSClient).AppendText(subject))
		}
		msg.Append(stanza.New("body", stanza.NSClient).AppendText(body))
		if m.d.Router.Deliver(ctx, s, msg) {
			n++
		}
	}
	m.log.Info("announcement sent by an administrator's command", "devices", n, "by", from.Bare().String())
	return done("the announcement went to %d devices", n)
}

func (m *Module) setMOTD(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
	if in == nil {
		cur, _ := m.d.Admin.Setting(ctx, KeyMOTD)
		x := form("Message of the day", "Every device gets it as it logs in.")
		var lines []string
		if cur != "" {
			lines = strings.Split(cur, "\n")
		}
		adhoc.AddField(x, "body", "text-multi", "Message", true, lines...)
		return adhoc.Step{Form: x}
	}
	body := strings.TrimSpace(strings.Join(in.Values("body"), "\n"))
	if body == "" {
		return failed("the message of the day has no text; to remove it, run the command %q", "Delete the message of the day")
	}
	if err := m.d.Admin.SetSetting(ctx, KeyMOTD, body); err != nil {
		return failed("the message of the day was not set: %v", err)
	}
	m.log.Info("message of the day set by an administrator's command", "by", from.Bare().String())
	return done("the message of the day was set")
}

func (m *Module) deleteMOTD(ctx context.Context, from jid.JID, _ *adhoc.Form) adhoc.Step {
	if err := m.d.Admin.SetSetting(ctx, KeyMOTD, ""); err != nil {
		return failed("the message of the day was not deleted: %v", err)
	}
	m.log.Info("message of the day deleted by an administrator's command", "by", from.Bare().String())
	return done("the message of the day was deleted")
}
