#pragma once
/// \file engine.hpp Spawn functions of the engine's actors. Each actor is thin:
/// it routes messages to persistence/, steps/ and domain/.

#include <functional>
#include <memory>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "actors/settings.hpp"

namespace orch::persistence {
class session;
}

namespace orch::actors {

/// The recorder: batches finished attempts and log lines into few statements
/// (detached: it blocks on PostgreSQL). Registered as recorder_key.
caf::actor spawn_recorder(caf::actor_system& sys, const engine_settings& cfg,
                          std::shared_ptr<node_state> node);

/// The worker pool: holds claimed runs, hands them to `worker_concurrency`
/// detached workers, replaces crashed workers, asks the dispatcher for work.
/// Rotates the node's lease owner when it starts. Registered as pool_key.
caf::actor spawn_worker_pool(caf::actor_system& sys, const engine_settings& cfg,
                             std::shared_ptr<node_state> node,
                             std::shared_ptr<cancel_registry> cancels);

/// The dispatcher: claims runs in batches as the pool asks, renews leases,
/// re-queues expired ones, prunes old runs. Registered as dispatcher_key.
caf::actor spawn_dispatcher(caf::actor_system& sys, const engine_settings& cfg,
                            std::shared_ptr<node_state> node);

/// The scheduler: leads through an advisory lock and fires due schedules.
/// Registered as scheduler_key.
caf::actor spawn_scheduler(caf::actor_system& sys, const engine_settings& cfg,
                           std::shared_ptr<node_state> node);

/// A unit of API work that runs on an API executor's own connection.
struct api_call {
  std::function<void(persistence::session&)> fn;
};

/// One detached API executor with its own database connection.
caf::actor spawn_api_executor(caf::actor_system& sys, const std::string& database_url);

/// Looks up a registered actor; an invalid handle while it is restarting.
caf::actor lookup(caf::actor_system& sys, caf::atom_value key);

/// Advisory lock key of the scheduler leadership.
inline constexpr long long scheduler_leader_key = 0x6f72636802LL;

}  // namespace orch::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orch::actors::api_call)
