#include "runtime/supervisor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "domain/restart_policy.hpp"

namespace orch::runtime {
namespace {

struct supervisor_state {
  std::vector<child_spec> specs;
  std::vector<caf::actor> running;  // invalid while a child waits for its restart
  std::unique_ptr<restart_policy> policy;

  // Children stop with their supervisor, last started first. CAF destroys the
  // state before it runs attached functors, so this cannot be one of those.
  ~supervisor_state() {
    for (auto i = running.size(); i-- > 0;) {
      if (running[i]) caf::anon_send_exit(running[i], caf::exit_reason::user_shutdown);
    }
  }
};

caf::behavior supervisor_actor(caf::stateful_actor<supervisor_state>* self, supervisor_options opt,
                               std::vector<child_spec> children,
                               std::function<void(const std::string&)> on_give_up) {
  auto& st = self->state;
  st.specs = std::move(children);
  st.running.resize(st.specs.size());
  st.policy = std::make_unique<restart_policy>(opt.max_restarts, opt.window, opt.initial_backoff,
                                               opt.max_backoff);
  auto start = [=](std::size_t i) {
    auto& s = self->state;
    auto child = s.specs[i].start(self->system());
    self->monitor(child);
    s.running[i] = child;
  };
  auto stop = [=](std::size_t i) {
    auto& s = self->state;
    if (!s.running[i]) return;
    self->demonitor(s.running[i]);
    self->send_exit(s.running[i], caf::exit_reason::user_shutdown);
    s.running[i] = caf::actor{};
  };
  for (std::size_t i = 0; i < st.specs.size(); ++i) start(i);

  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    std::size_t i = 0;
    while (i < s.running.size() && s.running[i].address() != dm.source) ++i;
    if (i == s.running.size()) return;
    s.running[i] = caf::actor{};
    const auto& child = s.specs[i].name;
    log_error(opt.name, "child '" + child + "' terminated: " + caf::to_string(dm.reason));
    auto delay = s.policy->on_failure(now_ms());
    if (!delay) {
      std::string why = "supervisor '" + opt.name + "' gave up: more than " +
                        std::to_string(opt.max_restarts) + " restarts within " +
                        format_duration(opt.window) + " (last: '" + child + "')";
      log_error(opt.name, why);
      if (on_give_up) on_give_up(why);
      for (std::size_t j = 0; j < s.running.size(); ++j) stop(j);
      self->quit(caf::make_error(caf::sec::runtime_error, why));
      return;
    }
    std::size_t last = opt.strategy == restart_strategy::rest_for_one ? s.running.size() : i + 1;
    for (std::size_t j = i + 1; j < last; ++j) stop(j);
    actors::global_metrics().actor_restarts.Add({{"actor", child}}).Increment();
    log_warning(opt.name, "restarting '" + child + "' in " + format_duration(*delay));
    self->delayed_send(self, *delay, actors::restart_atom::value, static_cast<uint64_t>(i),
                       static_cast<uint64_t>(last));
  });

  return {
      [=](actors::restart_atom, uint64_t first, uint64_t last) {
        for (auto j = first; j < last; ++j) {
          if (!self->state.running[j]) start(j);
        }
      },
  };
}

}  // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options options,
                            std::vector<child_spec> children,
                            std::function<void(const std::string& why)> on_give_up) {
  return sys.spawn(supervisor_actor, std::move(options), std::move(children),
                   std::move(on_give_up));
}

}  // namespace orch::runtime
