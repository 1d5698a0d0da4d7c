package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// goList runs go list in the module with extra arguments and returns its
// output lines.
func goList(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, append([]string{"list"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

// TestLayout keeps the boundaries ARCHITECTURE.md draws: the server's
// insides never reach the admin surface, the GUI sees the server only
// through it, and the headless build has no GUI in it.
func TestLayout(t *testing.T) {
	for _, line := range goList(t, nil, "-deps", "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "./server/internal/...") {
		pkg, imports, _ := strings.Cut(line, ":")
		if strings.HasPrefix(pkg, "hearth/server/internal/") && strings.Contains(","+imports+",", ",hearth/server/admin,") {
			t.Errorf("%s imports hearth/server/admin", pkg)
		}
		if strings.HasPrefix(pkg, "hearth/server/admin") {
			t.Errorf("a package under server/internal depends on %s", pkg)
		}
	}
	for _, imp := range goList(t, nil, "-f", `{{join .Imports "\n"}}`, "./gui") {
		if strings.HasPrefix(imp, "hearth/server") && imp != "hearth/server/admin" {
			t.Errorf("gui imports %s; it may see the server only through hearth/server/admin", imp)
		}
	}
	for _, dep := range goList(t, []string{"CGO_ENABLED=0"}, "-deps", "-tags", "nogui", ".") {
		if strings.HasPrefix(dep, "fyne.io/") {
			t.Errorf("the headless build depends on %s", dep)
			break
		}
	}
}
