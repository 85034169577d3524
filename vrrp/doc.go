// Package vrrp is quill's VIP sidecar: a VRRP (RFC 5798 version 3,
// RFC 3768 version 2) and CARP (as ucarp speaks it) router that moves a
// host's virtual addresses to its peer when this host, or its proxy, fails.
//
// The package has three layers:
//
//   - wire formats (advert.go, carp.go, decode.go, frames.go): messages
//     as bytes, proven against frames captured from keepalived and ucarp;
//   - the state machine (machine.go, debounce.go): the RFC's Initialize,
//     Backup and Master states plus Fault, driven by adverts, timers and
//     health, with no I/O of its own;
//   - the runtime (instance.go and the *_linux.go files): raw sockets,
//     netlink, gratuitous ARP and neighbour advertisements, health tracking,
//     notify scripts and metrics; reload.go decides what a HUP restarts.
package vrrp
