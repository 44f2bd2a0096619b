package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/mdlayher/netlink"

	"github.com/nlevents/nlevents"
)

// printer writes events as text or JSON lines, flushing after each line so
// that a reader sees events as they happen.
type printer struct {
	w    *bufio.Writer
	json bool
	enc  *json.Encoder

	// names turns link indexes into names. With hideLinks, link events
	// only keep names current and are not printed, because the user did
	// not request the link group.
	names     *linkNames
	hideLinks bool
}

func newPrinter(w io.Writer, asJSON bool) *printer {
	bw := bufio.NewWriter(w)
	return &printer{w: bw, json: asJSON, enc: json.NewEncoder(bw)}
}

// watchLinkNames makes the output name links. Unless the monitor starts
// with a dump, whose links come first, it reads the current names now;
// opts name the namespace.
func (p *printer) watchLinkNames(ctx context.Context, existing bool, opts []nlevents.Option) error {
	reload := func() (map[int]string, error) { return loadLinkNames(ctx, opts) }
	if existing {
		p.names = newLinkNames(map[int]string{}, reload)
		return nil
	}

	names, err := loadLinkNames(ctx, opts)
	if err != nil {
		return err
	}
	p.names = newLinkNames(names, reload)
	return nil
}

// linkName names a link for the output; "" leaves the index a number.
func (p *printer) linkName(index int) string {
	if p.names == nil || index <= 0 {
		return ""
	}
	return p.names.name(index)
}

func (p *printer) print(ev nlevents.Event) error {
	if p.names != nil {
		// A deleted link's name is forgotten after its own line.
		defer p.names.update(ev)
	}
	if p.hideLinks && isLinkGroupEvent(ev) {
		return nil
	}

	if p.json {
		if err := p.enc.Encode(jsonOf(ev, p.linkName)); err != nil {
			return err
		}
	} else if _, err := fmt.Fprintln(p.w, nlevents.Format(ev, p.linkName)); err != nil {
		return err
	}
	return p.w.Flush()
}

// isLinkGroupEvent reports whether ev came from the link group.
func isLinkGroupEvent(ev nlevents.Event) bool {
	switch ev.(type) {
	case *nlevents.LinkEvent, *nlevents.BridgePortEvent:
		return true
	}
	return false
}

// jsonEvent is the JSON form of an event: the common fields, then those of
// its kind. Absent values are left out.
type jsonEvent struct {
	Type     string `json:"type"`
	Action   string `json:"action"`
	Message  string `json:"message,omitempty"`
	Flags    string `json:"nlmsg_flags,omitempty"`
	Inferred bool   `json:"inferred,omitempty"`

	Index        int    `json:"index,omitempty"`
	Dev          string `json:"dev,omitempty"`
	Name         string `json:"name,omitempty"`
	Family       string `json:"family,omitempty"`
	LinkFlags    string `json:"flags,omitempty"`
	MTU          uint32 `json:"mtu,omitempty"`
	HardwareAddr string `json:"lladdr,omitempty"`
	OperState    string `json:"operstate,omitempty"`
	MasterIndex  int    `json:"master,omitempty"`
	MasterName   string `json:"master_name,omitempty"`
	Parent       int    `json:"parent,omitempty"`
	ParentName   string `json:"parent_name,omitempty"`
	ParentNetNS  bool   `json:"parent_in_other_netns,omitempty"`
	Kind         string `json:"kind,omitempty"`

	Prefix  string        `json:"prefix,omitempty"`
	Peer    string        `json:"peer,omitempty"`
	Scope   string        `json:"scope,omitempty"`
	Label   string        `json:"label,omitempty"`
	Dst     string        `json:"dst,omitempty"`
	Src     string        `json:"src,omitempty"`
	PrefSrc string        `json:"prefsrc,omitempty"`
	Gateway string        `json:"gateway,omitempty"`
	OutIdx  int           `json:"oif,omitempty"`
	Table   uint32        `json:"table,omitempty"`
	Proto   string        `json:"protocol,omitempty"`
	RtType  string        `json:"route_type,omitempty"`
	Metric  uint32        `json:"metric,omitempty"`
	NextHop []jsonNextHop `json:"nexthops,omitempty"`
	NHID    uint32        `json:"nhid,omitempty"`

	IP        string            `json:"ip,omitempty"`
	State     string            `json:"state,omitempty"`
	Priority  *uint32           `json:"priority,omitempty"` // a pointer, because rule priority 0 is common
	Mark      uint32            `json:"fwmark,omitempty"`
	IIFName   string            `json:"iif,omitempty"`
	OIFName   string            `json:"oif_name,omitempty"`
	ID        uint32            `json:"id,omitempty"`
	Group     []jsonGroupMember `json:"group,omitempty"`
	Blackhole bool              `json:"blackhole,omitempty"`
	FDB       bool              `json:"fdb,omitempty"`
	Resilient bool              `json:"resilient,omitempty"`
	Bytes     int               `json:"bytes,omitempty"`
	Resync    bool              `json:"resync,omitempty"`
}

type jsonGroupMember struct {
	ID     uint32 `json:"id"`
	Weight int    `json:"weight"`
}

type jsonNextHop struct {
	Gateway string `json:"gateway,omitempty"`
	Index   int    `json:"oif"`
	Dev     string `json:"dev,omitempty"`
	Weight  int    `json:"weight"`
	Flags   string `json:"flags,omitempty"`
}

// jsonOf builds the JSON form of ev; linkName names the links it refers
// to, in "dev", "master_name" and "parent_name".
func jsonOf(ev nlevents.Event, linkName func(int) string) jsonEvent {
	info := ev.EventInfo()
	j := jsonEvent{Action: action(info), Inferred: info.Inferred}
	if info.Header.Type != 0 {
		j.Message = info.MessageType()
		j.Flags = headerFlags(info.Header)
	}

	switch e := ev.(type) {
	case *nlevents.LinkEvent:
		j.Type, j.Index, j.Name, j.LinkFlags, j.MTU = "link", e.Index, e.Name, e.Flags.String(), e.MTU
		j.HardwareAddr, j.OperState, j.MasterIndex, j.Kind = hw(e.HardwareAddr), e.OperState.String(), e.MasterIndex, e.Kind
		j.Parent, j.ParentNetNS = e.ParentIndex, e.ParentInOtherNetNS
		if !e.ParentInOtherNetNS {
			j.ParentName = linkName(e.ParentIndex)
		}
	case *nlevents.BridgePortEvent:
		j.Type, j.Index, j.Name, j.MasterIndex, j.OperState = "bridge-port", e.Index, e.Name, e.MasterIndex, e.OperState.String()
	case *nlevents.AddrEvent:
		j.Type, j.Family, j.Index, j.Prefix, j.Peer = "addr", family(e.Family), e.Index, e.Prefix.String(), addr(e.Peer)
		j.Scope, j.Label, j.Dev = e.Scope.String(), e.Label, linkName(e.Index)
		j.LinkFlags = strings.Join(e.FlagNames(), "|")
	case *nlevents.RouteEvent:
		routeJSON(&j, e, linkName)
	case *nlevents.NeighEvent:
		j.Type, j.Family, j.Index, j.IP, j.HardwareAddr, j.State = "neigh", family(e.Family), e.Index, addr(e.IP), hw(e.HardwareAddr), e.State.String()
		j.Dev = linkName(e.Index)
	case *nlevents.RuleEvent:
		j.Type, j.Family, j.Priority, j.Table, j.Mark = "rule", family(e.Family), &e.Priority, e.Table, e.Mark
		j.Src, j.Dst, j.IIFName, j.OIFName = prefix(e.Src), prefix(e.Dst), e.IIFName, e.OIFName
	case *nlevents.NexthopEvent:
		j.Type, j.Family, j.ID, j.Gateway, j.OutIdx = "nexthop", family(e.Family), e.ID, addr(e.Gateway), e.OutIndex
		j.Dev, j.Blackhole, j.FDB, j.Resilient = linkName(e.OutIndex), e.Blackhole, e.FDB, e.Resilient
		j.LinkFlags = strings.Join(e.FlagNames(), "|")
		for _, m := range e.Group {
			j.Group = append(j.Group, jsonGroupMember{ID: m.ID, Weight: m.Weight})
		}
	case *nlevents.SyncEvent:
		j.Type, j.Action, j.Resync = "sync", "sync", e.Resync
	case *nlevents.RawEvent:
		j.Type, j.Bytes = "raw", len(e.Raw())
	}

	j.MasterName = linkName(j.MasterIndex)
	return j
}

func routeJSON(j *jsonEvent, e *nlevents.RouteEvent, linkName func(int) string) {
	j.Type, j.Family, j.Dst, j.Src, j.PrefSrc = "route", family(e.Family), prefix(e.Dst), prefix(e.Src), addr(e.PrefSrc)
	j.Gateway, j.OutIdx, j.Table, j.Proto = addr(e.Gateway), e.OutIndex, e.Table, e.Protocol.String()
	j.Scope, j.RtType, j.Metric, j.NHID = e.Scope.String(), e.Type.String(), e.Priority, e.NexthopID
	j.Dev, j.LinkFlags = linkName(e.OutIndex), strings.Join(e.FlagNames(), "|")
	for _, hop := range e.NextHops {
		j.NextHop = append(j.NextHop, jsonNextHop{Gateway: addr(hop.Gateway), Index: hop.Index, Dev: linkName(hop.Index),
			Weight: hop.Weight, Flags: strings.Join(hop.FlagNames(), "|")})
	}
}

func action(info nlevents.Info) string {
	switch {
	case info.Deleted || info.Inferred:
		return "del"
	case info.Dumped:
		return "dump"
	}
	return "new"
}

func family(f uint8) string {
	switch f {
	case 2:
		return "inet"
	case 10:
		return "inet6"
	case 7:
		return "bridge"
	case 28:
		return "mpls"
	case 128:
		return "ipmr"
	case 129:
		return "ip6mr"
	case 0:
		return ""
	}
	return fmt.Sprint(f)
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func prefix(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func hw(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return net.HardwareAddr(b).String()
}

// headerFlags names the netlink header flags. The bits from 0x100 up mean
// different things for NEW, DEL and GET messages (linux/netlink.h), which
// netlink.HeaderFlags.String cannot know, so they are named here by the
// message's kind, in rtnetlink's numbering of types in fours from 16.
func headerFlags(h netlink.Header) string {
	names := [12]string{0: "request", 1: "multi", 2: "ack", 3: "echo", 4: "dump_intr", 5: "dump_filtered"}
	if h.Type >= 16 {
		switch (h.Type - 16) % 4 {
		case 0: // NEW
			names[8], names[9], names[10], names[11] = "replace", "excl", "create", "append"
		case 1: // DEL
			names[8], names[9] = "nonrec", "bulk"
		case 2: // GET
			names[8], names[9], names[10] = "root", "match", "atomic"
		}
	}

	var parts []string
	rest := uint16(h.Flags)
	for bit, name := range names {
		if name != "" && rest&(1<<bit) != 0 {
			parts = append(parts, name)
			rest &^= 1 << bit
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(parts, "|")
}
