package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// summary is the medians over the rounds of one receiver on one workload
// and buffer setting.
type summary struct {
	expected, received, lost, overruns float64
	cpu, switches, allocs, bytes       float64 // per received event
	p50, p99                           float64 // microseconds
}

func summarize(runs []run) summary {
	median := func(f func(r run) float64) float64 {
		values := make([]float64, 0, len(runs))
		for _, r := range runs {
			values = append(values, f(r))
		}
		slices.Sort(values)
		n := len(values)
		if n%2 == 1 {
			return values[n/2]
		}
		return (values[n/2-1] + values[n/2]) / 2
	}
	return summary{
		expected: median(func(r run) float64 { return float64(r.Expected) }),
		received: median(func(r run) float64 { return float64(r.Received) }),
		lost:     median(func(r run) float64 { return float64(max(r.Expected-r.Received, 0)) }),
		overruns: median(func(r run) float64 { return float64(r.Overruns) }),
		cpu:      median(func(r run) float64 { return perEvent(float64(r.CPUNanos), r.Received) }),
		switches: median(func(r run) float64 { return perEvent(float64(r.Switches), r.Received) }),
		allocs:   median(func(r run) float64 { return perEvent(float64(r.Mallocs), r.Received) }),
		bytes:    median(func(r run) float64 { return perEvent(float64(r.AllocBytes), r.Received) }),
		p50:      median(func(r run) float64 { return r.P50Micros }),
		p99:      median(func(r run) float64 { return r.P99Micros }),
	}
}

// printTables prints one Markdown table per workload and buffer setting.
func printTables(w io.Writer, o options, runs []run) {
	fmt.Fprintf(w, "\n%d changes per run, %d rounds, medians over the rounds. CPU is the receiving process's user+sys per received event.\n", o.changes, o.rounds)
	for _, name := range splitList(o.workloads) {
		wl, _ := findWorkload(name)
		for _, buffer := range splitList(o.buffers) {
			byReceiver := map[string]summary{}
			for _, receiver := range receiverNames {
				matching := slices.DeleteFunc(slices.Clone(runs), func(r run) bool {
					return r.Workload != name || r.Buffer != buffer || r.Receiver != receiver
				})
				if len(matching) > 0 {
					byReceiver[receiver] = summarize(matching)
				}
			}
			printTable(w, wl, buffer, o, byReceiver)
		}
	}
}

func printTable(w io.Writer, wl workload, buffer string, o options, byReceiver map[string]summary) {
	bufferNote := "each library's default receive buffer"
	switch buffer {
	case "large":
		bufferNote = fmt.Sprintf("%d MiB receive buffer (SO_RCVBUFFORCE)", o.largeBuffer>>20)
	case "queued":
		bufferNote = fmt.Sprintf("%d MiB receive buffer, read after the workload: all notifications queued", o.largeBuffer>>20)
	case "queued-default":
		bufferNote = "each library's default receive buffer, read after the workload: what a burst leaves to a consumer that was not reading"
	}
	fmt.Fprintf(w, "\n### %s, %s\n\n%s. Expected: %.0f notifications.\n\n", wl.name, bufferNote, wl.about, byReceiver["raw"].expected)
	fmt.Fprintln(w, "| receiver | received | lost | overruns reported | CPU ns/event | × raw | × nlevents | × nlevents-stream | switches/event | allocs/event | bytes/event | p50 µs | p99 µs |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")

	floor, nle, nls := byReceiver["raw"], byReceiver["nlevents"], byReceiver["nlevents-stream"]
	for _, receiver := range receiverNames {
		s, ok := byReceiver[receiver]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %.2f | %.2f | %.0f | %.0f | %.0f |\n",
			receiver, s.received, s.lost, s.overruns, s.cpu, ratio(s.cpu, floor.cpu), ratio(s.cpu, nle.cpu), ratio(s.cpu, nls.cpu),
			s.switches, s.allocs, s.bytes, s.p50, s.p99)
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func nativeUint32(b []byte) uint32 { return binary.NativeEndian.Uint32(b[0:4]) }
