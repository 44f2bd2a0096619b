//go:build !plan9

package main

import "syscall"

// permanentErrnos are the kernel errors of a change that no later check
// can avoid: missing privileges. EACCES is not among them, because the
// kernel returns it for an IPv6 address on a link with IPv6 disabled.
var permanentErrnos = []error{syscall.EPERM}
