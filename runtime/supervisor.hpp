#pragma once
/// \file supervisor.hpp A reusable supervision building block on CAF actors.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <functional>
#include <string>
#include <vector>

#include "domain/time.hpp"

namespace orch::runtime {

/// Which children restart when one fails.
enum class restart_strategy {
  one_for_one,  ///< only the failed child
  rest_for_one  ///< the failed child and every child started after it
};

/// A child: a name (for logs and metrics) and how to start it.
struct child_spec {
  std::string name;
  std::function<caf::actor(caf::actor_system&)> start;
};

/// Restart intensity and backoff of one supervisor.
struct supervisor_options {
  std::string name = "supervisor";
  restart_strategy strategy = restart_strategy::one_for_one;
  int max_restarts = 5;  ///< more than this many restarts within `window` escalates
  millis window{30000};
  millis initial_backoff{100};  ///< doubles per restart up to max_backoff
  millis max_backoff{5000};
};

/// Spawns a supervisor that starts `children` in order and monitors them. A
/// child that terminates is restarted after a backoff; more than max_restarts
/// within the window makes the supervisor stop its children and exit with an
/// error, so its own supervisor sees the failure (escalation). `on_give_up` is
/// called first when set (the root uses it to exit the process non-zero).
/// When the supervisor stops, it stops its children.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options options,
                            std::vector<child_spec> children,
                            std::function<void(const std::string& why)> on_give_up = {});

}  // namespace orch::runtime
