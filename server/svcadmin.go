package server

import (
	"context"
	"errors"
	"strings"

	"hearth/server/admin"
	"hearth/server/internal/mod/svcadmin"
)

// adminCommands is the admin API as service administration's commands
// (XEP-0133) use it: accounts added and deleted, passwords and settings
// changed the admin API's way, so that every module hears of them.
type adminCommands struct{ s *Server }

var _ svcadmin.Admin = adminCommands{}

func (a adminCommands) AddUser(ctx context.Context, bareJID, password string) error {
	return a.s.admin.AddUser(ctx, bareJID, password)
}

func (a adminCommands) DeleteUser(ctx context.Context, bareJID string) error {
	return a.s.admin.DeleteUser(ctx, bareJID)
}

func (a adminCommands) SetPassword(ctx context.Context, bareJID, password string) error {
	return a.s.admin.SetPassword(ctx, bareJID, password)
}

func (a adminCommands) Users(ctx context.Context) ([]string, error) {
	us, err := a.s.admin.Users(ctx)
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.JID)
	}
	return out, err
}

func (a adminCommands) Setting(ctx context.Context, key string) (string, error) {
	v, err := a.s.admin.Values(ctx)
	if err != nil {
		return "", err
	}
	return v.String(key), nil
}

func (a adminCommands) SetSetting(ctx context.Context, key, value string) error {
	_, err := a.s.admin.SetSetting(ctx, key, value)
	return err
}

func (a adminCommands) SetDisabled(ctx context.Context, bareJID string, disabled bool) error {
	return a.s.admin.SetDisabled(ctx, bareJID, disabled)
}

// EndSessions ends one session (a full JID) or every session of an
// account (a bare JID), held ones too, and says how many ended.
func (a adminCommands) EndSessions(ctx context.Context, who string) (int, error) {
	if strings.Contains(who, "/") {
		switch err := a.s.admin.Kick(ctx, who); {
		case errors.Is(err, admin.ErrNotFound):
			return 0, nil
		case err != nil:
			return 0, err
		}
		return 1, nil
	}
	ss, err := a.s.admin.Sessions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range ss {
		if bare, _, _ := strings.Cut(s.JID, "/"); bare == who {
			if a.s.admin.Kick(ctx, s.JID) == nil {
				n++
			}
		}
	}
	return n, nil
}
