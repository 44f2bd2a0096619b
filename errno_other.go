//go:build !plan9

package nlevents

import "syscall"

// errno is the error number of an NLMSG_ERROR message, which errors.Is
// compares with unix.ENOENT and the like.
type errno = syscall.Errno
