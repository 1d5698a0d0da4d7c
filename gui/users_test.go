package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

func TestAddUser(t *testing.T) {
	h := newHarness(t)
	h.showTab("Users")
	h.waitFor("the domain after the name field", func() bool { return h.ui.users.suffix.Text == "@"+h.domain })
	if !h.button("Add user").Disabled() {
		t.Error("Add user is enabled with an empty name")
	}

	test.Type(h.ui.users.name, "alice")
	h.tap("Add user")
	h.waitFor("the new password", func() bool { return h.dialogTitled("Account created") })

	jid := "alice@" + h.domain
	if !h.showsText(jid) {
		t.Errorf("the dialog does not show the account %s", jid)
	}
	password := h.shownPassword()
	if len(password) < 16 {
		t.Errorf("password %q is short", password)
	}
	h.tap("Copy password")
	if got := h.app.Clipboard().Content(); got != password {
		t.Errorf("clipboard holds %q, want the password", got)
	}
	h.tap("Done")
	if h.win.Canvas().Overlays().Top() != nil {
		t.Error("the dialog stays open after Done")
	}
	if h.ui.users.name.Text != "" {
		t.Errorf("the name field still holds %q", h.ui.users.name.Text)
	}

	if _, ok := h.user(jid); !ok {
		t.Fatalf("%s is not in the API's users", jid)
	}
	h.checkLogin(jid, password, true)
	h.checkLogin(jid, password+"x", false)
	h.waitFor("alice in the list", func() bool { return h.row(jid) != nil })
}

func TestAddUserErrors(t *testing.T) {
	tests := []struct {
		name  string
		typed string
		want  string // in the error dialog
	}{
		{"exists", "bob", "already exists"},
		{"invalid", "bob smith", "Cannot add bob smith@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addUser("bob", "a-long-enough-password")
			h.showTab("Users")
			h.waitFor("the domain", func() bool { return h.ui.users.suffix.Text == "@"+h.domain })

			test.Type(h.ui.users.name, tt.typed)
			h.tap("Add user")
			h.waitFor("an error dialog", func() bool { return h.dialogTitled("Error") })
			if !h.showsText(tt.want) {
				t.Errorf("the error does not say %q", tt.want)
			}
			h.tap("OK")
			if got := h.ui.users.name.Text; got != tt.typed {
				t.Errorf("the name field holds %q after the error, want %q kept", got, tt.typed)
			}
			if h.button("Add user").Disabled() {
				t.Error("Add user stays disabled after the error")
			}
		})
	}
}

func TestDeleteUser(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", "wonderland-tea-1")
	bob := h.addUser("bob", "builder-tools-1")
	h.showTab("Users")
	h.waitFor("bob in the list", func() bool { return h.row(bob) != nil })

	// Cancel keeps the account.
	test.Tap(h.row(bob).del)
	h.waitFor("the confirmation", func() bool { return h.dialogTitled("Delete account?") })
	if !h.showsText(bob) {
		t.Errorf("the confirmation does not name %s", bob)
	}
	h.tap("Cancel")
	h.settle()
	if _, ok := h.user(bob); !ok {
		t.Fatal("Cancel deleted bob")
	}

	// Confirm deletes it, and only it.
	test.Tap(h.row(bob).del)
	h.waitFor("the confirmation", func() bool { return h.dialogTitled("Delete account?") })
	h.tap("Delete")
	h.waitFor("bob gone from the list", func() bool { return h.row(bob) == nil })
	if _, ok := h.user(bob); ok {
		t.Error("bob is still in the API's users")
	}
	if _, ok := h.user(alice); !ok {
		t.Error("alice was deleted too")
	}
	if h.row(alice) == nil {
		t.Error("alice is gone from the list")
	}
	h.checkLogin(bob, "builder-tools-1", false)
}

func TestResetPassword(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", "old-password-123")
	h.showTab("Users")
	h.waitFor("alice in the list", func() bool { return h.row(alice) != nil })

	test.Tap(h.row(alice).reset)
	h.waitFor("the confirmation", func() bool { return h.dialogTitled("Reset password?") })
	h.tap("Reset")
	h.waitFor("the new password", func() bool { return h.dialogTitled("Password reset") })
	password := h.shownPassword()
	if password == "old-password-123" {
		t.Fatal("the password did not change")
	}
	h.tap("Done")
	h.checkLogin(alice, password, true)
	h.checkLogin(alice, "old-password-123", false)
}

func TestDisableUser(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", "wonderland-tea-1")
	h.showTab("Users")
	h.waitFor("alice in the list", func() bool { return h.row(alice) != nil })

	test.Tap(h.row(alice).toggle)
	h.waitFor("alice shown disabled", func() bool {
		r := h.row(alice)
		return r != nil && strings.HasPrefix(r.state.Text, "disabled") && r.toggle.Text == "Enable"
	})
	if u, _ := h.user(alice); !u.Disabled {
		t.Error("alice is not disabled in the API")
	}
	h.checkLogin(alice, "wonderland-tea-1", false)

	test.Tap(h.row(alice).toggle)
	h.waitFor("alice shown enabled", func() bool {
		r := h.row(alice)
		return r != nil && r.state.Text == "offline" && r.toggle.Text == "Disable"
	})
	h.checkLogin(alice, "wonderland-tea-1", true)
}

func TestUsersShowSessions(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", "wonderland-tea-1")
	h.showTab("Users")
	h.waitFor("alice offline", func() bool { r := h.row(alice); return r != nil && r.state.Text == "offline" })

	logout1, err := login(t, h.api, alice, "wonderland-tea-1")
	if err != nil {
		t.Fatal(err)
	}
	logout2, err := login(t, h.api, alice, "wonderland-tea-1")
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("alice on two devices", func() bool { return h.row(alice).state.Text == "online on 2 devices" })
	logout1()
	logout2()
	h.waitFor("alice offline again", func() bool { return h.row(alice).state.Text == "offline" })
}
