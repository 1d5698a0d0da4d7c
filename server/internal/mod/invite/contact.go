package invite

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"hearth/server/internal/jid"
	"hearth/storage"
)

// Tokens checks contact invitations for the presence module (XEP-0379):
// a subscription request that carries a token the user handed out is
// approved by the server, without the user's devices.
type Tokens struct {
	DB  *storage.DB
	Log *slog.Logger
	Now func() time.Time // time.Now if nil
}

// ContactInvite reports whether token is a contact invitation of user's
// that contact may use now, and spends one of its uses if so.
func (t Tokens) ContactInvite(ctx context.Context, user string, contact jid.JID, token string) bool {
	if _, err := ParseToken(token); err != nil {
		return false
	}
	i, err := t.DB.Invite(ctx, token)
	if err != nil || !i.Contact() || i.Inviter != user {
		return false
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	if _, err := t.DB.UseInvite(ctx, token, now()); err != nil {
		if t.Log != nil && !errors.Is(err, storage.ErrInviteExpired) && !errors.Is(err, storage.ErrInviteUsed) && !errors.Is(err, storage.ErrNotFound) {
			t.Log.Warn("contact invitation not used", "user", user, "err", err)
		}
		return false
	}
	if t.Log != nil {
		t.Log.Info("subscription approved with a contact invitation", "user", user, "contact", contact.String())
	}
	return true
}
