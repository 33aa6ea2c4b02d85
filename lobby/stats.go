package lobby

// Stats is a snapshot of the lobby's figures, for monitoring.
type Stats struct {
	// PlayersOnline is the number of players with at least one session
	// online (as the presence list shows them).
	PlayersOnline int64 `json:"players_online"`
	// Queued is the number of actions waiting for the lobby goroutine
	// (Options.QueueSize bounds it); AuthQueued the hellos waiting for an
	// Authenticator worker (Options.AuthQueue).
	Queued     int `json:"queued"`
	AuthQueued int `json:"auth_queued"`
}

// Stats returns a snapshot of the lobby's figures. Safe for concurrent use.
func (l *Lobby) Stats() Stats {
	return Stats{PlayersOnline: l.nOnline.Load(), Queued: len(l.in), AuthQueued: len(l.authq)}
}
