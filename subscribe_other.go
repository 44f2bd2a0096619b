//go:build !linux

package nlevents

import (
	"context"
	"fmt"
	"runtime"
)

func subscribe(context.Context, Groups, *config) (<-chan Event, <-chan error, error) {
	return nil, nil, notSupported()
}

func stream(_ context.Context, _ Groups, _ *config, yield func(Event, error) bool) {
	yield(nil, notSupported())
}

func notSupported() error {
	return fmt.Errorf("%w (this is %s/%s)", ErrNotSupported, runtime.GOOS, runtime.GOARCH)
}
