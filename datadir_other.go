//go:build !unix

package main

// checkDataDir has nothing to check where there are no Unix permissions.
func checkDataDir(dir string) error { return nil }
