#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <map>

#include "actors/demand_book.hpp"
#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"

namespace orch::actors {
namespace {

using claim_atom = caf::atom_constant<caf::atom("claim")>;

// The protocol plus the timers the dispatcher sends itself.
using dispatcher_impl =
    dispatcher_actor::extend<caf::reacts_to<claim_atom>, caf::reacts_to<tick_atom>,
                             caf::reacts_to<maint_atom>>;

struct dispatcher_state {
  std::unique_ptr<dispatch_store> db;
  bool claim_scheduled = false;
  std::map<std::pair<std::string, int>, std::string> task_json;
  // Pools by lease owner; a pool's target is the pool itself or, for a pool
  // on another node, the local cluster agent.
  demand_book<batch_sink_actor> pools;
  sys_ms last_prune{};
};

using dispatcher_ptr = dispatcher_impl::stateful_pointer<dispatcher_state>;

// A peer node is gone: its pools get nothing more.
void forget_node(dispatcher_ptr self, const std::string& peer) {
  self->state.pools.forget_if(
      [&](const std::string&, const auto& p) { return !p.local && p.node == peer; });
}

dispatcher_impl::behavior_type dispatcher(dispatcher_ptr self, engine_settings cfg,
                                          std::shared_ptr<node_state> node,
                                          store_opener<dispatch_store> open) {
  auto& st = self->state;
  st.db = open();
  register_as(self, dispatcher_key);

  auto task_definition = [=](const std::string& task, int version) -> std::optional<std::string> {
    auto& cache = self->state.task_json;
    auto key = std::make_pair(task, version);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    auto text = self->state.db->task_definition(task, version);
    if (!text) {
      // The worker fails a run whose definition is missing; a database error
      // here does the same, so it is reported.
      if (text.error().code != errc::not_found)
        report_db_error("dispatcher.task_definition", "dispatcher", text.error());
      return std::nullopt;
    }
    cache.emplace(key, *text);
    return *text;
  };

  // Claims up to `limit` runs for one pool and sends them; returns how many.
  auto claim_for = [=](const std::string& owner, const demand_book<batch_sink_actor>::pool& p,
                       int limit) -> int {
    auto& s = self->state;
    auto claimed = s.db->claim({.owner = owner,
                                .node = p.node,
                                .queues = cfg.queues,
                                .limit = limit,
                                .lease = cfg.lease_timeout});
    if (!db_ok(claimed, "dispatcher.claim", "dispatcher") || claimed->empty()) return 0;
    assignment_batch batch;
    auto now = to_epoch_ms(now_ms());
    for (auto& c : *claimed) {
      auto def = task_definition(c.task, c.task_version);
      batch.runs.push_back({.run_id = c.id,
                            .attempt = c.attempt,
                            .max_attempts = c.max_attempts,
                            .lost_leases = c.lost_leases,
                            .owner = owner,
                            .task = std::move(c.task),
                            .task_version = c.task_version,
                            // An unreadable definition still reaches a worker,
                            // which fails the run clearly.
                            .task_json = def.value_or("{}"),
                            .params_json = std::move(c.params),
                            .trigger = std::move(c.trigger),
                            .claimed_at_ms = now});
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
        static const auto handled = global_metrics().handler("dispatcher", "demand");
        auto timed = handled.time();
        auto sender = caf::actor_cast<batch_sink_actor>(self->current_sender());
        // Remote pools reach the dispatcher only through this node's cluster
        // agent, which checks the peer; nothing from another node comes here.
        if (!sender || sender.node() != self->node() || d.owner.empty()) return;
        auto& p = self->state.pools.add(d.owner, d.node, d.n, d.reset);
        if (p.target != sender) {
          p.target = sender;
          p.local = sender !=
                    caf::actor_cast<batch_sink_actor>(lookup<cluster_agent_entry>(self->system()));
          if (p.local) self->monitor(sender);
        }
        schedule_claim();
      },
      [=](forget_atom, const std::string& peer) { forget_node(self, peer); },
      [=](wake_atom) { schedule_claim(); },
      [=](claim_atom) { claim(); },
      [=](tick_atom) {
        // Pools and dispatchers start in any order: greet a local pool we have not heard from.
        auto pool = lookup<pool_entry>(self->system());
        if (pool && !self->state.pools.knows(node->owner())) {
          self->send(pool, hello_atom::value);
        }
        // The poll fallback: NOTIFY and in-node wakes make this rarely needed.
        claim();
        self->delayed_send(self, cfg.poll_interval, tick_atom::value);
      },
      [=](maint_atom) {
        auto& s = self->state;
        auto requeued = s.db->requeue_expired(1000, cfg.max_lost_leases);
        if (db_ok(requeued, "dispatcher.requeue", "dispatcher") && *requeued > 0) {
          global_metrics().leases_requeued.Increment(static_cast<double>(*requeued));
          log_warning("dispatcher",
                      "re-queued " + std::to_string(*requeued) + " run(s) whose lease expired");
          schedule_claim();
        }
        // The heartbeat backstop: a node that stopped writing its heartbeat is
        // declared down and its leases released, cluster messaging or not.
        auto dead = s.db->expire_nodes(cfg.node_name, cfg.node_timeout);
        if (db_ok(dead, "dispatcher.expire_nodes", "dispatcher")) {
          for (const auto& d : *dead) {
            auto n =
                s.db->release_owner_prefix(d.name + "/" + d.incarnation + ".", cfg.max_lost_leases);
            long long released = db_ok(n, "dispatcher.release_node", "dispatcher") ? *n : 0;
            global_metrics().leases_requeued.Increment(static_cast<double>(released));
            global_metrics().peers_down.Increment();
            log_warning("dispatcher", "node " + d.name + " missed its heartbeats: declared down, " +
                                          std::to_string(released) + " run(s) released");
            forget_node(self, d.name);
            if (released > 0) schedule_claim();
          }
        }
        auto counts = s.db->counts();
        if (db_ok(counts, "dispatcher.counts", "dispatcher")) {
          global_metrics().queue_depth.Set(static_cast<double>(counts->pending));
          global_metrics().queue_running.Set(static_cast<double>(counts->running));
        }
        auto now = now_ms();
        if (now - s.last_prune > std::chrono::minutes(1)) {
          s.last_prune = now;
          auto pruned = s.db->prune(cfg.run_retention, 5000);
          if (db_ok(pruned, "dispatcher.prune", "dispatcher") && *pruned > 0) {
            global_metrics().runs_pruned.Increment(static_cast<double>(*pruned));
          }
          db_ok(s.db->forget_nodes(std::chrono::hours(24)), "dispatcher.forget_nodes",
                "dispatcher");
        }
        self->delayed_send(self, std::chrono::seconds(1), maint_atom::value);
      },
      [=](crash_atom) -> caf::result<void> {
        throw std::runtime_error("injected dispatcher crash");
      },
  };
}

}  // namespace

dispatcher_actor spawn_dispatcher(caf::actor_system& sys, const engine_settings& cfg,
                                  std::shared_ptr<node_state> node,
                                  store_opener<dispatch_store> open, spawn_mode mode) {
  if (!open) open = postgres_dispatch_store(cfg.database_url);
  auto impl = mode == spawn_mode::detached
                  ? sys.spawn<caf::detached>(dispatcher, cfg, std::move(node), std::move(open))
                  : sys.spawn(dispatcher, cfg, std::move(node), std::move(open));
  return caf::actor_cast<dispatcher_actor>(impl);
}

}  // namespace orch::actors
