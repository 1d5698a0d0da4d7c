package push

import (
	"context"
	"strconv"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// OMEMO's namespaces: an encrypted message may have no body to show.
var encrypted = map[string]bool{"eu.siacs.conversations.axolotl": true, "urn:xmpp:omemo:2": true}

// worthPushing says whether a message to an account is one a person
// would want to be woken for: a chat or normal message with a body or an
// encrypted payload (not chat states, receipts, errors or headlines).
func worthPushing(st *stanza.Stanza) bool {
	if st.Type != "" && st.Type != "chat" && st.Type != "normal" {
		return false
	}
	for _, c := range st.El.Elements() {
		if (c.Name == "body" && c.NS == stanza.NSClient) || (c.Name == "encrypted" && encrypted[c.NS]) {
			return true
		}
	}
	return false
}

// connected reports whether the device with resource res has a session
// that is not waiting to be resumed.
func (m *Module) connected(user, res string) bool {
	s := m.r.Session(jid.JID{Local: user, Domain: m.domain, Resource: res})
	return s != nil && !s.Held()
}

// Inbound notifies the push services of the account's devices that are
// away when a message comes for it: it went to offline storage, or the
// device has no session, or its session is held for resumption.
func (m *Module) Inbound(ctx context.Context, st *stanza.Stanza, out router.Outcome) {
	if m.loaded.Load() && m.any.Load() == 0 {
		return
	}
	if out.Error != nil || !worthPushing(st) {
		return
	}
	user := st.To.Local
	var due []registration
	m.mu.Lock()
	if err := m.loadLocked(ctx); err != nil {
		m.mu.Unlock()
		m.log.Error("no push notification sent: registrations could not be read", "user", user, "err", err)
		return
	}
	for _, r := range m.regs[user] {
		if !out.Stored && m.connected(user, r.Resource) {
			r.count = 0 // the device has what came
			continue
		}
		r.count++
		due = append(due, *r)
	}
	m.mu.Unlock()
	for _, r := range due {
		m.notify(user, r, st)
	}
}

// notify publishes one notification to a registration's node, without
// waiting for the answer.
func (m *Module) notify(user string, r registration, st *stanza.Stanza) {
	select {
	case m.sem <- struct{}{}:
	default:
		m.log.Warn("push notification dropped: too many are under way", "user", user, "service", r.Service)
		return
	}
	svc, err := jid.Parse(r.Service)
	if err != nil {
		<-m.sem
		return
	}
	pubsub := m.notification(r, st)
	started := m.tasks.Go(func(ctx context.Context) {
		defer func() { <-m.sem }()
		ctx, cancel := context.WithTimeout(ctx, Timeout)
		defer cancel()
		from := jid.JID{Local: user, Domain: m.domain}
		a, err := m.r.Request(ctx, from, svc, "set", pubsub)
		switch {
		case m.tasks.Closed():
		case err != nil:
			m.log.Warn("the push service did not answer a notification in time", "user", user, "service", r.Service, "wait", Timeout)
		case a.Type == "error":
			m.refused(ctx, user, r, stanza.ErrorOf(a.El))
		default:
			m.log.Debug("push notification sent", "user", user, "service", r.Service, "count", r.count)
		}
	})
	if !started {
		<-m.sem
	}
}

// refused handles a push service's error: one that is not temporary
// turns the registration off (XEP-0357 7), since the service will not
// take any.
func (m *Module) refused(ctx context.Context, user string, r registration, e *stanza.Error) {
	if e.Type == stanza.Wait {
		m.log.Warn("the push service could not take a notification now", "user", user, "service", r.Service, "condition", e.Condition, "text", e.Text)
		return
	}
	ctx = context.WithoutCancel(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	// Only the registration that was refused: the device may have
	// registered again since.
	if _, err := m.db.RemovePushMade(ctx, user, r.Service, r.Node, r.Created); err != nil {
		m.log.Error("push registration not turned off after its service refused a notification", "user", user, "service", r.Service, "err", err)
		return
	}
	if err := m.reloadLocked(ctx, user); err != nil {
		m.log.Warn("push registrations not reread", "user", user, "err", err)
	}
	m.log.Info("push notifications turned off for a device: its push service refused them; the device turns them on again when it next connects",
		"user", user, "device", r.Resource, "service", r.Service, "condition", e.Condition, "text", e.Text)
}

// notification builds the publish of XEP-0357 7: a summary form, and the
// device's publish options as it gave them.
func (m *Module) notification(r registration, st *stanza.Stanza) *stanza.Element {
	form := stanza.New("x", stanza.NSDataForms, "type", "submit")
	field := func(name, value string) {
		form.Append(stanza.New("field", stanza.NSDataForms, "var", name).Append(stanza.New("value", stanza.NSDataForms).AppendText(value)))
	}
	field("FORM_TYPE", NSSummary)
	field("message-count", strconv.Itoa(r.count))
	switch *m.content.Load() {
	case ContentBody:
		field("last-message-sender", st.From.Bare().String())
		if body := st.El.ChildText("body", stanza.NSClient); body != "" {
			field("last-message-body", body)
		}
	case ContentSender:
		field("last-message-sender", st.From.Bare().String())
	}
	item := stanza.New("item", NSPubSub).Append(stanza.New("notification", NS).Append(form))
	pubsub := stanza.New("pubsub", NSPubSub).Append(stanza.New("publish", NSPubSub, "node", r.Node).Append(item))
	if opts := options(r.Push); opts != nil {
		pubsub.Append(stanza.New("publish-options", NSPubSub).Append(opts))
	}
	return pubsub
}

// options parses a registration's stored publish options.
func options(p storage.Push) *stanza.Element {
	if len(p.Options) == 0 {
		return nil
	}
	el, err := stream.Unmarshal(p.Options)
	if err != nil {
		return nil
	}
	return el
}
