#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <map>
#include <thread>
#include <unordered_map>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/pool_ledger.hpp"
#include "actors/run_executor.hpp"
#include "domain/records.hpp"
#include "domain/task.hpp"

namespace orch::actors {
namespace {

// Fault injection: how long the next worker to take a run blocks, in ms.
std::atomic<long long> stall_next_ms{0};

struct worker_state {
  std::unique_ptr<run_executor> executor;
};

worker_actor::behavior_type worker(worker_actor::stateful_pointer<worker_state> self,
                                   pool_actor pool, engine_settings cfg,
                                   std::shared_ptr<cancel_registry> cancels) {
  self->state.executor = std::make_unique<run_executor>(cfg.max_log_lines, cfg.kill_grace);
  return {
      [=](run_assignment& a) {
        static const auto handled = global_metrics().handler("worker", "run_assignment");
        auto timed = handled.time();
        if (auto ms = stall_next_ms.exchange(0); ms > 0) {
          std::this_thread::sleep_for(millis(ms));
        }
        auto token = cancels->find(a.run_id);
        if (!token) token = std::make_shared<steps::cancel_token>();
        auto& sys = self->system();
        auto result = self->state.executor->execute(a, *token, [&sys](log_batch&& b) {
          caf::anon_send(lookup<recorder_entry>(sys), std::move(b));
        });
        caf::anon_send(lookup<recorder_entry>(sys), std::move(result));
        self->send(pool, idle_atom::value, a.run_id);
      },
      [=](crash_atom) -> caf::result<void> { throw std::runtime_error("injected worker crash"); },
  };
}

/// The result that ends a claimed run that never started: cancelled, or
/// released back to pending without using up its attempt.
run_result unstarted_result(const run_assignment& a, const std::string& status, bool release) {
  run_result r;
  r.run_id = a.run_id;
  r.attempt = a.attempt;
  r.owner = a.owner;
  r.task = a.task;
  r.status = status;
  r.release = release;
  r.error_code = release ? "" : "cancelled";
  r.error_message = release ? "" : "cancelled before start";
  r.available_at_ms = to_epoch_ms(now_ms());
  r.started_ms = r.finished_ms = r.available_at_ms;
  return r;
}

// The protocol plus the timers the pool sends itself.
using pool_impl = pool_actor::extend<caf::reacts_to<renew_atom>, caf::reacts_to<tick_atom>>;

struct pool_state {
  std::unique_ptr<pool_ledger> ledger;
  std::unordered_map<pool_ledger::worker_id, worker_actor> workers;
  std::map<std::pair<std::string, int>, millis> task_timeouts;
  std::unique_ptr<run_executor> inline_executor;  // pure pipelines run right here
  caf::actor_system* sys = nullptr;
  std::shared_ptr<cancel_registry> cancels;
  std::string owner;

  // The pool is going away (crash or stop). CAF destroys the state before it
  // runs attached functors, so this is the place: steps in progress stop for
  // release, the workers stop, and runs not started yet go back to pending
  // without using up an attempt (the next incarnation would charge one).
  ~pool_state() {
    if (cancels) cancels->request_all(steps::stop_reason::release);
    for (auto& [id, w] : workers) caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    if (sys == nullptr || !ledger) return;
    auto recorder = lookup<recorder_entry>(*sys);
    for (const auto& a : ledger->queued())
      caf::anon_send(recorder, unstarted_result(a, "pending", true));
  }
};

/// The result of an attempt that ended with its worker (crashed or stuck):
/// a failure of its own, retried per the task's policy.
run_result worker_lost_result(const run_assignment& a, std::string code, std::string message) {
  run_result r;
  r.run_id = a.run_id;
  r.attempt = a.attempt;
  r.owner = a.owner;
  r.task = a.task;
  r.status = failed_attempt_status(a);
  r.error_code = std::move(code);
  r.error_message = std::move(message);
  r.available_at_ms = to_epoch_ms(now_ms() + millis(1000));
  r.started_ms = r.finished_ms = to_epoch_ms(now_ms());
  return r;
}

pool_impl::behavior_type pool(pool_impl::stateful_pointer<pool_state> self, engine_settings cfg,
                              std::shared_ptr<node_state> node,
                              std::shared_ptr<cancel_registry> cancels, worker_spawner spawn) {
  auto& st = self->state;
  st.sys = &self->system();
  st.cancels = cancels;
  st.owner = node->owner();
  st.inline_executor = std::make_unique<run_executor>(cfg.max_log_lines, cfg.kill_grace);
  const int capacity = cfg.worker_concurrency;
  st.ledger = std::make_unique<pool_ledger>(capacity, cfg.effective_prefetch());
  global_metrics().worker_capacity.Set(capacity);

  auto spawn_worker = [=] {
    auto w = spawn(self->system(), caf::actor_cast<pool_actor>(self));
    self->monitor(w);
    self->state.workers.emplace(w.id(), w);
    self->state.ledger->add_worker(w.id());
  };
  for (int i = 0; i < capacity; ++i) spawn_worker();

  auto publish = [=] {
    auto& l = *self->state.ledger;
    node->active_runs = l.held();
    global_metrics().worker_active_jobs.Set(static_cast<double>(l.busy()));
  };
  auto timeout_of = [=](const run_assignment& a) {
    auto& cache = self->state.task_timeouts;
    auto key = std::make_pair(a.task, a.task_version);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    millis t = std::chrono::hours(1);
    try {
      if (auto spec = parse_task(nlohmann::json::parse(a.task_json), a.task, false))
        t = spec->timeout;
    } catch (const std::exception&) {
      // The worker fails an unreadable definition at once; the default is fine.
    }
    cache.emplace(key, t);
    return t;
  };
  // A worker past its run's timeout plus the kill grace and a margin is stuck
  // (a hung syscall) and is replaced.
  auto deadline_of = [=](const run_assignment& a) {
    return pool_ledger::clock::now() + timeout_of(a) + cfg.kill_grace + std::chrono::seconds(10);
  };
  auto dispatch = [=] {
    auto& s = self->state;
    for (auto& [w, a] : s.ledger->dispatch(deadline_of)) {
      cancels->add(a.run_id);
      self->send(s.workers.at(w), std::move(a));
    }
    publish();
  };
  auto demand = [=](bool force) {
    auto& s = self->state;
    // The node's own dispatcher when it has one; otherwise the cluster agent
    // forwards the demand to a dispatcher on another node.
    auto d = caf::actor_cast<demand_sink_actor>(lookup<dispatcher_entry>(self->system()));
    if (!d) d = caf::actor_cast<demand_sink_actor>(lookup<cluster_agent_entry>(self->system()));
    if (!d) return;
    int credit = s.ledger->demand(force);
    if (credit <= 0) return;
    self->send(d, demand_atom::value, demand_msg{s.owner, cfg.node_name, credit, force});
  };
  // Runs whose lease this pool lost (a peer declared this node dead while it
  // was stalled, or the lease expired): someone else runs them now. Queued
  // ones are dropped, running ones stopped; their late results would be
  // rejected by the fence anyway.
  auto forget_lost = [=](const std::vector<long long>& ids) {
    auto lost = self->state.ledger->lose(ids);
    int stopped = 0;
    for (auto id : lost.to_stop) {
      if (cancels->request(id, steps::stop_reason::release)) ++stopped;
    }
    // A run that finished since the ids were gathered is "lost" too; only
    // runs still held here are news.
    if (lost.dropped + static_cast<std::size_t>(stopped) == 0) return;
    log_warning("worker_pool", "lost the lease of " + std::to_string(lost.dropped + stopped) +
                                   " run(s) held here (" + std::to_string(lost.dropped) +
                                   " queued dropped, " + std::to_string(stopped) +
                                   " running stopped)");
    publish();
    demand(false);
  };
  // Leases are renewed from where the runs are, for exactly the runs held:
  // a run claimed for this pool whose batch never arrived is left to expire.
  auto renew = [=] {
    renew_msg m;
    m.owner = self->state.owner;
    m.ids = self->state.ledger->held_ids();
    self->request(lookup<recorder_entry>(self->system()), cfg.lease_timeout / 3, std::move(m))
        .then(
            [=](const std::vector<long long>& flagged, const std::vector<long long>& lost) {
              for (auto id : flagged) self->send(self, cancel_atom::value, id);
              if (!lost.empty()) forget_lost(lost);
            },
            [=](const caf::error&) {});
  };
  auto finish_unstarted = [=](const run_assignment& a, const std::string& status, bool release) {
    caf::anon_send(lookup<recorder_entry>(self->system()), unstarted_result(a, status, release));
  };
  auto record_lost = [=](const run_assignment& a, std::string code, std::string message) {
    cancels->remove(a.run_id);
    caf::anon_send(lookup<recorder_entry>(self->system()),
                   worker_lost_result(a, std::move(code), std::move(message)));
  };

  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    auto id = dm.source.id();
    if (s.workers.erase(id) == 0) return;
    auto lost = s.ledger->remove_worker(id);
    global_metrics().actor_restarts.Add({{"actor", "worker"}}).Increment();
    log_warning("worker_pool", "worker died (" + caf::to_string(dm.reason) + "); replacing it");
    // The attempt ends as a failure of its own; the task's retry policy applies.
    if (lost) record_lost(*lost, "worker_crashed", "worker crashed: " + caf::to_string(dm.reason));
    spawn_worker();
    dispatch();
    demand(false);
  });

  // A worker that overran its run's timeout plus grace is blocked somewhere no
  // signal reaches (a detached actor cannot be preempted): it is abandoned and
  // replaced, its run ends as a failed attempt (retried per policy), and it
  // is told to stop when it returns.
  auto replace_stuck = [=] {
    auto& s = self->state;
    auto stuck = s.ledger->take_stuck(pool_ledger::clock::now());
    for (auto& [id, a] : stuck) {
      auto wit = s.workers.find(id);
      if (wit != s.workers.end()) {
        self->demonitor(wit->second.address());
        caf::anon_send_exit(wit->second, caf::exit_reason::user_shutdown);
        s.workers.erase(wit);
      }
      cancels->request(a.run_id, steps::stop_reason::cancel);
      global_metrics().actor_restarts.Add({{"actor", "worker"}}).Increment();
      log_error("worker_pool", "a worker is stuck on run " + std::to_string(a.run_id) +
                                   " past its timeout and grace; replacing it");
      record_lost(a, "worker_stuck",
                  "the worker did not return within the run's timeout plus grace");
      spawn_worker();
    }
    if (!stuck.empty()) dispatch();
  };

  register_as(self, pool_key);
  demand(true);
  renew();  // at once: the recorder releases runs of this node's earlier incarnations
  self->delayed_send(self, cfg.lease_timeout / 3, renew_atom::value);
  self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
  return {
      [=](assignment_batch& b) {
        static const auto handled = global_metrics().handler("worker_pool", "assignment_batch");
        auto timed = handled.time();
        auto& s = self->state;
        s.ledger->received(b.runs.size());
        auto recorder = lookup<recorder_entry>(self->system());
        for (auto& a : b.runs) {
          if (s.ledger->draining()) {
            finish_unstarted(a, "pending", true);
          } else if (s.inline_executor->is_pure(a)) {
            // Pure (template-only) pipelines do no I/O: they run right here on
            // this cooperative thread, without the hand-off to a worker thread.
            steps::cancel_token none;
            auto result = s.inline_executor->execute(
                a, none, [&recorder](log_batch&& l) { caf::anon_send(recorder, std::move(l)); });
            caf::anon_send(recorder, std::move(result));
          } else {
            s.ledger->enqueue(std::move(a));
          }
        }
        dispatch();
        demand(false);
      },
      [=](idle_atom, std::int64_t run_id) {
        cancels->remove(run_id);
        auto w = caf::actor_cast<caf::actor>(self->current_sender());
        if (!w || !self->state.ledger->finished(w.id())) return;  // a replaced worker came back
        dispatch();
        demand(false);
      },
      [=](hello_atom) { demand(true); },
      [=](renew_atom) {
        renew();
        self->delayed_send(self, cfg.lease_timeout / 3, renew_atom::value);
      },
      [=](tick_atom) {
        replace_stuck();
        // Demand lost on its way (a dispatcher that restarted or a peer that
        // died) is asked for again: the count starts over.
        demand(true);
        global_metrics().mailbox("worker_pool").Set(static_cast<double>(self->mailbox().size()));
        self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
      },
      [=](cancel_atom, std::int64_t run_id) {
        if (auto a = self->state.ledger->take_queued(run_id)) {
          finish_unstarted(*a, "cancelled", false);
          publish();
          demand(false);
          return;
        }
        cancels->request(run_id, steps::stop_reason::cancel);
      },
      [=](drain_atom, bool release) {
        // Runs not started yet go back at once; running ones get the grace
        // period unless `release` says it is over.
        for (auto& a : self->state.ledger->drain()) finish_unstarted(a, "pending", true);
        if (release) cancels->request_all(steps::stop_reason::release);
        publish();
      },
      [=](crash_atom) -> caf::result<void> { throw std::runtime_error("injected pool crash"); },
  };
}

}  // namespace

pool_actor spawn_worker_pool(caf::actor_system& sys, const engine_settings& cfg,
                             std::shared_ptr<node_state> node,
                             std::shared_ptr<cancel_registry> cancels,
                             worker_spawner spawn_worker) {
  // Rotated here, not in the actor: its initialization runs later on another
  // thread, and the dispatcher that the supervisor starts next must already
  // read the new owner.
  // "<node>/<process incarnation>.<pool incarnation>": a dead process's leases
  // are released by the prefix, a dead pool's by its node name.
  node->set_owner(cfg.node_name + "/" + node->incarnation + "." + random_incarnation());
  if (!spawn_worker) {
    spawn_worker = [cfg, cancels](caf::actor_system& s, pool_actor p) {
      return caf::actor_cast<worker_actor>(
          s.spawn<caf::detached>(worker, std::move(p), cfg, cancels));
    };
  }
  return caf::actor_cast<pool_actor>(
      sys.spawn(pool, cfg, std::move(node), std::move(cancels), std::move(spawn_worker)));
}

void inject_worker_stall(millis duration) {
  stall_next_ms = duration.count();
}

}  // namespace orch::actors
