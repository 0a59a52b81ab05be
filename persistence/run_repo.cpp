#include "persistence/run_repo.hpp"

#include <algorithm>
#include <map>

#include "persistence/db.hpp"
#include "persistence/sql_util.hpp"

namespace orch::persistence {
namespace {

const std::string& run_columns() {
  static const std::string cols =
      "id, task, task_version, queue, status, params::text, trigger, schedule_id, " +
      epoch_ms("scheduled_for") + ", attempt, max_attempts, priority, idempotency_key, " +
      epoch_ms("created_at") + ", " + epoch_ms("available_at") + ", " + epoch_ms("started_at") +
      ", " + epoch_ms("finished_at") +
      ", node, output, error_code, error_message, cancel_requested, lost_leases";
  return cols;
}

run_record read_run(const pqxx::row& r) {
  run_record x;
  x.id = r[0].as<long long>();
  x.task = r[1].as<std::string>();
  x.task_version = r[2].as<int>();
  x.queue = r[3].as<std::string>();
  x.status = r[4].as<std::string>();
  x.params = nlohmann::json::parse(r[5].as<std::string>());
  x.trigger = r[6].as<std::string>();
  x.schedule_id = opt_str(r[7]);
  x.scheduled_for = opt_ms(r[8]);
  x.attempt = r[9].as<int>();
  x.max_attempts = r[10].as<int>();
  x.priority = r[11].as<int>();
  x.idempotency_key = opt_str(r[12]);
  x.created_at = from_epoch_ms(r[13].as<long long>());
  x.available_at = from_epoch_ms(r[14].as<long long>());
  x.started_at = opt_ms(r[15]);
  x.finished_at = opt_ms(r[16]);
  x.node = opt_str(r[17]);
  x.output = opt_str(r[18]);
  x.error_code = opt_str(r[19]);
  x.error_message = opt_str(r[20]);
  x.cancel_requested = r[21].as<bool>();
  x.lost_leases = r[22].as<int>();
  return x;
}

std::vector<run_record> read_runs(const pqxx::result& rows) {
  std::vector<run_record> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(read_run(r));
  return out;
}

void load_steps(pqxx::work& tx, run_record& run) {
  auto rows = tx.exec_params("SELECT idx, name, status, attempt, " + epoch_ms("started_at") + ", " +
                                 epoch_ms("finished_at") +
                                 ", exit_code, http_status, output, error_code, error_message "
                                 "FROM run_steps WHERE run_id = $1 ORDER BY attempt, idx",
                             run.id);
  for (const auto& r : rows) {
    step_record s;
    s.index = r[0].as<int>();
    s.name = r[1].as<std::string>();
    s.status = r[2].as<std::string>();
    s.attempt = r[3].as<int>();
    s.started_at = opt_ms(r[4]);
    s.finished_at = opt_ms(r[5]);
    s.exit_code = opt_int(r[6]);
    s.http_status = opt_int(r[7]);
    s.output = opt_str(r[8]);
    s.error_code = opt_str(r[9]);
    s.error_message = opt_str(r[10]);
    run.steps.push_back(std::move(s));
  }
}

std::optional<run_record> find(pqxx::work& tx, long long id) {
  auto rows = tx.exec_params("SELECT " + run_columns() + " FROM runs WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return read_run(rows[0]);
}

error_info run_not_found(long long id) {
  return {errc::not_found, "run " + std::to_string(id) + " not found", ""};
}

nlohmann::json new_run_json(const new_run& r) {
  return {{"task", r.task},
          {"task_version", r.task_version},
          {"queue", r.queue},
          {"params", r.params},
          {"trigger", r.trigger},
          {"schedule_id", r.schedule_id ? nlohmann::json(*r.schedule_id) : nlohmann::json()},
          {"scheduled_ms",
           r.scheduled_for ? nlohmann::json(to_epoch_ms(*r.scheduled_for)) : nlohmann::json()},
          {"max_attempts", r.max_attempts},
          {"priority", r.priority},
          {"concurrency_limit", r.concurrency_limit},
          {"idempotency_key",
           r.idempotency_key ? nlohmann::json(*r.idempotency_key) : nlohmann::json()},
          {"available_ms",
           r.available_at ? nlohmann::json(to_epoch_ms(*r.available_at)) : nlohmann::json()},
          {"retry_of", r.retry_of ? nlohmann::json(*r.retry_of) : nlohmann::json()}};
}

}  // namespace

void prepare_run_statements(pqxx::connection& c) {
  c.prepare("run_submit",
            "WITH ins AS (INSERT INTO runs (task, task_version, queue, params, trigger, "
            "schedule_id, scheduled_for, max_attempts, priority, concurrency_limit, "
            "idempotency_key, available_at, retry_of) "
            "VALUES ($1, $2, $3, $4::jsonb, $5, $6, to_timestamp($7::bigint / 1000.0), $8, $9, "
            "$10, $11, coalesce(to_timestamp($12::bigint / 1000.0), now()), $13) "
            "ON CONFLICT (task, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
            "RETURNING *) SELECT " +
                run_columns() + " FROM ins, LATERAL (SELECT pg_notify('orch_runs', '')) n");
  c.prepare("run_batch",
            "WITH ins AS (INSERT INTO runs (task, task_version, queue, params, trigger, "
            "max_attempts, priority, concurrency_limit, available_at) "
            "SELECT x.task, x.task_version, x.queue, x.params, x.trigger, x.max_attempts, "
            "x.priority, x.concurrency_limit, "
            "coalesce(to_timestamp(x.available_ms / 1000.0), now()) "
            // WITH ORDINALITY needs the column definitions inside ROWS FROM.
            "FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (task text, task_version int, "
            "queue text, params jsonb, trigger text, max_attempts int, priority int, "
            "concurrency_limit int, available_ms bigint)) WITH ORDINALITY AS x(task, "
            "task_version, queue, params, trigger, max_attempts, priority, concurrency_limit, "
            "available_ms, ord) ORDER BY x.ord "
            "RETURNING *) SELECT " +
                run_columns() +
                " FROM ins, LATERAL (SELECT pg_notify('orch_runs', '')) n ORDER BY id");
  c.prepare("run_submit_many",
            "WITH ins AS (INSERT INTO runs (task, task_version, queue, params, trigger, "
            "max_attempts, priority, concurrency_limit, idempotency_key, available_at) "
            "SELECT x.task, x.task_version, x.queue, x.params, x.trigger, x.max_attempts, "
            "x.priority, x.concurrency_limit, x.idempotency_key, "
            "coalesce(to_timestamp(x.available_ms / 1000.0), now()) "
            "FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (task text, task_version int, "
            "queue text, params jsonb, trigger text, max_attempts int, priority int, "
            "concurrency_limit int, idempotency_key text, available_ms bigint)) "
            "WITH ORDINALITY AS x(task, task_version, queue, params, trigger, max_attempts, "
            "priority, concurrency_limit, idempotency_key, available_ms, ord) ORDER BY x.ord "
            "ON CONFLICT (task, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
            "RETURNING *) SELECT " +
                run_columns() +
                " FROM ins, LATERAL (SELECT pg_notify('orch_runs', '')) n ORDER BY id");
}

namespace run_repo {

result<submit_outcome> submit(session& db, const new_run& r) {
  auto res = db.transact([&](pqxx::work& tx) -> std::optional<submit_outcome> {
    auto rows = tx.exec_prepared(
        "run_submit", r.task, r.task_version, r.queue, json_text(r.params), r.trigger,
        nullable(r.schedule_id), nullable(ms_param(r.scheduled_for)), r.max_attempts, r.priority,
        r.concurrency_limit, nullable(r.idempotency_key), nullable(ms_param(r.available_at)),
        nullable(num_param(r.retry_of)));
    if (!rows.empty()) return submit_outcome{read_run(rows[0]), true};
    if (!r.idempotency_key) return std::nullopt;
    auto existing = tx.exec_params("SELECT " + run_columns() +
                                       " FROM runs WHERE task = $1 AND "
                                       "idempotency_key = $2",
                                   r.task, *r.idempotency_key);
    if (existing.empty()) return std::nullopt;
    return submit_outcome{read_run(existing[0]), false};
  });
  if (!res) return res.error();
  // The row with our key was deleted between the conflict and the read (retention).
  if (!*res) return error_info{errc::conflict, "idempotency key conflict, retry", ""};
  return std::move(**res);
}

result<std::vector<result<submit_outcome>>> submit_many(session& db,
                                                        const std::vector<submit_request>& reqs) {
  std::vector<std::string> names;
  for (const auto& r : reqs) names.push_back(r.task);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  auto done = db.transact([&](pqxx::work& tx) {
    std::map<std::string, task_row> heads;
    auto rows = tx.exec_params(
        "SELECT h.name, h.version, t.spec::text, " + epoch_ms("h.created_at") + ", " +
            epoch_ms("h.updated_at") +
            " FROM task_heads h JOIN tasks t ON t.name = h.name AND t.version = h.version "
            "WHERE h.name = ANY($1::text[])",
        text_array(names));
    for (const auto& r : rows) {
      task_row t;
      t.name = r[0].as<std::string>();
      t.version = r[1].as<int>();
      t.spec = nlohmann::json::parse(r[2].as<std::string>());
      t.created_at = from_epoch_ms(r[3].as<long long>());
      t.updated_at = from_epoch_ms(r[4].as<long long>());
      heads.emplace(t.name, std::move(t));
    }
    std::vector<result<submit_outcome>> out(
        reqs.size(), result<submit_outcome>(error_info{errc::internal, "not inserted", ""}));
    std::vector<std::size_t> inserted;  // request index of each row to insert
    auto items = nlohmann::json::array();
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      auto head = heads.find(reqs[i].task);
      if (head == heads.end()) {
        out[i] = error_info{errc::not_found, "task '" + reqs[i].task + "' not found", ""};
        continue;
      }
      auto run = reqs[i].build(head->second);
      if (!run) {
        out[i] = run.error();
        continue;
      }
      items.push_back(new_run_json(*run));
      inserted.push_back(i);
    }
    if (inserted.empty()) return out;
    auto created = read_runs(tx.exec_prepared("run_submit_many", json_text(items)));
    // Ids follow the insert order; a row missing from RETURNING lost its
    // idempotency key to an existing run, which is then read.
    std::map<std::pair<std::string, std::string>, run_record> by_key;
    std::vector<run_record> keyless;
    for (auto& r : created) {
      if (r.idempotency_key)
        by_key.emplace(std::make_pair(r.task, *r.idempotency_key), r);
      else
        keyless.push_back(std::move(r));
    }
    std::size_t next_keyless = 0;
    for (std::size_t k = 0; k < inserted.size(); ++k) {
      const auto& item = items[k];
      auto i = inserted[k];
      if (item["idempotency_key"].is_null()) {
        out[i] = submit_outcome{keyless.at(next_keyless++), true};
        continue;
      }
      auto key = std::make_pair(item["task"].get<std::string>(),
                                item["idempotency_key"].get<std::string>());
      auto it = by_key.find(key);
      if (it != by_key.end()) {
        out[i] = submit_outcome{it->second, true};
        by_key.erase(it);  // a second request with the same key gets the first run
        continue;
      }
      auto existing = tx.exec_params(
          "SELECT " + run_columns() + " FROM runs WHERE task = $1 AND idempotency_key = $2",
          key.first, key.second);
      if (existing.empty()) {
        out[i] = error_info{errc::conflict, "idempotency key conflict, retry", ""};
      } else {
        out[i] = submit_outcome{read_run(existing[0]), false};
      }
    }
    return out;
  });
  if (!done) return done.error();
  return std::move(*done);
}

result<std::vector<run_record>> submit_batch(session& db, const std::vector<new_run>& runs) {
  auto items = nlohmann::json::array();
  for (const auto& r : runs) items.push_back(new_run_json(r));
  auto payload = json_text(items);
  return db.transact(
      [&](pqxx::work& tx) { return read_runs(tx.exec_prepared("run_batch", payload)); });
}

result<run_record> get(session& db, long long id, bool with_steps) {
  auto res = db.transact([&](pqxx::work& tx) {
    auto run = find(tx, id);
    if (run && with_steps) load_steps(tx, *run);
    return run;
  });
  if (!res) return res.error();
  if (!*res) return run_not_found(id);
  return std::move(**res);
}

result<std::vector<run_record>> list(session& db, const run_filter& f) {
  return db.transact([&](pqxx::work& tx) {
    std::string sql = "SELECT " + run_columns() + " FROM runs WHERE true";
    std::vector<std::string> params;
    auto add = [&](const std::string& clause, std::string value) {
      params.push_back(std::move(value));
      sql += " AND " + clause + " $" + std::to_string(params.size());
    };
    if (f.task) add("task =", *f.task);
    if (f.status) add("status =", *f.status);
    if (f.before_id) add("id <", std::to_string(*f.before_id));
    sql += " ORDER BY id DESC LIMIT " + std::to_string(f.limit);
    return read_runs(tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params)));
  });
}

result<cancel_outcome> cancel(session& db, long long id) {
  auto res = db.transact([&](pqxx::work& tx) -> result<cancel_outcome> {
    auto rows = tx.exec_params(
        "UPDATE runs SET "
        "status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END, "
        "finished_at = CASE WHEN status = 'pending' THEN now() ELSE finished_at END, "
        "error_code = CASE WHEN status = 'pending' THEN 'cancelled' ELSE error_code END, "
        "error_message = CASE WHEN status = 'pending' THEN 'cancelled before start' "
        "  ELSE error_message END, "
        "cancel_requested = true "
        "WHERE id = $1 AND status IN ('pending', 'running') RETURNING " +
            run_columns(),
        id);
    if (!rows.empty()) {
      cancel_outcome out{read_run(rows[0]), false};
      out.was_running = out.run.status == "running";
      if (out.was_running)
        tx.exec_params("SELECT pg_notify('orch_cancel', $1)", std::to_string(id));
      return out;
    }
    auto run = find(tx, id);
    if (!run) return run_not_found(id);
    return error_info{errc::conflict,
                      "run " + std::to_string(id) + " has already finished (" + run->status + ")",
                      ""};
  });
  if (!res) return res.error();
  return std::move(*res);
}

result<run_record> retry(session& db, long long id) {
  auto res = db.transact([&](pqxx::work& tx) -> result<run_record> {
    auto rows = tx.exec_params(
        "WITH ins AS (INSERT INTO runs (task, task_version, queue, params, trigger, "
        "max_attempts, priority, concurrency_limit, retry_of) "
        "SELECT task, task_version, queue, params, 'retry', max_attempts, priority, "
        "concurrency_limit, id FROM runs "
        "WHERE id = $1 AND status IN ('succeeded', 'failed', 'cancelled') RETURNING *) "
        "SELECT " +
            run_columns() + " FROM ins, LATERAL (SELECT pg_notify('orch_runs', '')) n",
        id);
    if (!rows.empty()) return read_run(rows[0]);
    auto run = find(tx, id);
    if (!run) return run_not_found(id);
    return error_info{errc::conflict, "run " + std::to_string(id) + " is still " + run->status, ""};
  });
  if (!res) return res.error();
  return std::move(*res);
}

result<queue_counts> counts(session& db) {
  return db.transact([&](pqxx::work& tx) {
    queue_counts out;
    auto rows = tx.exec(
        "SELECT queue, status, count(*) FROM runs WHERE status IN ('pending', 'running') "
        "GROUP BY queue, status");
    for (const auto& r : rows) {
      auto n = r[2].as<long long>();
      auto& q = out.by_queue[r[0].as<std::string>()];
      if (r[1].as<std::string>() == "pending") {
        out.pending += n;
        q.first += n;
      } else {
        out.running += n;
        q.second += n;
      }
    }
    return out;
  });
}

result<long long> prune(session& db, millis retention, int limit) {
  return db.transact([&](pqxx::work& tx) {
    auto rows = tx.exec_params(
        // Ids grow with time, so the oldest finished runs are found from the
        // low end of the primary key without an index on finished_at.
        "WITH d AS MATERIALIZED (SELECT id FROM runs WHERE finished_at < now() - $1 * interval "
        "'1 millisecond' ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED), "
        "s AS (DELETE FROM run_steps WHERE run_id = ANY(ARRAY(SELECT id FROM d))), "
        "l AS (DELETE FROM run_logs WHERE run_id = ANY(ARRAY(SELECT id FROM d))) "
        "DELETE FROM runs WHERE id = ANY(ARRAY(SELECT id FROM d))",
        retention.count(), limit);
    return static_cast<long long>(rows.affected_rows());
  });
}

}  // namespace run_repo
}  // namespace orch::persistence
