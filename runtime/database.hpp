#pragma once
/// \file database.hpp Finding the database for a command: DATABASE_URL or embedded.

#include <memory>
#include <string>

#include "domain/result.hpp"
#include "domain/time.hpp"
#include "runtime/embedded_pg.hpp"

namespace orch::runtime {

/// The database a command uses; owns the embedded server when there is one.
struct database {
  std::string url;
  std::unique_ptr<embedded_postgres> embedded;
};

/// Uses `url` when set, else starts the embedded server under `home`.
result<database> open_database(const std::string& url, const std::string& home);

/// Applies the embedded migrations; waits up to `wait` for the database.
result<int> apply_migrations(const std::string& url, millis wait);

}  // namespace orch::runtime
