// Package sticky keeps a client on one server of a pool, and keeps the two
// hosts of an HA pair in agreement about which server that is without sharing
// any state between them.
//
// Every server has a stable identity: its configured name, else its address.
// Nothing in this package depends on a server's position in the pool, on
// process start-up order or on random seeds, so two quill processes reading the
// same configuration make the same decisions.
//
// Cookie mode names the server in a token, the first 16 bytes of an
// HMAC-SHA256 of the identity under a secret shared by both hosts (the pool's
// own secret, or one derived from the global secret with [DeriveSecret]). The
// token reveals nothing about the server's address and cannot be forged
// without the secret, yet the standby host, holding the same secret, maps a
// cookie issued by the active host to the same server. The proxy precomputes
// the token of every server once per configuration generation, so resolving a
// cookie is a single map lookup and a malformed or forged token matches
// nothing.
//
// IP mode remembers clients in a [Table] keyed by [ClientKey] (the IPv4
// address, or the IPv6 /64 by default), with an idle TTL and an LRU bound, as
// pen -h -T -c and HAProxy stick tables do. A client the table does not know
// is placed by rendezvous hashing ([Rendezvous], [Pick]): the highest
// [Score] of the client's hash against each healthy server's [ServerID]. The
// choice depends only on the client and the set of healthy servers, so a host
// that has just taken over with an empty table sends a returning client to
// the server the other host chose, and losing one server moves only that
// server's clients.
package sticky
