#pragma once
/// \file migrator.hpp Numbered SQL migrations, applied once each, in order.

#include <string>
#include <vector>

#include "domain/result.hpp"

namespace orch::persistence {

class session;

/// A migration file as compiled into the binary: "0001_init.sql" and its SQL.
struct migration_source {
  std::string file;
  std::string sql;
};

/// The migrations in migrations/ at build time, sorted by file name.
std::vector<migration_source> embedded_migrations();

/// A parsed migration.
struct migration {
  int version = 0;
  std::string name;
  std::string sql;
  std::string checksum;  ///< SHA-256 of the SQL, hex
};

/// Parses file names "NNNN_name.sql"; errc::validation_failed for a bad name or
/// a duplicate version.
result<std::vector<migration>> parse_migrations(const std::vector<migration_source>& sources);

/// Applies the missing migrations under a session advisory lock (replicas
/// starting together wait for each other), each in its own transaction. An
/// applied migration whose checksum differs from the file is refused
/// (errc::conflict) with a message naming it. Returns how many were applied.
result<int> migrate(session& db, const std::vector<migration>& migrations);

}  // namespace orch::persistence
