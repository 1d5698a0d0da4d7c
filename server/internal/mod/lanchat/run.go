package lanchat

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"hearth/discovery"
	ll "hearth/server/internal/linklocal"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// retryEvery is how often a bridge that could not start tries again.
const retryEvery = 30 * time.Second

// runtime is what runs while chat on the LAN is on and someone takes
// part: the mDNS responder our instances are published on, the stream
// service and its listener, the browser.
type runtime struct {
	resp *discovery.Responder
	svc  *ll.Service
	port int
	// ctx is done when the runtime stops: the browser and the message
	// queues (senders, under mu) end.
	ctx     context.Context
	stop    context.CancelFunc
	senders map[string]*sender
	wg      sync.WaitGroup
}

// Run works until ctx is done, then withdraws every announcement (goodbye
// packets) and ends the streams with peers.
func (m *Module) Run(ctx context.Context) {
	users, err := m.db.LinkLocalUsers(ctx)
	if err != nil {
		m.log.Error("chat on the LAN is not started: the accounts that take part could not be read", "err", err)
	}
	m.mu.Lock()
	m.life = ctx
	for _, u := range users {
		m.optIn[u] = true
		m.dirty[u] = true
	}
	m.mu.Unlock()
	m.kick()
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	for {
		select {
		case <-retry.C:
			m.mu.Lock()
			failed := m.failed
			m.mu.Unlock()
			if failed {
				m.settle(ctx)
			}
		case <-ctx.Done():
			m.settle(ctx)
			m.mu.Lock()
			m.life = nil
			m.mu.Unlock()
			return
		case <-m.wake:
			m.settle(ctx)
		}
	}
}

// settle brings what runs and what is announced in line with the
// settings, the opt-ins and the accounts' presence. Only Run's goroutine
// calls it, so that publishing and withdrawing never race.
func (m *Module) settle(ctx context.Context) {
	m.mu.Lock()
	want := m.enabled && len(m.optIn) > 0 && ctx.Err() == nil
	rt := m.rt
	m.mu.Unlock()
	switch {
	case want && rt == nil:
		var err error
		if rt, err = m.start(ctx); err != nil {
			m.mu.Lock()
			again := m.failed
			m.reason, m.failed = "it could not start: "+err.Error(), true
			m.mu.Unlock()
			if !again {
				m.log.Error("chat on the LAN could not start; it is tried again every half minute", "err", err)
			}
			return
		}
		m.mu.Lock()
		m.rt, m.reason, m.failed = rt, "", false
		var give []delivery
		for u := range m.optIn {
			m.dirty[u] = true
			give = append(give, m.giveUser(u)...)
		}
		m.mu.Unlock()
		m.deliver(give)
		m.log.Info("chat on the LAN started", "host", m.host+".local", "port", rt.port)
	case !want && rt != nil:
		m.stop(rt, ctx.Err() != nil)
		return
	case !want:
		return
	}
	for {
		m.mu.Lock()
		var user string
		for u := range m.dirty {
			user = u
			break
		}
		delete(m.dirty, user)
		m.mu.Unlock()
		if user == "" || ctx.Err() != nil {
			return
		}
		m.settleUser(ctx, rt, user)
	}
}

// settleUser publishes, updates or withdraws one account's instance.
func (m *Module) settleUser(ctx context.Context, rt *runtime, user string) {
	pres, avail := m.ownPresence(user)
	pres.Port = rt.port
	txt := pres.TXT()
	m.mu.Lock()
	want := avail && m.optIn[user]
	a := m.ann[user]
	m.mu.Unlock()
	switch {
	case want && a == nil:
		name := user + "@" + m.host
		inst, err := rt.resp.Publish(ctx, discovery.ServiceInstance{Instance: name, Service: discovery.ServicePresence,
			Port: rt.port, TXT: txt, Renamed: func(n string) {
				m.log.Info("an account's name on the LAN was taken by another machine; it is announced under another", "user", user, "name", n)
			}})
		if err != nil {
			if ctx.Err() == nil {
				m.log.Error("an account could not be announced on the LAN", "user", user, "err", err)
			}
			return
		}
		m.mu.Lock()
		m.ann[user] = &announcement{user: user, inst: inst, txt: txt, pres: pres}
		again := m.dirty[user]
		m.mu.Unlock()
		m.log.Info("account announced on the LAN", "user", user, "name", inst.Name(), "status", pres.Status)
		if !again {
			// Its presence may have changed while the name was probed.
			m.settleUser(ctx, rt, user)
		}
	case want && !slices.Equal(a.txt, txt):
		if err := a.inst.SetTXT(txt); err != nil {
			m.log.Warn("an account's presence could not be updated on the LAN", "user", user, "err", err)
			return
		}
		m.mu.Lock()
		a.txt, a.pres = txt, pres
		m.mu.Unlock()
		m.log.Info("account's presence updated on the LAN", "user", user, "status", pres.Status)
	case !want && a != nil:
		m.withdraw(rt, a)
	}
}

// withdraw says goodbye for one announcement and ends its streams.
func (m *Module) withdraw(rt *runtime, a *announcement) {
	name := a.inst.Name()
	a.inst.Withdraw()
	m.mu.Lock()
	if m.ann[a.user] == a {
		delete(m.ann, a.user)
	}
	m.mu.Unlock()
	rt.svc.CloseStreams(name)
	m.log.Info("account withdrawn from the LAN", "user", a.user, "name", name)
}

// ownPresence is what an account's most available session says, as
// XEP-0174 presence; false when no session is available.
func (m *Module) ownPresence(user string) (discovery.Presence, bool) {
	var best *stanza.Element
	bestPrio, avail := 0, false
	for _, s := range m.r.Sessions(user) {
		ok, prio, el := s.Presence()
		if ok && (!avail || prio > bestPrio) {
			best, bestPrio, avail = el, prio, true
		}
	}
	p := discovery.Presence{First: user, Nick: user, JID: user + "@" + m.domain, Status: discovery.StatusAvail}
	if best != nil {
		switch best.ChildText("show", "") {
		case "away", "xa":
			p.Status = discovery.StatusAway
		case "dnd":
			p.Status = discovery.StatusDND
		}
		p.Msg = best.ChildText("status", "")
	}
	return p, avail
}

// start opens the responder, the stream listener and the browser.
func (m *Module) start(ctx context.Context) (*runtime, error) {
	resp, err := discovery.NewResponder(discovery.ResponderConfig{Host: m.host, Ifaces: m.ifaces}, m.log)
	if err != nil {
		return nil, err
	}
	ln, err := m.listen()
	if err != nil {
		resp.Close()
		return nil, fmt.Errorf("no port for streams with people on the LAN: %w", err)
	}
	tc := peerTLS(m.tls)
	rt := &runtime{resp: resp, port: ln.Addr().(*net.TCPAddr).Port, senders: map[string]*sender{}}
	rt.svc = ll.New(ll.Config{Directory: directory{m}, Handler: m.fromPeer, Log: m.log, TLS: tc})
	if err := rt.svc.Start(ln); err != nil {
		ln.Close()
		rt.svc.Close()
		resp.Close()
		return nil, err
	}
	b, err := discovery.NewBrowser(discovery.BrowserConfig{Service: discovery.ServicePresence, Ifaces: m.ifaces, OnEvent: m.browsed}, m.log)
	if err != nil {
		rt.svc.Close()
		resp.Close()
		return nil, err
	}
	rt.ctx, rt.stop = context.WithCancel(context.WithoutCancel(ctx))
	// In place before the browser's first event: events for no runtime
	// are dropped.
	m.mu.Lock()
	m.rt = rt
	m.mu.Unlock()
	rt.wg.Go(func() {
		if err := b.Run(rt.ctx); err != nil {
			m.log.Error("people on the LAN are no longer looked for", "err", err)
		}
	})
	return rt, nil
}

// peerTLS is the configuration offered to peers: the server's
// certificate, without the protocols its listeners name.
func peerTLS(f func() *tls.Config) *tls.Config {
	if f == nil {
		return nil
	}
	c := f()
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.NextProtos = nil
	return c
}

// listen opens the stream listener: on Addr, else port 5298, else any.
func (m *Module) listen() (net.Listener, error) {
	if m.addr != "" {
		return net.Listen("tcp", m.addr)
	}
	if ln, err := net.Listen("tcp", ":5298"); err == nil {
		return ln, nil
	}
	return net.Listen("tcp", ":0")
}

// stop withdraws every announcement, tells the accounts that the peers
// are gone, and closes everything start opened.
func (m *Module) stop(rt *runtime, shutdown bool) {
	m.mu.Lock()
	m.rt = nil // nothing new is queued for rt from now on
	anns := make([]*announcement, 0, len(m.ann))
	for _, a := range m.ann {
		anns = append(anns, a)
	}
	m.mu.Unlock()
	for _, a := range anns {
		m.withdraw(rt, a)
	}
	rt.stop()
	rt.wg.Wait()
	rt.svc.Close()
	rt.resp.Close()
	m.mu.Lock()
	var gone []delivery
	for _, p := range m.peers {
		gone = append(gone, m.toAll(p, true)...)
	}
	clear(m.peers)
	clear(m.byLocal)
	clear(m.given)
	if !m.enabled {
		m.reason = "switched off in the settings (linklocal.enabled)"
	} else if len(m.optIn) == 0 {
		m.reason = "no account takes part"
	}
	m.mu.Unlock()
	if !shutdown {
		m.deliver(gone)
	}
	m.log.Info("chat on the LAN stopped: every account withdrawn", "withdrawn", len(anns))
}

// delivery is a presence for one session.
type delivery struct {
	s  *router.Session
	el *stanza.Element
}

func (m *Module) deliver(ds []delivery) {
	for _, d := range ds {
		m.r.Deliver(context.Background(), d.s, d.el)
	}
}
