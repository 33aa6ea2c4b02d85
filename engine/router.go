package engine

import (
	"maps"
	"slices"
	"strings"
)

// route is one registered handler: exactly one of h and lh is set.
type route struct {
	method string // "" matches every method; "GET" also matches HEAD
	h      Handler
	lh     LoopHandler // run on the loop (HandleLoop)
	id     uint16      // route label of the metrics (routeStats)
}

type prefixRoute struct {
	prefix string
	routes []route
}

// router is immutable once published; registration copies it.
type router struct {
	exact    map[string][]route
	prefixes []prefixRoute   // longest prefix first
	methods  map[string]bool // methods some route registered (see knows)
}

func (rt *router) clone() *router {
	n := &router{exact: make(map[string][]route, len(rt.exact)+1), methods: maps.Clone(rt.methods)}
	if n.methods == nil {
		n.methods = map[string]bool{}
	}
	for k, v := range rt.exact {
		n.exact[k] = slices.Clone(v)
	}
	for _, p := range rt.prefixes {
		n.prefixes = append(n.prefixes, prefixRoute{p.prefix, slices.Clone(p.routes)})
	}
	return n
}

func (rt *router) add(method, pattern string, prefix bool, r route) {
	r.method = strings.ToUpper(method)
	if r.method != "" {
		rt.methods[r.method] = true
	}
	if !prefix {
		rt.exact[pattern] = replaceRoute(rt.exact[pattern], r)
		return
	}
	for i := range rt.prefixes {
		if rt.prefixes[i].prefix == pattern {
			rt.prefixes[i].routes = replaceRoute(rt.prefixes[i].routes, r)
			return
		}
	}
	rt.prefixes = append(rt.prefixes, prefixRoute{pattern, []route{r}})
	slices.SortStableFunc(rt.prefixes, func(a, b prefixRoute) int { return len(b.prefix) - len(a.prefix) })
}

func replaceRoute(rs []route, r route) []route {
	for i := range rs {
		if rs[i].method == r.method {
			rs[i] = r
			return rs
		}
	}
	return append(rs, r)
}

// knows reports whether the server recognises method (RFC 9110 §9.1): a
// method of RFC 9110 §9.3 or PATCH (RFC 5789), or one a route registered.
// A method it does not recognise is answered 501 on every resource; one it
// recognises but the resource does not allow, 405 with Allow.
func (rt *router) knows(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		return true
	}
	return rt.methods[string(method)]
}

// match finds the routes for path and picks the one for method. It returns
// found=false when no pattern matches the path; ok=false with found=true
// when patterns match but none allows the method (405), with allow listing
// the methods that would.
func (rt *router) match(method, path []byte) (r route, found, ok bool, allow string) {
	rs, found := rt.exact[string(path)] // no allocation: map lookup with string(bytes)
	if !found {
		for i := range rt.prefixes {
			if p := rt.prefixes[i].prefix; len(path) >= len(p) && string(path[:len(p)]) == p {
				rs, found = rt.prefixes[i].routes, true
				break
			}
		}
	}
	if !found {
		return route{}, false, false, ""
	}
	for _, r := range rs {
		if r.method == "" || r.method == string(method) || (r.method == "GET" && string(method) == "HEAD") {
			return r, true, true, ""
		}
	}
	var ms []string
	for _, r := range rs {
		ms = append(ms, r.method)
		if r.method == "GET" {
			ms = append(ms, "HEAD")
		}
	}
	slices.Sort(ms)
	return route{id: rs[0].id}, true, false, strings.Join(slices.Compact(ms), ", ")
}
