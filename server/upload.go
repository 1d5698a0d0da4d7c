package server

import (
	"context"
	"time"

	"hearth/server/admin"
)

var _ admin.Uploader = (*hooks)(nil)

// UploadURL implements admin.Uploader: where files are served.
func (h *hooks) UploadURL() string { return h.s.web.BaseURL() }

// PurgeUploads implements admin.Uploader.
func (h *hooks) PurgeUploads(ctx context.Context, user string, expired bool) (int, int64, error) {
	return h.s.upload.Store().Purge(ctx, h.s.db, user, expired, time.Now())
}
