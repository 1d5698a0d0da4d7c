package pie

import (
	"os"
	"path/filepath"
	"strings"

	"hearth/server/internal/stanza"
)

// NSXInclude is XInclude's namespace: XEP-0227 lets an export split its
// data into files, a host's or an account's in a file of its own
// (ejabberd's export_piefxis does).
const NSXInclude = "http://www.w3.org/2001/XInclude"

// Bounds of the files one export may include together, and of their
// nesting (the XEP's layout nests two deep: host files, account files).
const (
	maxIncludedBytes = 4 * MaxFileBytes
	maxIncludeDepth  = 4
)

// ParseFile reads the XEP-0227 file at path, with the files it includes
// (XInclude, XEP-0227 5): an <xi:include href='...'/> with a relative
// href and no parse or xpointer attribute is replaced by the root element
// of that file, found beside the file that includes it; a file may not
// include one outside the folder of the first, nor more than 256 MiB in
// all.
func ParseFile(path string) (*Data, error) {
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	realBase, err := filepath.EvalSymlinks(base)
	if err != nil {
		return nil, err
	}
	inc := &includer{base: base, realBase: realBase, budget: maxIncludedBytes}
	root, err := inc.load(path, 0)
	if err != nil {
		return nil, err
	}
	return parseRoot(root)
}

type includer struct {
	base     string // the folder no include may leave
	realBase string // base with its symbolic links resolved
	budget   int64  // bytes that may still be read
}

// inside reports whether path is in the folder base.
func inside(base, path string) bool {
	rel, err := filepath.Rel(base, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// load reads the file at path and puts the files it includes in place.
func (in *includer) load(path string, depth int) (*stanza.Element, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, errorf("%s cannot be read: %v", path, err)
	}
	if in.budget -= fi.Size(); in.budget < 0 {
		return nil, errorf("the file and those it includes hold more than %d MiB; export fewer accounts at a time", maxIncludedBytes>>20)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errorf("%s cannot be read: %v", path, err)
	}
	root, err := read(f)
	f.Close()
	if err != nil {
		if depth > 0 {
			return nil, errorf("%s (included): %v", filepath.Base(path), err)
		}
		return nil, err
	}
	if err := in.resolve(root, filepath.Dir(path), depth); err != nil {
		return nil, err
	}
	return root, nil
}

// resolve replaces the include elements under el.
func (in *includer) resolve(el *stanza.Element, dir string, depth int) error {
	for i, c := range el.Children {
		if c.IsText() {
			continue
		}
		if c.Name != "include" || c.NS != NSXInclude {
			if err := in.resolve(c, dir, depth); err != nil {
				return err
			}
			continue
		}
		href := c.Attr("href")
		switch {
		case depth+1 > maxIncludeDepth:
			return errorf("files include files more than %d deep", maxIncludeDepth)
		case c.Attr("parse") != "" || c.Attr("xpointer") != "":
			return errorf("<xi:include href=%q>: only whole XML files can be included (no parse or xpointer)", href)
		case href == "" || strings.Contains(href, ":") || filepath.IsAbs(href) || strings.HasPrefix(href, "/"):
			return errorf("<xi:include href=%q>: only a file name relative to the including file can be included", href)
		}
		p := filepath.Join(dir, filepath.FromSlash(href))
		// Checked as written and as the file system resolves it: a
		// symbolic link may not lead out either.
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil {
			return errorf("<xi:include href=%q>: %v", href, err)
		}
		if !inside(in.base, p) || !inside(in.realBase, resolved) {
			return errorf("<xi:include href=%q>: the file is outside the folder of the export", href)
		}
		sub, err := in.load(p, depth+1)
		if err != nil {
			return err
		}
		el.Children[i] = sub
	}
	return nil
}

// noIncludes refuses a document with includes where there are no files
// to include from (Parse reads a stream).
func noIncludes(el *stanza.Element) error {
	for _, c := range el.Elements() {
		if c.Name == "include" && c.NS == NSXInclude {
			return errorf("the file includes other files (XInclude): import it by its path, with the files it includes beside it")
		}
		if err := noIncludes(c); err != nil {
			return err
		}
	}
	return nil
}
