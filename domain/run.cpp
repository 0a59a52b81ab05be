#include "domain/run.hpp"

namespace orch {

std::string_view to_string(run_status s) {
  switch (s) {
    case run_status::pending:
      return "pending";
    case run_status::running:
      return "running";
    case run_status::succeeded:
      return "succeeded";
    case run_status::failed:
      return "failed";
    case run_status::cancelled:
      return "cancelled";
  }
  return "failed";
}

std::optional<run_status> parse_run_status(std::string_view s) {
  for (auto st : all_run_statuses) {
    if (to_string(st) == s) return st;
  }
  return std::nullopt;
}

bool is_terminal(run_status s) {
  return s == run_status::succeeded || s == run_status::failed || s == run_status::cancelled;
}

std::string_view to_string(run_event e) {
  switch (e) {
    case run_event::claim:
      return "claim";
    case run_event::cancel:
      return "cancel";
    case run_event::succeed:
      return "succeed";
    case run_event::fail:
      return "fail";
    case run_event::stop:
      return "stop";
    case run_event::release:
      return "release";
    case run_event::lease_lost:
      return "lease_lost";
  }
  return "unknown";
}

int attempts_used(const run_counters& c) {
  return c.attempt - c.lost_leases;
}

namespace {

run_transition ends(run_status s, std::string_view error_code = {}) {
  run_transition t;
  t.next = s;
  t.finished = true;
  t.error_code = error_code;
  return t;
}

// An attempt that would go back to pending while a cancel is requested ends
// cancelled instead: the cancel was acknowledged and must not be lost.
run_transition back_to_pending(const run_counters& c, std::string_view error_code = {}) {
  if (c.cancel_requested) return ends(run_status::cancelled, "cancelled");
  run_transition t;
  t.next = run_status::pending;
  t.error_code = error_code;
  return t;
}

std::optional<run_transition> from_pending(run_event e) {
  switch (e) {
    case run_event::claim: {
      run_transition t;
      t.next = run_status::running;
      t.attempt_delta = 1;
      return t;
    }
    case run_event::cancel: {
      auto t = ends(run_status::cancelled, "cancelled");
      t.cancel_requested = true;
      return t;
    }
    default:
      return std::nullopt;  // only a running run has an attempt to end
  }
}

std::optional<run_transition> from_running(run_event e, const run_counters& c) {
  switch (e) {
    case run_event::claim:
      return std::nullopt;
    case run_event::cancel: {
      // The worker stops it; the run stays running until the worker says so.
      run_transition t;
      t.next = run_status::running;
      t.cancel_requested = true;
      return t;
    }
    case run_event::succeed:
      return ends(run_status::succeeded);
    case run_event::fail:
      if (attempts_used(c) < c.max_attempts) return back_to_pending(c);
      return ends(run_status::failed);
    case run_event::stop:
      return ends(run_status::cancelled);
    case run_event::release: {
      auto t = back_to_pending(c);
      t.attempt_delta = -1;
      return t;
    }
    case run_event::lease_lost: {
      run_transition t;
      if (c.cancel_requested) {
        t = ends(run_status::cancelled, "cancelled");
      } else if (c.lost_leases + 1 >= c.max_lost_leases) {
        t = ends(run_status::failed, "lease_lost");
      } else {
        t = back_to_pending(c, "lease_lost");
      }
      t.lost_lease_delta = 1;
      return t;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<run_transition> next_state(run_status status, run_event event,
                                         const run_counters& c) {
  switch (status) {
    case run_status::pending:
      return from_pending(event);
    case run_status::running:
      return from_running(event, c);
    case run_status::succeeded:
    case run_status::failed:
    case run_status::cancelled:
      return std::nullopt;
  }
  return std::nullopt;
}

bool can_transition(run_status from, run_status to) {
  if (from == to) return false;
  // Counters that reach every branch: budget left or spent, lost-lease cap
  // reached or not, cancel requested or not.
  for (int attempt : {1, 2}) {
    for (int lost : {0, 1}) {
      for (bool cancel : {false, true}) {
        run_counters c{attempt, 2, lost, cancel, 2};
        for (auto e : all_run_events) {
          auto t = next_state(from, e, c);
          if (t && t->next == to) return true;
        }
      }
    }
  }
  return false;
}

}  // namespace orch
