#include "persistence/db.hpp"

#include <utility>

namespace orch::persistence {

error_info translate(const std::exception& e) {
  // Checked before broken_connection: a commit whose outcome is unknown may have
  // written, so it must not be the 503 that proxies and clients retry blindly
  // (every 503 of this API means nothing was done).
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return {errc::internal,
            "the database connection was lost during commit; the outcome is unknown", ""};
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return {errc::unavailable, "database unavailable", ""};
  }
  if (const auto* se = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = se->sqlstate();
    if (state == "23505") return {errc::conflict, "already exists", ""};
    // 22xxx: data exceptions (invalid text representation, out of range, bad UTF-8).
    if (state.rfind("22", 0) == 0) return {errc::validation_failed, se->what(), ""};
    // 08xxx connection exceptions, 57P0x shutdown, 53xxx insufficient resources.
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state.rfind("53", 0) == 0) {
      return {errc::unavailable, "database unavailable", ""};
    }
    return {errc::internal, se->what(), ""};
  }
  return {errc::internal, e.what(), ""};
}

session::session(std::string url) : url_(std::move(url)) {}
session::~session() = default;

pqxx::connection& session::conn() {
  if (!conn_) {
    auto c = std::make_unique<pqxx::connection>(url_);
    prepare_statements(*c);
    conn_ = std::move(c);
  }
  return *conn_;
}

bool session::ping() {
  try {
    pqxx::nontransaction tx{conn()};
    tx.exec("SELECT 1");
    return true;
  } catch (const std::exception& e) {
    fail(e);
    return false;
  }
}

void session::reset() {
  conn_.reset();
}

error_info session::fail(const std::exception& e) {
  auto err = translate(e);
  // After a connection-level failure the connection is unusable; a fresh one is
  // made on the next call.
  if (err.code == errc::unavailable)
    reset();
  else if (conn_ && !conn_->is_open())
    reset();
  return err;
}

}  // namespace orch::persistence
