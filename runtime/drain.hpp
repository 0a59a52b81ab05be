#pragma once
/// \file drain.hpp A node's graceful shutdown (guarantee 5): intake stops,
/// in-flight runs get the grace period, the rest go back to pending.

#include <atomic>
#include <caf/fwd.hpp>

#include "actors/settings.hpp"
#include "runtime/config.hpp"

namespace orch::runtime {

/// Drains the node: readiness goes 503 and the pool takes nothing more; with
/// `exit_code` 0 (a signal, not a failure) runs get `cfg.shutdown_grace` to
/// finish unless `second_signal` comes; the pool then releases what is left,
/// and the drain waits until every result is written. The HTTP server and
/// the supervision tree are still up, and stopped by the caller afterwards.
void drain(caf::actor_system& sys, actors::node_state& node, const config& cfg, int exit_code,
           const std::atomic<bool>& second_signal);

}  // namespace orch::runtime
