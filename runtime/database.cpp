#include "runtime/database.hpp"

#include <thread>

#include "actors/log.hpp"
#include "persistence/db.hpp"
#include "persistence/migrator.hpp"

namespace orch::runtime {

result<database> open_database(const std::string& url, const std::string& home) {
  database db;
  if (!url.empty()) {
    db.url = url;
    return db;
  }
  db.embedded = std::make_unique<embedded_postgres>(home);
  auto started = db.embedded->start();
  if (!started) return started.error();
  db.url = *started;
  return db;
}

result<int> apply_migrations(const std::string& url, millis wait) {
  auto migrations = persistence::parse_migrations(persistence::embedded_migrations());
  if (!migrations) return migrations.error();
  persistence::session s(url);
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto applied = persistence::migrate(s, *migrations);
    if (applied || applied.error().code != errc::unavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return applied;
    }
    log_limited(log_level::warning, "migrate.wait", "migrate", "waiting for the database...");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace orch::runtime
