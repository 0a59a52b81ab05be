#pragma once
/// \file node_health.hpp The facts of a node's state that its health is judged on.

#include "actors/settings.hpp"
#include "domain/health_verdict.hpp"

namespace orch::actors {

/// A snapshot of what the node's actors and health probe have found.
inline health_facts health_facts_of(const node_state& n) {
  return {.database_reachable = n.database_ok,
          .scheduler_alive = n.scheduler_ok,
          .is_leader = n.is_leader,
          .cluster_leader_alive = n.cluster_leader_ok,
          .workers_alive = n.workers_ok,
          .local_workers = n.local_workers,
          .cluster_workers_up = n.cluster_workers};
}

}  // namespace orch::actors
