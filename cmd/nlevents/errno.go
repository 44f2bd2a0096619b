//go:build !plan9

package main

import "syscall"

// permanentErrnos are the kernel errors of a change that no later check
// can avoid: missing privileges, or a value that the link rejects.
var permanentErrnos = []error{syscall.EPERM, syscall.EACCES, syscall.EINVAL, syscall.EOPNOTSUPP, syscall.ERANGE}
