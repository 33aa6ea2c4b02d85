// Package timewheel schedules many timers without a goroutine or a runtime
// timer per timer: a hashed timing wheel driven by one goroutine.
//
// The engine arms hundreds of thousands of timers at once (a 20 s heartbeat
// per Comet connection, header-read timeouts, session leases, reconnect
// windows, room timers), and nearly all of them are cancelled or moved
// before they fire. A [Wheel] keeps them in a ring of slots, one per tick;
// arming, moving and cancelling a timer are O(1) list operations, and each
// tick sweeps one slot. Durations longer than one turn of the ring wait for
// later turns in the same slot.
//
// # Precision
//
// A timer scheduled for d fires no earlier than d after the Schedule call,
// rounded up to the next tick, and typically within one tick after that. Ticks
// follow the monotonic clock; when the driving goroutine falls behind it
// catches up, firing the missed ticks in order. After a stall longer than one
// turn of the ring (a suspended machine) the catch-up sweeps each slot once,
// so every missed timer still fires exactly once, but not necessarily in
// deadline order.
//
// # Concurrency
//
// All methods of [Wheel] are safe for concurrent use from any goroutine.
// One mutex guards the wheel; every critical section is O(1) except the sweep
// of a single slot.
//
// Callbacks run on the wheel's goroutine, one after another, outside the
// lock. They must be short and must never block: a callback that needs real
// work posts it elsewhere (to a room's mailbox, to a connection's event loop).
// A callback may Schedule or Cancel any timer, its own included, but must not
// call [Wheel.Stop]. A panicking callback crashes the program, as one run by
// [time.AfterFunc] does.
//
// # Ownership
//
// A [Timer] is an intrusive list node: embed it by value in the struct it
// times out, so that arming it does not allocate. Its zero value is ready to
// use. While pending it belongs to its Wheel and must not be copied or moved
// to another Wheel; the Wheel drops its reference to the callback when the
// timer fires or is cancelled.
package timewheel
