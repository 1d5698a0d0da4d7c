package admin

// Moving in and out: accounts exported to and imported from XEP-0227 files
// (Portable Import/Export Format for XMPP-IM Servers), the format
// Prosody's migrator writes. An account moves with its SCRAM keys, so
// that its password keeps working without the server ever seeing it; an
// old export that carries a password gets keys derived from it, and the
// password is not kept.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"hearth/internal/atomicfile"
	"hearth/server/internal/jid"
	"hearth/server/internal/pie"
	"hearth/storage"
)

// Porter moves accounts in and out in XEP-0227 files. Local and Client
// implement it.
type Porter interface {
	// Export writes the accounts named (all, if none is) with their
	// keys, rosters, vCards, private XML, offline messages and PEP nodes
	// to file, an absolute path that must not exist yet, or, if it is a
	// folder, to a file per account in it, USER@DOMAIN.xml, as Prosody's
	// migrator reads them.
	Export(ctx context.Context, file string, users []string) (ExportInfo, error)
	// Import reads a XEP-0227 file, or a folder of them (Prosody's
	// migrator writes one per account), checks all of it, and creates
	// each account with all it owns, one account at a time, each whole
	// or not at all. Nothing is imported if the file does not check or
	// an account exists already, unless opt.Replace.
	Import(ctx context.Context, path string, opt ImportOptions) (ImportReport, error)
}

var (
	_ Porter = (*Local)(nil)
	_ Porter = (*Client)(nil)
)

// ImportOptions steer an import.
type ImportOptions struct {
	// Replace lets an imported account take the place of an existing
	// one of the same name, which is deleted with all it owned.
	Replace bool `json:",omitempty"`
	// Host is the domain in the file whose accounts are imported; ""
	// is this server's, or the file's only one.
	Host string `json:",omitempty"`
	// DryRun checks the file and reports what would be imported.
	DryRun bool `json:",omitempty"`
}

// ExportInfo says what an export wrote.
type ExportInfo struct {
	Path     string
	Accounts []PortedAccount
	Bytes    int64
}

// ImportReport says what an import did, account by account.
type ImportReport struct {
	From     string // the host the accounts came from
	Accounts []PortedAccount
	DryRun   bool
	// OtherHosts are the file's other domains, whose accounts were not
	// imported (ImportOptions.Host names one).
	OtherHosts []string `json:",omitempty"`
}

// PortedAccount counts what one account took along.
type PortedAccount struct {
	JID      string
	Keys     string // which login keys it has: "SCRAM-SHA-1 and SCRAM-SHA-256", ...
	Contacts int
	Pending  int
	VCard    bool
	Private  int
	Offline  int
	PEPNodes int
	PEPItems int
	Replaced bool     `json:",omitempty"`
	Skipped  []string `json:",omitempty"` // what the file held that Hearth does not take
}

// maxImportBytes bounds the files one import reads together (a folder):
// they are parsed whole before anything is written.
const maxImportBytes = 4 * pie.MaxFileBytes

// portRequest carries Export's and Import's arguments over the socket.
type portRequest struct {
	Users   []string      `json:",omitempty"`
	Options ImportOptions `json:",omitempty"`
}

// Export asks the running server for an export (see Porter).
func (c *Client) Export(ctx context.Context, file string, users []string) (ExportInfo, error) {
	var v ExportInfo
	err := c.call(ctx, "Export", request{Path: file, Port: &portRequest{Users: users}}, &v)
	return v, err
}

// Import asks the running server for an import (see Porter).
func (c *Client) Import(ctx context.Context, path string, opt ImportOptions) (ImportReport, error) {
	var v ImportReport
	err := c.call(ctx, "Import", request{Path: path, Port: &portRequest{Options: opt}}, &v)
	return v, err
}

func portMethods(api API, method func(name string, fn func(ctx context.Context, r request) (any, error))) {
	p, ok := api.(Porter)
	if !ok {
		return
	}
	method("Export", func(ctx context.Context, r request) (any, error) {
		var pr portRequest
		if r.Port != nil {
			pr = *r.Port
		}
		return p.Export(ctx, r.Path, pr.Users)
	})
	method("Import", func(ctx context.Context, r request) (any, error) {
		var pr portRequest
		if r.Port != nil {
			pr = *r.Port
		}
		return p.Import(ctx, r.Path, pr.Options)
	})
}

// Export writes a XEP-0227 file (see Porter).
func (l *Local) Export(ctx context.Context, file string, users []string) (ExportInfo, error) {
	if !filepath.IsAbs(file) {
		return ExportInfo{}, invalidf("the export file %q must be an absolute path", file)
	}
	folder := false
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		folder = true
	} else if _, err := os.Lstat(file); err == nil {
		return ExportInfo{}, &kindError{msg: fmt.Sprintf("%s exists already: give the export another name, or remove the old file first", file), kind: ErrExists}
	}
	var names []string
	if len(users) == 0 {
		us, err := l.DB.Users(ctx)
		if err != nil {
			return ExportInfo{}, err
		}
		for _, u := range us {
			names = append(names, u.Name)
		}
	}
	for _, u := range users {
		local, _, err := l.user(u)
		if err != nil {
			return ExportInfo{}, fmt.Errorf("export: %w", err)
		}
		names = append(names, local)
	}
	d := l.domain()
	info := ExportInfo{Path: file}
	read := func(n string) (pie.User, error) {
		a, err := l.DB.ExportAccount(ctx, n)
		if err != nil {
			return pie.User{}, mapErr("export "+n+"@"+d, err)
		}
		pu, err := toPIE(a)
		if err != nil {
			return pie.User{}, fmt.Errorf("export %s@%s: %w", n, d, err)
		}
		info.Accounts = append(info.Accounts, counts(pu, d))
		return pu, nil
	}
	if !folder {
		var all []pie.User
		for _, n := range names {
			pu, err := read(n)
			if err != nil {
				return ExportInfo{}, err
			}
			all = append(all, pu)
		}
		n, err := writeExport(file, pie.Host{JID: d, Users: all})
		info.Bytes = n
		return info, err
	}
	// A folder gets a file per account, named as Prosody's migrator
	// names them (and reads them: its xep0227 storage), one account in
	// memory at a time.
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(file, n+"@"+d+".xml")); err == nil {
			return ExportInfo{}, &kindError{msg: fmt.Sprintf("%s exists already in %s: export into an empty folder", n+"@"+d+".xml", file), kind: ErrExists}
		}
	}
	for _, n := range names {
		pu, err := read(n)
		if err != nil {
			return ExportInfo{}, err
		}
		size, err := writeExport(filepath.Join(file, n+"@"+d+".xml"), pie.Host{JID: d, Users: []pie.User{pu}})
		if err != nil {
			return ExportInfo{}, err
		}
		info.Bytes += size
	}
	return info, nil
}

// writeExport writes one XEP-0227 file.
func writeExport(file string, h pie.Host) (int64, error) {
	var b bytes.Buffer
	if err := pie.Write(&b, &pie.Data{Hosts: []pie.Host{h}}); err != nil {
		return 0, err
	}
	if b.Len() > pie.MaxFileBytes {
		return 0, invalidf("the export takes %s, more than an import reads from one file (%s): export into a folder, which gets a file per account", ByteSize(int64(b.Len())), ByteSize(pie.MaxFileBytes))
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return 0, fmt.Errorf("make the folder for the export: %w", err)
	}
	// It holds every account's keys: readable by its owner only.
	if err := atomicfile.Write(file, b.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("write the export: %w", err)
	}
	return int64(b.Len()), nil
}

// Import reads XEP-0227 accounts into the server (see Porter).
func (l *Local) Import(ctx context.Context, path string, opt ImportOptions) (ImportReport, error) {
	if !filepath.IsAbs(path) {
		return ImportReport{}, invalidf("the file to import %q must be an absolute path", path)
	}
	host, others, err := l.readImport(path, opt.Host)
	if err != nil {
		return ImportReport{}, err
	}
	d := l.domain()
	rep := ImportReport{From: host.JID, DryRun: opt.DryRun, OtherHosts: others}
	accounts := make([]storage.Account, 0, len(host.Users))
	var taken []string
	for _, pu := range host.Users {
		a, notes, err := fromPIE(pu, host.JID, d)
		if err != nil {
			return ImportReport{}, invalidf("account %s@%s: %v; nothing was imported", pu.Name, host.JID, err)
		}
		exists, err := l.DB.UserExists(ctx, pu.Name)
		if err != nil {
			return ImportReport{}, err
		}
		if exists {
			taken = append(taken, pu.Name+"@"+d)
		}
		c := counts(pu, d)
		c.Skipped = append(c.Skipped, notes...)
		c.Replaced = exists
		c.Keys = keysOf(a.User)
		rep.Accounts = append(rep.Accounts, c)
		accounts = append(accounts, a)
	}
	if len(taken) > 0 && !opt.Replace {
		which := taken[0] + " is already on this server"
		if len(taken) > 1 {
			which = "these accounts are already on this server: " + strings.Join(taken, ", ")
		}
		return ImportReport{}, &kindError{kind: ErrExists, msg: which + "; nothing was imported. " +
			"Import with --replace to put the imported accounts in their place (deleting what they own here), or take them out of the file"}
	}
	if opt.DryRun {
		return rep, nil
	}
	for i, a := range accounts {
		if err := l.DB.ImportAccount(ctx, a, opt.Replace); err != nil {
			done := make([]string, 0, i)
			for _, r := range rep.Accounts[:i] {
				done = append(done, r.JID)
			}
			msg := "none was imported before it"
			if len(done) > 0 {
				msg = "imported before it: " + strings.Join(done, ", ")
			}
			return ImportReport{}, fmt.Errorf("import %s stopped: %w (%s; the others were not imported)", rep.Accounts[i].JID, mapErr(rep.Accounts[i].JID, err), msg)
		}
		if err := l.imported(ctx, a.User.Name, rep.Accounts[i].Replaced); err != nil {
			return rep, fmt.Errorf("import %s: %w: the account was made, but %w", rep.Accounts[i].JID, ErrNotApplied, err)
		}
		l.Events.Publish(Event{Kind: EventUsers, JID: rep.Accounts[i].JID})
	}
	return rep, nil
}

// Importer is what a running server (Live) does after an import: it
// forgets what it kept in memory of an account of the same name and
// closes its sessions (replaced), or takes a new account in as
// Live.UserAdded.
type Importer interface {
	UserImported(ctx context.Context, user string, replaced bool) error
}

// imported tells the running server, if any, of an imported account.
func (l *Local) imported(ctx context.Context, user string, replaced bool) error {
	switch live := l.Live.(type) {
	case nil:
		return nil
	case Importer:
		return live.UserImported(ctx, user, replaced)
	default:
		if replaced {
			live.CloseSessions(user)
			return nil
		}
		return live.UserAdded(ctx, user)
	}
}

// readImport parses path, a file or a folder of *.xml files, and returns
// the accounts of the host to import (want, else this server's domain,
// else the files' only host) and the other hosts in it.
func (l *Local) readImport(path, want string) (_ pie.Host, others []string, _ error) {
	fi, err := os.Stat(path)
	if err != nil {
		return pie.Host{}, nil, invalidf("the file to import cannot be read: %v", err)
	}
	files := []string{path}
	if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return pie.Host{}, nil, invalidf("the folder to import cannot be read: %v", err)
		}
		files = files[:0]
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".xml") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return pie.Host{}, nil, invalidf("the folder %s holds no .xml files", path)
		}
	}
	hosts := map[string]*pie.Host{}
	seen := map[string]string{} // host/user -> file
	total := 0
	var size int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	if size > maxImportBytes {
		return pie.Host{}, nil, invalidf("the files to import hold %s, more than one import reads (%s); import them in parts", ByteSize(size), ByteSize(maxImportBytes))
	}
	for _, f := range files {
		data, err := pie.ParseFile(f)
		if err != nil {
			return pie.Host{}, nil, invalidf("%s: %v; nothing was imported", f, err)
		}
		for _, h := range data.Hosts {
			dst := hosts[h.JID]
			if dst == nil {
				dst = &pie.Host{JID: h.JID}
				hosts[h.JID] = dst
			}
			for _, u := range h.Users {
				k := h.JID + "/" + u.Name
				if other, ok := seen[k]; ok {
					return pie.Host{}, nil, invalidf("the account %s@%s is in %s and in %s; nothing was imported", u.Name, h.JID, other, f)
				}
				seen[k] = f
				if total++; total > pie.MaxUsers {
					return pie.Host{}, nil, invalidf("more than %d accounts; import them in parts", pie.MaxUsers)
				}
				dst.Users = append(dst.Users, u)
			}
		}
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	pick := want
	if pick != "" {
		j, err := jid.Parse(pick)
		if err != nil || !j.IsDomain() {
			return pie.Host{}, nil, invalidf("%q is not a domain", want)
		}
		pick = j.Domain
	} else if hosts[l.domain()] != nil {
		pick = l.domain()
	} else if len(names) == 1 {
		pick = names[0]
	} else {
		return pie.Host{}, nil, invalidf("the file holds the accounts of %s, and none of this server's domain %s: say which to import with --host", strings.Join(names, ", "), l.domain())
	}
	h := hosts[pick]
	if h == nil {
		return pie.Host{}, nil, invalidf("the file holds no accounts of %s, only of %s", pick, strings.Join(names, ", "))
	}
	sort.Slice(h.Users, func(i, j int) bool { return h.Users[i].Name < h.Users[j].Name })
	for _, n := range names {
		if n != pick {
			others = append(others, n)
		}
	}
	return *h, others, nil
}
