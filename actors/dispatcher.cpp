#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <map>

#include "actors/demand_book.hpp"
#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "persistence/db.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/run_repo.hpp"
#include "persistence/task_repo.hpp"

namespace orch::actors {
namespace {

using claim_atom = caf::atom_constant<caf::atom("claim")>;

struct dispatcher_state {
  std::unique_ptr<persistence::session> db;
  bool claim_scheduled = false;
  std::map<std::pair<std::string, int>, std::string> task_json;
  // Pools by lease owner; a pool's target is the pool itself or, for a pool
  // on another node, the local cluster agent.
  demand_book<caf::actor> pools;
  sys_ms last_prune{};
};

caf::behavior dispatcher_actor(caf::stateful_actor<dispatcher_state>* self, engine_settings cfg,
                               std::shared_ptr<node_state> node) {
  auto& st = self->state;
  st.db = std::make_unique<persistence::session>(cfg.database_url);
  register_as(self, dispatcher_key);

  auto task_definition = [=](const std::string& task, int version) -> std::optional<std::string> {
    auto& cache = self->state.task_json;
    auto key = std::make_pair(task, version);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    auto row = persistence::task_repo::get_version(*self->state.db, task, version);
    if (!row) {
      // The worker fails a run whose definition is missing; a database error
      // here does the same, so it is reported.
      if (row.error().code != errc::not_found)
        report_db_error("dispatcher.task_definition", "dispatcher", row.error());
      return std::nullopt;
    }
    auto text = row->spec.dump();
    cache.emplace(key, text);
    return text;
  };

  // Claims up to `limit` runs for one pool and sends them; returns how many.
  auto claim_for = [=](const std::string& owner, const demand_book<caf::actor>::pool& p,
                       int limit) -> int {
    auto& s = self->state;
    persistence::claim_request req;
    req.owner = owner;
    req.node = p.node;
    req.queues = cfg.queues;
    req.limit = limit;
    req.lease = cfg.lease_timeout;
    auto claimed = persistence::run_repo::claim(*s.db, req);
    if (!db_ok(claimed, "dispatcher.claim", "dispatcher") || claimed->empty()) return 0;
    assignment_batch batch;
    auto now = to_epoch_ms(now_ms());
    for (auto& c : *claimed) {
      auto def = task_definition(c.task, c.task_version);
      run_assignment a;
      a.run_id = c.id;
      a.attempt = c.attempt;
      a.max_attempts = c.max_attempts;
      a.lost_leases = c.lost_leases;
      a.owner = owner;
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
    self->send(p.target, std::move(batch));
    return n;
  };

  auto claim = [=] {
    auto& s = self->state;
    s.claim_scheduled = false;
    if (node->draining) return;
    // A local pool of an earlier incarnation (stopped, not gone yet) must not
    // get runs under its dead owner: the new pool's recorder releases those.
    auto owner = node->owner();
    s.pools.forget_if([&](const std::string& o, const auto& p) { return p.local && o != owner; });
    s.pools.claim_in_turn(cfg.claim_batch, claim_for, [=] { return node->draining.load(); });
  };
  auto schedule_claim = [=] {
    // Wakes arriving while a claim is queued coalesce into that one claim.
    if (self->state.claim_scheduled) return;
    self->state.claim_scheduled = true;
    self->send(self, claim_atom::value);
  };

  self->set_down_handler([=](caf::down_msg& dm) {
    self->state.pools.forget_if(
        [&](const std::string&, const auto& p) { return p.target.address() == dm.source; });
  });

  self->send(self, tick_atom::value);
  self->send(self, maint_atom::value);

  return {
      [=](demand_atom, demand_msg& d) {
        static auto& handled = global_metrics().messages("dispatcher");
        handled.Increment();
        auto sender = caf::actor_cast<caf::actor>(self->current_sender());
        // Remote pools reach the dispatcher only through this node's cluster
        // agent, which checks the peer; nothing from another node comes here.
        if (!sender || sender.node() != self->node() || d.owner.empty()) return;
        auto& p = self->state.pools.add(d.owner, d.node, d.n, d.reset);
        if (p.target != sender) {
          p.target = sender;
          p.local = sender != lookup(self->system(), cluster_key);
          if (p.local) self->monitor(sender);
        }
        schedule_claim();
      },
      [=](forget_atom, const std::string& peer) {
        // A peer node is gone: its pools get nothing more.
        self->state.pools.forget_if(
            [&](const std::string&, const auto& p) { return !p.local && p.node == peer; });
      },
      [=](wake_atom) { schedule_claim(); },
      [=](claim_atom) { claim(); },
      [=](tick_atom) {
        // Pools and dispatchers start in any order: greet a local pool we have not heard from.
        auto pool = lookup(self->system(), pool_key);
        if (pool && !self->state.pools.knows(node->owner())) {
          self->send(pool, hello_atom::value);
        }
        // The poll fallback: NOTIFY and in-node wakes make this rarely needed.
        claim();
        self->delayed_send(self, cfg.poll_interval, tick_atom::value);
      },
      [=](maint_atom) {
        auto& s = self->state;
        auto requeued = persistence::run_repo::requeue_expired(*s.db, 1000, cfg.max_lost_leases);
        if (db_ok(requeued, "dispatcher.requeue", "dispatcher") && *requeued > 0) {
          global_metrics().leases_requeued.Increment(static_cast<double>(*requeued));
          log_warning("dispatcher",
                      "re-queued " + std::to_string(*requeued) + " run(s) whose lease expired");
          schedule_claim();
        }
        // The heartbeat backstop: a node that stopped writing its heartbeat is
        // declared down and its leases released, cluster messaging or not.
        auto dead = persistence::node_repo::expire(*s.db, cfg.node_name, cfg.node_timeout);
        if (db_ok(dead, "dispatcher.expire_nodes", "dispatcher")) {
          for (const auto& d : *dead) {
            auto n = persistence::run_repo::release_owner_prefix(
                *s.db, d.name + "/" + d.incarnation + ".", cfg.max_lost_leases);
            long long released = db_ok(n, "dispatcher.release_node", "dispatcher") ? *n : 0;
            global_metrics().leases_requeued.Increment(static_cast<double>(released));
            global_metrics().peers_down.Increment();
            log_warning("dispatcher", "node " + d.name + " missed its heartbeats: declared down, " +
                                          std::to_string(released) + " run(s) released");
            self->send(self, forget_atom::value, d.name);
            if (released > 0) schedule_claim();
          }
        }
        auto counts = persistence::run_repo::counts(*s.db);
        if (db_ok(counts, "dispatcher.counts", "dispatcher")) {
          global_metrics().queue_depth.Set(static_cast<double>(counts->pending));
          global_metrics().queue_running.Set(static_cast<double>(counts->running));
        }
        auto now = now_ms();
        if (now - s.last_prune > std::chrono::minutes(1)) {
          s.last_prune = now;
          auto pruned = persistence::run_repo::prune(*s.db, cfg.run_retention, 5000);
          if (db_ok(pruned, "dispatcher.prune", "dispatcher") && *pruned > 0) {
            global_metrics().runs_pruned.Increment(static_cast<double>(*pruned));
          }
          db_ok(persistence::node_repo::forget(*s.db, std::chrono::hours(24)),
                "dispatcher.forget_nodes", "dispatcher");
        }
        self->delayed_send(self, std::chrono::seconds(1), maint_atom::value);
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
