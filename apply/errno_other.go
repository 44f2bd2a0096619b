//go:build !linux

package apply

// errnoName returns "": the names of Linux errnos are only known on Linux.
func errnoName(errno) string { return "" }
