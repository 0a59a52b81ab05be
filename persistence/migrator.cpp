#include "persistence/migrator.hpp"

#include <algorithm>
#include <map>

#include "persistence/db.hpp"
#include "persistence/token_repo.hpp"

namespace orch::persistence {
namespace {

// Arbitrary but fixed: the advisory lock key all replicas use while migrating.
constexpr long long migration_lock_key = 0x6f72636801LL;

}  // namespace

result<std::vector<migration>> parse_migrations(const std::vector<migration_source>& sources) {
  std::vector<migration> out;
  std::map<int, std::string> seen;
  for (const auto& s : sources) {
    auto us = s.file.find('_');
    bool digits = us != std::string::npos && us > 0 && us <= 6 &&
                  std::all_of(s.file.begin(), s.file.begin() + static_cast<long>(us),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || s.file.size() < 5 || s.file.substr(s.file.size() - 4) != ".sql") {
      return error_info{errc::validation_failed,
                        "migration file '" + s.file + "' must be named NNNN_name.sql", ""};
    }
    migration m;
    m.version = std::stoi(s.file.substr(0, us));
    m.name = s.file.substr(us + 1, s.file.size() - us - 5);
    m.sql = s.sql;
    m.checksum = token_hash(s.sql);
    if (!seen.emplace(m.version, s.file).second) {
      return error_info{
          errc::validation_failed,
          "migrations '" + seen[m.version] + "' and '" + s.file + "' have the same version", ""};
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const migration& a, const migration& b) { return a.version < b.version; });
  return out;
}

result<int> migrate(session& db, const std::vector<migration>& migrations) {
  try {
    auto& c = db.conn();
    {
      pqxx::nontransaction tx{c};
      tx.exec_params("SELECT pg_advisory_lock($1)", migration_lock_key);
    }
    int applied = 0;
    std::optional<error_info> failure;
    try {
      {
        pqxx::work tx{c};
        tx.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
            "name text NOT NULL, checksum text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())");
        tx.commit();
      }
      std::map<int, std::pair<std::string, std::string>> done;
      {
        pqxx::work tx{c};
        for (const auto& r : tx.exec("SELECT version, name, checksum FROM schema_migrations")) {
          done[r[0].as<int>()] = {r[1].as<std::string>(), r[2].as<std::string>()};
        }
      }
      for (const auto& m : migrations) {
        auto it = done.find(m.version);
        if (it != done.end()) {
          if (it->second.second != m.checksum) {
            failure = error_info{errc::conflict,
                                 "migration " + std::to_string(m.version) + "_" + m.name +
                                     " was changed after it was applied (checksum mismatch); "
                                     "add a new migration instead of editing an applied one",
                                 ""};
            break;
          }
          continue;
        }
        pqxx::work tx{c};
        tx.exec(m.sql);
        tx.exec_params(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            m.version, m.name, m.checksum);
        tx.commit();
        ++applied;
      }
    } catch (const std::exception& e) {
      failure = translate(e);
      failure->message = "migration failed: " + std::string(e.what());
    }
    try {
      pqxx::nontransaction tx{c};
      tx.exec_params("SELECT pg_advisory_unlock($1)", migration_lock_key);
    } catch (const std::exception&) {
      db.reset();  // closing the connection releases the lock too
    }
    if (failure) return *failure;
    return applied;
  } catch (const std::exception& e) {
    db.reset();
    return translate(e);
  }
}

}  // namespace orch::persistence
