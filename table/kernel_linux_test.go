package table_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/table"
	"github.com/nlevents/nlevents/testutil"
)

// kernelLinks lists "index name" for every link, as ip link show reports.
func kernelLinks(t *testing.T, ns *testutil.NetNS) []string {
	t.Helper()
	var out []string
	for name, index := range linkIndexes(t, ns) {
		out = append(out, fmt.Sprintf("%d %s", index, name))
	}
	slices.Sort(out)
	return out
}

func tableLinks(tbl *table.Table) []string {
	var out []string
	for _, l := range tbl.Links() {
		out = append(out, fmt.Sprintf("%d %s", l.Index, l.Name))
	}
	slices.Sort(out)
	return out
}

// kernelAddrs lists "index address/length" for every address.
func kernelAddrs(t *testing.T, ns *testutil.NetNS) []string {
	t.Helper()
	var links []struct {
		Index int `json:"ifindex"`
		Addrs []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	decodeIP(t, ns, &links, "-j", "addr", "show")

	var out []string
	for _, l := range links {
		for _, a := range l.Addrs {
			out = append(out, fmt.Sprintf("%d %s/%d", l.Index, a.Local, a.PrefixLen))
		}
	}
	slices.Sort(out)
	return out
}

func tableAddrs(tbl *table.Table) []string {
	var out []string
	for _, a := range tbl.Addrs() {
		out = append(out, fmt.Sprintf("%d %v", a.Index, a.Prefix))
	}
	slices.Sort(out)
	return out
}

// ipRoute is one route of ip -j route show.
type ipRoute struct {
	Dst      string  `json:"dst"`
	Gateway  string  `json:"gateway"`
	Dev      string  `json:"dev"`
	Metric   uint32  `json:"metric"`
	Type     string  `json:"type"`
	NextHops []ipHop `json:"nexthops"`
}

type ipHop struct {
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
	Weight  int    `json:"weight"`
}

// kernelRoutes lists the unicast routes of the main table of one family
// (4 or 6) as "dst metric [gateway@index weight ...]".
func kernelRoutes(t *testing.T, ns *testutil.NetNS, family int) []string {
	t.Helper()
	index := linkIndexes(t, ns)
	var routes []ipRoute
	decodeIP(t, ns, &routes, "-j", fmt.Sprintf("-%d", family), "route", "show", "table", "main")

	var out []string
	for _, r := range routes {
		if r.Type != "" && r.Type != "unicast" {
			continue
		}
		var hops []string
		if len(r.NextHops) == 0 {
			hops = append(hops, hopString(r.Gateway, index[r.Dev], 1))
		}
		for _, h := range r.NextHops {
			hops = append(hops, hopString(h.Gateway, index[h.Dev], max(h.Weight, 1)))
		}
		slices.Sort(hops)
		out = append(out, fmt.Sprintf("%s %d %s", normalizeDst(r.Dst, family), r.Metric, strings.Join(hops, " ")))
	}
	slices.Sort(out)
	return out
}

func tableRoutes(tbl *table.Table, family uint8) []string {
	var out []string
	for _, r := range tbl.Routes() {
		if r.Family != family || r.Table != nlevents.TableMain || r.Type != nlevents.RouteUnicast {
			continue
		}
		var hops []string
		for _, h := range r.NextHops {
			gateway := ""
			if h.Gateway.IsValid() {
				gateway = h.Gateway.String()
			}
			hops = append(hops, hopString(gateway, h.Index, h.Weight))
		}
		slices.Sort(hops)
		out = append(out, fmt.Sprintf("%v %d %s", r.Dst, r.Priority, strings.Join(hops, " ")))
	}
	slices.Sort(out)
	return out
}

func hopString(gateway string, index, weight int) string {
	return fmt.Sprintf("%s@%d/%d", gateway, index, weight)
}

// normalizeDst turns ip's "default" and bare host addresses into prefixes.
func normalizeDst(dst string, family int) string {
	if dst == "default" {
		if family == 4 {
			return "0.0.0.0/0"
		}
		return "::/0"
	}
	if !strings.Contains(dst, "/") {
		addr := netip.MustParseAddr(dst)
		return netip.PrefixFrom(addr, addr.BitLen()).String()
	}
	return dst
}

func linkIndexes(t *testing.T, ns *testutil.NetNS) map[string]int {
	t.Helper()
	var links []struct {
		Index int    `json:"ifindex"`
		Name  string `json:"ifname"`
	}
	decodeIP(t, ns, &links, "-j", "link", "show")
	index := make(map[string]int)
	for _, l := range links {
		index[l.Name] = l.Index
	}
	return index
}

func decodeIP(t *testing.T, ns *testutil.NetNS, v any, args ...string) {
	t.Helper()
	out := ns.IP(t, args...)
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode output of ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// assertSameSet compares two sorted lists and reports only the differences,
// so that a failure with thousands of entries stays readable.
func assertSameSet(t *testing.T, want, got []string, context string) bool {
	t.Helper()
	missing, extra := difference(want, got), difference(got, want)
	if len(missing) == 0 && len(extra) == 0 {
		return true
	}
	t.Errorf("%s: %d missing from the table, %d extra (of %d in the kernel)\nmissing: %v\nextra: %v",
		context, len(missing), len(extra), len(want), head(missing), head(extra))
	return false
}

func difference(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

func head(list []string) []string {
	if len(list) > 10 {
		return list[:10]
	}
	return list
}

// only keeps the entries that start with prefix.
func only(prefix string, list []string) []string {
	var out []string
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// without drops the entries whose address part starts with prefix.
func without(prefix string, list []string) []string {
	var out []string
	for _, s := range list {
		if _, addr, _ := strings.Cut(s, " "); !strings.HasPrefix(addr, prefix) {
			out = append(out, s)
		}
	}
	return out
}
