#include "persistence/db.hpp"
#include "persistence/sql_util.hpp"

namespace orch::persistence {

void prepare_run_statements(pqxx::connection& c);
void prepare_run_lease_statements(pqxx::connection& c);
void prepare_schedule_statements(pqxx::connection& c);
void prepare_log_statements(pqxx::connection& c);

void prepare_statements(pqxx::connection& c) {
  prepare_run_statements(c);
  prepare_run_lease_statements(c);
  prepare_schedule_statements(c);
  prepare_log_statements(c);
  c.prepare("task_version", "SELECT name, version, spec::text, " + epoch_ms("created_at") + ", " +
                                epoch_ms("created_at") +
                                " FROM tasks WHERE name = $1 AND version = $2");
}

}  // namespace orch::persistence
