#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "persistence/db.hpp"

namespace orch::actors {
namespace {

struct api_state {
  std::unique_ptr<persistence::session> db;
};

caf::behavior api_actor(caf::stateful_actor<api_state>* self, std::string url, int index) {
  self->state.db = std::make_unique<persistence::session>(std::move(url));
  register_as(self, api_executor_key(index));
  return {
      [=](api_call& call) {
        static const auto handled = global_metrics().handler("api", "api_call");
        auto timed = handled.time();
        try {
          call.fn(*self->state.db);
        } catch (const std::exception& e) {
          // Calls answer their own requests; anything escaping is a bug to log, not a crash.
          log_error("api", std::string("unhandled error in API call: ") + e.what());
        }
      },
      [=](crash_atom) -> caf::result<void> {
        throw std::runtime_error("injected API executor crash");
      },
  };
}

}  // namespace

caf::actor spawn_api_executor(caf::actor_system& sys, const std::string& database_url, int index) {
  return sys.spawn<caf::detached>(api_actor, database_url, index);
}

caf::atom_value api_executor_key(int index) {
  return caf::atom_from_string("api" + std::to_string(index));
}

}  // namespace orch::actors
