package sticky

// ClientsPerServer counts the clients the table pins to each server, by
// server ID, leaving out those idle past the TTL. It takes each shard's
// lock in turn, for a status page, not for the request path.
func (t *Table) ClientsPerServer() map[uint64]int {
	out := map[uint64]int{}
	now, ttl := t.clock(), t.ttl.Load()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for j := s.tail; j != none; j = s.slab[j].prev {
			if e := &s.slab[j]; !expired(e, now, ttl) {
				out[e.server]++
			}
		}
		s.mu.Unlock()
	}
	return out
}
