#pragma once
/// \file health_probe.hpp The health probe: gathers the facts /health and
/// /ready are judged on (domain/health_verdict), and keeps the node's row alive.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <memory>
#include <string>

#include "actors/settings.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/token_repo.hpp"

namespace orch::http {
class auth_state;
}

namespace orch::runtime {

/// Spawns the probe (detached: it talks to PostgreSQL). Twice a second it pings
/// the database, refreshes the token cache in `auth`, reads the cluster's
/// health (a scheduler leader, worker nodes up, nodes silent for `node_timeout`
/// counting as down) into `node`, and once a second writes `me` as the node's
/// heartbeat.
caf::actor spawn_health_probe(caf::actor_system& sys, const std::string& database_url,
                              std::shared_ptr<actors::node_state> node,
                              std::shared_ptr<http::auth_state> auth, persistence::node_row me,
                              millis node_timeout);

}  // namespace orch::runtime
