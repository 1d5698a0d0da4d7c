package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hearth/server/internal/component"
)

// Component is an external component (XEP-0114) as the administrator
// sees it: its name (a domain), and whether it is connected now.
type Component struct {
	Name      string
	Created   time.Time
	Connected bool
	Since     time.Time `json:",omitzero"` // when it connected
	Addr      string    `json:",omitempty"`
	In, Out   int64     // stanzas it sent and was given, while connected
}

// NewComponent is a component just added, with its secret: the one time
// the secret is shown (the program gives it in its handshake).
type NewComponent struct {
	Name   string
	Secret string
}

// ComponentService is a Live server that serves external components.
type ComponentService interface {
	// ComponentStatus lists the configured components and their
	// connections.
	ComponentStatus() ([]component.Status, error)
	// ComponentsChanged reads the configured components again; one that
	// was removed is disconnected.
	ComponentsChanged() error
	// ComponentNameTaken reports whether name is one of the server's own
	// services (conference.<domain>...).
	ComponentNameTaken(name string) bool
}

func (l *Local) components() (*component.Store, error) {
	if l.DataDir == "" {
		return nil, errors.New("external components need the data directory, and none is known")
	}
	return component.StoreIn(l.DataDir), nil
}

// Components lists the configured external components.
func (l *Local) Components(ctx context.Context) ([]Component, error) {
	var all []component.Status
	if cs, ok := l.Live.(ComponentService); ok {
		var err error
		if all, err = cs.ComponentStatus(); err != nil {
			return nil, err
		}
	} else {
		st, err := l.components()
		if err != nil {
			return nil, err
		}
		es, err := st.List()
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			all = append(all, component.Status{Name: e.Name, Created: e.Created})
		}
	}
	out := make([]Component, 0, len(all))
	for _, s := range all {
		out = append(out, Component(s))
	}
	return out, nil
}

// AddComponent configures an external component named name (a word, for
// name.<domain>, or a domain name) with a new secret, and returns both.
func (l *Local) AddComponent(ctx context.Context, name string) (NewComponent, error) {
	n, err := component.Name(name, l.domain())
	if err != nil {
		return NewComponent{}, invalidf("%s", err.Error())
	}
	if cs, ok := l.Live.(ComponentService); ok && cs.ComponentNameTaken(n) {
		return NewComponent{}, invalidf("%s is one of the server's own services; give the component another name", n)
	}
	st, err := l.components()
	if err != nil {
		return NewComponent{}, err
	}
	e, err := st.Add(n, time.Now())
	if errors.Is(err, component.ErrExists) {
		return NewComponent{}, &kindError{msg: fmt.Sprintf("the component %s exists already; remove it first to give it a new secret", n), kind: ErrExists}
	}
	if err != nil {
		return NewComponent{}, err
	}
	if err := l.componentsChanged(); err != nil {
		return NewComponent{}, err
	}
	l.Events.Publish(Event{Kind: EventComponents, JID: n})
	return NewComponent{Name: e.Name, Secret: e.Secret}, nil
}

// RemoveComponent forgets an external component and disconnects it.
func (l *Local) RemoveComponent(ctx context.Context, name string) error {
	n, err := component.Name(name, l.domain())
	if err != nil {
		return invalidf("%s", err.Error())
	}
	st, err := l.components()
	if err != nil {
		return err
	}
	if err := st.Remove(n); errors.Is(err, component.ErrNotFound) {
		return &kindError{msg: fmt.Sprintf("no component %s is configured (hearth components list shows them)", n), kind: ErrNotFound}
	} else if err != nil {
		return err
	}
	if err := l.componentsChanged(); err != nil {
		return err
	}
	l.Events.Publish(Event{Kind: EventComponents, JID: n})
	return nil
}

func (l *Local) componentsChanged() error {
	if cs, ok := l.Live.(ComponentService); ok {
		if err := cs.ComponentsChanged(); err != nil {
			return &kindError{msg: "saved, but the running server could not read the components again: " + err.Error(), kind: ErrNotApplied}
		}
	}
	return nil
}

// componentMethods serves the component calls on the admin socket.
func componentMethods(api API, method func(name string, fn func(ctx context.Context, r request) (any, error))) {
	method("Components", func(ctx context.Context, r request) (any, error) {
		cs, err := api.Components(ctx)
		return componentsBody{cs}, err
	})
	method("AddComponent", func(ctx context.Context, r request) (any, error) { return api.AddComponent(ctx, r.Domain) })
	method("RemoveComponent", func(ctx context.Context, r request) (any, error) {
		return struct{}{}, api.RemoveComponent(ctx, r.Domain)
	})
}

type componentsBody struct{ Components []Component }

// Components asks the running server for the external components.
func (c *Client) Components(ctx context.Context) ([]Component, error) {
	var v componentsBody
	err := c.call(ctx, "Components", request{}, &v)
	return v.Components, err
}

// AddComponent asks the running server to configure a component.
func (c *Client) AddComponent(ctx context.Context, name string) (NewComponent, error) {
	var v NewComponent
	err := c.call(ctx, "AddComponent", request{Domain: name}, &v)
	return v, err
}

// RemoveComponent asks the running server to forget a component.
func (c *Client) RemoveComponent(ctx context.Context, name string) error {
	return c.call(ctx, "RemoveComponent", request{Domain: name}, nil)
}
