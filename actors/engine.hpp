#pragma once
/// \file engine.hpp Spawn functions of the engine's actors. Each actor is thin:
/// it routes messages to persistence/, steps/ and domain/.

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <functional>
#include <memory>

#include "actors/settings.hpp"
#include "persistence/run_repo.hpp"

namespace orch::persistence {
class session;
}

namespace orch::actors {

/// The recorder: batches finished attempts and log lines into few statements,
/// and renews the leases the pool holds (detached: it blocks on PostgreSQL).
/// Registered as recorder_key.
caf::actor spawn_recorder(caf::actor_system& sys, const engine_settings& cfg,
                          std::shared_ptr<node_state> node);

/// The worker pool: holds claimed runs, hands them to `worker_concurrency`
/// detached workers, replaces crashed workers, asks the dispatcher for work.
/// Rotates the node's lease owner when it starts. Registered as pool_key.
caf::actor spawn_worker_pool(caf::actor_system& sys, const engine_settings& cfg,
                             std::shared_ptr<node_state> node,
                             std::shared_ptr<cancel_registry> cancels);

/// The dispatcher: claims runs in batches for the pools that ask (this node's,
/// and other nodes' through the cluster agent), re-queues expired leases,
/// declares nodes with stale heartbeats down, prunes old runs. Registered as
/// dispatcher_key.
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

/// A run submission waiting for the next group commit, and where its answer goes.
struct submit_call {
  persistence::submit_request request;
  std::function<void(result<persistence::submit_outcome>)> reply;
};

/// The submitter: gathers the submissions that arrive while it is busy and
/// commits them together, one transaction (and one WAL flush) for many runs.
/// Each caller still gets its own answer. Detached: it blocks on PostgreSQL.
/// Registered as submitter_key.
caf::actor spawn_submitter(caf::actor_system& sys, const engine_settings& cfg);

/// One detached API executor with its own database connection, the
/// `index`-th of the node's. Registered as api_executor_key(index).
caf::actor spawn_api_executor(caf::actor_system& sys, const std::string& database_url, int index);

/// Registry key of the `index`-th API executor ("api0", "api1", ...).
caf::atom_value api_executor_key(int index);

/// Looks up a well-known actor of this node; an invalid handle while it is
/// restarting.
caf::actor lookup(caf::actor_system& sys, caf::atom_value key);

/// Registers `self` under `key` in the node's directory, replacing a
/// predecessor's entry, and removes the entry when `self` terminates unless a
/// successor has replaced it already. Not CAF's registry: remote nodes can look
/// up names there, and only the cluster agent may be reachable from outside.
void register_as(caf::local_actor* self, caf::atom_value key);

/// Fault injection (ORCH_FAULT_INJECTION, tests only): the next run a worker
/// takes blocks that worker's thread for `duration` before it starts, as a
/// hung system call would. The pool replaces such a worker.
void inject_worker_stall(millis duration);

/// Advisory lock key of the scheduler leadership.
inline constexpr long long scheduler_leader_key = 0x6f72636802LL;

}  // namespace orch::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orch::actors::api_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orch::actors::submit_call)
