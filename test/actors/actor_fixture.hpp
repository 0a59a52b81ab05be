#pragma once
/// \file actor_fixture.hpp Deterministic actor tests: CAF's test coordinator
/// runs every actor on one thread, message by message, and its clock moves
/// only when a test advances it. The actors under test talk to stand-ins
/// (plain actors registered under the well-known keys) and to stores the
/// tests script.

#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/test/dsl.hpp>
#include <memory>
#include <vector>

#include "actors/engine.hpp"
#include "actors/messages.hpp"

namespace orch::actor_test {

/// Registers the engine's message types, as the node does.
struct actor_test_config : caf::actor_system_config {
  actor_test_config() { actors::register_message_types(*this); }
};

/// Messages a stand-in received, in order.
template <class T>
using inbox = std::shared_ptr<std::vector<T>>;

template <class T>
inbox<T> make_inbox() {
  return std::make_shared<std::vector<T>>();
}

/// A test's actor system, a node named "n1" and a clean stop.
struct engine_fixture : test_coordinator_fixture<actor_test_config> {
  actors::engine_settings cfg;
  std::shared_ptr<actors::node_state> node = std::make_shared<actors::node_state>();

  engine_fixture() {
    cfg.node_name = "n1";
    node->incarnation = "inc";
    node->set_owner("n1/inc.p0");
  }

  // The engine's actors re-arm timers forever; they are stopped before the
  // base fixture runs the clock out.
  ~engine_fixture() override {
    for (auto& a : started_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Stops `h` with the fixture.
  template <class Handle>
  Handle keep(Handle h) {
    started_.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  /// Delivers every message waiting, without firing a timer.
  void deliver() { sched.run(); }

  /// Moves the clock on by `d`, fires the timers due, and delivers what follows.
  void advance(caf::timespan d) {
    advance_time(d);
    deliver();
  }

  /// Spawns a stand-in with `bhvr`, registered under `key` when it is not 0.
  template <class F>
  caf::actor stand_in(caf::atom_value key, F make_behavior) {
    auto a = sys.spawn([=](caf::event_based_actor* self) {
      if (key != caf::atom_value{0}) actors::register_as(self, key);
      return make_behavior(self);
    });
    return keep(a);
  }

 private:
  std::vector<caf::actor> started_;
};

/// A run due in a store, as a claim returns it.
inline persistence::claimed_run due_run(long long id, std::string task = "t") {
  persistence::claimed_run r;
  r.id = id;
  r.task = std::move(task);
  r.task_version = 1;
  r.params = "{}";
  r.attempt = 1;
  r.max_attempts = 1;
  r.trigger = "api";
  return r;
}

/// A run as a dispatcher hands it to a pool.
inline actors::run_assignment assignment(long long id, const std::string& owner) {
  actors::run_assignment a;
  a.run_id = id;
  a.attempt = 1;
  a.max_attempts = 1;
  a.owner = owner;
  a.task = "t";
  a.task_version = 1;
  a.task_json = "{}";
  a.params_json = "{}";
  a.trigger = "api";
  return a;
}

}  // namespace orch::actor_test
