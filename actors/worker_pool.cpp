#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <deque>
#include <map>
#include <random>
#include <unordered_map>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/run_executor.hpp"
#include "domain/records.hpp"

namespace orch::actors {
namespace {

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
  int outstanding = 0;
  bool draining = false;
  std::unique_ptr<run_executor> inline_executor;  // pure pipelines run right here
  caf::actor_system* sys = nullptr;
  std::shared_ptr<cancel_registry> cancels;

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
  auto dispatch = [=] {
    auto& s = self->state;
    while (!s.idle.empty() && !s.queue.empty()) {
      auto w = s.idle.front();
      s.idle.pop_front();
      auto a = std::move(s.queue.front());
      s.queue.pop_front();
      cancels->add(a.run_id);
      s.busy.emplace(w.address(), a);
      self->send(w, std::move(a));
    }
    publish();
  };
  auto demand = [=](bool force) {
    auto& s = self->state;
    if (s.draining) return;
    int free = window - static_cast<int>(s.queue.size() + s.busy.size()) - s.outstanding;
    if (free <= 0) return;
    if (!force && free < std::max(1, window / 4) && !s.queue.empty()) return;
    auto d = lookup(self->system(), dispatcher_key);
    if (!d) return;
    s.outstanding += free;
    self->send(d, demand_atom::value, free, force);
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

  register_as(self, pool_key);
  demand(true);
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
        s.busy.erase(w.address());
        s.idle.push_back(w);
        dispatch();
        demand(false);
      },
      [=](hello_atom) {
        self->state.outstanding = 0;
        demand(true);
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
  node->set_owner(cfg.node_name + "/" + random_incarnation());
  return sys.spawn(pool_actor, cfg, std::move(node), std::move(cancels));
}

caf::actor lookup(caf::actor_system& sys, caf::atom_value key) {
  return caf::actor_cast<caf::actor>(sys.registry().get(key));
}

void register_as(caf::local_actor* self, caf::atom_value key) {
  auto& reg = self->system().registry();
  reg.erase(key);
  reg.put(key, caf::actor_cast<caf::strong_actor_ptr>(self));
  self->attach_functor([sys = &self->system(), key, id = self->id()](const caf::error&) {
    auto& r = sys->registry();
    auto current = r.get(key);
    if (current && current->id() == id) r.erase(key);
  });
}

}  // namespace orch::actors
