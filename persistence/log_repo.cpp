#include "persistence/log_repo.hpp"

#include <nlohmann/json.hpp>

#include "persistence/db.hpp"
#include "persistence/sql_util.hpp"

namespace orch::persistence {

namespace log_repo {

status append(session& db, const std::vector<new_log_line>& lines) {
  if (lines.empty()) return ok_status();
  auto items = nlohmann::json::array();
  for (const auto& l : lines) {
    items.push_back({{"run_id", l.run_id},
                     {"attempt", l.attempt},
                     {"ts_ms", to_epoch_ms(l.ts)},
                     {"stream", l.stream},
                     {"step", l.step.empty() ? nlohmann::json() : nlohmann::json(l.step)},
                     {"line", l.line}});
  }
  auto payload = json_text(items);
  auto res = db.transact([&](pqxx::work& tx) {
    // Log lines are not a guarantee; they need not wait for the WAL flush.
    tx.exec("SET LOCAL synchronous_commit = off");
    tx.exec_prepared("log_append", payload);
    return true;
  });
  if (!res) return res.error();
  return ok_status();
}

result<std::vector<log_record>> list(session& db, long long run_id, long long after, int limit) {
  return db.transact([&](pqxx::work& tx) {
    std::vector<log_record> out;
    auto rows = tx.exec_params("SELECT seq, " + epoch_ms("ts") +
                                   ", stream, step, line, attempt FROM run_logs "
                                   "WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                               run_id, after, limit);
    for (const auto& r : rows) {
      out.push_back(log_record{r[0].as<long long>(), from_epoch_ms(r[1].as<long long>()),
                               r[2].as<std::string>(), opt_str(r[3]), r[4].as<std::string>(),
                               r[5].as<int>()});
    }
    return out;
  });
}

}  // namespace log_repo

void prepare_log_statements(pqxx::connection& c) {
  c.prepare("log_append",
            "INSERT INTO run_logs (run_id, attempt, ts, stream, step, line) "
            "SELECT x.run_id, x.attempt, to_timestamp(x.ts_ms / 1000.0), x.stream, x.step, x.line "
            "FROM jsonb_to_recordset($1::jsonb) AS x(run_id bigint, attempt int, ts_ms bigint, "
            "stream text, step text, line text)");
}

}  // namespace orch::persistence
