//go:build !linux

package nlevents

import (
	"context"
	"fmt"
	"runtime"
)

func subscribe(context.Context, Groups, *config) (<-chan Event, <-chan error, error) {
	return nil, nil, fmt.Errorf("%w (this is %s/%s)", ErrNotSupported, runtime.GOOS, runtime.GOARCH)
}
