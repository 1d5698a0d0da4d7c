package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"hearth/server/admin"
	"hearth/server/internal/jid"
	"hearth/server/internal/mod/adhoc"
)

// XEP-0401's commands: chat apps (Conversations, Monal, Gajim...) make
// invitations with them, as the administrator does with hearth invite.
const (
	nsInvite          = "urn:xmpp:invite"
	nodeInvite        = nsInvite + "#invite"
	nodeCreateAccount = nsInvite + "#create-account"
	formInvitation    = nsInvite + "#invitation"
)

// inviteCommands adds XEP-0401's commands to the ad-hoc commands:
// "Invite user" for every account of this server (a contact invitation,
// XEP-0379; an administrator's also lets the invitee make an account
// here, ibr=y), and "Create account" for administrators (admin.jids).
func inviteCommands(commands *adhoc.Module, s *Server, isAdmin func(context.Context, jid.JID) bool, log *slog.Logger) {
	domain := s.cfg.Domain
	api := func() admin.API { return s.admin } // made after the modules
	local := func(_ context.Context, from jid.JID) bool { return from.Domain == domain && from.Local != "" }
	commands.Add(adhoc.Command{Node: nodeInvite, Name: "Invite user", Allowed: local,
		Refusal: "only accounts of this server may make invitations here",
		Run: func(ctx context.Context, from jid.JID, _ *adhoc.Form) adhoc.Step {
			kind := admin.InviteContact
			if isAdmin(ctx, from) {
				kind = admin.InviteAccountContact
			} else if n := validInvites(ctx, api(), from.Bare().String()); n >= maxUserInvites {
				return adhoc.Step{Note: fmt.Sprintf("you have %d invitations that are still valid, the most an account may have; wait until some are used or expire, or ask an administrator to cancel some", n), NoteType: "error"}
			}
			return invitation(ctx, api(), log, from, admin.InviteSpec{Kind: kind, User: from.Bare().String()})
		}})
	commands.Add(adhoc.Command{Node: nodeCreateAccount, Name: "Create account", Allowed: isAdmin,
		Run: func(ctx context.Context, from jid.JID, in *adhoc.Form) adhoc.Step {
			if in == nil {
				x := adhoc.NewForm("form", "Create an account",
					"An invitation to make an account here. Leave the name empty to let the invitee choose one.", "")
				adhoc.AddField(x, "username", "text-single", "Name of the account", false)
				adhoc.AddField(x, "roster-subscription", "boolean", "Become my contact (then leave the name empty)", false, "0")
				return adhoc.Step{Form: x}
			}
			name := strings.TrimSpace(in.Value("username"))
			if name != "" && !strings.Contains(name, "@") {
				name += "@" + domain
			}
			spec := admin.InviteSpec{Kind: admin.InviteAccount, User: name}
			if v := in.Value("roster-subscription"); v == "1" || v == "true" {
				if name != "" {
					// The inviter is who the account+contact kind names;
					// a kept name and a contact cannot both be asked for.
					return adhoc.Step{Note: "an invitation that keeps a name cannot also make the invitee your contact; leave the name empty, or untick \"Become my contact\"", NoteType: "error"}
				}
				spec = admin.InviteSpec{Kind: admin.InviteAccountContact, User: from.Bare().String()}
			}
			return invitation(ctx, api(), log, from, spec)
		}})
}

// maxUserInvites bounds the valid invitations an account that is no
// administrator holds, so that nobody fills the database with them.
const maxUserInvites = 20

// validInvites counts inviter's invitations that can still be used.
func validInvites(ctx context.Context, api admin.API, inviter string) int {
	is, err := api.Invites(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, i := range is {
		if i.Inviter == inviter && i.State == "valid" {
			n++
		}
	}
	return n
}

// invitation makes one and answers with XEP-0401's result form.
func invitation(ctx context.Context, api admin.API, log *slog.Logger, from jid.JID, spec admin.InviteSpec) adhoc.Step {
	inv, err := api.CreateInvite(ctx, spec)
	if err != nil {
		return adhoc.Step{Note: "no invitation was made: " + err.Error(), NoteType: "error"}
	}
	log.Info("invitation made from a chat app", "kind", inv.Kind, "by", from.Bare().String())
	x := adhoc.NewForm("result", "Invitation", "Send the link to the person you invite; it works until it expires.", formInvitation)
	adhoc.AddField(x, "uri", "text-single", "Invitation", false, inv.URI)
	link := inv.Link
	if link == "" {
		link = inv.LANLink
	}
	if link != "" {
		adhoc.AddField(x, "landing-url", "text-single", "Link", false, link)
	}
	adhoc.AddField(x, "expire", "text-single", "Expires", false, inv.Expires.UTC().Format(time.RFC3339))
	return adhoc.Step{Result: x}
}
