#pragma once
/// \file supervision_tree.hpp The node's supervision tree: which actors a node
/// runs for its roles, and who restarts them (docs/architecture.md draws it).

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <functional>
#include <string>

#include "runtime/bootstrap.hpp"
#include "runtime/config.hpp"

namespace orch::runtime {

/// Starts the tree under its root, `health_supervisor`: the health probe, the
/// cluster agent (with a cluster port), the engine subtree (recorder, worker
/// pool, dispatcher, by role), the API subtree (submitter and API executors,
/// with the api role) and the scheduler. `on_give_up` is called when the root
/// gives up (the node then exits). Returns the root.
caf::actor start_supervision_tree(caf::actor_system& sys, const config& cfg,
                                  const node_setup& setup,
                                  std::function<void(const std::string& why)> on_give_up);

/// Whether every actor the HTTP front end sends to (the submitter and the API
/// executors) is registered, so the first request finds them.
bool api_actors_registered(caf::actor_system& sys, const config& cfg);

}  // namespace orch::runtime
