#pragma once
/// \file health_verdict.hpp What makes a node healthy (/health) and ready
/// (/ready), judged from facts the health probe and the actors gathered.

#include <string>

namespace orch {

/// What a node knows about itself and its cluster at one moment.
struct health_facts {
  bool database_reachable = false;
  bool scheduler_alive = false;       ///< this node's scheduler runs, or it has none to run
  bool is_leader = false;             ///< this node leads the schedulers
  bool cluster_leader_alive = false;  ///< some node leads the schedulers
  bool workers_alive = false;         ///< this node's pool runs, or it has none to run
  bool local_workers = false;         ///< this node has the worker role
  int cluster_workers_up = 0;         ///< worker nodes up in the cluster
};

/// The checks /health reports, and whether they add up to healthy.
struct health_verdict {
  bool database = false;
  bool scheduler = false;  ///< schedules fire somewhere: a live scheduler and a leader
  bool workers = false;    ///< runs execute somewhere: workers here or on a node up
  /// Healthy when every check passes.
  bool healthy() const { return database && scheduler && workers; }
};

/// Judges the node's health: its own actors, and the cluster as the database sees it.
health_verdict judge_health(const health_facts& facts);

/// Whether the node takes work (/ready), and why not.
struct readiness_verdict {
  bool ready = false;
  std::string reason;  ///< empty when ready: draining, starting or database unreachable
};

/// Judges readiness: started, not draining, and the database reachable.
readiness_verdict judge_readiness(bool started, bool draining, bool database_reachable);

}  // namespace orch
