package gui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// The Federation tab's "Test a server": one test at a time, in the
// background, abandoned when the tab is left; its steps and verdict.

func (t *federationTab) updateTestButton() {
	if t.testing != nil {
		t.testButton.SetText("Stop")
		t.testButton.SetIcon(theme.MediaStopIcon())
		t.testButton.Enable()
		return
	}
	t.testButton.SetText("Test")
	t.testButton.SetIcon(theme.MediaPlayIcon())
	if strings.TrimSpace(t.testDomain.Text) == "" {
		t.testButton.Disable()
	} else {
		t.testButton.Enable()
	}
}

// toggleTest starts a test of the domain typed, or stops the one running.
func (t *federationTab) toggleTest() {
	if t.testing != nil {
		t.abandon("The test was stopped.")
		return
	}
	domain := strings.TrimSpace(t.testDomain.Text)
	if domain == "" {
		return
	}
	ctx, cancel := context.WithTimeout(t.u.ctx, testTimeout)
	t.testID++
	id := t.testID
	t.testing = cancel
	t.testSteps.RemoveAll()
	t.testStatus.SetText("Testing " + domain + "… a server that does not answer takes about half a minute.")
	t.testStatus.Importance = widget.MediumImportance
	t.updateTestButton()
	t.relayout()
	t.u.background(func(context.Context) {
		defer cancel()
		steps, err := t.u.api.TestFederation(ctx, domain)
		if ctx.Err() != nil && t.u.ctx.Err() != nil {
			return // the window is closing
		}
		t.u.do(func() { t.tested(id, domain, steps, err) })
	})
}

// abandon stops the running test, if any, saying why.
func (t *federationTab) abandon(why string) {
	if t.testing == nil {
		return
	}
	t.testing()
	t.testing = nil
	t.testStatus.SetText(why)
	t.testStatus.Importance = widget.MediumImportance
	t.testStatus.Refresh()
	t.updateTestButton()
	t.relayout()
}

// left is told that the tab went out of sight: a running test is
// abandoned.
func (t *federationTab) left() {
	t.abandon("The test was stopped when the tab was left; start it again to see its result.")
}

// tested shows a test's steps, if it is still the current one.
func (t *federationTab) tested(id int, domain string, steps []admin.FederationStep, err error) {
	if t.testing == nil || t.testID != id {
		return // stopped, or replaced: nothing to say
	}
	t.testing = nil
	t.updateTestButton()
	t.testSteps.RemoveAll()
	switch {
	case errors.Is(err, admin.ErrInvalid):
		// The message says what is wrong with the domain.
		t.testStatus.SetText(upperFirst(strings.TrimPrefix(err.Error(), "test federation: ")) + ".")
		t.testStatus.Importance = widget.DangerImportance
	case err != nil:
		t.testStatus.SetText(describe("Cannot test "+domain, err).Error())
		t.testStatus.Importance = widget.DangerImportance
	default:
		for _, s := range steps {
			t.testSteps.Add(stepRow(s))
		}
		text, importance := testVerdict(domain, steps)
		t.testStatus.SetText(text)
		t.testStatus.Importance = importance
	}
	t.testStatus.Refresh()
	t.relayout()
	t.load.trigger() // the test may have opened links
}

// stepRow is one step of a test: ✓ or ✗, its name and what it found.
func stepRow(s admin.FederationStep) fyne.CanvasObject {
	icon := theme.NewColoredResource(theme.ConfirmIcon(), theme.ColorNameSuccess)
	if !s.OK {
		icon = theme.NewColoredResource(theme.CancelIcon(), theme.ColorNameError)
	}
	name := widget.NewLabelWithStyle(s.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	detail := wrapped(strings.Join(strings.Fields(s.Detail), " "))
	detail.SizeName = theme.SizeNameCaptionText
	return container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(icon)), nil,
		container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()), name, detail))
}

// testVerdict is a test's last word: it works, or where it failed and
// what to do about it.
func testVerdict(domain string, steps []admin.FederationStep) (string, widget.Importance) {
	for _, s := range steps {
		if s.OK {
			continue
		}
		what := upperFirst(s.Advice)
		if what != "" && !strings.HasSuffix(what, ".") {
			what += "."
		}
		return fmt.Sprintf("Federation with %s failed at the step %s. %s", domain, s.Name, what), widget.DangerImportance
	}
	if len(steps) == 0 {
		return "The test of " + domain + " found nothing to say.", widget.WarningImportance
	}
	return "Federation with " + domain + " works.", widget.SuccessImportance
}
