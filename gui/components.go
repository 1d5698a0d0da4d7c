package gui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// componentsPanel is the external components (XEP-0114), a card at the
// end of the Settings tab: bots and gateways with a domain of their own,
// each with whether it is connected, a button that removes it, and a
// field that adds one and shows its secret once. Connections send no
// event: it reloads when the tab comes into sight and every few seconds
// while in sight.
type componentsPanel struct {
	u       *UI
	content fyne.CanvasObject
	load    *reloader

	rows   *fyne.Container
	name   *widget.Entry
	result *widget.Label
}

func newComponentsTab(u *UI) *componentsPanel {
	t := &componentsPanel{u: u}
	t.load = &reloader{u: u, load: t.loadState}
	t.rows = container.NewVBox(wrapped("Loading…"))
	t.name = widget.NewEntry()
	t.name.SetPlaceHolder("bot")
	t.result = wrapped("")
	t.result.Hide()
	add := widget.NewButton("Add", func() { t.add(t.name.Text) })
	t.name.OnSubmitted = t.add
	t.content = widget.NewCard("Bots and gateways", "the external components", container.NewVBox(
		wrapped("A program such as a bot or a gateway joins the server with a domain of its own, NAME.<domain>, "+
			"and gets what is sent there (XEP-0114). It connects to the address of components.listen above "+
			"with the secret shown when it is added."),
		container.NewBorder(nil, nil, widget.NewLabel("New component"), add, t.name), t.result, t.rows,
	))
	return t
}

func (t *componentsPanel) handle(ev admin.Event) {
	if ev.Kind == admin.EventComponents {
		t.load.trigger()
	}
}

func (t *componentsPanel) loadState(ctx context.Context) func() {
	cs, err := t.u.api.Components(ctx)
	return func() {
		t.rows.RemoveAll()
		if err != nil {
			l := wrapped(describe("Cannot read the components", err).Error())
			l.Importance = widget.DangerImportance
			t.rows.Add(l)
			return
		}
		for _, c := range cs {
			state := "not connected"
			if c.Connected {
				state = fmt.Sprintf("connected since %s from %s; %d stanzas sent, %d received", c.Since.Local().Format(time.DateTime), c.Addr, c.In, c.Out)
			}
			name := c.Name
			del := widget.NewButton("Remove", func() { t.confirm(name) })
			del.Importance = widget.DangerImportance
			t.rows.Add(container.NewBorder(nil, nil, nil, del, wrapped(name+": "+state)))
		}
		if len(cs) == 0 {
			t.rows.Add(wrapped("No bot or gateway is configured."))
		}
		t.content.Refresh()
	}
}

func (t *componentsPanel) say(text string, bad bool) {
	t.result.SetText(text)
	t.result.Importance = widget.MediumImportance
	if bad {
		t.result.Importance = widget.DangerImportance
	}
	t.result.Show()
	t.result.Refresh()
}

// add configures a component and shows its secret in a dialog, the one
// time it is shown.
func (t *componentsPanel) add(name string) {
	t.u.call(func(ctx context.Context) func() {
		nc, err := t.u.api.AddComponent(ctx, name)
		return func() {
			if err != nil {
				t.say(describe("Cannot add the component", err).Error(), true)
				return
			}
			t.name.SetText("")
			t.say(nc.Name+" was added.", false)
			secret := widget.NewEntry()
			secret.SetText(nc.Secret)
			d := dialog.NewCustom("Component "+nc.Name+" added", "Done", container.NewVBox(
				wrapped("Its secret, shown this once: copy it into the program's configuration."), secret,
			), t.u.win)
			d.Resize(fyne.NewSize(520, 200))
			d.Show()
			t.load.trigger()
		}
	})
}

func (t *componentsPanel) confirm(name string) {
	d := dialog.NewConfirm("Remove the component?",
		fmt.Sprintf("Remove %s? It is disconnected and its secret no longer works.", name),
		func(ok bool) {
			if ok {
				t.remove(name)
			}
		}, t.u.win)
	d.SetConfirmText("Remove")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
}

func (t *componentsPanel) remove(name string) {
	t.u.call(func(ctx context.Context) func() {
		err := t.u.api.RemoveComponent(ctx, name)
		return func() {
			if err != nil {
				t.say(describe("Cannot remove the component", err).Error(), true)
			} else {
				t.say(name+" was removed.", false)
			}
			t.load.trigger()
		}
	})
}
