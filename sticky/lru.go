package sticky

// pushFront links entry i in as the most recently used.
func (s *shard) pushFront(i int32) {
	e := &s.slab[i]
	e.prev, e.next = none, s.head
	if s.head != none {
		s.slab[s.head].prev = i
	} else {
		s.tail = i
	}
	s.head = i
}

// touch makes entry i the most recently used.
func (s *shard) touch(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

// unlink takes entry i out of the list.
func (s *shard) unlink(i int32) {
	e := &s.slab[i]
	if e.prev != none {
		s.slab[e.prev].next = e.next
	} else {
		s.head = e.next
	}
	if e.next != none {
		s.slab[e.next].prev = e.prev
	} else {
		s.tail = e.prev
	}
}
