//go:build plan9

package nlevents

import "strconv"

// errno is the Linux error number of an NLMSG_ERROR message. Plan 9's
// syscall package has no Errno type; the parser compiles there although
// Subscribe returns ErrNotSupported.
type errno int

func (e errno) Error() string { return "errno " + strconv.Itoa(int(e)) }
