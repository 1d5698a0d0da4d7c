// Package pubsubsvc is the publish-subscribe service (XEP-0060) on
// pubsub.<domain>: nodes that any local account may create and own,
// with explicit subscriptions, the five access models, affiliations the
// owners manage, persistent items paged with XEP-0059, and the last item
// sent on subscription. It shares its core with personal eventing
// (package pubsub: requests, configuration forms, access, notifications;
// storage's item methods): one implementation, two addressings. Social
// feeds (XEP-0472) are Atom entries published as items.
package pubsubsvc

import (
	"context"
	"errors"
	"log/slog"

	"hearth/server/internal/jid"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Visibility is the one rule of who may see an account's presence
// (roster.Module.MaySee): the presence access model follows the node
// creator's.
type Visibility interface {
	MaySee(ctx context.Context, user string, contact jid.JID) (bool, error)
}

// Deps are what the service needs.
type Deps struct {
	DB         *storage.DB
	Router     *router.Router
	Domain     string
	Visibility Visibility
	Quota      *quota.Limits // nil: the defaults
	Log        *slog.Logger
}

// Module is the service.
type Module struct {
	db     *storage.DB
	r      *router.Router
	domain string
	host   jid.JID
	vis    Visibility
	quota  *quota.Limits
	log    *slog.Logger
	order  *pubsub.Order
	prof   pubsub.Profile
}

// New returns the service on pubsub.<domain>.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Quota == nil {
		d.Quota = quota.New()
	}
	m := &Module{db: d.DB, r: d.Router, domain: d.Domain, host: jid.JID{Domain: "pubsub." + d.Domain},
		vis: d.Visibility, quota: d.Quota, log: d.Log, order: pubsub.NewOrder()}
	m.prof = pubsub.Profile{
		Access: []string{pubsub.AccessOpen, pubsub.AccessPresence, pubsub.AccessRoster, pubsub.AccessAuthorize, pubsub.AccessWhitelist},
		// The last item goes to new subscribers; the service does not
		// follow subscribers' presence, so not on_sub_and_presence.
		SendLast: []string{pubsub.SendNever, pubsub.SendOnSub},
		Fixed:    pubsub.FixedWith(map[string]string{"pubsub#presence_based_delivery": "0", "pubsub#node_type": "leaf"}),
		Service:  true,
		MaxItems: func() int { return int(m.quota.PubsubItems.Load()) },
	}
	return m
}

// Host is the service's address, pubsub.<domain>.
func (m *Module) Host() string { return m.host.Domain }

// Register installs the service's host; the server lists it in its
// disco items.
func (m *Module) Register(mux *router.Mux) { mux.Host(m.host.Domain, m.handle) }

// Features: the service is its own host (see info).
func (m *Module) Features() router.Features { return router.Features{} }

// features are what the service advertises (XEP-0060 10): only what
// works end to end.
var features = func() []string {
	fs := []string{stanza.NSDiscoInfo, stanza.NSDiscoItems, pubsub.NS, pubsub.NSRSM}
	for _, f := range []string{"access-authorize", "access-open", "access-presence", "access-roster", "access-whitelist",
		"config-node", "create-and-configure", "create-nodes", "delete-items", "delete-nodes", "get-pending",
		"instant-nodes", "item-ids", "last-published", "manage-affiliations", "manage-subscriptions",
		"member-affiliation", "modify-affiliations", "outcast-affiliation", "persistent-items", "publish",
		"publish-options", "publisher-affiliation", "purge-nodes", "retract-items", "retrieve-affiliations",
		"retrieve-default", "retrieve-items", "retrieve-subscriptions", "subscribe", "subscription-options",
		"subscription-notifications", "rsm"} {
		fs = append(fs, pubsub.NS+"#"+f)
	}
	return fs
}()

// UserRemoved forgets a deleted account on the service: the nodes it
// created, its subscriptions and affiliations.
func (m *Module) UserRemoved(ctx context.Context, user string) {
	bare := jid.JID{Local: user, Domain: m.domain}.String()
	if err := m.db.ForgetServiceJID(ctx, bare); err != nil {
		m.log.Warn("the pubsub service could not forget a deleted account; its nodes stay until deleted by hand", "user", user, "err", err)
	}
}

// handle takes what is sent to pubsub.<domain>.
func (m *Module) handle(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	if st.To.Local != "" || st.To.Resource != "" {
		if st.Kind == stanza.KindIQ && (st.Type == "get" || st.Type == "set") {
			return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "the pubsub service has no users; address pubsub."+m.domain)
		}
		return nil
	}
	switch st.Kind {
	case stanza.KindMessage:
		if st.Type != "error" {
			m.authorization(ctx, st)
		}
		return nil
	case stanza.KindIQ:
	default:
		return nil
	}
	if st.Type != "get" && st.Type != "set" {
		return nil
	}
	q := st.Payload()
	if q == nil {
		return stanza.ErrBadRequest("the request is empty")
	}
	var out *stanza.Element
	var e *stanza.Error
	switch {
	case st.Type == "get" && q.Name == "query" && q.NS == stanza.NSDiscoInfo:
		out, e = m.info(ctx, st.From, q.Attr("node"))
	case st.Type == "get" && q.Name == "query" && q.NS == stanza.NSDiscoItems:
		out, e = m.discoItems(ctx, st.From, q.Attr("node"))
	case q.Name == "pubsub" && (q.NS == pubsub.NS || q.NS == pubsub.NSOwner):
		req, pe := pubsub.Parse(st.Type, q)
		if pe != nil {
			return pe
		}
		out, e = m.serve(ctx, st, req)
	default:
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "")
	}
	if e != nil {
		return e
	}
	if out != errAnswered {
		m.reply(ctx, st, out)
	}
	return nil
}

// errAnswered is the answer of a request whose handler routed its own
// reply (to send more after it).
var errAnswered = stanza.New("answered", "")

func (m *Module) reply(ctx context.Context, st *stanza.Stanza, payload *stanza.Element) {
	rs, e := stanza.Parse(st.Result(payload))
	if e != nil {
		m.log.Error("the pubsub service made an answer it cannot route", "err", e.Text)
		return
	}
	m.r.Route(ctx, rs)
}

// serve answers one pubsub request.
func (m *Module) serve(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	if req.Owner {
		switch req.Action {
		case "default":
			return stanza.New("pubsub", pubsub.NSOwner).Append(stanza.New("default", pubsub.NSOwner).Append(m.prof.Form(m.defaultConfig("", jid.JID{})))), nil
		case "configure":
			return m.configure(ctx, st, req)
		case "delete":
			return nil, m.deleteNode(ctx, st.From, req.Node)
		case "purge":
			return nil, m.purge(ctx, st.From, req.Node)
		case "subscriptions":
			return m.ownerSubscriptions(ctx, st, req)
		case "affiliations":
			return m.ownerAffiliations(ctx, st, req)
		}
	}
	switch req.Action {
	case "create":
		return m.create(ctx, st.From, req)
	case "publish":
		return m.publish(ctx, st.From, req)
	case "retract":
		return nil, m.retract(ctx, st.From, req)
	case "items":
		return m.items(ctx, st.From, req)
	case "subscribe":
		return m.subscribe(ctx, st, req)
	case "unsubscribe":
		return nil, m.unsubscribe(ctx, st.From, req)
	case "options":
		return m.options(ctx, st, req)
	case "default":
		return stanza.New("pubsub", pubsub.NS).Append(stanza.New("default", pubsub.NS).Append(optionsForm(true))), nil
	case "subscriptions":
		return m.mySubscriptions(ctx, st.From, req.Node)
	case "affiliations":
		return m.myAffiliations(ctx, st.From, req.Node)
	}
	return nil, pubsub.Unsupported(req.Action)
}

// storeError is the requester's error for what storage said: none,
// item-not-found, or, logged as what failed, internal-server-error.
func (m *Module) storeError(err error, what, node string) *stanza.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "")
	case errors.Is(err, storage.ErrBusy):
		m.log.Warn(what, "node", node, "err", err)
		return stanza.NewError(stanza.Wait, stanza.InternalServerError, "the server could not store this; try again later")
	}
	m.log.Warn(what, "node", node, "err", err)
	return stanza.ErrInternal()
}

// node returns a node, or item-not-found.
func (m *Module) node(ctx context.Context, node string) (storage.PubsubNode, *stanza.Error) {
	n, err := m.db.ServiceNode(ctx, node)
	return n, m.storeError(err, "pubsub node not read", node)
}

// affiliation returns who's affiliation with node ("" for none).
func (m *Module) affiliation(ctx context.Context, node string, who jid.JID) (string, *stanza.Error) {
	a, err := m.db.ServiceAffiliation(ctx, node, who.Bare().String())
	return a, m.storeError(err, "pubsub affiliation not read", node)
}

// owned returns a node that who owns: item-not-found, or forbidden
// (XEP-0060 8.x) for anyone else.
func (m *Module) owned(ctx context.Context, node string, who jid.JID) (storage.PubsubNode, *stanza.Error) {
	n, e := m.node(ctx, node)
	if e != nil {
		return n, e
	}
	a, e := m.affiliation(ctx, node, who)
	if e != nil {
		return n, e
	}
	if a != pubsub.Owner {
		return n, stanza.NewError(stanza.Auth, stanza.Forbidden, "only the node's owners may do this")
	}
	return n, nil
}

// access decides whether who may see n's items and subscribe to it.
func (m *Module) access(ctx context.Context, n storage.PubsubNode, who jid.JID) *stanza.Error {
	aff, e := m.affiliation(ctx, n.Node, who)
	if e != nil {
		return e
	}
	rq := pubsub.Requester{Affiliation: aff,
		Presence: func() (bool, error) { return m.seesCreator(ctx, n, who, nil) },
		InGroups: func() (bool, error) { return m.seesCreator(ctx, n, who, splitGroups(n.RosterGroups)) },
	}
	if n.Access == pubsub.AccessAuthorize && aff == "" {
		s, err := m.db.ServiceSubscription(ctx, n.Node, who.Bare().String())
		if errors.Is(err, storage.ErrNotFound) {
			s, err = m.db.ServiceSubscription(ctx, n.Node, who.String())
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return m.storeError(err, "pubsub subscription not read", n.Node)
		}
		rq.Subscribed = err == nil && s.State == "subscribed"
	}
	e, err := pubsub.MayAccess(n.Access, rq)
	if err != nil {
		m.log.Warn("roster not read for a pubsub access check", "node", n.Node, "err", err)
		return stanza.ErrInternal()
	}
	return e
}

// seesCreator reports whether who is in the node creator's roster with a
// presence subscription (groups nil) or in one of groups.
func (m *Module) seesCreator(ctx context.Context, n storage.PubsubNode, who jid.JID, groups []string) (bool, error) {
	creator, err := jid.Parse(n.Creator)
	if err != nil || creator.Domain != m.domain || creator.Local == "" {
		return false, nil
	}
	if groups == nil {
		return m.vis.MaySee(ctx, creator.Local, who)
	}
	if who.Bare() == creator {
		return true, nil
	}
	it, err := m.db.RosterItem(ctx, creator.Local, who.Bare().String())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, g := range it.Groups {
		for _, a := range groups {
			if g == a {
				return true, nil
			}
		}
	}
	return false, nil
}

func splitGroups(s string) []string {
	if s == "" {
		return []string{}
	}
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// local reports whether j is an account of this server.
func (m *Module) local(j jid.JID) bool { return j.Domain == m.domain && j.Local != "" }
