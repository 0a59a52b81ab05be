#include "persistence/schedule_repo.hpp"

#include <date/tz.h>

#include <map>
#include <random>

#include "domain/task.hpp"
#include "persistence/db.hpp"
#include "persistence/sql_util.hpp"

namespace orch::persistence {
namespace {

const std::string& columns() {
  static const std::string cols =
      "id, task, cron, timezone, params::text, enabled, misfire, overlap, " +
      epoch_ms("next_fire_at") + ", " + epoch_ms("last_fired_at") + ", " + epoch_ms("created_at") +
      ", " + epoch_ms("updated_at");
  return cols;
}

misfire_policy parse_misfire(const std::string& s) {
  if (s == "skip") return misfire_policy::skip;
  if (s == "run_all") return misfire_policy::run_all;
  return misfire_policy::run_once;
}

schedule_row read_row(const pqxx::row& r) {
  schedule_row s;
  s.spec.id = r[0].as<std::string>();
  s.spec.task = r[1].as<std::string>();
  s.spec.cron = r[2].as<std::string>();
  s.spec.timezone = r[3].as<std::string>();
  s.spec.params = nlohmann::json::parse(r[4].as<std::string>());
  s.spec.enabled = r[5].as<bool>();
  s.spec.misfire = parse_misfire(r[6].as<std::string>());
  s.spec.overlap = r[7].as<std::string>() == "skip" ? overlap_policy::skip : overlap_policy::allow;
  s.next_fire_at = opt_ms(r[8]);
  s.last_fired_at = opt_ms(r[9]);
  s.created_at = from_epoch_ms(r[10].as<long long>());
  s.updated_at = from_epoch_ms(r[11].as<long long>());
  return s;
}

std::optional<schedule_row> find(pqxx::work& tx, const std::string& id) {
  auto rows = tx.exec_params("SELECT " + columns() + " FROM schedules WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return read_row(rows[0]);
}

std::string generate_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id = "sch_";
  for (int i = 0; i < 12; ++i) id += alphabet[rng() % 36];
  return id;
}

std::optional<sys_ms> first_fire(const schedule_spec& spec, sys_ms now) {
  auto cron = cron_expr::parse(spec.cron);
  if (!cron) return std::nullopt;
  auto next =
      cron->next_after(std::chrono::floor<std::chrono::seconds>(now), find_zone(spec.timezone));
  if (!next) return std::nullopt;
  return std::chrono::time_point_cast<millis>(*next);
}

bool task_exists(pqxx::work& tx, const std::string& task) {
  return !tx.exec_params("SELECT 1 FROM task_heads WHERE name = $1", task).empty();
}

error_info unknown_task(const std::string& task) {
  return {errc::not_found, "task '" + task + "' not found", "task"};
}

error_info schedule_not_found(const std::string& id) {
  return {errc::not_found, "schedule '" + id + "' not found", ""};
}

void write(pqxx::work& tx, const schedule_spec& s, std::optional<sys_ms> next, bool insert) {
  std::string sql =
      insert ? "INSERT INTO schedules (id, task, cron, timezone, params, enabled, misfire, "
               "overlap, next_fire_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, "
               "to_timestamp($9::bigint / 1000.0))"
             : "UPDATE schedules SET task = $2, cron = $3, timezone = $4, params = $5::jsonb, "
               "enabled = $6, misfire = $7, overlap = $8, "
               "next_fire_at = to_timestamp($9::bigint / 1000.0), updated_at = now() "
               "WHERE id = $1";
  tx.exec_params(sql, s.id, s.task, s.cron, s.timezone, s.params.dump(), s.enabled,
                 std::string(to_string(s.misfire)), std::string(to_string(s.overlap)),
                 nullable(ms_param(s.enabled ? next : std::nullopt)));
}

// The fields of a task version a run needs, read from its canonical JSON.
struct task_head {
  int version = 0;
  nlohmann::json params;
  std::string queue;
  int priority = 0;
  int max_attempts = 1;
  int concurrency = 0;
};

std::optional<task_head> load_head(pqxx::work& tx, const std::string& task) {
  auto rows = tx.exec_params(
      "SELECT h.version, t.spec::text FROM task_heads h JOIN tasks t "
      "ON t.name = h.name AND t.version = h.version WHERE h.name = $1",
      task);
  if (rows.empty()) return std::nullopt;
  auto spec = nlohmann::json::parse(rows[0][1].as<std::string>());
  task_head h;
  h.version = rows[0][0].as<int>();
  h.params = spec.value("params", nlohmann::json::object());
  h.queue = spec.value("queue", "default");
  h.priority = spec.value("priority", 0);
  h.concurrency = spec.value("concurrency", 0);
  h.max_attempts = spec.contains("retry") ? spec["retry"].value("max_attempts", 1) : 1;
  return h;
}

std::optional<long long> insert_run(pqxx::work& tx, const task_head& h, const schedule_spec& s,
                                    std::optional<sys_seconds> fire_time) {
  auto params = merge_params(h.params, s.params).dump();
  std::optional<std::string> fire_ms;
  if (fire_time)
    fire_ms = std::to_string(to_epoch_ms(std::chrono::time_point_cast<millis>(*fire_time)));
  auto rows = tx.exec_prepared("run_fire", s.task, h.version, h.queue, params, s.id,
                               nullable(fire_ms), h.max_attempts, h.priority, h.concurrency);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<long long>();
}

}  // namespace

void prepare_schedule_statements(pqxx::connection& c) {
  c.prepare("run_fire",
            "INSERT INTO runs (task, task_version, queue, params, trigger, schedule_id, "
            "scheduled_for, max_attempts, priority, concurrency_limit, available_at) "
            "VALUES ($1, $2, $3, $4::jsonb, 'schedule', $5, to_timestamp($6::bigint / 1000.0), "
            "$7, $8, $9, coalesce(to_timestamp($6::bigint / 1000.0), now())) "
            "ON CONFLICT (schedule_id, scheduled_for) WHERE scheduled_for IS NOT NULL "
            "DO NOTHING RETURNING id");
}

nlohmann::json to_json(const schedule_row& row) {
  auto j = to_json(row.spec);
  j["id"] = row.spec.id;
  j["next_fire_at"] =
      row.next_fire_at ? nlohmann::json(format_rfc3339(*row.next_fire_at)) : nlohmann::json();
  j["last_fired_at"] =
      row.last_fired_at ? nlohmann::json(format_rfc3339(*row.last_fired_at)) : nlohmann::json();
  j["created_at"] = format_rfc3339(row.created_at);
  j["updated_at"] = format_rfc3339(row.updated_at);
  return j;
}

namespace schedule_repo {

result<schedule_row> create(session& db, schedule_spec spec, sys_ms now) {
  if (spec.id.empty()) spec.id = generate_id();
  auto res = db.transact([&](pqxx::work& tx) -> result<schedule_row> {
    if (!task_exists(tx, spec.task)) return unknown_task(spec.task);
    if (find(tx, spec.id)) {
      return error_info{errc::conflict, "schedule '" + spec.id + "' already exists", "id"};
    }
    write(tx, spec, first_fire(spec, now), true);
    return *find(tx, spec.id);
  });
  if (!res) return res.error();
  return std::move(*res);
}

result<std::pair<schedule_row, bool>> put(session& db, schedule_spec spec, sys_ms now) {
  auto res = db.transact([&](pqxx::work& tx) -> result<std::pair<schedule_row, bool>> {
    if (!task_exists(tx, spec.task)) return unknown_task(spec.task);
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('schedule:' || $1))", spec.id);
    auto existing = find(tx, spec.id);
    std::optional<sys_ms> next = first_fire(spec, now);
    // An unchanged timing keeps its stored next fire, so re-applying a file
    // neither loses nor repeats a fire.
    if (existing && existing->spec.cron == spec.cron && existing->spec.timezone == spec.timezone &&
        existing->spec.enabled && spec.enabled && existing->next_fire_at) {
      next = existing->next_fire_at;
    }
    write(tx, spec, next, !existing);
    return std::make_pair(*find(tx, spec.id), !existing.has_value());
  });
  if (!res) return res.error();
  return std::move(*res);
}

result<schedule_row> get(session& db, const std::string& id) {
  auto res = db.transact([&](pqxx::work& tx) { return find(tx, id); });
  if (!res) return res.error();
  if (!*res) return schedule_not_found(id);
  return std::move(**res);
}

result<std::vector<schedule_row>> list(session& db, int limit, const std::string& cursor) {
  return db.transact([&](pqxx::work& tx) {
    std::vector<schedule_row> out;
    for (const auto& r : tx.exec_params(
             "SELECT " + columns() + " FROM schedules WHERE id > $1 ORDER BY id LIMIT $2", cursor,
             limit)) {
      out.push_back(read_row(r));
    }
    return out;
  });
}

status remove(session& db, const std::string& id) {
  auto res = db.transact([&](pqxx::work& tx) {
    return tx.exec_params("DELETE FROM schedules WHERE id = $1", id).affected_rows() > 0;
  });
  if (!res) return res.error();
  if (!*res) return schedule_not_found(id);
  return ok_status();
}

result<schedule_row> set_enabled(session& db, const std::string& id, bool enabled, sys_ms now) {
  auto res = db.transact([&](pqxx::work& tx) -> result<schedule_row> {
    auto row = find(tx, id);
    if (!row) return schedule_not_found(id);
    if (row->spec.enabled == enabled) return std::move(*row);
    row->spec.enabled = enabled;
    write(tx, row->spec, enabled ? first_fire(row->spec, now) : std::nullopt, false);
    return *find(tx, id);
  });
  if (!res) return res.error();
  return std::move(*res);
}

result<std::optional<sys_ms>> next_due(session& db) {
  return db.transact([&](pqxx::work& tx) -> std::optional<sys_ms> {
    auto r = tx.exec("SELECT " + epoch_ms("min(next_fire_at)") + " FROM schedules WHERE enabled");
    return opt_ms(r[0][0]);
  });
}

result<bool> try_lead(session& db, long long leader_key) {
  return db.autocommit([&](pqxx::nontransaction& tx) {
    return tx.exec_params1("SELECT pg_try_advisory_lock($1)", leader_key)[0].as<bool>();
  });
}

result<std::vector<fire_result>> fire_due(session& db, sys_ms now, std::chrono::seconds grace,
                                          int limit, std::optional<long long> leader_key) {
  auto res = db.transact([&](pqxx::work& tx) -> result<std::vector<fire_result>> {
    if (leader_key) {
      auto held = tx.exec_params1(
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
          "AND pid = pg_backend_pid() AND classid = ($1::bigint >> 32)::oid "
          "AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1",
          *leader_key)[0];
      if (held.as<long long>() == 0) {
        return error_info{errc::conflict, "scheduler leadership lost", ""};
      }
    }
    auto rows = tx.exec_params("SELECT " + columns() +
                                   " FROM schedules WHERE enabled AND next_fire_at <= "
                                   "to_timestamp($1::bigint / 1000.0) ORDER BY next_fire_at "
                                   "LIMIT $2 FOR UPDATE SKIP LOCKED",
                               to_epoch_ms(now), limit);
    std::vector<fire_result> out;
    std::map<std::string, std::optional<task_head>> heads;
    auto now_s = std::chrono::floor<std::chrono::seconds>(now);
    for (const auto& r : rows) {
      auto row = read_row(r);
      const auto& s = row.spec;
      fire_result fr;
      fr.schedule_id = s.id;
      auto cron = cron_expr::parse(s.cron);
      const auto* zone = find_zone(s.timezone);
      auto it = heads.find(s.task);
      if (it == heads.end()) it = heads.emplace(s.task, load_head(tx, s.task)).first;
      if (!cron || zone == nullptr || !it->second) {
        // The task is gone (or the row is unusable): the schedule stops.
        tx.exec_params(
            "UPDATE schedules SET enabled = false, next_fire_at = NULL, "
            "updated_at = now() WHERE id = $1",
            s.id);
        continue;
      }
      auto next_fire = std::chrono::floor<std::chrono::seconds>(*row.next_fire_at);
      auto plan = plan_fires(*cron, zone, next_fire, now_s, grace, s.misfire);
      fr.missed = plan.missed;
      if (s.overlap == overlap_policy::skip && !plan.fire_times.empty()) {
        bool active = !tx.exec_params(
                             "SELECT 1 FROM runs WHERE schedule_id = $1 AND status IN "
                             "('pending', 'running') LIMIT 1",
                             s.id)
                           .empty();
        if (active) {
          fr.skipped_overlap = static_cast<long long>(plan.fire_times.size());
          plan.fire_times.clear();
        } else if (plan.fire_times.size() > 1) {
          // Only one run may be active at a time: the latest fire wins.
          fr.skipped_overlap = static_cast<long long>(plan.fire_times.size() - 1);
          plan.fire_times.erase(plan.fire_times.begin(), plan.fire_times.end() - 1);
        }
      }
      std::optional<sys_seconds> last;
      for (auto t : plan.fire_times) {
        if (auto id = insert_run(tx, *it->second, s, t)) {
          fr.run_ids.push_back(*id);
          fr.fire_times.push_back(t);
        } else {
          ++fr.duplicates;
        }
        last = t;
      }
      tx.exec_params(
          "UPDATE schedules SET next_fire_at = to_timestamp($2::bigint / 1000.0), "
          "last_fired_at = coalesce(to_timestamp($3::bigint / 1000.0), last_fired_at) "
          "WHERE id = $1",
          s.id, nullable(ms_param(plan.next ? std::optional<sys_ms>(*plan.next) : std::nullopt)),
          nullable(ms_param(last ? std::optional<sys_ms>(*last) : std::nullopt)));
      out.push_back(std::move(fr));
    }
    if (!out.empty()) tx.exec("SELECT pg_notify('orch_runs', '')");
    return out;
  });
  if (!res) return res.error();
  return std::move(*res);
}

result<long long> trigger(session& db, const std::string& id) {
  auto res = db.transact([&](pqxx::work& tx) -> result<long long> {
    auto row = find(tx, id);
    if (!row) return schedule_not_found(id);
    auto head = load_head(tx, row->spec.task);
    if (!head) return unknown_task(row->spec.task);
    auto run = insert_run(tx, *head, row->spec, std::nullopt);
    tx.exec("SELECT pg_notify('orch_runs', '')");
    return *run;
  });
  if (!res) return res.error();
  return *res;
}

}  // namespace schedule_repo
}  // namespace orch::persistence
