#pragma once
/// \file cron.hpp Cron expressions (5 fields, or 6 with leading seconds, plus
/// macros) and next-fire computation in IANA time zones.

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "domain/result.hpp"

namespace date {
class time_zone;
}

namespace orch {

struct fire_plan;
enum class misfire_policy;

using sys_seconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

/// A parsed cron expression.
///
/// Fields: [second] minute hour day-of-month month day-of-week. Supports `*`,
/// lists, ranges, steps (`*/5`, `1-10/2`), month and weekday names (JAN, MON),
/// weekday 7 as Sunday, and the macros @yearly @annually @monthly @weekly @daily
/// @midnight @hourly. When both day-of-month and day-of-week are restricted, a day
/// matches if either matches (Vixie cron semantics).
/// DST: a local time that does not exist that day is skipped; a local time that
/// occurs twice fires once, at its first occurrence.
/// A field counts as unrestricted for the day-of-month/day-of-week rule when its
/// text starts with `*` (crontab(5)), so `*/2` in day-of-week still ANDs with the
/// day of month. Open-ended day-of-week steps (`*/2`, `1/2`) run over 0-6.
class cron_expr {
 public:
  /// Parses an expression; the error message names the offending field.
  static result<cron_expr> parse(std::string_view text);

  /// The first fire time strictly after `after`, or nullopt when none exists
  /// within the next 10 years (e.g. "0 0 30 2 *").
  std::optional<sys_seconds> next_after(sys_seconds after, const date::time_zone* zone) const;

  /// Whether the expression has a seconds field.
  bool has_seconds() const { return has_seconds_; }
  /// The expression as given.
  const std::string& text() const { return text_; }

 private:
  // plan_fires counts missed fire times without enumerating them one by one.
  friend fire_plan plan_fires(const cron_expr& cron, const date::time_zone* zone,
                              sys_seconds next_fire, sys_seconds now, std::chrono::seconds grace,
                              misfire_policy policy, int cap);

  // Local times below are seconds since 1970-01-01T00:00 local wall clock.
  bool day_matches(unsigned month, unsigned day, unsigned weekday) const;
  std::optional<std::chrono::seconds> next_local(std::chrono::seconds from,
                                                 std::chrono::seconds limit) const;
  std::optional<int> first_time_of_day(int from) const;
  long long count_upto(int tod) const;
  long long count_local(std::chrono::seconds lo, std::chrono::seconds hi) const;
  long long count_between(sys_seconds after, sys_seconds until, const date::time_zone* zone) const;

  std::string text_;
  bool has_seconds_ = false;
  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0..6, Sunday = 0
  bool dom_star_ = true;
  bool dow_star_ = true;
};

/// Looks up an IANA zone ("Europe/Berlin", "UTC"); nullptr when unknown.
const date::time_zone* find_zone(std::string_view name);

}  // namespace orch
