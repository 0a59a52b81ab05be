#pragma once
/// \file run.hpp The run state machine: the one place that says what happens
/// to a run on each event. persistence/ writes these transitions in SQL; the
/// pg test `run_state_machine_test` checks every (state, event) pair of that
/// SQL against this file.

#include <array>
#include <optional>
#include <string_view>

namespace orch {

/// Status of a run (and of a step result).
enum class run_status { pending, running, succeeded, failed, cancelled };

std::string_view to_string(run_status s);
std::optional<run_status> parse_run_status(std::string_view s);

/// Every status, in declaration order.
inline constexpr std::array<run_status, 5> all_run_statuses = {
    run_status::pending, run_status::running, run_status::succeeded, run_status::failed,
    run_status::cancelled};

/// Whether a status is final.
bool is_terminal(run_status s);

/// What can happen to a run.
enum class run_event {
  claim,       ///< a dispatcher leases the due run to a worker node
  cancel,      ///< a user asks for the run to be cancelled
  succeed,     ///< the attempt succeeded
  fail,        ///< the attempt failed on its own (step error, timeout, worker crash)
  stop,        ///< the worker stopped the attempt after a cancel request
  release,     ///< the node drains: the attempt is given back unused
  lease_lost,  ///< the node died, hung past its lease or was declared down
};

std::string_view to_string(run_event e);

/// Every event, in declaration order.
inline constexpr std::array<run_event, 7> all_run_events = {
    run_event::claim, run_event::cancel,  run_event::succeed,   run_event::fail,
    run_event::stop,  run_event::release, run_event::lease_lost};

/// Lost leases a run may take before it fails with `lease_lost`, by default.
inline constexpr int default_max_lost_leases = 3;

/// What the machine needs to know of a run besides its status.
struct run_counters {
  int attempt = 0;       ///< executions started: every claim counts one
  int max_attempts = 1;  ///< the task's retry budget
  int lost_leases = 0;   ///< executions that ended with their node, not on their own
  bool cancel_requested = false;
  /// Lost leases the run may take: at this many it fails with `lease_lost`
  /// (a run that takes its node down every time).
  int max_lost_leases = default_max_lost_leases;
};

/// Attempts charged to the task's retry budget: executions that ended on
/// their own. A lost lease is the node's failure, never the task's.
int attempts_used(const run_counters& c);

/// What an event does to a run.
struct run_transition {
  run_status next = run_status::pending;
  int attempt_delta = 0;          ///< +1 on a claim, -1 on a release
  int lost_lease_delta = 0;       ///< +1 when a lease is lost
  bool finished = false;          ///< the run ends now (finished_at is set)
  bool cancel_requested = false;  ///< the flag after the event
  /// The error the run carries after the event; empty: the attempt's own
  /// error (or none).
  std::string_view error_code;
};

/// The effect of `event` on a run in `status`; nullopt when the event does not
/// apply there (a claim of a running run, any event on a finished one), in
/// which case nothing changes.
std::optional<run_transition> next_state(run_status status, run_event event, const run_counters& c);

/// Whether some event takes a run from `from` to `to` (derived from
/// next_state): pending→running|cancelled, running→succeeded|failed|cancelled|
/// pending (retry, release, lease lost); nothing leaves a final status.
bool can_transition(run_status from, run_status to);

}  // namespace orch
