#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "persistence/db.hpp"

namespace orch::actors {
namespace {

constexpr std::size_t max_group = 1000;

// The protocol plus the flush the submitter sends itself.
using submitter_impl = submitter_actor::extend<caf::reacts_to<flush_atom>>;

struct submitter_state {
  std::unique_ptr<persistence::session> db;
  std::vector<submit_call> pending;
  bool flush_queued = false;

  // A submitter that dies still answers the submissions it gathered.
  ~submitter_state() {
    for (auto& c : pending) c.reply(error_info{errc::unavailable, "the submitter restarted", ""});
  }
};

submitter_impl::behavior_type submitter(submitter_impl::stateful_pointer<submitter_state> self,
                                        engine_settings cfg) {
  self->state.db = std::make_unique<persistence::session>(cfg.database_url);
  register_as(self, submitter_key);
  return {
      [=](submit_call& call) {
        static const auto handled = global_metrics().handler("submitter", "submit");
        auto timed = handled.time();
        auto& st = self->state;
        st.pending.push_back(std::move(call));
        // The flush goes behind every submission already in the mailbox, so all
        // of them share its transaction; no timer, no added latency.
        if (!st.flush_queued) {
          st.flush_queued = true;
          self->send(self, flush_atom::value);
        }
      },
      [=](flush_atom) {
        auto& st = self->state;
        st.flush_queued = false;
        std::vector<submit_call> group;
        if (st.pending.size() <= max_group) {
          group.swap(st.pending);
        } else {
          group.assign(std::make_move_iterator(st.pending.begin()),
                       std::make_move_iterator(st.pending.begin() + max_group));
          st.pending.erase(st.pending.begin(), st.pending.begin() + max_group);
          st.flush_queued = true;
          self->send(self, flush_atom::value);
        }
        std::vector<persistence::submit_request> reqs;
        reqs.reserve(group.size());
        for (auto& c : group) reqs.push_back(c.request);
        auto out = persistence::run_repo::submit_many(*st.db, reqs);
        bool any_created = false;
        for (std::size_t i = 0; i < group.size(); ++i) {
          if (!out) {
            group[i].reply(out.error());
            continue;
          }
          auto& r = (*out)[i];
          any_created = any_created || (r && r->created);
          group[i].reply(std::move(r));
        }
        if (!out) {
          global_metrics().db_errors.Increment();
          log_limited(log_level::error, "submitter.db", "submitter",
                      "submissions failed: " + out.error().message);
        }
        if (any_created) {
          if (auto d = lookup<dispatcher_entry>(self->system())) self->send(d, wake_atom::value);
        }
      },
      [=](crash_atom) -> caf::result<void> {
        throw std::runtime_error("injected submitter crash");
      },
  };
}

}  // namespace

submitter_actor spawn_submitter(caf::actor_system& sys, const engine_settings& cfg) {
  return caf::actor_cast<submitter_actor>(sys.spawn<caf::detached>(submitter, cfg));
}

}  // namespace orch::actors
