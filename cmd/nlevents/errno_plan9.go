package main

// permanentErrnos is empty on Plan 9, where apply always fails with
// nlevents.ErrNotSupported.
var permanentErrnos []error
