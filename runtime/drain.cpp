#include "runtime/drain.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "runtime/wait_until.hpp"

namespace orch::runtime {
namespace {

// Tells the pool to stop taking runs (`release`: and give back those it holds).
void tell_pool(caf::actor_system& sys, bool release) {
  if (auto pool = actors::lookup<actors::pool_entry>(sys)) {
    caf::anon_send(pool, actors::drain_atom::value, release);
  }
}

void wait_for_running(const actors::node_state& node, const config& cfg, int exit_code,
                      const std::atomic<bool>& second_signal) {
  if (exit_code == 0) {
    wait_until([&] { return node.active_runs == 0; }, cfg.shutdown_grace, &second_signal);
  }
  if (node.active_runs > 0) {
    log_info("serve", std::to_string(node.active_runs.load()) +
                          " run(s) still active after the grace period: releasing them");
  }
}

void wait_until_recorded(caf::actor_system& sys, const actors::node_state& node,
                         const config& cfg) {
  auto settled = [&] { return node.active_runs == 0 && node.unrecorded == 0; };
  if (!wait_until(settled, cfg.engine.kill_grace + std::chrono::seconds(10))) return;
  // A result may still be on its way: the pool stops counting a run when its
  // worker goes idle, the recorder counts a result only when it takes it from
  // its mailbox. A round trip to the recorder, sent after the pool went idle,
  // queues behind every such result.
  if (auto recorder = actors::lookup<actors::recorder_entry>(sys)) {
    caf::scoped_actor self{sys};
    self->request(recorder, std::chrono::seconds(5), actors::probe_atom::value)
        .receive([](bool) {}, [](caf::error&) {});
    wait_until(settled, std::chrono::seconds(10));
  }
}

}  // namespace

void drain(caf::actor_system& sys, actors::node_state& node, const config& cfg, int exit_code,
           const std::atomic<bool>& second_signal) {
  node.draining = true;
  node.ready = false;
  tell_pool(sys, false);
  wait_for_running(node, cfg, exit_code, second_signal);
  tell_pool(sys, true);
  wait_until_recorded(sys, node, cfg);
}

}  // namespace orch::runtime
