package nlevents

// Kernel constants from linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
// linux/if_addr.h, linux/neighbour.h and linux/fib_rules.h. They are mirrored
// here, not taken from golang.org/x/sys/unix, so that parsing builds and can
// be fuzzed on every operating system.
const (
	nlmsgNoop    = 0x1
	nlmsgError   = 0x2
	nlmsgDone    = 0x3
	nlmsgOverrun = 0x4

	nlmsgHeaderLen = 16

	// Header flags (netlink.h).
	nlmFRequest  = 0x1
	nlmFMulti    = 0x2
	nlmFAck      = 0x4
	nlmFDumpIntr = 0x10
	nlmFReplace  = 0x100 // in RTM_NEW* requests and notifications
	nlmFDump     = 0x300

	rtmNewLink    = 16
	rtmDelLink    = 17
	rtmGetLink    = 18
	rtmNewAddr    = 20
	rtmDelAddr    = 21
	rtmGetAddr    = 22
	rtmNewRoute   = 24
	rtmDelRoute   = 25
	rtmGetRoute   = 26
	rtmNewNeigh   = 28
	rtmDelNeigh   = 29
	rtmGetNeigh   = 30
	rtmNewRule    = 32
	rtmDelRule    = 33
	rtmGetRule    = 34
	rtmGetQdisc   = 38
	rtmNewNexthop = 104
	rtmDelNexthop = 105
	rtmGetNexthop = 106

	afUnspec = 0
	afInet   = 2
	afBridge = 7
	afInet6  = 10
	afMPLS   = 28

	// Families of multicast routing rules (RTNL_FAMILY_* in
	// linux/rtnetlink.h).
	rtnlFamilyIPMR  = 128
	rtnlFamilyIP6MR = 129

	// Fixed header sizes of the rtnetlink messages.
	ifinfomsgLen   = 16
	ifaddrmsgLen   = 8
	rtmsgLen       = 12
	ndmsgLen       = 12
	fibRuleHdrLen  = 12
	rtnexthopLen   = 8
	nhmsgLen       = 8
	tcmsgLen       = 20
	nlmsgerrMinLen = 4

	// Attribute type bits that are flags, not part of the type.
	nlaFNested    = 0x8000
	nlaFByteOrder = 0x4000
	nlaTypeMask   = ^uint16(nlaFNested | nlaFByteOrder)

	iflaAddress     = 1
	iflaIfname      = 3
	iflaMTU         = 4
	iflaLink        = 5
	iflaMaster      = 10
	iflaOperstate   = 16
	iflaLinkinfo    = 18
	iflaLinkNetnsid = 37
	iflaInfoKind    = 1

	ifaAddress = 1
	ifaLocal   = 2
	ifaLabel   = 3
	ifaFlags   = 8

	rtaDst       = 1
	rtaSrc       = 2
	rtaOif       = 4
	rtaGateway   = 5
	rtaPriority  = 6
	rtaPrefsrc   = 7
	rtaMultipath = 9
	rtaTable     = 15
	rtaVia       = 18
	rtaNhID      = 30

	ndaDst    = 1
	ndaLladdr = 2

	fraDst      = 1
	fraSrc      = 2
	fraIifname  = 3
	fraPriority = 6
	fraFwmark   = 10
	fraTable    = 15
	fraOifname  = 17

	nhaID        = 1
	nhaGroup     = 2
	nhaGroupType = 3
	nhaBlackhole = 4
	nhaOif       = 5
	nhaGateway   = 6
	nhaFDB       = 11
	nhaOpFlags   = 14

	// nexthopGrpTypeResilient is NEXTHOP_GRP_TYPE_RES in NHA_GROUP_TYPE.
	nexthopGrpTypeResilient = 1
	// nhaOpFlagGroupHighByte is NHA_OP_FLAG_RESP_GRP_RESVD_0: the kernel
	// sets the byte after each member's weight, which older kernels left
	// uninitialised, and which now holds the weight's high byte.
	nhaOpFlagGroupHighByte = 1 << 31

	// nexthopGrpLen is the size of struct nexthop_grp: id, weight - 1,
	// the weight's high byte and a reserved field.
	nexthopGrpLen = 8
)
