#pragma once
/// \file node_health.hpp The facts of a node's state that its health is judged on.

#include "actors/settings.hpp"
#include "domain/health_verdict.hpp"

namespace orch::actors {

/// A snapshot of what the node's actors and health probe have found.
inline health_facts health_facts_of(const node_state& n) {
  health_facts f;
  f.database_reachable = n.database_ok;
  f.scheduler_alive = n.scheduler_ok;
  f.is_leader = n.is_leader;
  f.cluster_leader_alive = n.cluster_leader_ok;
  f.workers_alive = n.workers_ok;
  f.local_workers = n.local_workers;
  f.cluster_workers_up = n.cluster_workers;
  return f;
}

}  // namespace orch::actors
