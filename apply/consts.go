package apply

// Linux constants, written out so that the package builds on every
// operating system (golang.org/x/sys/unix differs between systems and does
// not build on Windows). Values from the Linux UAPI headers.
const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6

	iffUp = 0x1 // IFF_UP

	rtmNewLink  = 16 // RTM_NEWLINK
	rtmGetLink  = 18 // RTM_GETLINK
	rtmNewAddr  = 20 // RTM_NEWADDR
	rtmDelAddr  = 21 // RTM_DELADDR
	rtmGetAddr  = 22 // RTM_GETADDR
	rtmNewRoute = 24 // RTM_NEWROUTE
	rtmGetRoute = 26 // RTM_GETROUTE

	ifaFPermanent = 0x80 // IFA_F_PERMANENT
	ifaFSecondary = 0x01 // IFA_F_SECONDARY, on IPv4 addresses

	rtTableCompat = 252 // RT_TABLE_COMPAT: the rtm_table value for tables above 255
	rtTableMain   = 254 // RT_TABLE_MAIN

	rtprotStatic = 4 // RTPROT_STATIC: the protocol of routes that Apply adds

	rtScopeUniverse = 0   // RT_SCOPE_UNIVERSE: routes through a gateway
	rtScopeLink     = 253 // RT_SCOPE_LINK: directly connected routes
	rtScopeNowhere  = 255 // RT_SCOPE_NOWHERE: any scope, in a deletion

	rtnUnicast = 1 // RTN_UNICAST
)

// errnoENODEV is the errno the kernel returns for a link name or index that
// does not exist.
const errnoENODEV = errno(19)

// errnoENOENT is the errno the kernel returns for a route dump of a table
// that does not exist (yet).
const errnoENOENT = errno(2)
