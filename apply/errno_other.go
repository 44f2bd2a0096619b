//go:build !linux

package apply

import "syscall"

// errnoName returns "": the names of Linux errnos are only known on Linux.
func errnoName(syscall.Errno) string { return "" }
