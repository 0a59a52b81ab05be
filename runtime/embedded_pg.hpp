#pragma once
/// \file embedded_pg.hpp A PostgreSQL server managed by the binary (zero configuration).

#include <string>

#include "domain/result.hpp"

namespace orch::runtime {

/// Starts (initializing on first use) a PostgreSQL cluster under `home`/pgdata
/// with the system's initdb and pg_ctl, listening only on a Unix socket in
/// `home`/run. As root, the server runs as the `postgres` user. A server left
/// running by a killed process is reused. stop() is called by the destructor.
class embedded_postgres {
 public:
  explicit embedded_postgres(std::string home);
  ~embedded_postgres();
  embedded_postgres(const embedded_postgres&) = delete;
  embedded_postgres& operator=(const embedded_postgres&) = delete;

  /// Starts the server and creates the database; returns its URL. The error
  /// says what to install when PostgreSQL's programs are missing.
  result<std::string> start();
  /// Stops the server if this object started it.
  void stop();

 private:
  std::string home_;
  std::string data_dir_;
  std::string socket_dir_;
  std::string bin_dir_;
  bool started_ = false;
};

/// Finds the directory of initdb/pg_ctl: the newest /usr/lib/postgresql/*/bin,
/// or the directory of `initdb` on PATH. Empty when none is installed.
std::string find_postgres_bin_dir();

}  // namespace orch::runtime
