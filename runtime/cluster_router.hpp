#pragma once
/// \file cluster_router.hpp The cluster agent's decisions, without CAF: which
/// senders it trusts, how the handshake goes, where demand and batches go,
/// which endpoints to join, and what losing a peer means. The agent
/// (runtime/cluster.cpp) asks it, then does the sending and the database work.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "domain/time.hpp"
#include "persistence/node_repo.hpp"

namespace orch::runtime {

/// A node of the actor system as the agent names it (CAF's node id, rendered).
using peer_id = std::string;

/// Who sent a message: this process, a node that proved the secret, or
/// anyone else (an unauthenticated node, or an anonymous sender, which CAF
/// cannot tell from a remote one).
enum class sender_kind { local, peer, stranger };

/// A peer that proved it holds the secret.
struct peer_entry {
  actors::peer_info info;
  bool draining = false;  ///< takes no more demand
};

/// Where a pool's demand goes.
struct demand_route {
  enum kind_t {
    to_peer,        ///< from this node's pool to a dispatcher peer (`peer`)
    no_dispatcher,  ///< from this node's pool, no dispatcher peer yet: the pool waits
    to_dispatcher,  ///< from a peer's pool to this node's dispatcher
    draining,       ///< from a peer, while this node drains: tell it to ask elsewhere
    refused         ///< from a stranger
  } kind = refused;
  peer_id peer;  ///< with to_peer: where to; with draining: who asked
};

/// Where a batch of assignments goes.
struct batch_route {
  enum kind_t {
    to_peer,  ///< from this node's dispatcher to the pool's node (`peer`)
    release,  ///< from this node's dispatcher, the pool's node is gone: hand the runs back
    to_pool,  ///< from a peer's dispatcher to this node's pool
    refused   ///< from a stranger
  } kind = refused;
  peer_id peer;
};

/// The end of the server side of the handshake.
struct auth_outcome {
  enum kind_t {
    anonymous,     ///< no sender to answer
    unknown,       ///< no join is pending for the sender
    wrong_secret,  ///< the proof does not match
    accepted       ///< the sender is a peer now (add it)
  } kind = unknown;
  actors::peer_info info;  ///< who asked to join, when known
};

/// What losing a peer's agent means.
struct peer_loss {
  /// The agent stopped while its node lives (restarted, or a clean shutdown):
  /// nothing to release.
  enum verdict_t {
    agent_stopped,
    this_node_stalled,  ///< every peer looks lost after this process was stopped
    node_down           ///< a lost connection: declare the node down, release its runs
  } verdict = node_down;
  actors::peer_info info;
  bool rerouted = false;  ///< this node's pools lost their dispatcher: they ask again
};

/// A peer whose connection broke: dead, frozen, or only cut off from this
/// node. Which one, the database says (persistence::node_repo::presence_of).
struct suspect {
  actors::peer_info info;
  std::string reason;            ///< why the connection ended, for the log
  sys_ms until{};                ///< still alive then: a partition, not a death
  std::uint64_t generation = 0;  ///< which loss of the peer this judgement is for
  bool answered = false;         ///< the database answered at least once
};

/// The judgement of a suspect.
struct suspect_verdict {
  enum kind_t {
    none,    ///< no such suspect (judged already, or it rejoined)
    down,    ///< its database session ended or its heartbeat went silent: declare it down
    wait,    ///< it looks alive (or the database did not answer): ask again shortly
    alive,   ///< alive all along: cut off from this node only; its runs stay with it
    unknown  ///< the database never answered: left to the heartbeat rows and leases
  } kind = none;
  suspect who;
};

/// A drain announced by a peer.
struct peer_drain {
  bool refused = true;  ///< from a stranger
  std::string name;
  bool rerouted = false;  ///< this node's pools lost their dispatcher: they ask again
};

/// The cluster agent's state and rules: the peers, the handshakes in
/// progress, and which peer serves which pool.
class cluster_router {
 public:
  /// `self` is this node's id; `secret` the cluster secret proofs are made with.
  cluster_router(peer_id self, std::string secret);

  /// Who sent a message from `from` (nullopt: anonymous).
  sender_kind classify(const std::optional<peer_id>& from) const;

  /// The peer `id`, or null.
  const peer_entry* find(const peer_id& id) const;
  /// The number of peers.
  std::size_t peer_count() const { return peers_.size(); }

  /// Server side of the handshake, step one: a node asks to join with its
  /// nonce. Returns the proof to answer with (alongside `server_nonce`), or
  /// nullopt to refuse (an anonymous or local sender, a malformed request).
  std::optional<std::string> accept_join(const std::optional<peer_id>& from, actors::peer_info info,
                                         const std::string& client_nonce,
                                         const std::string& server_nonce);
  /// Server side, step two: checks the joining node's proof. An accepted
  /// sender still has to be added with add_peer.
  auth_outcome check_auth(const std::optional<peer_id>& from, const std::string& client_proof);

  /// Client side: whether the server's proof shows it holds the secret.
  bool server_is_genuine(const std::string& client_nonce, const std::string& server_nonce,
                         const std::string& server_proof) const;
  /// Client side: this node's proof, sent whether or not the server is genuine.
  std::string client_proof(const std::string& client_nonce, const std::string& server_nonce) const;

  /// Adds (or replaces) a peer that proved the secret. True when a pool of
  /// this node waits for a dispatcher and this peer is one: tell the pool.
  bool add_peer(const peer_id& id, actors::peer_info info);
  /// Forgets a peer whose agent is gone; nullopt when it was no peer.
  /// `connection_lost`: the link to its node broke (rather than its agent
  /// stopping); `stalled`: this process was stopped lately.
  std::optional<peer_loss> lose_peer(const peer_id& id, bool connection_lost, bool stalled);

  /// Holds a peer lost with `peer_loss::node_down` for judgement until
  /// `until`; returns the judgement's generation (a later loss of the same
  /// peer starts a new one, and the old one's timers find nothing).
  std::uint64_t suspect_peer(actors::peer_info info, std::string reason, sys_ms until);
  /// The suspect named `name` in its judgement `generation`, if one is held.
  const suspect* find_suspect(const std::string& name, std::uint64_t generation) const;
  /// Judges the suspect `name` (judgement `generation`) by `seen` (nullopt:
  /// the database could not be asked) at `now`; a verdict other than `wait`
  /// forgets it. A dead node is declared down only on the database's word: a
  /// node cut off from this one but alive keeps its leases, so one
  /// partitioned node cannot release the runs of the whole cluster.
  suspect_verdict judge_suspect(const std::string& name, std::uint64_t generation,
                                const std::optional<persistence::presence>& seen, sys_ms now);

  /// Routes a pool's demand for runs from `from` for the pool `owner`.
  demand_route route_demand(const std::optional<peer_id>& from, const std::string& owner,
                            bool this_node_draining);
  /// Routes a batch of runs leased to `owner` (the first run's).
  batch_route route_batch(const std::optional<peer_id>& from, const std::string& owner) const;
  /// A peer says it drains: its pools' demand goes elsewhere from now on.
  peer_drain on_drain(const std::optional<peer_id>& from);

  /// The endpoints to join: nodes of `rows` (with an endpoint, not down, not
  /// this node) and `seeds` that are not peers yet.
  std::vector<std::string> endpoints_to_join(const std::vector<persistence::node_row>& rows,
                                             const std::vector<std::string>& seeds,
                                             const actors::peer_info& me) const;
  /// Whether to connect to `endpoint` now: not while a join is in flight or
  /// for 5 s after it failed the handshake. True marks a join in flight.
  bool start_join(const std::string& endpoint, sys_ms now);
  /// A join to `endpoint` ended.
  void end_join(const std::string& endpoint);
  /// `endpoint` failed the handshake at `now`: it is not tried for 5 s.
  void refuse_endpoint(const std::string& endpoint, sys_ms now);

 private:
  struct pending_join {
    actors::peer_info info;
    std::string client_nonce;
    std::string server_nonce;
  };

  bool forget_routes_to(const peer_id& id);

  peer_id self_;
  std::string secret_;
  std::map<peer_id, peer_entry> peers_;
  std::map<peer_id, pending_join> pending_;
  std::map<std::string, suspect> suspects_;      // by node name
  std::uint64_t judgements_ = 0;                 // generations handed out
  std::set<std::string> connecting_;             // endpoints with a join in flight
  std::map<std::string, sys_ms> refused_until_;  // endpoints that failed the handshake
  std::map<std::string, peer_id> route_;         // local pool owner -> dispatcher peer
  std::map<std::string, peer_id> remote_pools_;  // remote pool owner -> its node
  bool pool_waiting_ = false;                    // a local pool found no dispatcher
  std::size_t next_route_ = 0;
};

}  // namespace orch::runtime
