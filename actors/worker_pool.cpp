#include <atomic>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
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

caf::behavior worker_actor(caf::stateful_actor<worker_state>* self, caf::actor pool,
                           engine_settings cfg, std::shared_ptr<cancel_registry> cancels) {
  self->state.executor = std::make_unique<run_executor>(cfg.max_log_lines, cfg.kill_grace);
  return {
      [=](run_assignment& a) {
        static auto& handled = global_metrics().messages("worker");
        handled.Increment();
        if (auto ms = stall_next_ms.exchange(0); ms > 0) {
          std::this_thread::sleep_for(millis(ms));
        }
        auto token = cancels->find(a.run_id);
        if (!token) token = std::make_shared<steps::cancel_token>();
        auto& sys = self->system();
        auto result = self->state.executor->execute(a, *token, [&sys](log_batch&& b) {
          caf::anon_send(lookup(sys, recorder_key), std::move(b));
        });
        caf::anon_send(lookup(sys, recorder_key), std::move(result));
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

struct pool_state {
  std::vector<caf::actor> workers;
  std::deque<caf::actor> idle;
  std::deque<run_assignment> queue;
  std::unordered_map<caf::actor_addr, run_assignment> busy;
  // When each busy worker must be done: its task's timeout plus the kill grace
  // and a margin. A worker past it is stuck (a hung syscall) and is replaced.
  std::unordered_map<caf::actor_addr, std::chrono::steady_clock::time_point> deadline;
  std::map<std::pair<std::string, int>, millis> task_timeouts;
  int outstanding = 0;
  bool draining = false;
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
    for (auto& w : workers) caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    if (sys == nullptr) return;
    auto recorder = lookup(*sys, recorder_key);
    for (const auto& a : queue) caf::anon_send(recorder, unstarted_result(a, "pending", true));
  }
};

caf::behavior pool_actor(caf::stateful_actor<pool_state>* self, engine_settings cfg,
                         std::shared_ptr<node_state> node,
                         std::shared_ptr<cancel_registry> cancels) {
  self->state.sys = &self->system();
  self->state.cancels = cancels;
  self->state.owner = node->owner();
  self->state.inline_executor = std::make_unique<run_executor>(cfg.max_log_lines, cfg.kill_grace);
  const int capacity = cfg.worker_concurrency;
  const int window = capacity + cfg.effective_prefetch();
  global_metrics().worker_capacity.Set(capacity);

  auto spawn_worker = [=] {
    auto w = self->system().spawn<caf::detached>(worker_actor, caf::actor_cast<caf::actor>(self),
                                                 cfg, cancels);
    self->monitor(w);
    self->state.workers.push_back(w);
    self->state.idle.push_back(w);
  };
  for (int i = 0; i < capacity; ++i) spawn_worker();

  auto publish = [=] {
    auto& s = self->state;
    node->active_runs = static_cast<int>(s.queue.size() + s.busy.size());
    global_metrics().worker_active_jobs.Set(static_cast<double>(s.busy.size()));
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
  auto dispatch = [=] {
    auto& s = self->state;
    while (!s.idle.empty() && !s.queue.empty()) {
      auto w = s.idle.front();
      s.idle.pop_front();
      auto a = std::move(s.queue.front());
      s.queue.pop_front();
      cancels->add(a.run_id);
      s.deadline[w.address()] = std::chrono::steady_clock::now() + timeout_of(a) + cfg.kill_grace +
                                std::chrono::seconds(10);
      s.busy.emplace(w.address(), a);
      self->send(w, std::move(a));
    }
    publish();
  };
  auto demand = [=](bool force) {
    auto& s = self->state;
    if (s.draining) return;
    if (force) s.outstanding = 0;
    int free = window - static_cast<int>(s.queue.size() + s.busy.size()) - s.outstanding;
    if (free <= 0) return;
    if (!force && free < std::max(1, window / 4) && !s.queue.empty()) return;
    // The node's own dispatcher when it has one; otherwise the cluster agent
    // forwards the demand to a dispatcher on another node.
    auto d = lookup(self->system(), dispatcher_key);
    if (!d) d = lookup(self->system(), cluster_key);
    if (!d) return;
    s.outstanding += free;
    self->send(d, demand_atom::value, demand_msg{s.owner, cfg.node_name, free, force});
  };
  // Runs whose lease this pool lost (a peer declared this node dead while it
  // was stalled, or the lease expired): someone else runs them now. Queued
  // ones are dropped, running ones stopped; their late results would be
  // rejected by the fence anyway.
  auto forget_lost = [=](const std::vector<long long>& lost) {
    auto& s = self->state;
    std::set<long long> ids(lost.begin(), lost.end());
    auto before = s.queue.size();
    s.queue.erase(std::remove_if(s.queue.begin(), s.queue.end(),
                                 [&](const run_assignment& a) { return ids.count(a.run_id) != 0; }),
                  s.queue.end());
    int stopped = 0;
    for (const auto& [w, a] : s.busy) {
      if (ids.count(a.run_id) != 0 && cancels->request(a.run_id, steps::stop_reason::release))
        ++stopped;
    }
    auto dropped = before - s.queue.size();
    // A run that finished since the ids were gathered is "lost" too; only
    // runs still held here are news.
    if (dropped + static_cast<std::size_t>(stopped) == 0) return;
    log_warning("worker_pool", "lost the lease of " + std::to_string(dropped + stopped) +
                                   " run(s) held here (" + std::to_string(dropped) +
                                   " queued dropped, " + std::to_string(stopped) +
                                   " running stopped)");
    publish();
    demand(false);
  };
  // Leases are renewed from where the runs are, for exactly the runs held:
  // a run claimed for this pool whose batch never arrived is left to expire.
  auto renew = [=] {
    auto& s = self->state;
    renew_msg m;
    m.owner = s.owner;
    for (const auto& a : s.queue) m.ids.push_back(a.run_id);
    for (const auto& [w, a] : s.busy) m.ids.push_back(a.run_id);
    self->request(lookup(self->system(), recorder_key), cfg.lease_timeout / 3, std::move(m))
        .then(
            [=](const std::vector<long long>& flagged, const std::vector<long long>& lost) {
              for (auto id : flagged) self->send(self, cancel_atom::value, id);
              if (!lost.empty()) forget_lost(lost);
            },
            [=](const caf::error&) {});
  };
  auto finish_unstarted = [=](run_assignment& a, const std::string& status, bool release) {
    caf::anon_send(lookup(self->system(), recorder_key), unstarted_result(a, status, release));
  };

  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    auto it = s.busy.find(dm.source);
    std::optional<run_assignment> lost;
    if (it != s.busy.end()) {
      lost = std::move(it->second);
      s.busy.erase(it);
    }
    s.deadline.erase(dm.source);
    auto wit = std::find_if(s.workers.begin(), s.workers.end(),
                            [&](const caf::actor& w) { return w.address() == dm.source; });
    if (wit == s.workers.end()) return;
    s.workers.erase(wit);
    s.idle.erase(std::remove_if(s.idle.begin(), s.idle.end(),
                                [&](const caf::actor& w) { return w.address() == dm.source; }),
                 s.idle.end());
    global_metrics().actor_restarts.Add({{"actor", "worker"}}).Increment();
    log_warning("worker_pool", "worker died (" + caf::to_string(dm.reason) + "); replacing it");
    if (lost) {
      cancels->remove(lost->run_id);
      // The attempt ends as a failure of its own; the task's retry policy applies.
      run_result r;
      r.run_id = lost->run_id;
      r.attempt = lost->attempt;
      r.owner = lost->owner;
      r.task = lost->task;
      bool retry = lost->attempt < lost->max_attempts;
      r.status = retry ? "pending" : "failed";
      r.error_code = "worker_crashed";
      r.error_message = "worker crashed: " + caf::to_string(dm.reason);
      r.available_at_ms = to_epoch_ms(now_ms() + millis(1000));
      r.started_ms = r.finished_ms = to_epoch_ms(now_ms());
      caf::anon_send(lookup(self->system(), recorder_key), std::move(r));
    }
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
    auto now = std::chrono::steady_clock::now();
    std::vector<caf::actor_addr> stuck;
    for (const auto& [addr, when] : s.deadline) {
      if (now > when) stuck.push_back(addr);
    }
    for (const auto& addr : stuck) {
      auto it = s.busy.find(addr);
      if (it == s.busy.end()) continue;
      auto a = std::move(it->second);
      s.busy.erase(it);
      s.deadline.erase(addr);
      auto wit = std::find_if(s.workers.begin(), s.workers.end(),
                              [&](const caf::actor& w) { return w.address() == addr; });
      if (wit != s.workers.end()) {
        self->demonitor(*wit);
        caf::anon_send_exit(*wit, caf::exit_reason::user_shutdown);
        s.workers.erase(wit);
      }
      cancels->request(a.run_id, steps::stop_reason::cancel);
      cancels->remove(a.run_id);
      global_metrics().actor_restarts.Add({{"actor", "worker"}}).Increment();
      log_error("worker_pool", "a worker is stuck on run " + std::to_string(a.run_id) +
                                   " past its timeout and grace; replacing it");
      run_result r;
      r.run_id = a.run_id;
      r.attempt = a.attempt;
      r.owner = a.owner;
      r.task = a.task;
      bool retry = a.attempt < a.max_attempts;
      r.status = retry ? "pending" : "failed";
      r.error_code = "worker_stuck";
      r.error_message = "the worker did not return within the run's timeout plus grace";
      r.available_at_ms = to_epoch_ms(now_ms() + millis(1000));
      r.started_ms = r.finished_ms = to_epoch_ms(now_ms());
      caf::anon_send(lookup(self->system(), recorder_key), std::move(r));
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
        static auto& handled = global_metrics().messages("worker_pool");
        handled.Increment();
        auto& s = self->state;
        s.outstanding = std::max(0, s.outstanding - static_cast<int>(b.runs.size()));
        auto& sys = self->system();
        auto recorder = lookup(sys, recorder_key);
        for (auto& a : b.runs) {
          if (s.draining) {
            finish_unstarted(a, "pending", true);
          } else if (s.inline_executor->is_pure(a)) {
            // Pure (template-only) pipelines do no I/O: they run right here on
            // this cooperative thread, without the hand-off to a worker thread.
            steps::cancel_token none;
            auto result = s.inline_executor->execute(
                a, none, [&recorder](log_batch&& l) { caf::anon_send(recorder, std::move(l)); });
            caf::anon_send(recorder, std::move(result));
          } else {
            s.queue.push_back(std::move(a));
          }
        }
        dispatch();
        demand(false);
      },
      [=](idle_atom, long long run_id) {
        auto& s = self->state;
        cancels->remove(run_id);
        auto w = caf::actor_cast<caf::actor>(self->current_sender());
        if (s.busy.erase(w.address()) == 0) return;  // a replaced worker that came back
        s.deadline.erase(w.address());
        s.idle.push_back(w);
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
      [=](cancel_atom, long long run_id) {
        auto& s = self->state;
        auto it = std::find_if(s.queue.begin(), s.queue.end(),
                               [&](const run_assignment& a) { return a.run_id == run_id; });
        if (it != s.queue.end()) {
          finish_unstarted(*it, "cancelled", false);
          s.queue.erase(it);
          publish();
          demand(false);
          return;
        }
        cancels->request(run_id, steps::stop_reason::cancel);
      },
      [=](drain_atom, bool release) {
        // Runs not started yet go back at once; running ones get the grace
        // period unless `release` says it is over.
        auto& s = self->state;
        s.draining = true;
        for (auto& a : s.queue) finish_unstarted(a, "pending", true);
        s.queue.clear();
        if (release) cancels->request_all(steps::stop_reason::release);
        publish();
      },
      [=](crash_atom) -> caf::result<void> { throw std::runtime_error("injected pool crash"); },
  };
}

}  // namespace

caf::actor spawn_worker_pool(caf::actor_system& sys, const engine_settings& cfg,
                             std::shared_ptr<node_state> node,
                             std::shared_ptr<cancel_registry> cancels) {
  // Rotated here, not in the actor: its initialization runs later on another
  // thread, and the dispatcher that the supervisor starts next must already
  // read the new owner.
  // "<node>/<process incarnation>.<pool incarnation>": a dead process's leases
  // are released by the prefix, a dead pool's by its node name.
  node->set_owner(cfg.node_name + "/" + node->incarnation + "." + random_incarnation());
  return sys.spawn(pool_actor, cfg, std::move(node), std::move(cancels));
}

namespace {

// The node's well-known actors. Not CAF's registry: a remote node can query
// that one by name (middleman remote_lookup), and nothing but the cluster agent
// may be reachable from other nodes. Weak handles: an entry never keeps an
// actor alive.
struct directory {
  std::mutex mu;
  std::map<std::pair<const caf::actor_system*, caf::atom_value>, caf::actor_addr> entries;
};

directory& the_directory() {
  static directory d;
  return d;
}

}  // namespace

void inject_worker_stall(millis duration) {
  stall_next_ms = duration.count();
}

caf::actor lookup(caf::actor_system& sys, caf::atom_value key) {
  auto& d = the_directory();
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.entries.find({&sys, key});
  if (it == d.entries.end()) return {};
  return caf::actor_cast<caf::actor>(it->second);
}

void register_as(caf::local_actor* self, caf::atom_value key) {
  {
    auto& d = the_directory();
    std::lock_guard<std::mutex> lock(d.mu);
    d.entries[{&self->system(), key}] = self->address();
  }
  self->attach_functor([sys = &self->system(), key, addr = self->address()](const caf::error&) {
    auto& d = the_directory();
    std::lock_guard<std::mutex> lock(d.mu);
    auto it = d.entries.find({sys, key});
    if (it != d.entries.end() && it->second == addr) d.entries.erase(it);
  });
}

}  // namespace orch::actors
