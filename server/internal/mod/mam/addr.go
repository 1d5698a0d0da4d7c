package mam

import "hearth/server/internal/jid"

// Every archived message compares and names its peers' addresses; building
// their strings was most of the archive's allocations per message. These
// read the strings that are already there instead.

// bareLen is the length of j's bare JID in string form.
func bareLen(j jid.JID) int {
	if j.Local == "" {
		return len(j.Domain)
	}
	return len(j.Local) + 1 + len(j.Domain)
}

// spellsBare reports whether s starts with j's bare JID in string form,
// followed by nothing or a resource.
func spellsBare(s string, j jid.JID) bool {
	n := bareLen(j)
	if len(s) < n || len(s) > n && s[n] != '/' {
		return false
	}
	if j.Local == "" {
		return s[:n] == j.Domain
	}
	l := len(j.Local)
	return s[:l] == j.Local && s[l] == '@' && s[l+1:n] == j.Domain
}

// isJID reports whether s == j.String(), without building it.
func isJID(s string, j jid.JID) bool {
	if !spellsBare(s, j) {
		return false
	}
	n := bareLen(j)
	if j.Resource == "" {
		return len(s) == n
	}
	return len(s) == n+1+len(j.Resource) && s[n+1:] == j.Resource
}

// bareOf returns j.Bare().String(), taken from s, the address attribute j
// was read from, when s spells it (the common case: no new string);
// built otherwise.
func bareOf(j jid.JID, s string) string {
	if spellsBare(s, j) {
		return s[:bareLen(j)]
	}
	return j.Bare().String()
}
