#pragma once
/// \file messages.hpp Message types between actors, registered with CAF so any
/// actor can live on another node.

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <string>
#include <vector>

namespace orch::actors {

using wake_atom = caf::atom_constant<caf::atom("wake")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using demand_atom = caf::atom_constant<caf::atom("demand")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using renew_atom = caf::atom_constant<caf::atom("renew")>;
using maint_atom = caf::atom_constant<caf::atom("maint")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;
using forget_atom = caf::atom_constant<caf::atom("forget")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;

/// Registers every message type that may cross nodes, under the names all
/// nodes (and any program that talks to them) must agree on.
void register_message_types(caf::actor_system_config& cfg);

/// Registry keys of the node's well-known actors.
inline constexpr caf::atom_value dispatcher_key = caf::atom("dispatcher");
inline constexpr caf::atom_value pool_key = caf::atom("pool");
inline constexpr caf::atom_value recorder_key = caf::atom("recorder");
inline constexpr caf::atom_value scheduler_key = caf::atom("scheduler");
inline constexpr caf::atom_value cluster_key = caf::atom("cluster");
inline constexpr caf::atom_value submitter_key = caf::atom("submitter");

/// A worker pool's request for runs: `n` more (or exactly `n` when `reset`),
/// leased to `owner`, recorded as executing on `node`.
struct demand_msg {
  std::string owner;
  std::string node;
  int n = 0;
  bool reset = false;
};

/// The leases a pool holds, to renew; answered with the ids flagged for cancel.
struct renew_msg {
  std::string owner;
  std::vector<long long> ids;
};

/// Who a cluster node is, exchanged when two nodes join.
struct peer_info {
  std::string name;
  std::string incarnation;  ///< of the process; lease owners start with name/incarnation.
  std::vector<std::string> roles;
  std::string advertise;
};

/// One run handed to a worker pool by a dispatcher.
struct run_assignment {
  long long run_id = 0;
  int attempt = 0;
  int max_attempts = 1;
  int lost_leases = 0;  ///< earlier executions that ended with their node
  std::string owner;    ///< lease owner, the fence of every write
  std::string task;
  int task_version = 0;
  std::string task_json;    ///< canonical task definition
  std::string params_json;  ///< merged params
  std::string trigger;
  long long claimed_at_ms = 0;
};

/// A batch of assignments (one message per claim).
struct assignment_batch {
  std::vector<run_assignment> runs;
};

/// One step's result inside a run result.
struct step_result_msg {
  int index = 0;
  std::string name;
  std::string status;
  long long started_ms = 0;
  long long finished_ms = 0;
  int exit_code = -1;  ///< -1: none
  bool has_exit_code = false;
  int http_status = 0;  ///< 0: none
  std::string output;
  std::string error_code;
  std::string error_message;
};

/// A finished attempt, sent by a worker to the recorder.
struct run_result {
  long long run_id = 0;
  int attempt = 0;
  std::string owner;
  std::string task;
  std::string status;  ///< succeeded | failed | cancelled | pending (retry or release)
  std::string output;
  std::string error_code;
  std::string error_message;
  long long available_at_ms = 0;  ///< when pending: next attempt not before
  bool release = false;
  long long started_ms = 0;
  long long finished_ms = 0;
  std::vector<step_result_msg> steps;
};

/// One run log line, sent by a worker to the recorder.
struct log_line_msg {
  long long run_id = 0;
  int attempt = 0;
  long long ts_ms = 0;
  std::string stream;
  std::string step;
  std::string line;
};

/// Log lines shipped together.
struct log_batch {
  std::vector<log_line_msg> lines;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, demand_msg& x) {
  return f(caf::meta::type_name("demand_msg"), x.owner, x.node, x.n, x.reset);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, renew_msg& x) {
  return f(caf::meta::type_name("renew_msg"), x.owner, x.ids);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_info& x) {
  return f(caf::meta::type_name("peer_info"), x.name, x.incarnation, x.roles, x.advertise);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_assignment& x) {
  return f(caf::meta::type_name("run_assignment"), x.run_id, x.attempt, x.max_attempts,
           x.lost_leases, x.owner, x.task, x.task_version, x.task_json, x.params_json, x.trigger,
           x.claimed_at_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, assignment_batch& x) {
  return f(caf::meta::type_name("assignment_batch"), x.runs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_result_msg& x) {
  return f(caf::meta::type_name("step_result_msg"), x.index, x.name, x.status, x.started_ms,
           x.finished_ms, x.exit_code, x.has_exit_code, x.http_status, x.output, x.error_code,
           x.error_message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_result& x) {
  return f(caf::meta::type_name("run_result"), x.run_id, x.attempt, x.owner, x.task, x.status,
           x.output, x.error_code, x.error_message, x.available_at_ms, x.release, x.started_ms,
           x.finished_ms, x.steps);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_line_msg& x) {
  return f(caf::meta::type_name("log_line_msg"), x.run_id, x.attempt, x.ts_ms, x.stream, x.step,
           x.line);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_batch& x) {
  return f(caf::meta::type_name("log_batch"), x.lines);
}

}  // namespace orch::actors
