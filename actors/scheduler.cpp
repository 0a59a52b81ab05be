#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "persistence/db.hpp"
#include "persistence/schedule_repo.hpp"

namespace orch::actors {
namespace {

struct scheduler_state {
  std::unique_ptr<persistence::session> db;
  bool leader = false;
  unsigned long long generation = 0;
};

caf::behavior scheduler(caf::stateful_actor<scheduler_state>* self, engine_settings cfg,
                        std::shared_ptr<node_state> node) {
  self->state.db = std::make_unique<persistence::session>(cfg.database_url);
  register_as(self, scheduler_key);
  node->scheduler_ok = true;
  self->attach_functor([=](const caf::error&) {
    global_metrics().scheduler_leader.Set(0);
    node->is_leader = false;
    node->scheduler_ok = false;
  });

  auto lose_leadership = [=](const std::string& why) {
    auto& s = self->state;
    if (s.leader) log_warning("scheduler", "leadership lost: " + why);
    s.leader = false;
    node->is_leader = false;
    global_metrics().scheduler_leader.Set(0);
    // Closing the connection releases the advisory lock if it is still held.
    s.db->reset();
  };

  // One tick: take or confirm leadership, fire what is due, sleep until the next fire.
  auto tick = [=]() -> millis {
    auto& s = self->state;
    if (!s.leader) {
      auto got = persistence::schedule_repo::try_lead(*s.db, scheduler_leader_key);
      if (!db_ok(got, "scheduler.try_lead", "scheduler") || !*got) return millis(1000);
      s.leader = true;
      node->is_leader = true;
      global_metrics().scheduler_leader.Set(1);
      log_info("scheduler", "this node leads the schedules");
    }
    auto now = now_ms();
    auto fired = persistence::schedule_repo::fire_due(*s.db, now, cfg.misfire_grace, 500,
                                                      scheduler_leader_key);
    if (!fired) {
      report_db_error("scheduler.fire", "scheduler", fired.error());
      lose_leadership(fired.error().message);
      return millis(1000);
    }
    bool any = false;
    auto& m = global_metrics();
    for (const auto& f : *fired) {
      if (f.missed > 0) m.missed_schedules.Increment(static_cast<double>(f.missed));
      if (f.skipped_overlap > 0) m.overlap_skips.Increment(static_cast<double>(f.skipped_overlap));
      for (auto t : f.fire_times) {
        m.schedule_triggers.Increment();
        m.scheduler_drift.Observe(std::max(
            0.0,
            std::chrono::duration<double>(now - std::chrono::time_point_cast<millis>(t)).count()));
        any = true;
      }
    }
    if (any) {
      if (auto d = lookup<dispatcher_entry>(self->system())) self->send(d, wake_atom::value);
    }
    auto next = persistence::schedule_repo::next_due(*s.db);
    if (!db_ok(next, "scheduler.next_due", "scheduler")) return millis(500);
    auto after = now_ms();
    if (!*next) return cfg.scheduler_interval;
    auto wait = std::chrono::duration_cast<millis>(**next - after);
    // Due already but not fired (another leader's row lock): check again soon.
    if (wait <= millis(0)) return fired->empty() ? millis(50) : millis(1);
    return std::min(wait, cfg.scheduler_interval);
  };

  auto arm = [=](millis delay) {
    auto gen = ++self->state.generation;
    self->delayed_send(self, delay, tick_atom::value, gen);
  };
  arm(millis(0));

  return {
      [=](tick_atom, unsigned long long gen) {
        static const auto handled = global_metrics().handler("scheduler", "tick");
        auto timed = handled.time();
        if (gen != self->state.generation) return;  // superseded by a wake
        arm(tick());
      },
      // A schedule changed: recompute the next wake-up now.
      [=](wake_atom) { arm(millis(0)); },
      [=](crash_atom) -> caf::result<void> {
        throw std::runtime_error("injected scheduler crash");
      },
  };
}

}  // namespace

caf::actor spawn_scheduler(caf::actor_system& sys, const engine_settings& cfg,
                           std::shared_ptr<node_state> node) {
  return sys.spawn<caf::detached>(scheduler, cfg, std::move(node));
}

}  // namespace orch::actors
