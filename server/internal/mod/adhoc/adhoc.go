// Package adhoc is ad-hoc commands (XEP-0050) at the server's domain: a
// registry other modules add commands to (service administration,
// XEP-0133, is one), the command IQs with their sessions, and the
// commands' service discovery (the items of the node
// http://jabber.org/protocol/commands list what the requester may run).
package adhoc

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/disco"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// NS is XEP-0050's namespace, and the disco node that lists commands.
const NS = "http://jabber.org/protocol/commands"

// Session bounds: a command's session ends after SessionLifetime without
// a step; one requester has at most MaxSessions under way (the oldest
// goes first).
const (
	SessionLifetime = 10 * time.Minute
	MaxSessions     = 16
)

// Command is one command at the server's domain.
type Command struct {
	// Node names it (XEP-0050 2.2), Name is what people read.
	Node, Name string
	// Allowed says whether from may run the command, and see it listed;
	// nil: everyone.
	Allowed func(ctx context.Context, from jid.JID) bool
	// Refusal is what those not allowed are told; "" says the command
	// is the administrators' (setting admin.jids).
	Refusal string
	// Run runs a step: in is the form the requester submitted (nil on an
	// execute without one).
	Run func(ctx context.Context, from jid.JID, in *Form) Step
}

// Step is what a command answers a step with.
type Step struct {
	// Form is a form to fill in: the command goes on (status executing)
	// and the next step gets the submitted form. Nil: it is completed.
	Form *stanza.Element
	// Result is what a completed command shows (a result form); may be
	// nil.
	Result *stanza.Element
	// Note is a note to show (XEP-0050 3.4), of NoteType info (default),
	// warn or error.
	Note, NoteType string
	// Err refuses the step with a stanza error; the session ends.
	Err *stanza.Error
}

// Deps are what the module needs.
type Deps struct {
	Domain string
	Log    *slog.Logger
}

// Module serves the commands.
type Module struct {
	domain string
	log    *slog.Logger

	mu       sync.Mutex
	cmds     []*Command // in the order added
	byNode   map[string]*Command
	sessions map[string]*session
	closed   bool // no command may be added once stanzas flow
}

type session struct {
	node    string
	from    jid.JID
	expires time.Time
}

// New returns the module with no commands.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{domain: d.Domain, log: d.Log, byNode: map[string]*Command{}, sessions: map[string]*session{}}
}

// Add adds a command; a second command with a node panics, and so does
// adding one after the server started routing (a programming error).
func (m *Module) Add(c Command) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		panic("adhoc: command " + c.Node + " added after the server started")
	}
	if c.Node == "" || c.Run == nil {
		panic("adhoc: a command needs a node and Run")
	}
	if m.byNode[c.Node] != nil {
		panic("adhoc: second command " + c.Node)
	}
	m.byNode[c.Node] = &c
	m.cmds = append(m.cmds, &c)
}

// Register installs the command IQ at the server's domain.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"set"}, Target: router.ToServer, Name: "command", NS: NS}, m.command)
}

// Features implements the module contract.
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{NS}}
}

func (m *Module) close() {
	if !m.closed {
		m.closed = true
	}
}

func allowed(ctx context.Context, c *Command, from jid.JID) bool {
	return c.Allowed == nil || c.Allowed(ctx, from)
}

// NodeItems implements disco.ServerNodes: the commands from may run.
func (m *Module) NodeItems(ctx context.Context, node string, from jid.JID) ([]disco.Item, bool) {
	if node != NS {
		return nil, false
	}
	m.mu.Lock()
	m.close()
	cmds := m.cmds
	m.mu.Unlock()
	var out []disco.Item
	for _, c := range cmds {
		if allowed(ctx, c, from) {
			out = append(out, disco.Item{JID: jid.JID{Domain: m.domain}, Node: c.Node, Name: c.Name})
		}
	}
	return out, true
}

// NodeInfo implements disco.ServerNodes: the command list's node and
// each command's (XEP-0050 2.3), for those who may run it.
func (m *Module) NodeInfo(ctx context.Context, node string, from jid.JID) *stanza.Element {
	if node == NS {
		q := stanza.New("query", stanza.NSDiscoInfo, "node", node)
		q.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", "automation", "type", "command-list", "name", "Commands"))
		return q
	}
	m.mu.Lock()
	m.close()
	c := m.byNode[node]
	m.mu.Unlock()
	if c == nil || !allowed(ctx, c, from) {
		return nil
	}
	q := stanza.New("query", stanza.NSDiscoInfo, "node", node)
	q.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", "automation", "type", "command-node", "name", c.Name))
	q.Append(stanza.New("feature", stanza.NSDiscoInfo, "var", NS))
	q.Append(stanza.New("feature", stanza.NSDiscoInfo, "var", stanza.NSDataForms))
	return q
}

// commandError is a XEP-0050 4.6 error: a stanza error with the
// command's own condition.
func commandError(typ, cond, specific, text string) *stanza.Error {
	e := stanza.NewError(typ, cond, text)
	e.Extra = stanza.New(specific, NS)
	return e
}

// command answers an IQ set with <command/> (XEP-0050 3).
func (m *Module) command(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	req := st.Payload()
	node, sid, action := req.Attr("node"), req.Attr("sessionid"), req.Attr("action")
	switch action {
	case "", "execute", "complete", "next", "prev", "cancel":
	default:
		return nil, commandError(stanza.Modify, stanza.BadRequest, "malformed-action", "the action must be execute, next, prev, complete or cancel")
	}
	m.mu.Lock()
	m.close()
	c := m.byNode[node]
	m.mu.Unlock()
	if c == nil {
		return nil, stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "this server has no command "+node)
	}
	if !allowed(ctx, c, st.From) {
		text := c.Refusal
		if text == "" {
			text = "only the server's administrators may run this command (setting admin.jids)"
		}
		return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, text)
	}
	var in *Form
	if x := req.Child("x", stanza.NSDataForms); x != nil {
		f, err := ParseForm(x)
		if err != nil {
			return nil, stanza.ErrBadRequest(err.Error())
		}
		in = f
	}
	now := time.Now()
	if sid != "" {
		m.mu.Lock()
		s := m.sessions[sid]
		ok := s != nil && s.node == node && s.from == st.From && now.Before(s.expires)
		if ok && action != "prev" || s != nil && !now.Before(s.expires) {
			delete(m.sessions, sid) // a step that goes on keeps it again
		}
		m.mu.Unlock()
		if !ok {
			return nil, commandError(stanza.Modify, stanza.BadRequest, "bad-sessionid", "this command's session has ended or is not yours; run the command again")
		}
		if action == "cancel" {
			return stanza.New("command", NS, "node", node, "sessionid", sid, "status", "canceled"), nil
		}
		if action == "prev" {
			return nil, commandError(stanza.Modify, stanza.BadRequest, "bad-action", "this command has no previous step")
		}
		if in == nil || in.Type != "submit" {
			return nil, stanza.ErrBadRequest("this step needs the form, submitted")
		}
	} else {
		switch action {
		case "cancel":
			return stanza.New("command", NS, "node", node, "status", "canceled"), nil
		case "prev":
			return nil, commandError(stanza.Modify, stanza.BadRequest, "bad-action", "this command has no previous step")
		}
		sid = stanza.RandomID(12)
	}
	if in != nil && in.Type == "cancel" {
		return stanza.New("command", NS, "node", node, "sessionid", sid, "status", "canceled"), nil
	}
	step := c.Run(ctx, st.From, in)
	if step.Err != nil {
		return nil, step.Err
	}
	res := stanza.New("command", NS, "node", node, "sessionid", sid)
	if step.Form != nil {
		m.keep(sid, &session{node: node, from: st.From, expires: now.Add(SessionLifetime)}, now)
		res.SetAttr("status", "executing")
		res.Append(stanza.New("actions", NS, "execute", "complete").Append(stanza.New("complete", NS)))
		if step.Note != "" {
			res.Append(note(step))
		}
		return res.Append(step.Form), nil
	}
	res.SetAttr("status", "completed")
	if step.Note != "" {
		res.Append(note(step))
	}
	if step.Result != nil {
		res.Append(step.Result)
	}
	return res, nil
}

func note(s Step) *stanza.Element {
	t := s.NoteType
	if t == "" {
		t = "info"
	}
	return stanza.New("note", NS, "type", t).AppendText(s.Note)
}

// keep records a session, dropping expired ones and the requester's
// oldest past MaxSessions.
func (m *Module) keep(sid string, s *session, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var oldest string
	n := 0
	for id, o := range m.sessions {
		switch {
		case now.After(o.expires):
			delete(m.sessions, id)
		case o.from == s.from:
			n++
			if oldest == "" || o.expires.Before(m.sessions[oldest].expires) {
				oldest = id
			}
		}
	}
	if n >= MaxSessions {
		delete(m.sessions, oldest)
	}
	m.sessions[sid] = s
}

// Sessions is how many command sessions are under way (tests).
func (m *Module) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}
