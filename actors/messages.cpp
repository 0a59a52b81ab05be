#include "actors/messages.hpp"

#include <caf/actor_system_config.hpp>

namespace orch::actors {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<run_assignment>("orch.run_assignment");
  cfg.add_message_type<assignment_batch>("orch.assignment_batch");
  cfg.add_message_type<step_result_msg>("orch.step_result");
  cfg.add_message_type<std::vector<step_result_msg>>("orch.step_results");
  cfg.add_message_type<run_result>("orch.run_result");
  cfg.add_message_type<log_line_msg>("orch.log_line");
  cfg.add_message_type<std::vector<log_line_msg>>("orch.log_lines");
  cfg.add_message_type<log_batch>("orch.log_batch");
  cfg.add_message_type<demand_msg>("orch.demand");
  cfg.add_message_type<renew_msg>("orch.renew");
  cfg.add_message_type<peer_info>("orch.peer_info");
  cfg.add_message_type<std::vector<long long>>("orch.ids");
}

}  // namespace orch::actors
