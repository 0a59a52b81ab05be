#pragma once
/// \file time.hpp Time points, durations and their text forms (RFC 3339, "250ms").

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace orch {

using millis = std::chrono::milliseconds;
/// A UTC instant with millisecond precision.
using sys_ms = std::chrono::time_point<std::chrono::system_clock, millis>;

/// The current time, truncated to milliseconds.
sys_ms now_ms();

/// Formats as RFC 3339 UTC with milliseconds: 2026-12-01T07:00:00.000Z.
std::string format_rfc3339(sys_ms t);

/// Parses RFC 3339 (Z or +hh:mm offset, optional fraction); nullopt when malformed.
std::optional<sys_ms> parse_rfc3339(std::string_view text);

/// Parses a duration with units, "250ms", "30s", "5m", "2h", "1d", or a sequence
/// such as "1h30m"; nullopt when malformed, negative or beyond 100 years.
std::optional<millis> parse_duration(std::string_view text);

/// Formats a duration in the shortest exact form parse_duration accepts.
std::string format_duration(millis d);

/// Milliseconds since the epoch, for wire messages.
inline long long to_epoch_ms(sys_ms t) {
  return t.time_since_epoch().count();
}
/// The inverse of to_epoch_ms.
inline sys_ms from_epoch_ms(long long ms) {
  return sys_ms{millis{ms}};
}

}  // namespace orch
