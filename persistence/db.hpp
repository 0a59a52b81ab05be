#pragma once
/// \file db.hpp One owned PostgreSQL connection with error translation.

#include <functional>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "domain/result.hpp"

namespace orch::persistence {

/// Translates a libpqxx (or std) exception into an error value: lost connections
/// become errc::unavailable, unique violations errc::conflict, bad input
/// (invalid text, out of range) errc::validation_failed, the rest errc::internal.
error_info translate(const std::exception& e);

/// Owns one libpq connection. Not thread-safe: one session per owner (actor or
/// thread). Connects lazily, prepares every statement on connect, and drops the
/// connection after a connection-level failure so the next call reconnects.
class session {
 public:
  explicit session(std::string url);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Runs `fn` in a transaction and commits. Exceptions become error values.
  template <class F>
  auto transact(F&& fn) -> result<decltype(fn(std::declval<pqxx::work&>()))> {
    try {
      pqxx::work tx{conn()};
      auto value = fn(tx);
      tx.commit();
      return value;
    } catch (const std::exception& e) {
      return fail(e);
    }
  }

  /// Runs `fn` outside a transaction (autocommit), e.g. for LISTEN.
  template <class F>
  auto autocommit(F&& fn) -> result<decltype(fn(std::declval<pqxx::nontransaction&>()))> {
    try {
      pqxx::nontransaction tx{conn()};
      return fn(tx);
    } catch (const std::exception& e) {
      return fail(e);
    }
  }

  /// The connection, connecting first if needed (throws on failure).
  pqxx::connection& conn();
  /// Whether a connection is open now (no round trip).
  bool connected() const { return conn_ != nullptr; }
  /// Round trip `SELECT 1`; false when the database is unreachable.
  bool ping();
  /// Closes the connection; the next call reconnects.
  void reset();
  /// The connection URL.
  const std::string& url() const { return url_; }

 private:
  error_info fail(const std::exception& e);
  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
};

/// nullptr for an empty optional (a SQL NULL parameter), else the string.
inline const char* nullable(const std::optional<std::string>& s) {
  return s ? s->c_str() : nullptr;
}

/// Registers every prepared statement of the repositories on a new connection.
void prepare_statements(pqxx::connection& c);

}  // namespace orch::persistence
