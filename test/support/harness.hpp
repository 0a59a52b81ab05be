#pragma once
// Test support: fresh databases, orchestrator processes and an HTTP client.
// Tests use real PostgreSQL (TEST_DATABASE_URL, started by ops/scripts/test.sh)
// and the real binary.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace orch::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

/// The admin URL of the test PostgreSQL; fails loudly when unset.
inline std::string admin_url() {
  const char* u = std::getenv("TEST_DATABASE_URL");
  if (u == nullptr || *u == '\0') {
    throw std::runtime_error(
        "TEST_DATABASE_URL is not set: run the tests through ops/scripts/test.sh, which starts "
        "a throwaway PostgreSQL");
  }
  return u;
}

/// Replaces the database name of a postgresql:// URL.
inline std::string with_database(const std::string& url, const std::string& db) {
  auto q = url.find('?');
  auto base = url.substr(0, q);
  auto slash = base.rfind('/');
  return base.substr(0, slash + 1) + db + (q == std::string::npos ? "" : url.substr(q));
}

/// Creates an empty database with a unique name and returns its URL.
inline std::string fresh_database(const std::string& admin = admin_url()) {
  static std::mt19937_64 rng{std::random_device{}()};
  std::string name = "t_" + std::to_string(::getpid()) + "_" + std::to_string(rng() % 1000000000);
  pqxx::connection c{admin};
  pqxx::nontransaction tx{c};
  tx.exec("CREATE DATABASE " + name);
  return with_database(admin, name);
}

/// Polls `pred` every 10 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

/// An HTTP response.
struct response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  json js() const { return json::parse(body); }
};

/// A minimal blocking HTTP client (libcurl).
class client {
 public:
  explicit client(std::string base) : base_(std::move(base)) {}
  void set_token(std::string t) { token_ = std::move(t); }
  const std::string& base() const { return base_; }

  response request(const std::string& method, const std::string& path,
                   const std::optional<std::string>& body = std::nullopt,
                   const std::string& content_type = "application/json",
                   const std::vector<std::string>& extra_headers = {}) const {
    CURL* c = curl_easy_init();
    response r;
    curl_slist* h = nullptr;
    if (body) h = curl_slist_append(h, ("Content-Type: " + content_type).c_str());
    if (!token_.empty()) h = curl_slist_append(h, ("Authorization: Bearer " + token_).c_str());
    for (const auto& x : extra_headers) h = curl_slist_append(h, x.c_str());
    auto url = base_ + path;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    if (body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    curl_easy_setopt(
        c, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* o) {
          static_cast<std::string*>(o)->append(d, s * n);
          return s * n;
        });
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(
        c, CURLOPT_HEADERFUNCTION, +[](char* d, size_t s, size_t n, void* o) {
          std::string line(d, s * n);
          auto colon = line.find(':');
          if (colon != std::string::npos) {
            std::string k = line.substr(0, colon);
            for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            std::string v = line.substr(colon + 1);
            while (!v.empty() && (v.front() == ' ')) v.erase(v.begin());
            while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
            (*static_cast<std::map<std::string, std::string>*>(o))[k] = v;
          }
          return s * n;
        });
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    auto rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) r.status = -static_cast<long>(rc);
    return r;
  }
  response get(const std::string& path) const { return request("GET", path); }
  response post(const std::string& path, const json& body) const {
    return request("POST", path, body.dump());
  }
  response put(const std::string& path, const json& body) const {
    return request("PUT", path, body.dump());
  }
  response del(const std::string& path) const { return request("DELETE", path); }

 private:
  std::string base_;
  std::string token_;
};

/// The value of one series of /metrics (0 when absent).
inline double metric(const client& c, const std::string& series) {
  auto r = c.get("/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

/// The pid a step wrote to `path`, once it has.
inline std::optional<pid_t> read_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid && pid > 0) return static_cast<pid_t>(pid);
  return std::nullopt;
}

/// Whether process `pid` no longer exists (reaped first if it was orphaned to us).
inline bool gone(pid_t pid) {
  ::waitpid(pid, nullptr, WNOHANG);
  return ::kill(pid, 0) == -1 && errno == ESRCH;
}

/// Path of the orchestrator binary (ORCH_BINARY, else the build's).
inline std::string binary() {
  const char* b = std::getenv("ORCH_BINARY");
  return b != nullptr && *b != '\0' ? b : ORCH_BINARY_PATH;
}

/// A free loopback TCP port.
inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

/// Runs a command to completion; returns its exit code, stdout+stderr in `out`.
inline int run_command(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& env, std::string* out) {
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    close(pipefd[1]);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  std::string buf;
  char tmp[4096];
  ssize_t n;
  while ((n = read(pipefd[0], tmp, sizeof(tmp))) > 0) buf.append(tmp, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out != nullptr) *out = buf;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// An `orchestrator serve` process on a free port with its own environment.
class server {
 public:
  /// `env` is added to a minimal environment (PATH, HOME); DATABASE_URL is required.
  explicit server(std::map<std::string, std::string> env, std::vector<std::string> args = {})
      : env_(std::move(env)), args_(std::move(args)) {
    if (!env_.count("HTTP_PORT")) env_["HTTP_PORT"] = std::to_string(free_port());
    port_ = std::stoi(env_["HTTP_PORT"]);
    static int counter = 0;
    log_path_ =
        "/tmp/orch-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log";
  }
  ~server() { kill(SIGKILL); }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Starts the process (does not wait for readiness).
  void start() {
    // Read before fork: the child clears its environment.
    const std::string program = binary();
    pid_ = fork();
    if (pid_ == 0) {
      int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      ::close(fd);
      clearenv();
      setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
      setenv("HOME", "/tmp", 1);
      for (const auto& [k, v] : env_) setenv(k.c_str(), v.c_str(), 1);
      std::vector<std::string> argv = {program, "serve"};
      argv.insert(argv.end(), args_.begin(), args_.end());
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
  }
  /// Starts and waits until /ready answers 200; throws with the log otherwise.
  void start_ready(std::chrono::milliseconds timeout = 60s) {
    start();
    if (!wait_ready(timeout)) throw std::runtime_error("server not ready; log:\n" + log());
  }
  bool wait_ready(std::chrono::milliseconds timeout = 60s) {
    client c(url());
    return eventually([&] { return running() && c.get("/ready").status == 200; }, timeout);
  }
  /// Sends a signal (no-op when not running).
  void kill(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
    if (sig == SIGKILL) wait_exit(10s);
  }
  /// Waits for the process to exit; returns its exit code (or -1 on timeout).
  int wait_exit(std::chrono::milliseconds timeout = 60s) {
    if (pid_ <= 0) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(10ms);
    }
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return false;
    }
    return true;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  client http() const { return client(url()); }
  pid_t pid() const { return pid_; }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::map<std::string, std::string>& env() { return env_; }

 private:
  std::map<std::string, std::string> env_;
  std::vector<std::string> args_;
  int port_ = 0;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

/// A task definition with one exec step.
inline json exec_task(const std::vector<std::string>& command, int max_attempts = 1,
                      const std::string& timeout = "10m") {
  return {{"steps", json::array({{{"name", "main"}, {"exec", {{"command", command}}}}})},
          {"retry", {{"max_attempts", max_attempts}, {"initial_delay", "100ms"}}},
          {"timeout", timeout}};
}

/// Polls a run until it is terminal; returns it (or the last state on timeout).
inline json wait_terminal(const client& c, const std::string& id,
                          std::chrono::milliseconds timeout = 30s) {
  json run;
  eventually(
      [&] {
        auto r = c.get("/v1/runs/" + id);
        if (r.status != 200) return false;
        run = r.js();
        auto s = run["status"].get<std::string>();
        return s == "succeeded" || s == "failed" || s == "cancelled";
      },
      timeout);
  return run;
}

}  // namespace orch::test
