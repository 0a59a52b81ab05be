#include "runtime/embedded_pg.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <pqxx/pqxx>

#include "actors/log.hpp"

namespace orch::runtime {
namespace {

namespace fs = std::filesystem;

constexpr int embedded_port = 5432;

// Runs a program, optionally as another user, with stdout/stderr to `log_file`.
int run_program(const std::vector<std::string>& argv, const passwd* as_user,
                const std::string& log_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (as_user != nullptr) {
      if (initgroups(as_user->pw_name, as_user->pw_gid) != 0 || setgid(as_user->pw_gid) != 0 ||
          setuid(as_user->pw_uid) != 0) {
        _exit(126);
      }
    }
    // The server gets its own session so a terminal's Ctrl-C reaches us, not it.
    setsid();
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool accessible_by(const passwd* user, const std::string& dir) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(user->pw_gid) != 0 || setuid(user->pw_uid) != 0) _exit(1);
    _exit(access(dir.c_str(), R_OK | W_OK | X_OK) == 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::string find_postgres_bin_dir() {
  std::error_code ec;
  std::vector<std::pair<int, std::string>> found;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    auto bin = entry.path() / "bin";
    if (fs::exists(bin / "initdb") && fs::exists(bin / "pg_ctl")) {
      int v = std::atoi(entry.path().filename().c_str());
      found.emplace_back(v, bin.string());
    }
  }
  if (!found.empty()) return std::max_element(found.begin(), found.end())->second;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    std::size_t start = 0;
    while (start <= p.size()) {
      auto end = p.find(':', start);
      auto dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!dir.empty() && fs::exists(fs::path(dir) / "initdb") &&
          fs::exists(fs::path(dir) / "pg_ctl")) {
        return dir;
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return {};
}

embedded_postgres::embedded_postgres(std::string home) : home_(std::move(home)) {}

embedded_postgres::~embedded_postgres() {
  stop();
}

result<std::string> embedded_postgres::start() {
  bin_dir_ = find_postgres_bin_dir();
  if (bin_dir_.empty()) {
    return error_info{errc::unavailable,
                      "no DATABASE_URL is set and PostgreSQL's initdb/pg_ctl were not found; "
                      "install them (Debian: apt-get install postgresql) or set DATABASE_URL",
                      ""};
  }
  std::error_code ec;
  fs::create_directories(home_, ec);
  auto home = fs::absolute(home_).lexically_normal();
  const passwd* pg_user = nullptr;
  if (geteuid() == 0) {
    pg_user = getpwnam("postgres");
    if (pg_user == nullptr) {
      return error_info{errc::unavailable,
                        "running as root needs the 'postgres' user for the embedded database "
                        "(Debian: apt-get install postgresql)",
                        ""};
    }
  }
  fs::path base = home;
  if (pg_user != nullptr && !accessible_by(pg_user, home.string())) {
    // The postgres user cannot reach ORCH_HOME (e.g. below /root); keep the
    // cluster in a directory of its own that it can reach.
    base =
        fs::path("/var/lib/orchestrator") / std::to_string(std::hash<std::string>{}(home.string()));
    log_info("embedded-postgres", "postgres cannot access " + home.string() + "; using " +
                                      base.string() + " for the embedded database");
  }
  data_dir_ = (base / "pgdata").string();
  socket_dir_ = (base / "run").string();
  fs::create_directories(base, ec);
  fs::create_directories(socket_dir_, ec);
  auto log_file = (base / "postgres.log").string();
  if (pg_user != nullptr) {
    for (const auto& p : {base.string(), socket_dir_}) {
      if (chown(p.c_str(), pg_user->pw_uid, pg_user->pw_gid) != 0) {
        return error_info{errc::unavailable, "cannot chown " + p + " to postgres", ""};
      }
    }
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) close(fd);
    if (chown(log_file.c_str(), pg_user->pw_uid, pg_user->pw_gid) != 0) {
      return error_info{errc::unavailable, "cannot chown " + log_file, ""};
    }
  }
  if (!fs::exists(fs::path(data_dir_) / "PG_VERSION")) {
    log_info("embedded-postgres", "initializing a new database cluster in " + data_dir_);
    int rc = run_program({bin_dir_ + "/initdb", "-D", data_dir_, "-U", "orchestrator",
                          "--auth=trust", "-E", "UTF8", "--locale=C"},
                         pg_user, log_file);
    if (rc != 0) {
      return error_info{errc::unavailable,
                        "initdb failed (exit " + std::to_string(rc) + "); see " + log_file, ""};
    }
  }
  int running = run_program({bin_dir_ + "/pg_ctl", "-D", data_dir_, "status"}, pg_user, log_file);
  if (running != 0) {
    std::string opts = "-c listen_addresses='' -c unix_socket_directories='" + socket_dir_ +
                       "' -p " + std::to_string(embedded_port) + " -c max_connections=200";
    int rc = run_program({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-l", log_file, "-w", "-t", "120",
                          "-o", opts, "start"},
                         pg_user, log_file);
    if (rc != 0) {
      return error_info{errc::unavailable,
                        "pg_ctl start failed (exit " + std::to_string(rc) + "); see " + log_file,
                        ""};
    }
    started_ = true;
    log_info("embedded-postgres", "started PostgreSQL in " + data_dir_);
  } else {
    log_info("embedded-postgres", "reusing the PostgreSQL server already running in " + data_dir_);
    started_ = true;
  }
  std::string admin = "postgresql:///postgres?host=" + socket_dir_ +
                      "&port=" + std::to_string(embedded_port) + "&user=orchestrator";
  try {
    pqxx::connection c{admin};
    pqxx::nontransaction tx{c};
    if (tx.exec("SELECT 1 FROM pg_database WHERE datname = 'orchestrator'").empty()) {
      tx.exec("CREATE DATABASE orchestrator");
    }
  } catch (const std::exception& e) {
    return error_info{errc::unavailable, std::string("embedded PostgreSQL: ") + e.what(), ""};
  }
  return "postgresql:///orchestrator?host=" + socket_dir_ +
         "&port=" + std::to_string(embedded_port) + "&user=orchestrator";
}

void embedded_postgres::stop() {
  if (!started_) return;
  started_ = false;
  const passwd* pg_user = geteuid() == 0 ? getpwnam("postgres") : nullptr;
  run_program({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-m", "fast", "-w", "stop"}, pg_user,
              (fs::path(data_dir_).parent_path() / "postgres.log").string());
  log_info("embedded-postgres", "stopped PostgreSQL");
}

}  // namespace orch::runtime
