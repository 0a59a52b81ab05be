#pragma once
/// \file engine.hpp Spawn functions of the engine's actors. Each actor is thin:
/// it routes messages to persistence/, steps/ and domain/.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <functional>
#include <memory>

#include "actors/protocols.hpp"
#include "actors/settings.hpp"
#include "actors/stores.hpp"

namespace orch::actors {

/// How an actor is scheduled: on a thread of its own (it blocks on
/// PostgreSQL), or on the cooperative scheduler (the deterministic actor tests).
enum class spawn_mode { detached, scheduled };

/// Spawns one worker for `pool`; the engine's runs steps on its own thread,
/// the actor tests pass a stand-in.
using worker_spawner = std::function<worker_actor(caf::actor_system&, pool_actor pool)>;

/// The recorder: batches finished attempts and log lines into few statements,
/// and renews the leases the pool holds. Writes through the store `open`
/// makes (PostgreSQL at cfg.database_url when empty). Registered as recorder_key.
recorder_actor spawn_recorder(caf::actor_system& sys, const engine_settings& cfg,
                              std::shared_ptr<node_state> node,
                              store_opener<record_store> open = {},
                              spawn_mode mode = spawn_mode::detached);

/// The worker pool: holds claimed runs, hands them to `worker_concurrency`
/// workers (detached ones running steps, unless `spawn_worker` says
/// otherwise), replaces crashed and stuck workers, asks the dispatcher for
/// work. Rotates the node's lease owner when it starts. Registered as pool_key.
pool_actor spawn_worker_pool(caf::actor_system& sys, const engine_settings& cfg,
                             std::shared_ptr<node_state> node,
                             std::shared_ptr<cancel_registry> cancels,
                             worker_spawner spawn_worker = {});

/// The dispatcher: claims runs in batches for the pools that ask (this node's,
/// and other nodes' through the cluster agent), re-queues expired leases,
/// declares nodes with stale heartbeats down, prunes old runs. Reads through
/// the store `open` makes (PostgreSQL at cfg.database_url when empty).
/// Registered as dispatcher_key.
dispatcher_actor spawn_dispatcher(caf::actor_system& sys, const engine_settings& cfg,
                                  std::shared_ptr<node_state> node,
                                  store_opener<dispatch_store> open = {},
                                  spawn_mode mode = spawn_mode::detached);

/// The scheduler: leads through an advisory lock and fires due schedules.
/// Registered as scheduler_key.
caf::actor spawn_scheduler(caf::actor_system& sys, const engine_settings& cfg,
                           std::shared_ptr<node_state> node);

/// The submitter: gathers the submissions that arrive while it is busy and
/// commits them together, one transaction (and one WAL flush) for many runs.
/// Each caller still gets its own answer. Detached: it blocks on PostgreSQL.
/// Registered as submitter_key.
submitter_actor spawn_submitter(caf::actor_system& sys, const engine_settings& cfg);

/// One detached API executor with its own database connection, the
/// `index`-th of the node's. Registered as api_executor_key(index).
caf::actor spawn_api_executor(caf::actor_system& sys, const std::string& database_url, int index);

/// Registry key of the `index`-th API executor ("api0", "api1", ...).
caf::atom_value api_executor_key(int index);

/// Fault injection (ORCH_FAULT_INJECTION, tests only): the next run a worker
/// takes blocks that worker's thread for `duration` before it starts, as a
/// hung system call would. The pool replaces such a worker.
void inject_worker_stall(millis duration);

/// Advisory lock key of the scheduler leadership.
inline constexpr long long scheduler_leader_key = 0x6f72636802LL;

}  // namespace orch::actors
