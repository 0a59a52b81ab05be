#pragma once
/// \file log.hpp Structured logging: one JSON object per line or human-readable text.

#include <string>
#include <string_view>

namespace orch {

/// Log levels in the ops spec's names.
enum class log_level { debug = 0, info = 1, warning = 2, error = 3 };

/// Sets the process-wide level, format (json or text) and node name.
void configure_logging(log_level level, bool json, std::string node);

/// Writes one line to stderr if `level` is enabled. Extra fields (run_id, task)
/// are added when not empty.
void log_write(log_level level, std::string_view logger, std::string_view msg, long long run_id = 0,
               std::string_view task = {});

/// Like log_write, but at most one line per `key` every 10 s; the lines held
/// back are counted and reported with the next one.
void log_limited(log_level level, std::string_view key, std::string_view logger,
                 std::string_view msg);

inline void log_info(std::string_view logger, std::string_view msg) {
  log_write(log_level::info, logger, msg);
}
inline void log_warning(std::string_view logger, std::string_view msg) {
  log_write(log_level::warning, logger, msg);
}
inline void log_error(std::string_view logger, std::string_view msg) {
  log_write(log_level::error, logger, msg);
}
inline void log_debug(std::string_view logger, std::string_view msg) {
  log_write(log_level::debug, logger, msg);
}

/// A random 8-character incarnation id (hex).
std::string random_incarnation();

}  // namespace orch

namespace orch::actors {
using orch::log_debug;
using orch::log_error;
using orch::log_info;
using orch::log_limited;
using orch::log_warning;
using orch::random_incarnation;
}  // namespace orch::actors
