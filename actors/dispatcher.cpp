#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <map>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "persistence/db.hpp"
#include "persistence/run_repo.hpp"
#include "persistence/task_repo.hpp"

namespace orch::actors {
namespace {

using claim_atom = caf::atom_constant<caf::atom("claim")>;

struct dispatcher_state {
  std::unique_ptr<persistence::session> db;
  std::string owner;
  int demand = 0;
  bool claim_scheduled = false;
  bool released_dead = false;
  std::map<std::pair<std::string, int>, std::string> task_json;
  caf::actor_addr pool_seen;  // the pool whose demand we hold
  sys_ms last_prune{};
};

caf::behavior dispatcher_actor(caf::stateful_actor<dispatcher_state>* self, engine_settings cfg,
                               std::shared_ptr<node_state> node) {
  auto& st = self->state;
  st.db = std::make_unique<persistence::session>(cfg.database_url);
  st.owner = node->owner();
  register_as(self, dispatcher_key);

  auto release_dead = [=] {
    auto& s = self->state;
    if (s.released_dead) return;
    // The owner now, not ours: a dispatcher of an earlier incarnation that is
    // still finishing must never take the current pool's runs for dead ones.
    auto n = persistence::run_repo::release_dead_incarnations(*s.db, cfg.node_name, node->owner());
    if (!n) return;
    s.released_dead = true;
    if (*n > 0) {
      global_metrics().leases_requeued.Increment(static_cast<double>(*n));
      log_info("dispatcher",
               "released " + std::to_string(*n) + " run(s) of an earlier incarnation of this node");
    }
  };

  auto task_definition = [=](const std::string& task, int version) -> std::optional<std::string> {
    auto& cache = self->state.task_json;
    auto key = std::make_pair(task, version);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    auto row = persistence::task_repo::get_version(*self->state.db, task, version);
    if (!row) return std::nullopt;
    auto text = row->spec.dump();
    cache.emplace(key, text);
    return text;
  };

  auto claim = [=] {
    auto& s = self->state;
    s.claim_scheduled = false;
    if (node->draining || s.demand <= 0) return;
    // A dispatcher of an earlier pool incarnation (stopped, not gone yet) must
    // not claim under a dead owner: the new dispatcher would release those runs.
    if (s.owner != node->owner()) return;
    auto pool = lookup(self->system(), pool_key);
    if (!pool) return;
    release_dead();
    while (s.demand > 0 && !node->draining) {
      persistence::claim_request req;
      req.owner = s.owner;
      req.node = cfg.node_name;
      req.queues = cfg.queues;
      req.limit = std::min(s.demand, cfg.claim_batch);
      req.lease = cfg.lease_timeout;
      auto claimed = persistence::run_repo::claim(*s.db, req);
      if (!claimed) {
        global_metrics().db_errors.Increment();
        log_limited(log_level::error, "dispatcher.claim", "dispatcher",
                    "claim failed: " + claimed.error().message);
        return;
      }
      if (claimed->empty()) return;
      assignment_batch batch;
      auto now = to_epoch_ms(now_ms());
      for (auto& c : *claimed) {
        auto def = task_definition(c.task, c.task_version);
        run_assignment a;
        a.run_id = c.id;
        a.attempt = c.attempt;
        a.max_attempts = c.max_attempts;
        a.owner = s.owner;
        a.task = std::move(c.task);
        a.task_version = c.task_version;
        // An unreadable definition still reaches a worker, which fails the run clearly.
        a.task_json = def.value_or("{}");
        a.params_json = std::move(c.params);
        a.trigger = std::move(c.trigger);
        a.claimed_at_ms = now;
        batch.runs.push_back(std::move(a));
      }
      auto n = static_cast<int>(batch.runs.size());
      s.demand -= n;
      self->send(pool, std::move(batch));
      if (n < req.limit) return;
    }
  };
  auto schedule_claim = [=] {
    // Wakes arriving while a claim is queued coalesce into that one claim.
    if (self->state.claim_scheduled) return;
    self->state.claim_scheduled = true;
    self->send(self, claim_atom::value);
  };

  self->send(self, tick_atom::value);
  self->delayed_send(self, cfg.lease_timeout / 3, renew_atom::value);
  self->send(self, maint_atom::value);

  return {
      [=](demand_atom, int n, bool reset) {
        static auto& handled = global_metrics().messages("dispatcher");
        handled.Increment();
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (sender != self->state.pool_seen || reset) {
          // A new pool incarnation, or a pool that recounted its demand.
          self->state.pool_seen = sender;
          self->state.demand = 0;
        }
        self->state.demand += n;
        schedule_claim();
      },
      [=](wake_atom) { schedule_claim(); },
      [=](claim_atom) { claim(); },
      [=](tick_atom) {
        // Pools and dispatchers start in any order: greet a pool we have not heard from.
        auto pool = lookup(self->system(), pool_key);
        if (pool && pool.address() != self->state.pool_seen) self->send(pool, hello_atom::value);
        // The poll fallback: NOTIFY and in-node wakes make this rarely needed.
        claim();
        self->delayed_send(self, cfg.poll_interval, tick_atom::value);
      },
      [=](renew_atom) {
        auto flagged =
            persistence::run_repo::renew(*self->state.db, self->state.owner, cfg.lease_timeout);
        if (flagged) {
          auto pool = lookup(self->system(), pool_key);
          for (auto id : *flagged)
            if (pool) self->send(pool, cancel_atom::value, id);
        } else {
          log_limited(log_level::error, "dispatcher.renew", "dispatcher",
                      "lease renewal failed: " + flagged.error().message);
        }
        self->delayed_send(self, cfg.lease_timeout / 3, renew_atom::value);
      },
      [=](maint_atom) {
        auto& s = self->state;
        release_dead();
        auto requeued = persistence::run_repo::requeue_expired(*s.db, 1000);
        if (requeued && *requeued > 0) {
          global_metrics().leases_requeued.Increment(static_cast<double>(*requeued));
          log_warning("dispatcher",
                      "re-queued " + std::to_string(*requeued) + " run(s) whose lease expired");
          schedule_claim();
        }
        if (auto counts = persistence::run_repo::counts(*s.db)) {
          global_metrics().queue_depth.Set(static_cast<double>(counts->pending));
          global_metrics().queue_running.Set(static_cast<double>(counts->running));
        }
        auto now = now_ms();
        if (now - s.last_prune > std::chrono::minutes(1)) {
          s.last_prune = now;
          auto pruned = persistence::run_repo::prune(*s.db, cfg.run_retention, 5000);
          if (pruned && *pruned > 0) {
            global_metrics().runs_pruned.Increment(static_cast<double>(*pruned));
          }
        }
        self->delayed_send(self, std::chrono::seconds(2), maint_atom::value);
      },
      [=](crash_atom) -> caf::result<void> {
        throw std::runtime_error("injected dispatcher crash");
      },
  };
}

}  // namespace

caf::actor spawn_dispatcher(caf::actor_system& sys, const engine_settings& cfg,
                            std::shared_ptr<node_state> node) {
  return sys.spawn<caf::detached>(dispatcher_actor, cfg, std::move(node));
}

}  // namespace orch::actors
