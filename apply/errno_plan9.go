//go:build plan9

package apply

import "strconv"

// errno is the Linux error number that the kernel returned for a request.
// Plan 9's syscall package has no Errno type; apply compiles there,
// although every request fails with nlevents.ErrNotSupported.
type errno int

func (e errno) Error() string { return "errno " + strconv.Itoa(int(e)) }
