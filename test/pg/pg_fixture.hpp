#pragma once
// Shared support for the PostgreSQL tests: one fresh, migrated database per
// fixture (dropped afterwards), raw SQL helpers and small builders.

#include <boost/test/unit_test.hpp>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "domain/result.hpp"
#include "domain/task.hpp"
#include "persistence/db.hpp"
#include "persistence/migrator.hpp"
#include "support/harness.hpp"

namespace orch::test {

/// The embedded migrations, parsed (fails the test when they do not parse).
inline std::vector<persistence::migration> embedded() {
  auto parsed = persistence::parse_migrations(persistence::embedded_migrations());
  if (!parsed) throw std::runtime_error("embedded migrations: " + parsed.error().message);
  return *parsed;
}

/// The database name of a postgresql:// URL.
inline std::string database_name(const std::string& url) {
  auto base = url.substr(0, url.find('?'));
  return base.substr(base.rfind('/') + 1);
}

/// An empty database, dropped when the fixture ends.
struct empty_db {
  std::string url = fresh_database();

  empty_db() = default;
  empty_db(const empty_db&) = delete;
  empty_db& operator=(const empty_db&) = delete;
  ~empty_db() {
    try {
      pqxx::connection c{admin_url()};
      pqxx::nontransaction tx{c};
      tx.exec("DROP DATABASE IF EXISTS " + database_name(url) + " WITH (FORCE)");
    } catch (const std::exception&) {
      // A leftover database only costs disk space on a throwaway server.
    }
  }

  /// A new session on this database (one per thread).
  std::unique_ptr<persistence::session> open() const {
    return std::make_unique<persistence::session>(url);
  }
};

/// A fresh database with every embedded migration applied, plus a session.
struct pg_db : empty_db {
  persistence::session db{url};

  pg_db() {
    auto applied = persistence::migrate(db, embedded());
    if (!applied) throw std::runtime_error("migrate: " + applied.error().message);
  }

  /// Runs SQL outside the repositories (to arrange or inspect state).
  pqxx::result sql(const std::string& text) {
    return *db.autocommit([&](pqxx::nontransaction& tx) { return tx.exec(text); });
  }
  /// A single scalar of a query, as T.
  template <class T = long long>
  T scalar(const std::string& text) {
    return sql(text)[0][0].as<T>();
  }
};

/// A minimal valid task with one template step.
inline task_spec make_task(const std::string& name, int concurrency = 0, int priority = 0) {
  task_spec t;
  t.name = name;
  t.steps.push_back(step_spec{"main", template_spec{json("hello")}, std::nullopt, std::nullopt});
  t.concurrency = concurrency;
  t.priority = priority;
  return t;
}

/// Unwraps a result, failing the test with the error message when it holds one.
template <class T>
T must(result<T> r) {
  if (!r)
    BOOST_FAIL("unexpected error: " << to_string(r.error().code) << ": " << r.error().message);
  return std::move(*r);
}

/// Asserts that a result holds an error with `code`.
template <class T>
void expect_error(const result<T>& r, errc code) {
  BOOST_REQUIRE_MESSAGE(!r, "expected error " << to_string(code) << ", got a value");
  BOOST_CHECK_MESSAGE(r.error().code == code, "expected " << to_string(code) << ", got "
                                                          << to_string(r.error().code) << ": "
                                                          << r.error().message);
}

}  // namespace orch::test
