#define BOOST_TEST_MODULE http_step
#include "steps/http_step.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace orch;
using namespace orch::steps;
using namespace std::chrono_literals;

namespace {

/// A tiny HTTP/1.1 server on 127.0.0.1 with canned routes, one thread per connection.
///   /json              200 with a JSON body
///   /status/N          status N, body "status N"
///   /slow?ms=N         200 after N milliseconds
///   /redirect/N        302 to /redirect/N-1; /redirect/0 is 200 "arrived"
///   /redirect-to-file  302 to file:///etc/passwd
///   /big               200 with a 5 MiB body
///   /echo              200 with {"method","target","headers","body"} as JSON
class test_server {
 public:
  test_server() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    BOOST_REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(::listen(listen_fd_, 64) == 0);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;
  ~test_server() {
    stopping_ = true;
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
  }

  std::string url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + target;
  }
  int requests() const { return requests_.load(); }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      connections_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  static bool send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  static void respond(int fd, int status, const std::string& body, bool send_body = true,
                      const std::string& extra_headers = "") {
    std::string head = "HTTP/1.1 " + std::to_string(status) + (status < 400 ? " OK" : " Error") +
                       "\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n" + extra_headers + "\r\n";
    if (send_all(fd, head) && send_body) send_all(fd, body);
  }

  void serve(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string data;
    char buf[8192];
    std::size_t head_end = std::string::npos;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0 || data.size() > 65536) return;
      data.append(buf, static_cast<std::size_t>(n));
    }
    ++requests_;
    std::string head = data.substr(0, head_end);
    std::string body = data.substr(head_end + 4);
    std::size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    std::string method = request_line.substr(0, request_line.find(' '));
    std::string target = request_line.substr(method.size() + 1);
    target = target.substr(0, target.find(' '));
    nlohmann::json headers = nlohmann::json::object();
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t end = std::min(head.find("\r\n", pos), head.size());
      std::string line = head.substr(pos, end - pos);
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        headers[name] = value;
      }
      pos = end + 2;
    }
    if (headers.contains("content-length")) {
      std::size_t length = std::stoul(headers["content-length"].get<std::string>());
      while (body.size() < length) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        body.append(buf, static_cast<std::size_t>(n));
      }
    }

    std::string path = target.substr(0, target.find('?'));
    if (path == "/json") {
      respond(fd, 200, R"({"ok":true,"items":[1,2,3]})", method != "HEAD",
              "Content-Type: application/json\r\n");
    } else if (path.starts_with("/status/")) {
      int status = std::stoi(path.substr(8));
      respond(fd, status, "status " + std::to_string(status));
    } else if (path == "/slow") {
      int ms = std::stoi(target.substr(target.find("ms=") + 3));
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(5ms);
      }
      respond(fd, 200, "slow done");
    } else if (path.starts_with("/redirect/")) {
      int left = std::stoi(path.substr(10));
      if (left == 0) {
        respond(fd, 200, "arrived");
      } else {
        respond(fd, 302, "", true, "Location: /redirect/" + std::to_string(left - 1) + "\r\n");
      }
    } else if (path == "/redirect-to-file") {
      respond(fd, 302, "", true, "Location: file:///etc/passwd\r\n");
    } else if (path == "/big") {
      respond(fd, 200, std::string(5 * 1024 * 1024, 'x'));
    } else if (path == "/echo") {
      nlohmann::json echo = {
          {"method", method}, {"target", target}, {"headers", headers}, {"body", body}};
      respond(fd, 200, echo.dump(), true, "Content-Type: application/json\r\n");
    } else {
      respond(fd, 404, "not found");
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

/// Collects what a step logs.
class log_capture {
 public:
  log_sink sink() {
    return [this](std::string_view stream, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.push_back(std::string(stream) + ": " + std::string(line));
    };
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

struct curl_setup {
  curl_setup() { http_global_init(); }
};
BOOST_TEST_GLOBAL_FIXTURE(curl_setup);

http_spec request(const std::string& method, const std::string& url) {
  http_spec spec;
  spec.method = method;
  spec.url = url;
  return spec;
}

step_outcome send(const http_spec& spec, const http_limits& limits = {}, millis timeout = 10s,
                  log_capture* logs = nullptr) {
  cancel_token stop;
  return run_http(spec, timeout, stop, logs != nullptr ? logs->sink() : log_sink{}, limits);
}

std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_get_returns_the_body_as_output_and_logs_the_request) {
  test_server server;
  log_capture logs;
  auto out = send(request("GET", server.url("/json")), {}, 10s, &logs);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == R"({"ok":true,"items":[1,2,3]})");
  BOOST_REQUIRE(out.http_status.has_value());
  BOOST_TEST(*out.http_status == 200);
  BOOST_TEST(out.error_code.empty());
  auto lines = logs.lines();
  BOOST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].starts_with("system: GET " + server.url("/json") + " -> 200 ("));
  BOOST_TEST(lines[0].ends_with(" ms)"));
}

BOOST_AUTO_TEST_CASE(the_log_line_leaves_out_the_query_and_credentials) {
  test_server server;
  log_capture logs;
  std::string url = server.url("/json?token=secret-value");
  url.insert(url.find("127.0.0.1"), "user:password@");
  auto out = send(request("GET", url), {}, 10s, &logs);
  BOOST_TEST((out.status == run_status::succeeded));
  auto lines = logs.lines();
  BOOST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].find("secret-value") == std::string::npos);
  BOOST_TEST(lines[0].find("password") == std::string::npos);
  BOOST_TEST(lines[0].find(server.url("/json")) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_json_body_is_sent_compact_with_its_content_type_and_headers) {
  test_server server;
  http_spec spec = request("POST", server.url("/echo"));
  spec.body = {{"prompt", "hello"}, {"n", 2}};
  spec.headers = {{"X-Request-Id", "abc-123"}, {"Authorization", "Bearer t0ken"}};
  auto out = send(spec);
  BOOST_TEST((out.status == run_status::succeeded));
  auto echo = nlohmann::json::parse(out.output);
  BOOST_TEST(echo["method"] == "POST");
  BOOST_TEST(echo["body"] == spec.body.dump());
  BOOST_TEST(echo["headers"]["content-type"] == "application/json");
  BOOST_TEST(echo["headers"]["x-request-id"] == "abc-123");
  BOOST_TEST(echo["headers"]["authorization"] == "Bearer t0ken");
  BOOST_TEST(!echo["headers"].contains("expect"));
}

BOOST_AUTO_TEST_CASE(the_steps_own_content_type_wins_over_the_json_default) {
  test_server server;
  http_spec spec = request("PUT", server.url("/echo"));
  spec.body = nlohmann::json::array({1, 2});
  spec.headers = {{"content-type", "application/vnd.custom+json"}};
  auto out = send(spec);
  auto echo = nlohmann::json::parse(out.output);
  BOOST_TEST(echo["method"] == "PUT");
  BOOST_TEST(echo["body"] == "[1,2]");
  BOOST_TEST(echo["headers"]["content-type"] == "application/vnd.custom+json");
}

BOOST_AUTO_TEST_CASE(a_string_body_is_sent_as_is) {
  test_server server;
  http_spec spec = request("PATCH", server.url("/echo"));
  spec.body = "plain {not json}";
  spec.headers = {{"Content-Type", "text/plain"}};
  auto out = send(spec);
  auto echo = nlohmann::json::parse(out.output);
  BOOST_TEST(echo["method"] == "PATCH");
  BOOST_TEST(echo["body"] == "plain {not json}");
  BOOST_TEST(echo["headers"]["content-type"] == "text/plain");
}

BOOST_AUTO_TEST_CASE(a_null_body_sends_no_body) {
  test_server server;
  for (std::string method : {"GET", "DELETE"}) {
    auto out = send(request(method, server.url("/echo")));
    BOOST_TEST((out.status == run_status::succeeded));
    auto echo = nlohmann::json::parse(out.output);
    BOOST_TEST(echo["method"] == method);
    BOOST_TEST(echo["body"] == "");
    BOOST_TEST(!echo["headers"].contains("content-type"));
  }
}

BOOST_AUTO_TEST_CASE(a_head_request_succeeds_without_a_body) {
  test_server server;
  auto out = send(request("HEAD", server.url("/json")));
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.empty());
  BOOST_TEST(*out.http_status == 200);
}

BOOST_AUTO_TEST_CASE(a_status_outside_2xx_fails_with_http_status_and_keeps_the_body) {
  test_server server;
  auto out = send(request("GET", server.url("/status/500")));
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "http_status");
  BOOST_TEST(out.error_message == "HTTP 500");
  BOOST_REQUIRE(out.http_status.has_value());
  BOOST_TEST(*out.http_status == 500);
  BOOST_TEST(out.output == "status 500");
}

BOOST_AUTO_TEST_CASE(expect_status_lists_the_statuses_that_succeed) {
  test_server server;
  http_spec spec = request("GET", server.url("/status/404"));
  spec.expect_status = {200, 404};
  auto out = send(spec);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(*out.http_status == 404);

  spec = request("GET", server.url("/status/204"));
  spec.expect_status = {200};
  out = send(spec);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "http_status");
  BOOST_TEST(out.error_message == "HTTP 204");

  out = send(request("GET", server.url("/status/204")));
  BOOST_TEST((out.status == run_status::succeeded));
}

BOOST_AUTO_TEST_CASE(redirects_are_followed_up_to_the_limit) {
  test_server server;
  http_limits limits;
  limits.max_redirects = 5;
  auto out = send(request("GET", server.url("/redirect/3")), limits);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == "arrived");

  out = send(request("GET", server.url("/redirect/10")), limits);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "http_error");
  BOOST_TEST(out.error_message.find("redirect") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_redirect_to_another_scheme_is_refused) {
  test_server server;
  auto out = send(request("GET", server.url("/redirect-to-file")));
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "http_error");
  BOOST_TEST(out.output.find("root:") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_response_beyond_the_limit_fails_as_too_large) {
  test_server server;
  http_limits limits;
  limits.max_response = 1 << 20;
  auto out = send(request("GET", server.url("/big")), limits);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "response_too_large");
  BOOST_TEST(out.output.size() <= limits.max_response);
  BOOST_TEST(out.output_truncated);
}

BOOST_AUTO_TEST_CASE(a_large_response_within_the_limit_is_kept_whole) {
  test_server server;
  http_limits limits;
  limits.max_response = 8 << 20;
  auto out = send(request("GET", server.url("/big")), limits);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.size() == 5u * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(a_slow_response_times_out) {
  test_server server;
  auto start = std::chrono::steady_clock::now();
  auto out = send(request("GET", server.url("/slow?ms=5000")), {}, 300ms);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "timeout");
  BOOST_TEST(since(start) < 2000ms);
}

BOOST_AUTO_TEST_CASE(a_cancel_from_another_thread_aborts_a_slow_request_promptly) {
  test_server server;
  cancel_token stop;
  std::atomic<bool> requested{false};
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    // Cancel once the server has the request, so the transfer is really under way.
    auto until = std::chrono::steady_clock::now() + 5s;
    while (server.requests() == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(5ms);
    }
    cancelled_at = std::chrono::steady_clock::now();
    requested = true;
    stop.request(stop_reason::cancel);
  });
  auto out = run_http(request("GET", server.url("/slow?ms=10000")), 30s, stop, {}, {});
  auto returned_at = std::chrono::steady_clock::now();
  canceller.join();
  BOOST_REQUIRE(requested.load());
  BOOST_TEST((out.status == run_status::cancelled));
  BOOST_TEST(out.error_code == "cancelled");
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(returned_at - cancelled_at) <
             500ms);
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_an_http_error) {
  // A bound socket that does not listen: connecting to its port is refused.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto out = send(request("GET", "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/"));
  ::close(fd);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "http_error");
  BOOST_TEST(!out.error_message.empty());
  BOOST_TEST(!out.http_status.has_value());
}

BOOST_AUTO_TEST_CASE(an_unknown_host_is_an_http_error) {
  http_limits limits;
  limits.connect_timeout = 5000ms;
  auto out = send(request("GET", "http://no-such-host.invalid/"), limits, 10s);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "http_error");
  BOOST_TEST(!out.error_message.empty());
}

BOOST_AUTO_TEST_CASE(schemes_other_than_http_and_https_are_refused) {
  for (std::string url :
       {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/", "127.0.0.1/no-scheme"}) {
    log_capture logs;
    auto out = send(request("GET", url), {}, 10s, &logs);
    BOOST_TEST((out.status == run_status::failed));
    BOOST_TEST(out.error_code == "http_error");
    BOOST_TEST(out.output.empty());
    BOOST_TEST(logs.lines().size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(a_header_with_a_line_break_is_refused) {
  test_server server;
  http_spec spec = request("GET", server.url("/echo"));
  spec.headers = {{"X-Injected", "a\r\nHost: evil"}};
  auto out = send(spec);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "http_error");
  BOOST_TEST(server.requests() == 0);
}

BOOST_AUTO_TEST_CASE(many_threads_can_send_requests_at_once) {
  test_server server;
  constexpr int threads = 16;
  std::vector<step_outcome> outcomes(threads);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      http_spec spec = request("POST", server.url("/echo"));
      spec.body = {{"worker", i}};
      outcomes[i] = send(spec);
    });
  }
  for (auto& w : workers) w.join();
  for (int i = 0; i < threads; ++i) {
    BOOST_TEST((outcomes[i].status == run_status::succeeded));
    auto echo = nlohmann::json::parse(outcomes[i].output);
    BOOST_TEST(echo["body"] == nlohmann::json({{"worker", i}}).dump());
  }
}
