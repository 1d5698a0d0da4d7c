package locale

import "testing"

func TestQuiet(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{"LANG": "C.UTF-8"}, true},
		{map[string]string{"LANG": "C.utf8"}, true},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_ALL": "C.UTF-8"}, true},
		{map[string]string{"LC_MESSAGES": "POSIX.UTF-8"}, true},
		{map[string]string{"LANG": "C@euro"}, true},
		{map[string]string{"LANG": "C.UTF-8", "LANGUAGE": "de:en"}, false},
		{map[string]string{"LANG": "C"}, false},
		{map[string]string{"LANG": "POSIX"}, false},
		{map[string]string{}, false},
		{map[string]string{"LANG": "de_DE.UTF-8"}, false},
		{map[string]string{"LC_ALL": "en_GB.UTF-8", "LANG": "C.UTF-8"}, false},
	} {
		if got := quiet(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: quiet %v, want %v", tc.env, got, tc.want)
		}
	}
}
