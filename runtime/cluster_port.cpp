#include "runtime/cluster_port.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/local_actor.hpp>
#include <mutex>
#include <stdexcept>

namespace orch::runtime {
namespace {

struct published {
  std::mutex mu;
  caf::actor_addr actor;
};

published& the_published() {
  static published p;
  return p;
}

}  // namespace

void configure_middleman(caf::actor_system_config& cfg, const cluster_config& cluster) {
  cfg.load<caf::io::middleman>();
  // Only nodes of this application complete CAF's handshake; the secret is
  // checked on top of it by the agents.
  cfg.set("middleman.app-identifiers", std::vector<std::string>{"orchestrator-cluster-1"});
  cfg.set("middleman.heartbeat-interval", caf::timespan{cluster.heartbeat});
  cfg.set("middleman.connection-timeout", caf::timespan{cluster.timeout});
}

void publish_on_cluster_port(caf::local_actor* self, const cluster_config& cfg) {
  auto& sys = self->system();
  auto& pub = the_published();
  std::lock_guard<std::mutex> lock(pub.mu);
  // The predecessor's address is all that is left of it; unpublish wants a handle.
  struct dead_handle {
    caf::actor_addr addr;
    const caf::actor_addr& address() const { return addr; }
  };
  if (pub.actor) {
    sys.middleman().unpublish(dead_handle{pub.actor}, static_cast<std::uint16_t>(cfg.port));
  }
  auto port = sys.middleman().publish(caf::actor_cast<caf::actor>(self),
                                      static_cast<std::uint16_t>(cfg.port), cfg.bind.c_str(), true);
  if (!port) {
    throw std::runtime_error("cannot listen for the cluster on " + cfg.bind + ":" +
                             std::to_string(cfg.port) + ": " + sys.render(port.error()));
  }
  pub.actor = self->address();
}

}  // namespace orch::runtime
