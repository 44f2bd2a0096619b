package apply

import "golang.org/x/sys/unix"

// errnoName returns the errno's symbolic name, such as "EPERM".
func errnoName(code errno) string { return unix.ErrnoName(code) }
