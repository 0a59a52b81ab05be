#pragma once
/// \file cluster_port.hpp The cluster port: CAF's middleman with the
/// cluster's timings, and the agent published on it.

#include <caf/fwd.hpp>

#include "runtime/config.hpp"

namespace orch::runtime {

/// Loads CAF's middleman into `cfg` with the cluster's timings: heartbeats and
/// a connection timeout (off by default in CAF 0.17), so a peer that hangs
/// without closing its socket is cut off too.
void configure_middleman(caf::actor_system_config& cfg, const cluster_config& cluster);

/// Publishes `self` (the agent) on the cluster port, taking the port over
/// from a predecessor (a restarted agent). Blocks: call it on the agent's own
/// thread. Throws when the port cannot be bound, so the supervisor restarts
/// the agent with backoff and gives up on a storm.
void publish_on_cluster_port(caf::local_actor* self, const cluster_config& cfg);

}  // namespace orch::runtime
