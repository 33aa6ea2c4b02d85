package webfs

import (
	"container/list"
	"sync"
)

// entryOverhead approximates the memory of an entry besides its bodies.
const entryOverhead = 256

// cache keeps entries by key, least recently used first out, within a byte
// budget. Safe for concurrent use.
type cache struct {
	limit int64 // <= 0: nothing is kept

	mu    sync.Mutex
	used  int64
	lru   list.List // of *entry, most recently used at the front
	elems map[string]*list.Element
}

func (c *cache) init(limit int64) {
	switch {
	case limit == 0:
		c.limit = DefaultCacheBytes
	case limit > 0:
		c.limit = limit
	}
	c.elems = make(map[string]*list.Element)
}

// get returns the entry cached under key, or nil.
func (c *cache) get(key string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.elems[key]
	if el == nil {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*entry)
}

// put caches e, not yet shared, under e.key, replacing any entry with that
// key. An entry bigger than the whole budget is not kept. Its gzip form, made
// later, is charged by grow.
func (c *cache) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.elems[e.key]; old != nil {
		c.removeLocked(old)
	}
	e.cost = int64(len(e.key)+len(e.body)) + entryOverhead
	if e.cost > c.limit {
		return
	}
	c.elems[e.key] = c.lru.PushFront(e)
	c.used += e.cost
	c.evictLocked()
}

// grow charges n more bytes to e, if it is still cached.
func (c *cache) grow(e *entry, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.elems[e.key]
	if el == nil || el.Value.(*entry) != e {
		return
	}
	e.cost += n
	c.used += n
	c.evictLocked()
}

func (c *cache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.elems, e.key)
	c.used -= e.cost
}

func (c *cache) evictLocked() {
	for c.used > c.limit {
		c.removeLocked(c.lru.Back())
	}
}

// stats returns the bytes charged and the number of entries, for tests.
func (c *cache) stats() (used int64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, len(c.elems)
}
