package nlevents

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// HookSocket makes every Subscribe call until the test ends pass its netlink
// fd and port id to fn. The hook is a package variable, so a test that uses
// it must not run in parallel with other tests that subscribe.
func HookSocket(t testing.TB, fn func(fd int, portID uint32)) {
	testHookSocket = fn
	t.Cleanup(func() { testHookSocket = nil })
}

// encodeTestAttr encodes one netlink attribute with its padding.
func encodeTestAttr(typ uint16, data []byte) []byte {
	b := make([]byte, align4(4+len(data)))
	binary.NativeEndian.PutUint16(b[0:2], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], data)
	return b
}

// encodeTestMessage encodes a netlink message: header, fixed struct, attributes.
func encodeTestMessage(typ uint16, seq uint32, fixed []byte, attrs ...[]byte) []byte {
	b := make([]byte, nlmsgHeaderLen, 256)
	b = append(b, fixed...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	return b
}

func testLinkMessage(seq uint32, index int32, name string) []byte {
	fixed := make([]byte, ifinfomsgLen)
	binary.NativeEndian.PutUint32(fixed[4:8], uint32(index))
	return encodeTestMessage(rtmNewLink, seq, fixed, encodeTestAttr(iflaIfname, append([]byte(name), 0)))
}

func testAddrMessage(seq uint32, index int32, prefix netip.Prefix) []byte {
	fixed := make([]byte, ifaddrmsgLen)
	fixed[0] = afInet
	fixed[1] = byte(prefix.Bits())
	binary.NativeEndian.PutUint32(fixed[4:8], uint32(index))
	return encodeTestMessage(rtmNewAddr, seq, fixed, encodeTestAttr(ifaLocal, prefix.Addr().AsSlice()))
}

// testBrokenLinkMessage encodes a link message whose second attribute claims
// more bytes than the message has.
func testBrokenLinkMessage(seq uint32, index int32) []byte {
	fixed := make([]byte, ifinfomsgLen)
	binary.NativeEndian.PutUint32(fixed[4:8], uint32(index))
	overrun := encodeTestAttr(iflaMTU, []byte{0, 0, 0, 0})
	binary.NativeEndian.PutUint16(overrun[0:2], 200)
	return encodeTestMessage(rtmNewLink, seq, fixed, encodeTestAttr(iflaIfname, []byte("bad0\x00")), overrun)
}

// runDeliver feeds datagrams to a loop's delivery path, as if the socket had
// received them, and returns what the loop sent, in order.
func runDeliver(t *testing.T, datagrams ...[]byte) []any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := &loop{
		ctx:    ctx,
		cfg:    &config{netnsFD: -1},
		events: make(chan Event),
		errs:   make(chan error),
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, d := range datagrams {
			if !l.deliver(d) {
				t.Errorf("deliver of datagram %d returned false", i)
				return
			}
		}
	}()

	var got []any
	timeout := time.After(deliverTimeout)
	for {
		select {
		case ev := <-l.events:
			got = append(got, ev)
		case err := <-l.errs:
			got = append(got, err)
		case <-done:
			return got
		case <-timeout:
			t.Fatalf("delivery did not finish within %v; got %v", deliverTimeout, got)
		}
	}
}

const deliverTimeout = 5 * time.Second

func TestDeliverMalformedBetweenGood(t *testing.T) {
	good1 := testLinkMessage(1, 2, "ok0")
	broken := testBrokenLinkMessage(2, 3)
	good2 := testAddrMessage(3, 2, netip.MustParsePrefix("192.0.2.1/24"))
	datagram := append(append(append([]byte(nil), good1...), broken...), good2...)

	got := runDeliver(t, datagram)
	require.Len(t, got, 4, "got %v", got)

	first, ok := got[0].(*LinkEvent)
	require.True(t, ok, "item 0 is %T", got[0])
	assert.Equal(t, "ok0", first.Name)

	partial, ok := got[1].(*LinkEvent)
	require.True(t, ok, "item 1 is %T", got[1])
	assert.Equal(t, 3, partial.Index, "partial event Index")
	assert.Equal(t, "bad0", partial.Name, "partial event Name")

	var decodeErr *DecodeError
	require.True(t, errors.As(got[2].(error), &decodeErr), "item 2 is %T", got[2])
	assert.Equal(t, uint32(2), decodeErr.Sequence, "Sequence")
	assert.Equal(t, len(good1), decodeErr.Offset, "Offset")
	assert.ErrorIs(t, decodeErr, errAttrOverrun)

	last, ok := got[3].(*AddrEvent)
	require.True(t, ok, "item 3 is %T", got[3])
	assert.Equal(t, netip.MustParsePrefix("192.0.2.1/24"), last.Prefix)
}

func TestDeliverBadFramingBetweenDatagrams(t *testing.T) {
	good1 := testLinkMessage(1, 2, "ok0")
	badFraming := testLinkMessage(2, 3, "cut0")
	binary.NativeEndian.PutUint32(badFraming[0:4], uint32(len(badFraming)+64))
	good2 := testLinkMessage(3, 4, "ok1")

	got := runDeliver(t, good1, badFraming, good2)
	require.Len(t, got, 3, "got %v", got)

	first, ok := got[0].(*LinkEvent)
	require.True(t, ok, "item 0 is %T", got[0])
	assert.Equal(t, "ok0", first.Name)

	var decodeErr *DecodeError
	require.True(t, errors.As(got[1].(error), &decodeErr), "item 1 is %T", got[1])
	assert.ErrorIs(t, decodeErr, errLengthLong)
	assert.Equal(t, uint32(2), decodeErr.Sequence, "Sequence")

	last, ok := got[2].(*LinkEvent)
	require.True(t, ok, "item 2 is %T", got[2])
	assert.Equal(t, "ok1", last.Name)
}

func TestDeliverUnsolicitedErrorInOrder(t *testing.T) {
	errPayload := make([]byte, 4)
	binary.NativeEndian.PutUint32(errPayload, uint32(0xffffffff-1)) // -2, ENOENT
	unsolicited := encodeTestMessage(nlmsgError, 7, errPayload)
	datagram := append(append(testLinkMessage(1, 2, "ok0"), unsolicited...), testLinkMessage(3, 4, "ok1")...)

	got := runDeliver(t, datagram)
	require.Len(t, got, 3, "got %v", got)
	assert.IsType(t, &LinkEvent{}, got[0])
	var decodeErr *DecodeError
	require.True(t, errors.As(got[1].(error), &decodeErr), "item 1 is %T", got[1])
	assert.ErrorIs(t, decodeErr, errUnexpected)
	assert.Equal(t, uint32(7), decodeErr.Sequence, "Sequence")
	assert.IsType(t, &LinkEvent{}, got[2])
}

func TestDeliverCancelledWhileBlocked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{
		ctx:    ctx,
		cfg:    &config{netnsFD: -1},
		events: make(chan Event),
		errs:   make(chan error),
	}

	result := make(chan bool, 1)
	go func() {
		result <- l.deliver(testLinkMessage(1, 2, "ok0"))
	}()
	cancel()

	select {
	case ok := <-result:
		assert.False(t, ok, "deliver returned true after cancellation with nobody reading")
	case <-time.After(deliverTimeout):
		t.Fatal("deliver still blocked after cancellation")
	}
}
