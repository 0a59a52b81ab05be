#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>
#include <map>
#include <mutex>

#include "actors/protocols.hpp"

namespace orch::actors {
namespace {

// The node's well-known actors. Not CAF's registry: a remote node can query
// that one by name (middleman remote_lookup), and nothing but the cluster agent
// may be reachable from other nodes. Weak handles: an entry never keeps an
// actor alive.
struct directory {
  std::mutex mu;
  std::map<std::pair<const caf::actor_system*, caf::atom_value>, caf::actor_addr> entries;
};

directory& the_directory() {
  static directory d;
  return d;
}

}  // namespace

caf::actor lookup(caf::actor_system& sys, caf::atom_value key) {
  auto& d = the_directory();
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.entries.find({&sys, key});
  if (it == d.entries.end()) return {};
  return caf::actor_cast<caf::actor>(it->second);
}

void register_as(caf::local_actor* self, caf::atom_value key) {
  {
    auto& d = the_directory();
    std::lock_guard<std::mutex> lock(d.mu);
    d.entries[{&self->system(), key}] = self->address();
  }
  self->attach_functor([sys = &self->system(), key, addr = self->address()](const caf::error&) {
    auto& d = the_directory();
    std::lock_guard<std::mutex> lock(d.mu);
    auto it = d.entries.find({sys, key});
    if (it != d.entries.end() && it->second == addr) d.entries.erase(it);
  });
}

}  // namespace orch::actors
