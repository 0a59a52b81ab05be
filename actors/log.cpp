#include "actors/log.hpp"

#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "domain/time.hpp"

namespace orch {
namespace {

struct log_config {
  std::mutex mu;
  log_level level = log_level::info;
  bool json = false;
  std::string node;
  struct limited {
    sys_ms last{};
    long long held = 0;
  };
  std::map<std::string, limited, std::less<>> limits;
};

log_config& cfg() {
  static log_config c;
  return c;
}

const char* level_name(log_level l) {
  switch (l) {
    case log_level::debug:
      return "DEBUG";
    case log_level::info:
      return "INFO";
    case log_level::warning:
      return "WARNING";
    case log_level::error:
      return "ERROR";
  }
  return "INFO";
}

void write_locked(log_config& c, log_level level, std::string_view logger, std::string_view msg,
                  long long run_id, std::string_view task) {
  auto ts = format_rfc3339(now_ms());
  std::string line;
  if (c.json) {
    nlohmann::json j = {{"ts", ts},
                        {"level", level_name(level)},
                        {"logger", logger},
                        {"msg", msg},
                        {"node", c.node}};
    if (run_id != 0) j["run_id"] = std::to_string(run_id);
    if (!task.empty()) j["task"] = task;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = ts + " " + level_name(level) + " [" + std::string(logger) + "] " + std::string(msg);
    if (run_id != 0) line += " run_id=" + std::to_string(run_id);
    if (!task.empty()) line += " task=" + std::string(task);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void configure_logging(log_level level, bool json, std::string node) {
  auto& c = cfg();
  std::lock_guard<std::mutex> lock(c.mu);
  c.level = level;
  c.json = json;
  c.node = std::move(node);
}

void log_write(log_level level, std::string_view logger, std::string_view msg, long long run_id,
               std::string_view task) {
  auto& c = cfg();
  std::lock_guard<std::mutex> lock(c.mu);
  if (level < c.level) return;
  write_locked(c, level, logger, msg, run_id, task);
}

void log_limited(log_level level, std::string_view key, std::string_view logger,
                 std::string_view msg) {
  auto& c = cfg();
  std::lock_guard<std::mutex> lock(c.mu);
  if (level < c.level) return;
  auto now = now_ms();
  auto it = c.limits.find(key);
  if (it == c.limits.end()) it = c.limits.emplace(std::string(key), log_config::limited{}).first;
  auto& l = it->second;
  if (l.last != sys_ms{} && now - l.last < std::chrono::seconds(10)) {
    ++l.held;
    return;
  }
  std::string text(msg);
  if (l.held > 0) text += " (" + std::to_string(l.held) + " similar lines suppressed)";
  l.last = now;
  l.held = 0;
  write_locked(c, level, logger, text, 0, {});
}

std::string random_incarnation() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  auto v = rng();
  for (int i = 0; i < 8; ++i) out += digits[(v >> (i * 4)) & 0xF];
  return out;
}

}  // namespace orch
