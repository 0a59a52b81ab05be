#include <algorithm>
#include <set>
#include <tuple>

#include "persistence/db.hpp"
#include "persistence/run_repo.hpp"
#include "persistence/sql_util.hpp"

// The lease side of runs: claims, fenced completions, renewals and the three
// ways a lease is lost (the run state machine's claim, succeed/fail/stop/
// release and lease_lost events; domain/run.hpp).

namespace orch::persistence {
namespace {

// Lease loss (state machine: running + lease_lost), shared by lease expiry,
// dead-incarnation release and the release of a peer declared down: the run
// goes back to pending without using the task's retry budget, counting a lost
// lease; at the cap ($2) it fails with lease_lost; a requested cancel ends it.
// $1 is the limit; `where` may use $3 and $4.
std::string lease_lost_sql(const std::string& where) {
  return "WITH e AS MATERIALIZED (SELECT id FROM runs WHERE status = 'running' AND " + where +
         " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) "
         "UPDATE runs r SET "
         "status = CASE WHEN r.cancel_requested THEN 'cancelled' "
         "  WHEN r.lost_leases + 1 >= $2 THEN 'failed' ELSE 'pending' END, "
         "finished_at = CASE WHEN r.cancel_requested OR r.lost_leases + 1 >= $2 "
         "  THEN now() END, "
         "lost_leases = r.lost_leases + 1, "
         "error_code = CASE WHEN r.cancel_requested THEN 'cancelled' ELSE 'lease_lost' END, "
         "error_message = CASE WHEN r.cancel_requested THEN 'cancelled' "
         "  WHEN r.lost_leases + 1 >= $2 THEN 'lease lost ' || (r.lost_leases + 1) || "
         "  ' times, the last on node ' || coalesce(r.node, '?') "
         "  ELSE 'lease lost: node ' || coalesce(r.node, '?') || ' stopped renewing' END, "
         // available_at stays: a released run keeps its place at the head of
         // the queue instead of waiting behind everything submitted since.
         "lease_owner = NULL, lease_expires_at = NULL "
         "WHERE r.id = ANY(ARRAY(SELECT id FROM e))";
}

// The claim (state machine: pending + claim): due pending runs matching
// `where`, highest priority first, leased to $3 on node $2 for $4 ms; $1 is
// the limit, $5 the queues (NULL: all).
std::string claim_sql(const std::string& where) {
  return "WITH c AS MATERIALIZED (SELECT id FROM runs WHERE status = 'pending' "
         "AND available_at <= now() AND " +
         where +
         " AND ($5::text[] IS NULL OR queue = ANY($5::text[])) "
         "ORDER BY priority DESC, available_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) "
         "UPDATE runs r SET status = 'running', attempt = r.attempt + 1, started_at = now(), "
         "node = $2, lease_owner = $3, lease_expires_at = now() + $4 * interval '1 millisecond' "
         // = ANY(ARRAY(...)) makes the planner fetch the claimed rows by primary key;
         // a join with the CTE can turn into a sequential scan of the whole table.
         "WHERE r.id = ANY(ARRAY(SELECT id FROM c)) "
         "RETURNING r.id, r.task, r.task_version, r.params::text, r.attempt, r.max_attempts, "
         "r.trigger, r.lost_leases";
}

// Claims and completions may be lost by a database crash without breaking a
// guarantee: a lost claim or completion leaves the run to lease expiry and a
// re-run (at-least-once), and fencing keeps recording exactly-once. Not waiting
// for the WAL flush keeps the burn-down pipeline from stalling on fsync.
// Submissions keep synchronous commit: an acknowledged run is durable.
void async_commit(pqxx::work& tx) {
  tx.exec("SET LOCAL synchronous_commit = off");
}

}  // namespace

void prepare_run_lease_statements(pqxx::connection& c) {
  c.prepare("run_claim", claim_sql("concurrency_limit = 0"));
  c.prepare("run_limited_tasks",
            "SELECT task, min(concurrency_limit) FROM runs WHERE status = 'pending' "
            "AND concurrency_limit > 0 AND available_at <= now() "
            // Task order: claimers take the per-task locks in one order, so never deadlock.
            "AND ($1::text[] IS NULL OR queue = ANY($1::text[])) GROUP BY task ORDER BY task "
            "LIMIT 100");
  c.prepare("run_claim_task", claim_sql("concurrency_limit > 0 AND task = $6"));
  c.prepare("run_complete",
            "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, attempt int, "
            "owner text, status text, output text, error_code text, error_message text, "
            "available_ms bigint, release boolean)), "
            // A retry or release of a run whose cancel was requested ends it
            // cancelled: the cancel was acknowledged and must not be lost.
            "upd AS (UPDATE runs r SET status = CASE WHEN r.cancel_requested AND "
            "  x.status = 'pending' THEN 'cancelled' ELSE x.status END, "
            "finished_at = CASE WHEN x.status IN ('succeeded', 'failed', 'cancelled') "
            "  OR r.cancel_requested THEN now() END, "
            "available_at = CASE WHEN x.status = 'pending' "
            "  THEN to_timestamp(x.available_ms / 1000.0) ELSE r.available_at END, "
            "attempt = CASE WHEN x.release THEN r.attempt - 1 ELSE r.attempt END, "
            "output = x.output, "
            "error_code = CASE WHEN r.cancel_requested AND x.status = 'pending' "
            "  THEN 'cancelled' ELSE x.error_code END, "
            "error_message = CASE WHEN r.cancel_requested AND x.status = 'pending' "
            "  THEN 'cancelled' ELSE x.error_message END, "
            "lease_owner = NULL, lease_expires_at = NULL, cancel_requested = false "
            // The = ANY(ARRAY(...)) lets the planner fetch by primary key instead of
            // reading every running row (and its dead versions) through the partial index.
            "FROM x WHERE r.id = ANY(ARRAY(SELECT id FROM x)) AND r.id = x.id "
            "AND r.attempt = x.attempt AND r.lease_owner = x.owner "
            "AND r.status = 'running' RETURNING r.id, x.attempt AS attempt, x.release), "
            "ins AS (INSERT INTO run_steps (run_id, attempt, idx, name, status, started_at, "
            "finished_at, exit_code, http_status, output, error_code, error_message) "
            "SELECT s.run_id, s.attempt, s.idx, s.name, s.status, "
            "to_timestamp(s.started_ms / 1000.0), to_timestamp(s.finished_ms / 1000.0), "
            "s.exit_code, s.http_status, s.output, s.error_code, s.error_message "
            "FROM jsonb_to_recordset($2::jsonb) AS s(run_id bigint, attempt int, idx int, "
            "name text, status text, started_ms bigint, finished_ms bigint, exit_code int, "
            "http_status int, output text, error_code text, error_message text) "
            // No ON CONFLICT: the fence admits one completion per attempt, and
            // a speculative insert would cost more than the insert itself.
            "JOIN upd ON upd.id = s.run_id AND upd.attempt = s.attempt AND NOT upd.release) "
            "SELECT id FROM upd");
  c.prepare("run_renew",
            "UPDATE runs SET lease_expires_at = now() + $2 * interval '1 millisecond' "
            "WHERE lease_owner = $1 AND status = 'running' AND id = ANY($3::bigint[]) "
            "RETURNING id, cancel_requested");
  c.prepare("run_requeue_expired", lease_lost_sql("lease_expires_at < now()"));
  c.prepare("run_release_dead",
            lease_lost_sql("split_part(lease_owner, '/', 1) = $3 AND lease_owner <> $4"));
  c.prepare("run_release_prefix", lease_lost_sql("starts_with(lease_owner, $3)"));
}

namespace run_repo {

result<std::vector<claimed_run>> claim(session& db, const claim_request& req) {
  std::optional<std::string> queues;
  if (!req.queues.empty()) queues = text_array(req.queues);
  return db.transact([&](pqxx::work& tx) {
    async_commit(tx);
    std::vector<claimed_run> out;
    auto read = [&](const pqxx::result& rows) {
      for (const auto& r : rows) {
        out.push_back(claimed_run{r[0].as<long long>(), r[1].as<std::string>(), r[2].as<int>(),
                                  r[3].as<std::string>(), r[4].as<int>(), r[5].as<int>(),
                                  r[6].as<std::string>(), r[7].as<int>()});
      }
    };
    // Tasks with a concurrency limit go first, one task at a time under a
    // transaction-scoped advisory lock, so that dispatchers on several nodes
    // never exceed the limit together.
    auto limited = tx.exec_prepared("run_limited_tasks", nullable(queues));
    for (const auto& row : limited) {
      int room = req.limit - static_cast<int>(out.size());
      if (room <= 0) break;
      auto task = row[0].as<std::string>();
      int limit = row[1].as<int>();
      tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('conc:' || $1))", task);
      auto running =
          tx.exec_params1("SELECT count(*) FROM runs WHERE task = $1 AND status = 'running'",
                          task)[0]
              .as<long long>();
      long long free = limit - running;
      if (free <= 0) continue;
      int n = static_cast<int>(std::min<long long>(free, room));
      read(tx.exec_prepared("run_claim_task", n, req.node, req.owner, req.lease.count(),
                            nullable(queues), task));
    }
    int room = req.limit - static_cast<int>(out.size());
    if (room > 0) {
      read(tx.exec_prepared("run_claim", room, req.node, req.owner, req.lease.count(),
                            nullable(queues)));
    }
    return out;
  });
}

result<std::vector<long long>> complete(session& db, const std::vector<completion>& done) {
  auto runs = nlohmann::json::array();
  auto steps = nlohmann::json::array();
  auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  // A result delivered twice into one batch would insert its step rows twice
  // and fail the whole batch on the primary key (and the recorder retries that
  // batch forever): record each (run, attempt, owner) once.
  std::set<std::tuple<long long, int, std::string>> seen;
  for (const auto& c : done) {
    if (!seen.emplace(c.id, c.attempt, c.owner).second) continue;
    runs.push_back({{"id", c.id},
                    {"attempt", c.attempt},
                    {"owner", c.owner},
                    {"status", c.status},
                    {"output", opt(c.output)},
                    {"error_code", opt(c.error_code)},
                    {"error_message", opt(c.error_message)},
                    {"available_ms", to_epoch_ms(c.available_at)},
                    {"release", c.release}});
    for (const auto& s : c.steps) {
      steps.push_back({{"run_id", c.id},
                       {"attempt", c.attempt},
                       {"idx", s.index},
                       {"name", s.name},
                       {"status", s.status},
                       {"started_ms", s.started_at ? nlohmann::json(to_epoch_ms(*s.started_at))
                                                   : nlohmann::json()},
                       {"finished_ms", s.finished_at ? nlohmann::json(to_epoch_ms(*s.finished_at))
                                                     : nlohmann::json()},
                       {"exit_code", opt(s.exit_code)},
                       {"http_status", opt(s.http_status)},
                       {"output", opt(s.output)},
                       {"error_code", opt(s.error_code)},
                       {"error_message", opt(s.error_message)}});
    }
  }
  auto runs_text = json_text(runs);
  auto steps_text = json_text(steps);
  return db.transact([&](pqxx::work& tx) {
    async_commit(tx);
    std::vector<long long> applied;
    for (const auto& r : tx.exec_prepared("run_complete", runs_text, steps_text)) {
      applied.push_back(r[0].as<long long>());
    }
    return applied;
  });
}

result<renew_outcome> renew(session& db, const std::string& owner,
                            const std::vector<long long>& ids, millis lease) {
  if (ids.empty()) return renew_outcome{};
  std::string array = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) array += ',';
    array += std::to_string(ids[i]);
  }
  array += '}';
  return db.transact([&](pqxx::work& tx) {
    renew_outcome out;
    std::set<long long> renewed;
    for (const auto& r : tx.exec_prepared("run_renew", owner, lease.count(), array)) {
      auto id = r[0].as<long long>();
      renewed.insert(id);
      if (r[1].as<bool>()) out.flagged.push_back(id);
    }
    for (auto id : ids) {
      if (renewed.count(id) == 0) out.lost.push_back(id);
    }
    return out;
  });
}

result<long long> requeue_expired(session& db, int limit, int max_lost_leases) {
  return db.transact([&](pqxx::work& tx) {
    return static_cast<long long>(
        tx.exec_prepared("run_requeue_expired", limit, max_lost_leases).affected_rows());
  });
}

result<long long> release_dead_incarnations(session& db, const std::string& node,
                                            const std::string& current_owner, int max_lost_leases) {
  return db.transact([&](pqxx::work& tx) {
    return static_cast<long long>(
        tx.exec_prepared("run_release_dead", 100000, max_lost_leases, node, current_owner)
            .affected_rows());
  });
}

result<long long> release_owner_prefix(session& db, const std::string& prefix,
                                       int max_lost_leases) {
  if (prefix.empty()) return error_info{errc::bad_request, "empty lease owner prefix", ""};
  return db.transact([&](pqxx::work& tx) {
    auto n = static_cast<long long>(
        tx.exec_prepared("run_release_prefix", 100000, max_lost_leases, prefix).affected_rows());
    // Dispatchers on every node wake for the released runs.
    if (n > 0) tx.exec("SELECT pg_notify('orch_runs', '')");
    return n;
  });
}

}  // namespace run_repo
}  // namespace orch::persistence
