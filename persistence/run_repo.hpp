#pragma once
/// \file run_repo.hpp Runs: submission, queries, claim, fenced completion, leases.

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/new_run.hpp"
#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/time.hpp"
#include "persistence/task_repo.hpp"

namespace orch::persistence {

class session;

/// A run to insert (defined in domain/, where runs are built).
using new_run = orch::new_run;

/// A submission's outcome: the run, and whether it was created now (201) or
/// already existed under the same idempotency key (200).
struct submit_outcome {
  run_record run;
  bool created = true;
};

/// Filters for listing runs, newest first.
struct run_filter {
  std::optional<std::string> task;
  std::optional<std::string> status;
  std::optional<long long> before_id;  ///< cursor
  int limit = 50;
};

/// What cancel did.
struct cancel_outcome {
  run_record run;
  bool was_running = false;  ///< the worker must kill it; the run stays running until then
};

/// A run handed to this dispatcher by a claim.
struct claimed_run {
  long long id = 0;
  std::string task;
  int task_version = 0;
  std::string params;  ///< JSON text
  int attempt = 0;
  int max_attempts = 1;
  std::string trigger;
  int lost_leases = 0;  ///< earlier executions that ended with their node
};

/// Parameters of a claim.
struct claim_request {
  std::string owner;  ///< lease owner: "<node>/<incarnation>"
  std::string node;
  std::vector<std::string> queues;  ///< empty: every queue
  int limit = 100;
  millis lease{15000};
};

/// A finished attempt to record, fenced by (id, attempt, owner).
struct completion {
  long long id = 0;
  int attempt = 0;
  std::string owner;
  std::string status;  ///< succeeded | failed | cancelled | pending (retry or release)
  std::optional<std::string> output;
  std::optional<std::string> error_code;
  std::optional<std::string> error_message;
  sys_ms available_at{};  ///< for status pending
  bool release = false;   ///< give the attempt back (shutdown)
  std::vector<step_record> steps;
};

/// Pending and running counts, in total and by queue.
struct queue_counts {
  long long pending = 0;
  long long running = 0;
  std::map<std::string, std::pair<long long, long long>> by_queue;
};

/// One submission of a group commit: the task's name and how to build the run
/// from the task's current version (validation of the run's params included).
struct submit_request {
  std::string task;
  std::function<result<new_run>(const task_row&)> build;
};

namespace run_repo {

/// Inserts a run (or returns the existing one with the same idempotency key).
result<submit_outcome> submit(session& db, const new_run& run);
/// Submits many independent runs in one transaction (group commit): one
/// lookup of the task heads, one insert. A request that fails (unknown task,
/// invalid params) gets its own error and does not affect the others; an
/// idempotency key already used returns the existing run (created false).
/// The outer error is for the transaction as a whole (database unavailable).
result<std::vector<result<submit_outcome>>> submit_many(session& db,
                                                        const std::vector<submit_request>& reqs);
/// Inserts all runs in one statement, all or none.
result<std::vector<run_record>> submit_batch(session& db, const std::vector<new_run>& runs);
/// One run; `with_steps` adds its step results. errc::not_found when absent.
result<run_record> get(session& db, long long id, bool with_steps);
/// Runs newest first.
result<std::vector<run_record>> list(session& db, const run_filter& filter);
/// Cancels a pending run at once, or flags a running one for its worker;
/// errc::conflict when the run has finished.
result<cancel_outcome> cancel(session& db, long long id);
/// A new run of the same task version and params; errc::conflict while active.
result<run_record> retry(session& db, long long id);

/// Claims up to `limit` due runs (FOR UPDATE SKIP LOCKED), honouring per-task
/// concurrency limits, and leases them to `owner`.
result<std::vector<claimed_run>> claim(session& db, const claim_request& req);
/// Records finished attempts in one statement; returns the ids whose fence held.
/// Step rows are written only for those.
result<std::vector<long long>> complete(session& db, const std::vector<completion>& done);
/// Extends the leases of the runs `ids` held by `owner` (runs a node claimed
/// but never received are left to expire): which are flagged for cancel, and
/// which the owner lost (a peer declared it dead, or the lease expired).
struct renew_outcome {
  std::vector<long long> flagged;  ///< renewed, and flagged for cancel
  std::vector<long long> lost;     ///< no longer leased to `owner` (released, finished)
};
result<renew_outcome> renew(session& db, const std::string& owner,
                            const std::vector<long long>& ids, millis lease);
/// Runs whose lease expired lose it (state machine: lease_lost): back to
/// pending without using the retry budget, failed with lease_lost once a run
/// has lost `max_lost_leases`; returns how many.
result<long long> requeue_expired(session& db, int limit, int max_lost_leases);
/// The runs leased by earlier incarnations of `node` lose their lease (they
/// died with it), as in requeue_expired.
result<long long> release_dead_incarnations(session& db, const std::string& node,
                                            const std::string& current_owner, int max_lost_leases);
/// The running runs whose lease owner starts with `prefix` (the incarnation of
/// a node declared dead) lose their lease, as in requeue_expired.
result<long long> release_owner_prefix(session& db, const std::string& prefix, int max_lost_leases);
/// Pending and running counts.
result<queue_counts> counts(session& db);
/// Deletes up to `limit` runs finished before now - retention, with their steps and logs.
result<long long> prune(session& db, millis retention, int limit);

}  // namespace run_repo
}  // namespace orch::persistence
