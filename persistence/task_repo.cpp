#include "persistence/task_repo.hpp"

#include "persistence/db.hpp"

namespace orch::persistence {
namespace {

constexpr const char* select_head =
    "SELECT h.name, h.version, t.spec::text, "
    "(extract(epoch from h.created_at)*1000)::bigint, "
    "(extract(epoch from h.updated_at)*1000)::bigint "
    "FROM task_heads h JOIN tasks t ON t.name = h.name AND t.version = h.version ";

task_row read_row(const pqxx::row& r) {
  task_row t;
  t.name = r[0].as<std::string>();
  t.version = r[1].as<int>();
  t.spec = nlohmann::json::parse(r[2].as<std::string>());
  t.created_at = from_epoch_ms(r[3].as<long long>());
  t.updated_at = from_epoch_ms(r[4].as<long long>());
  return t;
}

std::optional<task_row> find_head(pqxx::work& tx, const std::string& name) {
  auto rows = tx.exec_params(std::string(select_head) + "WHERE h.name = $1", name);
  if (rows.empty()) return std::nullopt;
  return read_row(rows[0]);
}

// Serializes writers of one task name so versions are assigned without gaps or races.
void lock_name(pqxx::work& tx, const std::string& name) {
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('task:' || $1))", name);
}

task_row insert_version(pqxx::work& tx, const task_spec& spec, bool head_exists) {
  auto spec_json = to_json(spec).dump();
  auto v = tx.exec_params1("SELECT coalesce(max(version), 0) + 1 FROM tasks WHERE name = $1",
                           spec.name)[0]
               .as<int>();
  tx.exec_params("INSERT INTO tasks (name, version, spec) VALUES ($1, $2, $3::jsonb)", spec.name, v,
                 spec_json);
  if (head_exists) {
    tx.exec_params("UPDATE task_heads SET version = $2, updated_at = now() WHERE name = $1",
                   spec.name, v);
  } else {
    tx.exec_params("INSERT INTO task_heads (name, version) VALUES ($1, $2)", spec.name, v);
  }
  return *find_head(tx, spec.name);
}

}  // namespace

nlohmann::json to_json(const task_row& row) {
  nlohmann::json j = row.spec;
  j["name"] = row.name;
  j["version"] = row.version;
  j["created_at"] = format_rfc3339(row.created_at);
  j["updated_at"] = format_rfc3339(row.updated_at);
  return j;
}

namespace task_repo {

result<put_outcome> put(session& db, const task_spec& spec) {
  return db.transact([&](pqxx::work& tx) {
    lock_name(tx, spec.name);
    put_outcome out;
    auto head = find_head(tx, spec.name);
    if (head && head->spec == to_json(spec)) {
      out.row = std::move(*head);
      return out;
    }
    out.created = !head.has_value();
    out.changed = true;
    out.row = insert_version(tx, spec, head.has_value());
    return out;
  });
}

result<task_row> create(session& db, const task_spec& spec) {
  auto r = db.transact([&](pqxx::work& tx) -> std::optional<task_row> {
    lock_name(tx, spec.name);
    if (find_head(tx, spec.name)) return std::nullopt;
    return insert_version(tx, spec, false);
  });
  if (!r) return r.error();
  if (!*r) return error_info{errc::conflict, "task '" + spec.name + "' already exists", "name"};
  return std::move(**r);
}

result<task_row> get(session& db, const std::string& name) {
  auto r = db.transact([&](pqxx::work& tx) { return find_head(tx, name); });
  if (!r) return r.error();
  if (!*r) return error_info{errc::not_found, "task '" + name + "' not found", ""};
  return std::move(**r);
}

result<task_row> get_version(session& db, const std::string& name, int version) {
  auto r = db.transact([&](pqxx::work& tx) -> std::optional<task_row> {
    auto rows = tx.exec_prepared("task_version", name, version);
    if (rows.empty()) return std::nullopt;
    return read_row(rows[0]);
  });
  if (!r) return r.error();
  if (!*r) {
    return error_info{errc::not_found,
                      "task '" + name + "' version " + std::to_string(version) + " not found", ""};
  }
  return std::move(**r);
}

result<std::vector<task_row>> list(session& db, int limit, const std::string& cursor) {
  return db.transact([&](pqxx::work& tx) {
    auto rows = tx.exec_params(
        std::string(select_head) + "WHERE h.name > $1 ORDER BY h.name LIMIT $2", cursor, limit);
    std::vector<task_row> out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(read_row(r));
    return out;
  });
}

status remove(session& db, const std::string& name) {
  auto r = db.transact([&](pqxx::work& tx) {
    lock_name(tx, name);
    auto del = tx.exec_params("DELETE FROM task_heads WHERE name = $1", name);
    if (del.affected_rows() == 0) return false;
    tx.exec_params("DELETE FROM schedules WHERE task = $1", name);
    return true;
  });
  if (!r) return r.error();
  if (!*r) return error_info{errc::not_found, "task '" + name + "' not found", ""};
  return ok_status();
}

}  // namespace task_repo

}  // namespace orch::persistence
