#include "domain/time.hpp"

#include <cstdint>
#include <cstdio>

namespace orch {
namespace {

constexpr std::int64_t ms_per_day = 86'400'000;
// 100 years of 365.25 days: the largest duration anything in the system accepts.
constexpr std::int64_t max_duration_ms = 36'525 * ms_per_day;

// Howard Hinnant's civil calendar algorithms, in 64-bit so no input overflows.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `n` digits at `pos`; false when any is not a digit or out of bounds.
bool fixed_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

sys_ms now_ms() {
  return std::chrono::floor<millis>(std::chrono::system_clock::now());
}

std::string format_rfc3339(sys_ms t) {
  const std::int64_t total = t.time_since_epoch().count();
  std::int64_t days = total / ms_per_day;
  std::int64_t rem = total % ms_per_day;
  if (rem < 0) {
    rem += ms_per_day;
    --days;
  }
  const civil c = civil_from_days(days);
  const auto h = static_cast<int>(rem / 3'600'000);
  const auto m = static_cast<int>(rem / 60'000 % 60);
  const auto s = static_cast<int>(rem / 1000 % 60);
  const auto ms = static_cast<int>(rem % 1000);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<long long>(c.year), c.month, c.day, h, m, s, ms);
  return buf;
}

std::optional<sys_ms> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!fixed_digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' ||
      !fixed_digits(s, 5, 2, month) || s[7] != '-' || !fixed_digits(s, 8, 2, day) ||
      (s[10] != 'T' && s[10] != 't') || !fixed_digits(s, 11, 2, hour) || s[13] != ':' ||
      !fixed_digits(s, 14, 2, minute) || s[16] != ':' || !fixed_digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  int frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    int scale = 100;
    while (pos < s.size() && is_digit(s[pos])) {
      frac_ms += (s[pos] - '0') * scale;  // digits beyond milliseconds are truncated
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0, om = 0;
    if (!fixed_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !fixed_digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * 86'400 + hour * 3600 + minute * 60 + second -
                            static_cast<std::int64_t>(offset_minutes) * 60;
  return sys_ms{millis{secs * 1000 + frac_ms}};
}

std::optional<millis> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t total = 0;
  int last_rank = 6;  // units must appear from largest to smallest, each at most once
  std::size_t pos = 0;
  while (pos < s.size()) {
    if (!is_digit(s[pos])) return std::nullopt;
    std::int64_t value = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      value = value * 10 + (s[pos] - '0');
      if (value > max_duration_ms) return std::nullopt;  // even in ms it is too long
      ++pos;
    }
    if (pos >= s.size()) return std::nullopt;  // a number without a unit
    std::int64_t unit = 0;
    int rank = 0;
    if (s[pos] == 'm' && pos + 1 < s.size() && s[pos + 1] == 's') {
      unit = 1, rank = 1, pos += 2;
    } else if (s[pos] == 's') {
      unit = 1000, rank = 2, ++pos;
    } else if (s[pos] == 'm') {
      unit = 60'000, rank = 3, ++pos;
    } else if (s[pos] == 'h') {
      unit = 3'600'000, rank = 4, ++pos;
    } else if (s[pos] == 'd') {
      unit = ms_per_day, rank = 5, ++pos;
    } else {
      return std::nullopt;
    }
    if (rank >= last_rank) return std::nullopt;
    last_rank = rank;
    if (value > (max_duration_ms - total) / unit) return std::nullopt;
    total += value * unit;
  }
  return millis{total};
}

std::string format_duration(millis d) {
  std::int64_t v = d.count();
  if (v == 0) return "0s";
  std::string out;
  // Work in unsigned so that the most negative value does not overflow on negation.
  std::uint64_t u = static_cast<std::uint64_t>(v);
  if (v < 0) {
    out += '-';
    u = ~u + 1;
  }
  struct unit {
    std::uint64_t ms;
    const char* suffix;
  };
  static constexpr unit units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& un : units) {
    const std::uint64_t n = u / un.ms;
    if (n == 0) continue;
    out += std::to_string(n);
    out += un.suffix;
    u -= n * un.ms;
  }
  return out;
}

}  // namespace orch
