#include "persistence/misc_repos.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "domain/hex.hpp"
#include "persistence/db.hpp"
#include "persistence/sql_util.hpp"

namespace orch::persistence {

std::string token_hash(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return to_hex(digest, sizeof(digest));
}

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
  auto payload = items.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

namespace token_repo {

result<std::string> create(session& db, const std::string& name) {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return error_info{errc::internal, "no randomness for a token", ""};
  }
  std::string token = "orch_" + to_hex(bytes, sizeof(bytes));
  auto res = db.transact([&](pqxx::work& tx) {
    tx.exec_params("INSERT INTO api_tokens (name, hash) VALUES ($1, $2)", name, token_hash(token));
    return true;
  });
  if (!res) return res.error();
  return token;
}

result<long long> count(session& db) {
  return db.transact([&](pqxx::work& tx) {
    return tx.exec("SELECT count(*) FROM api_tokens")[0][0].as<long long>();
  });
}

result<std::vector<std::string>> hashes(session& db) {
  return db.transact([&](pqxx::work& tx) {
    std::vector<std::string> out;
    for (const auto& r : tx.exec("SELECT hash FROM api_tokens")) out.push_back(r[0].c_str());
    return out;
  });
}

}  // namespace token_repo

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
    return true;
  });
  if (!res) return res.error();
  return ok_status();
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

void prepare_log_statements(pqxx::connection& c) {
  c.prepare("log_append",
            "INSERT INTO run_logs (run_id, attempt, ts, stream, step, line) "
            "SELECT x.run_id, x.attempt, to_timestamp(x.ts_ms / 1000.0), x.stream, x.step, x.line "
            "FROM jsonb_to_recordset($1::jsonb) AS x(run_id bigint, attempt int, ts_ms bigint, "
            "stream text, step text, line text)");
}

}  // namespace orch::persistence
