#pragma once
/// \file cluster.hpp The cluster agent: the one actor of a node that other
/// nodes can reach. It joins peers found in the `nodes` table (and seeds),
/// proves and checks the cluster secret, watches every peer with a remote
/// monitor, releases the leases of peers that die, and carries work between
/// a dispatcher on one node and a worker pool on another. Its decisions are
/// cluster_router's; the port it listens on is set up by cluster_port.

#include <caf/fwd.hpp>
#include <memory>
#include <string>
#include <vector>

#include "actors/protocols.hpp"
#include "actors/settings.hpp"
#include "runtime/config.hpp"

namespace orch::runtime {

/// What the agent says about itself to peers.
struct agent_identity {
  std::string name;
  std::string incarnation;
  std::vector<std::string> roles;
  std::string advertise;
};

/// Spawns the agent (detached: it talks to PostgreSQL and publishes itself on
/// the cluster port, taking over the port from a predecessor; it fails when
/// the port cannot be bound). Registered as cluster_key.
actors::cluster_agent_actor spawn_cluster_agent(caf::actor_system& sys, const cluster_config& cfg,
                                                const actors::engine_settings& engine,
                                                agent_identity me,
                                                std::shared_ptr<actors::node_state> node);

}  // namespace orch::runtime
