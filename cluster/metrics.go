package cluster

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cometplay/cometplay/rooms"
)

// The node's figures for Prometheus (games.New registers a Cluster that is
// a prometheus.Collector with the server's metrics): the same as Stats.
var (
	descRelays     = prometheus.NewDesc("cometplay_cluster_relays_total", "Requests relayed: out, to their session's home node; in, served here for another node.", []string{"direction"}, nil)
	descRelayBytes = prometheus.NewDesc("cometplay_cluster_relay_bytes_total", "Response bytes of relayed requests: out, sent to other nodes; in, received from them.", []string{"direction"}, nil)
	descNoHome     = prometheus.NewDesc("cometplay_cluster_relays_no_home_total", "Relayed requests whose node was not there (answered as for an unknown session).", nil, nil)
	descOpen       = prometheus.NewDesc("cometplay_cluster_relays_open", "Relays in flight, both ways (streams included).", nil, nil)
	descPublishes  = prometheus.NewDesc("cometplay_cluster_publishes_total", "Client publishes and unicasts: out, sent to other nodes; in, delivered here.", []string{"direction"}, nil)
	descClaims     = prometheus.NewDesc("cometplay_cluster_claims_total", "Room and lobby publishes: out, forwarded to the games node; in, handled here for other nodes.", []string{"direction"}, nil)
	descOps        = prometheus.NewDesc("cometplay_cluster_pushes_total", "The games node's events and subscriptions for other nodes' sessions: out, sent; in, applied here.", []string{"direction"}, nil)
	descPeers      = prometheus.NewDesc("cometplay_cluster_peers", "Other nodes heard of in the last 3 s.", nil, nil)
	descRoutes     = prometheus.NewDesc("cometplay_cluster_nats_routes", "Route connections of the embedded NATS server.", nil, nil)
	descRTT        = prometheus.NewDesc("cometplay_cluster_nats_rtt_seconds", "Round trip to the NATS server, measured every second.", nil, nil)
	descDropped    = prometheus.NewDesc("cometplay_cluster_dropped_total", "Messages for other nodes dropped because 64 MiB already waited for NATS.", nil, nil)
	descMessages   = prometheus.NewDesc("cometplay_cluster_messages_total", "NATS messages for other nodes: sent, handed to NATS; joined, joined into the message before them to the same node instead (ops, a relayed response's bytes).", []string{"kind"}, nil)
	descTurnLog    = prometheus.NewDesc("cometplay_cluster_turn_log_total", "The rooms' turn log: appends (entries appended: items and fences), retries (appends sent again after no answer), refused (appends refused because another node had written the log; their rooms evicted), compactions (purges of a room's entries before its snapshot).", []string{"kind"}, nil)
	descLogWaiting = prometheus.NewDesc("cometplay_cluster_turn_log_waiting", "Turn log appends waiting for JetStream's answer now.", nil, nil)
	descLogOldest  = prometheus.NewDesc("cometplay_cluster_turn_log_oldest_seconds", "How long the oldest turn log append waiting for JetStream's answer has waited (0: none waits). Past rooms.ManagerOptions.JournalPatience ("+rooms.DefaultJournalPatience.String()+" by default) its room refuses its clients' items: JetStream has no quorum?", nil, nil)
	descLogStalls  = prometheus.NewDesc("cometplay_cluster_turn_log_stalls_total", "Times the turn log's appends went unanswered for "+rooms.DefaultJournalPatience.String()+", rooms.DefaultJournalPatience (each logged, and its end).", nil, nil)
	descRefused    = prometheus.NewDesc("cometplay_cluster_room_items_refused_total", "Client items (moves, joins, messages) this node's rooms refused because their turn log append had waited past rooms.ManagerOptions.JournalPatience (\"the game's store is unavailable, try again\").", nil, nil)
	descRestored   = prometheus.NewDesc("cometplay_cluster_rooms_restored_total", "Rooms taken over from a dead node and rebuilt here from their turn log.", nil, nil)
	descRoomsLost  = prometheus.NewDesc("cometplay_cluster_rooms_lost_total", "Rooms taken over that could not be rebuilt (no turn log, or it could not be read): dropped from the lobby.", nil, nil)
	descLease      = prometheus.NewDesc("cometplay_cluster_lease", "1 while the node holds its lease (JetStream, cp_nodes).", nil, nil)
	descLeaseLost  = prometheus.NewDesc("cometplay_cluster_leases_lost_total", "Times the node lost its lease (renewed too late or refused) and evicted its rooms.", nil, nil)
	descOwnerChg   = prometheus.NewDesc("cometplay_cluster_owner_changes_total", "Rooms this node took over from a node whose lease ended (compare-and-swap won).", nil, nil)
	descTakeRef    = prometheus.NewDesc("cometplay_cluster_takeovers_refused_total", "Takeovers of a room another node won first.", nil, nil)
	descGoneEnded  = prometheus.NewDesc("cometplay_cluster_gone_sessions_ended_total", "Sessions of nodes that died, ended in this node's rooms on their behalf (their seats drop).", nil, nil)
	descEvicted    = prometheus.NewDesc("cometplay_cluster_rooms_evicted_total", "Rooms this node stopped because another node took them over or its lease was lost.", nil, nil)
	descGamesNode  = prometheus.NewDesc("cometplay_cluster_games_node", "1 while this node runs the lobby for every node (the games node).", nil, nil)
	descLobbyMoves = prometheus.NewDesc("cometplay_cluster_lobby_moves_total", "Times the lobby moved to another node (its node died or stopped) since this node started.", nil, nil)
)

// Describe implements prometheus.Collector.
func (n *Node) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRelays, descRelayBytes, descNoHome, descOpen, descPublishes, descClaims, descOps, descPeers, descRoutes, descRTT, descDropped, descMessages, descTurnLog, descRestored, descRoomsLost,
		descLogWaiting, descLogOldest, descLogStalls, descRefused,
		descLease, descLeaseLost, descOwnerChg, descTakeRef, descEvicted, descGamesNode, descLobbyMoves, descGoneEnded} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (n *Node) Collect(ch chan<- prometheus.Metric) {
	s := n.Stats()
	c := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	g := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	c(descRelays, s.RelaysOut, "out")
	c(descRelays, s.RelaysIn, "in")
	c(descRelayBytes, s.BytesOut, "out")
	c(descRelayBytes, s.BytesIn, "in")
	c(descNoHome, s.NoHome)
	g(descOpen, float64(s.Open))
	c(descPublishes, s.PublishesOut, "out")
	c(descPublishes, s.PublishesIn, "in")
	c(descClaims, s.ClaimsOut, "out")
	c(descClaims, s.ClaimsIn, "in")
	c(descOps, s.OpsOut, "out")
	c(descOps, s.OpsIn, "in")
	c(descTurnLog, s.TurnLogAppends, "appends")
	c(descTurnLog, s.TurnLogRetries, "retries")
	c(descTurnLog, s.TurnLogRefused, "refused")
	g(descLogWaiting, float64(s.TurnLogWaiting))
	g(descLogOldest, s.TurnLogOldest.Seconds())
	c(descLogStalls, s.TurnLogStalls)
	c(descRefused, s.RoomItemsRefused)
	c(descTurnLog, s.TurnLogCompactions, "compactions")
	c(descRestored, s.RoomsRestored)
	c(descRoomsLost, s.RoomsLost)
	c(descMessages, s.MessagesSent, "sent")
	c(descMessages, s.MessagesJoined, "joined")
	g(descPeers, float64(len(s.Peers)))
	g(descRoutes, float64(s.Routes))
	g(descRTT, time.Duration(n.rtt.Load()).Seconds())
	c(descDropped, s.Dropped)
	lease := 0.0
	if s.Lease {
		lease = 1
	}
	g(descLease, lease)
	c(descLeaseLost, s.LeasesLost)
	c(descOwnerChg, s.RoomsTakenOver)
	c(descTakeRef, s.TakeoversRefused)
	c(descEvicted, s.RoomsEvicted)
	games := 0.0
	if s.GamesNode == s.Node {
		games = 1
	}
	g(descGamesNode, games)
	c(descLobbyMoves, s.LobbyMoves)
	c(descGoneEnded, s.GoneSessionsEnded)
}
