package upload

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hearth/storage"
)

// minRate is the slowest an upload may arrive, in bytes a second, after a
// first minute: a PUT that takes longer is cut off.
const minRate = 8 << 10

// files serves /upload/: PUT into a slot, GET and HEAD of stored files,
// and CORS preflights (XEP-0363 7: web clients upload from other
// origins).
type files struct{ m *Module }

func (f files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Cookie, Expires")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Type, Content-Disposition, ETag, Last-Modified")
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		f.put(w, r)
	case http.MethodGet, http.MethodHead:
		f.get(w, r)
	default:
		h.Set("Allow", "GET, HEAD, PUT, OPTIONS")
		http.Error(w, "this address takes GET, HEAD and PUT only", http.StatusMethodNotAllowed)
	}
}

func (f files) put(w http.ResponseWriter, r *http.Request) {
	m := f.m
	ctx := r.Context()
	refuse := func(code int, why string, args ...any) {
		m.log.Info("upload refused: "+why, append([]any{"addr", r.RemoteAddr, "status", code}, args...)...)
		http.Error(w, why, code)
	}
	slot, expires, sig, err := parsePut(r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		refuse(http.StatusForbidden, err.Error())
		return
	}
	u, err := m.db.UploadOf(ctx, slot)
	if errors.Is(err, storage.ErrNotFound) {
		refuse(http.StatusForbidden, errBadURL.Error())
		return
	}
	if err != nil {
		m.log.Error("an upload slot could not be read", "err", err)
		http.Error(w, "the server could not read its records; try again later", http.StatusInternalServerError)
		return
	}
	if err := verify(m.key, putClaim{Slot: slot, Size: u.Size, ContentType: u.ContentType, Expires: expires}, sig, m.now()); err != nil {
		refuse(http.StatusForbidden, err.Error(), "user", u.User)
		return
	}
	if u.State != storage.UploadSlot {
		refuse(http.StatusConflict, "a file was put at this address already (or is being put now); ask for a new slot", "user", u.User)
		return
	}
	switch {
	case r.ContentLength < 0:
		refuse(http.StatusLengthRequired, "send the file's size in Content-Length", "user", u.User)
		return
	case r.ContentLength > u.Size:
		refuse(http.StatusRequestEntityTooLarge, "the file is larger than the size given when the slot was asked for ("+strconv.FormatInt(u.Size, 10)+" bytes)", "user", u.User)
		return
	case r.ContentLength < u.Size:
		refuse(http.StatusBadRequest, "the file is smaller than the size given when the slot was asked for ("+strconv.FormatInt(u.Size, 10)+" bytes)", "user", u.User)
		return
	}
	if u.ContentType != "" && !sameType(r.Header.Get("Content-Type"), u.ContentType) {
		refuse(http.StatusBadRequest, "the Content-Type is not the one given when the slot was asked for ("+u.ContentType+")", "user", u.User)
		return
	}
	if err := m.db.BeginUpload(ctx, slot); errors.Is(err, storage.ErrNotFound) {
		refuse(http.StatusConflict, "a file was put at this address already (or is being put now); ask for a new slot", "user", u.User)
		return
	} else if err != nil {
		m.log.Error("an upload could not be started", "err", err)
		http.Error(w, "the server could not record the upload; try again later", http.StatusInternalServerError)
		return
	}
	// What follows ends the slot's PUT either way, even if the client
	// goes away.
	done := context.WithoutCancel(ctx)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(time.Minute + time.Duration(u.Size/minRate)*time.Second))
	if err := m.store.Put(slot, u.Size, r.Body); err != nil {
		_ = m.db.AbortUpload(done, slot)
		if errors.Is(err, errSize) {
			refuse(http.StatusBadRequest, err.Error(), "user", u.User)
			return
		}
		m.log.Info("an upload was cut off; the slot stays open for another try", "user", u.User, "err", err)
		http.Error(w, "the upload did not arrive whole; try again", http.StatusBadRequest)
		return
	}
	if err := m.db.FinishUpload(done, slot, m.now().Add(time.Duration(m.expiry.Load()))); err != nil {
		_ = m.store.remove(slot)
		if errors.Is(err, storage.ErrNotFound) {
			refuse(http.StatusGone, "the slot was removed while the file came (its account was deleted, or the administrator purged it)", "user", u.User)
			return
		}
		_ = m.db.AbortUpload(done, slot)
		m.log.Error("an uploaded file could not be recorded; it was not kept", "user", u.User, "err", err)
		http.Error(w, "the server could not record the file; try again later", http.StatusInternalServerError)
		return
	}
	m.log.Info("file uploaded", "user", u.User, "bytes", u.Size)
	w.WriteHeader(http.StatusCreated)
}

// sameType reports whether the Content-Type sent is the one the slot was
// given (media types compared as parsed: case, spacing and quoting do not
// count).
func sameType(sent, want string) bool {
	mt, params, err := mime.ParseMediaType(sent)
	if err != nil {
		return false
	}
	return mime.FormatMediaType(mt, params) == want
}

func (f files) get(w http.ResponseWriter, r *http.Request) {
	m := f.m
	slot, ok := parsePath(r.URL.EscapedPath())
	if !ok {
		http.NotFound(w, r)
		return
	}
	u, err := m.db.UploadOf(r.Context(), slot)
	if err != nil || u.State != storage.UploadStored || m.now().After(u.Expires) {
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Error("an uploaded file's record could not be read", "err", err)
		}
		http.Error(w, "no such file (files are deleted after a while)", http.StatusNotFound)
		return
	}
	fh, err := m.store.Open(slot)
	if err != nil {
		m.log.Warn("an uploaded file is recorded but missing on disk", "slot", slot, "err", err)
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	defer fh.Close()
	// A download may go at the client's pace, down to minRate.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute + time.Duration(u.Size/minRate)*time.Second))
	h := w.Header()
	ct := u.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", disposition(ct, u.Filename))
	h.Set("ETag", `"`+slot+`"`)
	h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(int64(time.Until(u.Expires)/time.Second), 10)+", immutable")
	// A file is shown or saved, never run as a page of this origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox")
	http.ServeContent(w, r, u.Filename, u.Created, fh)
}

// disposition shows images, sound and video in place, and has the rest
// saved, under the file's cleaned name.
func disposition(ct, name string) string {
	kind := "attachment"
	if strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "video/") || strings.HasPrefix(ct, "audio/") {
		kind = "inline"
	}
	if d := mime.FormatMediaType(kind, map[string]string{"filename": name}); d != "" {
		return d
	}
	return kind
}
