//go:build !plan9

package apply

import "syscall"

// errno is the error number that the kernel returned for a request.
type errno = syscall.Errno
