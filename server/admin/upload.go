package admin

import (
	"context"
	"fmt"
	"time"

	"hearth/server/internal/mod/upload"
	"hearth/server/settings"
)

// UploadStatus is file sharing (XEP-0363): the limits, where clients are
// sent, and what each account keeps.
type UploadStatus struct {
	// URL is the address files are given under ("" while no server
	// runs, or its HTTPS listener is off).
	URL          string `json:",omitempty"`
	MaxFileBytes int64
	QuotaBytes   int64 // per account; 0: no limit
	DailyBytes   int64 // per account per day; 0: no limit
	Expiry       string
	Users        []UploadUser `json:",omitempty"`
	Files        int          // stored files, every account's
	Bytes        int64        // their sizes, with open slots
}

// UploadUser is what one account keeps.
type UploadUser struct {
	JID   string
	Files int
	Bytes int64
}

// PurgeResult is what a purge deleted.
type PurgeResult struct {
	Files int
	Bytes int64
}

// Uploader is a Live server that shares files.
type Uploader interface {
	// UploadURL is where files are served ("" with HTTPS off).
	UploadURL() string
	// PurgeUploads deletes files as PurgeUploads says.
	PurgeUploads(ctx context.Context, user string, expired bool) (files int, bytes int64, err error)
}

// Uploads reports file sharing's limits and each account's use.
func (l *Local) Uploads(ctx context.Context) (UploadStatus, error) {
	v, err := l.Values(ctx)
	if err != nil {
		return UploadStatus{}, err
	}
	st := UploadStatus{
		MaxFileBytes: int64(v.Int(settings.KeyUploadMaxFile)),
		QuotaBytes:   int64(v.Int(settings.KeyUploadQuota)),
		DailyBytes:   int64(v.Int(settings.KeyUploadDaily)),
		Expiry:       v.String(settings.KeyUploadExpiry),
	}
	if u, ok := l.Live.(Uploader); ok {
		st.URL = u.UploadURL()
	}
	use, err := l.DB.UploadUsages(ctx)
	if err != nil {
		return UploadStatus{}, err
	}
	for _, u := range use {
		st.Users = append(st.Users, UploadUser{JID: u.User + "@" + l.domain(), Files: u.Files, Bytes: u.Bytes})
		st.Files += u.Files
		st.Bytes += u.Bytes
	}
	return st, nil
}

// PurgeUploads deletes shared files: an account's (user), the expired
// ones (expired), or an account's expired ones (both). One of the two is
// needed.
func (l *Local) PurgeUploads(ctx context.Context, user string, expired bool) (PurgeResult, error) {
	local := ""
	if user != "" {
		var err error
		if local, _, err = l.user(user); err != nil {
			return PurgeResult{}, err
		}
	} else if !expired {
		return PurgeResult{}, invalidf("name an account whose files to delete, or ask for the expired files")
	}
	var n int
	var bytes int64
	var err error
	if u, ok := l.Live.(Uploader); ok {
		n, bytes, err = u.PurgeUploads(ctx, local, expired)
	} else if l.DataDir == "" {
		return PurgeResult{}, fmt.Errorf("shared files cannot be deleted: no data directory is known")
	} else {
		n, bytes, err = upload.StoreIn(l.DataDir).Purge(ctx, l.DB, local, expired, time.Now())
	}
	if err != nil {
		return PurgeResult{Files: n, Bytes: bytes}, fmt.Errorf("some files were not deleted (%d were): %w", n, err)
	}
	return PurgeResult{Files: n, Bytes: bytes}, nil
}

// uploadMethods serves the file sharing calls on the admin socket.
func uploadMethods(api API, method func(name string, fn func(ctx context.Context, r request) (any, error))) {
	method("Uploads", func(ctx context.Context, r request) (any, error) { return api.Uploads(ctx) })
	method("PurgeUploads", func(ctx context.Context, r request) (any, error) {
		return api.PurgeUploads(ctx, r.User, r.On)
	})
}

// Uploads asks the running server about file sharing.
func (c *Client) Uploads(ctx context.Context) (UploadStatus, error) {
	var v UploadStatus
	err := c.call(ctx, "Uploads", request{}, &v)
	return v, err
}

// PurgeUploads asks the running server to delete shared files.
func (c *Client) PurgeUploads(ctx context.Context, user string, expired bool) (PurgeResult, error) {
	var v PurgeResult
	err := c.call(ctx, "PurgeUploads", request{User: user, On: expired}, &v)
	return v, err
}
