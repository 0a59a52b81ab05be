#include "persistence/node_repo.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "persistence/db.hpp"
#include "persistence/sql_util.hpp"

namespace orch::persistence {

namespace {

// The presence lock: a session-level advisory lock in the two-key space (the
// leader's is in the one-key space, so they never meet), the second key a
// hash of the incarnation. A collision only makes a dead node look alive
// until its row goes silent.
constexpr int presence_class = 0x4f52;

int presence_key(const std::string& name, const std::string& incarnation) {
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : name + "/" + incarnation) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<int>(h & 0x7fffffffu);
}

const char* const presence_held =
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid "
    "AND objid = $2::int::oid AND objsubid = 2 AND database = (SELECT oid FROM pg_database "
    "WHERE datname = current_database())";

}  // namespace

namespace node_repo {

status heartbeat(session& db, const node_row& n) {
  auto res = db.transact([&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO nodes (name, incarnation, roles, started_at, last_seen, capacity, active, "
        "status, advertise) VALUES ($1, $2, $3::text[], to_timestamp($4::bigint / 1000.0), now(), "
        "$5, $6, $7, $8) ON CONFLICT (name) DO UPDATE SET incarnation = EXCLUDED.incarnation, "
        "roles = EXCLUDED.roles, started_at = EXCLUDED.started_at, last_seen = now(), "
        "capacity = EXCLUDED.capacity, active = EXCLUDED.active, status = EXCLUDED.status, "
        "advertise = EXCLUDED.advertise, down_at = NULL",
        n.name, n.incarnation, text_array(n.roles), to_epoch_ms(n.started_at), n.capacity, n.active,
        n.status, n.advertise.empty() ? std::optional<std::string>() : n.advertise);
    // Taken once per connection: each pg_try_advisory_lock call stacks.
    tx.exec_params(std::string("SELECT pg_try_advisory_lock($1, $2) WHERE NOT EXISTS (") +
                       presence_held + " AND pid = pg_backend_pid())",
                   presence_class, presence_key(n.name, n.incarnation));
    return true;
  });
  if (!res) return res.error();
  return ok_status();
}

result<presence> presence_of(session& db, const std::string& name, const std::string& incarnation,
                             millis silent_after) {
  return db.transact([&](pqxx::work& tx) {
    auto r = tx.exec_params1(
        std::string("SELECT EXISTS (") + presence_held +
            " AND granted), EXISTS (SELECT 1 FROM nodes WHERE name = $3 AND incarnation = $4 "
            "AND last_seen >= now() - $5 * interval '1 millisecond')",
        presence_class, presence_key(name, incarnation), name, incarnation, silent_after.count());
    presence p;
    p.session_open = r[0].as<bool>();
    p.beating = r[1].as<bool>();
    return p;
  });
}

result<std::vector<node_row>> list(session& db, millis down_after) {
  return db.transact([&](pqxx::work& tx) {
    std::vector<node_row> out;
    auto rows = tx.exec_params(
        "SELECT name, incarnation, array_to_json(roles)::text, " + epoch_ms("started_at") + ", " +
            epoch_ms("last_seen") +
            ", capacity, active, CASE WHEN last_seen < now() - $1 * interval '1 millisecond' "
            "THEN 'down' ELSE status END, coalesce(advertise, '') FROM nodes ORDER BY name",
        down_after.count());
    for (const auto& r : rows) {
      node_row n;
      n.name = r[0].as<std::string>();
      n.incarnation = r[1].as<std::string>();
      n.roles = nlohmann::json::parse(r[2].as<std::string>()).get<std::vector<std::string>>();
      n.started_at = from_epoch_ms(r[3].as<long long>());
      n.last_seen = from_epoch_ms(r[4].as<long long>());
      n.capacity = r[5].as<int>();
      n.active = r[6].as<int>();
      n.status = r[7].as<std::string>();
      n.advertise = r[8].as<std::string>();
      out.push_back(std::move(n));
    }
    return out;
  });
}

result<bool> mark_down(session& db, const std::string& name, const std::string& incarnation) {
  return db.transact([&](pqxx::work& tx) {
    return tx.exec_params(
                 "UPDATE nodes SET status = 'down', down_at = now() WHERE name = $1 "
                 "AND incarnation = $2 AND status <> 'down'",
                 name, incarnation)
               .affected_rows() > 0;
  });
}

result<std::vector<dead_node>> expire(session& db, const std::string& self, millis down_after) {
  return db.transact([&](pqxx::work& tx) {
    std::vector<dead_node> out;
    for (const auto& r : tx.exec_params(
             "UPDATE nodes SET status = 'down', down_at = now() WHERE status <> 'down' AND "
             "last_seen < now() - $1 * interval '1 millisecond' AND name <> $2 "
             "RETURNING name, incarnation",
             down_after.count(), self)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
    }
    return out;
  });
}

result<cluster_health> health(session& db, long long leader_key, millis down_after) {
  return db.transact([&](pqxx::work& tx) {
    auto r = tx.exec_params1(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid "
        "AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = "
        "current_database())), (SELECT count(*) FROM nodes WHERE 'worker' = ANY(roles) "
        "AND status = 'up' AND last_seen >= now() - $2 * interval '1 millisecond')",
        leader_key, down_after.count());
    cluster_health h;
    h.leader_alive = r[0].as<bool>();
    h.workers_up = r[1].as<int>();
    return h;
  });
}

result<long long> forget(session& db, millis age) {
  return db.transact([&](pqxx::work& tx) {
    return static_cast<long long>(
        tx.exec_params("DELETE FROM nodes WHERE status = 'down' AND coalesce(down_at, last_seen) "
                       "< now() - $1 * interval '1 millisecond'",
                       age.count())
            .affected_rows());
  });
}

}  // namespace node_repo

}  // namespace orch::persistence
