package apply

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// errnoName returns the errno's symbolic name, such as "EPERM".
func errnoName(errno syscall.Errno) string { return unix.ErrnoName(errno) }
