// Package locale keeps Fyne quiet under the C locale. Importing it (for
// its init, from the GUI build only) names English as the language of
// messages when the environment's locale is C or POSIX with a character
// set, such as C.UTF-8, and names no language: Fyne's lang package reads
// the locale while it is initialized (github.com/jeandeaual/go-locale) and
// logs "Error parsing user locale C" for it, on every start and every
// command of the GUI build.
//
// It has to run before fyne.io/fyne/v2/lang's init, so it imports nothing
// but os and strings: Go (1.21 and later) initializes the packages whose
// imports are done in the order of their paths, and this one is ready long
// before Fyne's is (TestGUILocaleQuiet in the main package checks the
// built binary). This is the one place besides main that reads the environment;
// it changes only LANGUAGE, which the C library ignores under the C locale.
package locale

import (
	"os"
	"strings"
)

func init() {
	if quiet(os.Getenv) {
		os.Setenv("LANGUAGE", "en")
	}
}

// quiet reports whether LANGUAGE should be set: the locale that applies
// to messages (LC_ALL, else LC_MESSAGES, else LANG) is C or POSIX with a
// character set or modifier, and no LANGUAGE is given. Plain C, POSIX and
// none at all Fyne takes as English by itself.
func quiet(getenv func(string) string) bool {
	var loc string
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc = getenv(name); loc != "" {
			break
		}
	}
	if loc == "" || loc == "C" || loc == "POSIX" || getenv("LANGUAGE") != "" {
		return false
	}
	base, _, _ := strings.Cut(loc, ".")
	base, _, _ = strings.Cut(base, "@")
	return base == "C" || base == "POSIX"
}
