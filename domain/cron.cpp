#include "domain/cron.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <exception>
#include <vector>

namespace orch {

namespace {

using std::chrono::seconds;

constexpr std::size_t max_text_length = 256;
constexpr int seconds_per_day = 86400;

/// One field of an expression: its name in messages and its accepted range.
struct field_def {
  std::string_view name;
  int min;
  int max;
};

enum field_index { f_second, f_minute, f_hour, f_dom, f_month, f_dow };

constexpr std::array<field_def, 6> fields = {{
    {"second", 0, 59},
    {"minute", 0, 59},
    {"hour", 0, 23},
    {"day-of-month", 1, 31},
    {"month", 1, 12},
    {"day-of-week", 0, 7},
}};

constexpr std::array<std::string_view, 12> month_names = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> weekday_names = {"SUN", "MON", "TUE", "WED",
                                                           "THU", "FRI", "SAT"};

struct macro {
  std::string_view name;
  std::string_view expansion;
};

constexpr std::array<macro, 7> macros = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// A digit string as a number; saturates instead of overflowing.
long long to_number(std::string_view digits) {
  long long v = 0;
  for (char c : digits) {
    v = v * 10 + (c - '0');
    if (v > 1'000'000'000) return 1'000'000'000;
  }
  return v;
}

/// User text for an error message, shortened so a huge input makes a short message.
std::string shown(std::string_view s, std::size_t max = 32) {
  if (s.size() > max) return std::string(s.substr(0, max)) + "...";
  return std::string(s);
}

std::string quoted(std::string_view s) {
  return "'" + shown(s) + "'";
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::vector<std::string_view> split_whitespace(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    auto start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

/// Parses one field into a bit mask (bit n = value n); sets `error` on failure.
class field_parser {
 public:
  field_parser(field_index index, std::string& error)
      : def_(fields[index]), index_(index), error_(error) {}

  std::uint64_t parse(std::string_view text) {
    std::uint64_t mask = 0;
    for (auto item : split(text, ',')) {
      if (item.empty()) return fail("empty list item in " + quoted(text));
      auto bits = parse_item(item);
      if (!error_.empty()) return 0;
      mask |= bits;
    }
    return mask;
  }

 private:
  std::uint64_t fail(const std::string& message) {
    error_ = std::string(def_.name) + " field: " + message;
    return 0;
  }

  /// A single value (number or name), checked against the field's range.
  std::optional<int> value(std::string_view token) {
    if (token.empty()) {
      fail("missing value");
      return std::nullopt;
    }
    if (all_digits(token)) {
      auto v = to_number(token);
      if (v < def_.min || v > def_.max) {
        fail("value " + shown(token, 12) + " out of range " + std::to_string(def_.min) + "-" +
             std::to_string(def_.max));
        return std::nullopt;
      }
      return static_cast<int>(v);
    }
    if (index_ == f_month) {
      for (std::size_t i = 0; i < month_names.size(); ++i) {
        if (iequals(token, month_names[i])) return static_cast<int>(i) + 1;
      }
    } else if (index_ == f_dow) {
      for (std::size_t i = 0; i < weekday_names.size(); ++i) {
        if (iequals(token, weekday_names[i])) return static_cast<int>(i);
      }
    }
    fail("invalid value " + quoted(token));
    return std::nullopt;
  }

  std::uint64_t parse_item(std::string_view item) {
    std::string_view base = item;
    int step = 1;
    bool has_step = false;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      auto step_text = item.substr(slash + 1);
      if (step_text.empty()) return fail("missing step after '/' in " + quoted(item));
      if (!all_digits(step_text)) return fail("invalid step " + quoted(step_text));
      // Day-of-week steps run over one week (0-6), so 7 is the largest useful one.
      int span = index_ == f_dow ? 7 : def_.max - def_.min + 1;
      auto s = to_number(step_text);
      if (s < 1 || s > span) {
        return fail("step " + shown(step_text, 12) + " out of range 1-" + std::to_string(span));
      }
      step = static_cast<int>(s);
      has_step = true;
    }
    // Open-ended forms (`*`, `*/n`, `a/n`) stop at Saturday: 7 is only an alias.
    int open_max = index_ == f_dow ? 6 : def_.max;
    int low = 0;
    int high = 0;
    if (base == "*") {
      low = def_.min;
      high = open_max;
    } else if (auto dash = base.find('-'); dash != std::string_view::npos) {
      auto low_text = base.substr(0, dash);
      auto high_text = base.substr(dash + 1);
      if (low_text.empty() || high_text.empty() || high_text.find('-') != std::string_view::npos) {
        return fail("invalid range " + quoted(base));
      }
      auto lo = value(low_text);
      if (!lo) return 0;
      auto hi = value(high_text);
      if (!hi) return 0;
      low = *lo;
      high = *hi;
      // "FRI-SUN": a range may end on Sunday written as 0 or SUN.
      if (index_ == f_dow && high == 0 && low > 0) high = 7;
      if (low > high) return fail("range " + quoted(base) + " runs backwards");
    } else {
      auto v = value(base);
      if (!v) return 0;
      low = *v;
      high = has_step ? open_max : *v;
      if (low > high) high = low;
    }
    std::uint64_t mask = 0;
    for (int v = low; v <= high; v += step) {
      int bit = (index_ == f_dow && v == 7) ? 0 : v;
      mask |= std::uint64_t{1} << bit;
    }
    return mask;
  }

  const field_def& def_;
  field_index index_;
  std::string& error_;
};

template <std::size_t N>
std::bitset<N> to_bits(std::uint64_t mask) {
  std::bitset<N> bits;
  for (std::size_t i = 0; i < N; ++i) bits[i] = ((mask >> i) & 1U) != 0;
  return bits;
}

/// The lowest set bit at or after `from`, or -1.
template <std::size_t N>
int next_bit(const std::bitset<N>& bits, int from) {
  for (auto i = static_cast<std::size_t>(std::max(from, 0)); i < N; ++i) {
    if (bits[i]) return static_cast<int>(i);
  }
  return -1;
}

/// How many bits are set below `end`.
template <std::size_t N>
long long count_below(const std::bitset<N>& bits, int end) {
  long long n = 0;
  for (std::size_t i = 0; i < N && static_cast<int>(i) < end; ++i) n += bits[i] ? 1 : 0;
  return n;
}

error_info cron_error(std::string message) {
  return {errc::validation_failed, std::move(message), ""};
}

date::local_days to_local_days(seconds local) {
  return date::local_days{date::floor<date::days>(local)};
}

}  // namespace

result<cron_expr> cron_expr::parse(std::string_view text) {
  if (text.size() > max_text_length) {
    return cron_error("cron expression is longer than " + std::to_string(max_text_length) +
                      " characters");
  }
  auto parts = split_whitespace(text);
  if (parts.empty()) return cron_error("cron expression is empty");

  std::string_view body = text;
  if (parts.front().starts_with('@')) {
    if (parts.size() != 1)
      return cron_error("cron macro " + quoted(parts.front()) + " takes no fields");
    auto m = std::find_if(macros.begin(), macros.end(),
                          [&](const macro& mc) { return iequals(mc.name, parts.front()); });
    if (m == macros.end()) {
      return cron_error("unknown cron macro " + quoted(parts.front()) +
                        " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight "
                        "or @hourly)");
    }
    body = m->expansion;
    parts = split_whitespace(body);
  }
  if (parts.size() != 5 && parts.size() != 6) {
    return cron_error(
        "cron expression needs 5 fields (minute hour day-of-month month "
        "day-of-week) or 6 with leading seconds, got " +
        std::to_string(parts.size()));
  }

  cron_expr expr;
  expr.text_ = std::string(text);
  expr.has_seconds_ = parts.size() == 6;
  std::size_t offset = expr.has_seconds_ ? 0 : 1;
  std::array<std::uint64_t, 6> masks{};
  masks[f_second] = 1;  // five fields: second 0
  std::string error;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto index = static_cast<field_index>(i + offset);
    masks[index] = field_parser(index, error).parse(parts[i]);
    if (!error.empty()) return cron_error(std::move(error));
  }
  expr.seconds_ = to_bits<60>(masks[f_second]);
  expr.minutes_ = to_bits<60>(masks[f_minute]);
  expr.hours_ = to_bits<24>(masks[f_hour]);
  expr.days_ = to_bits<32>(masks[f_dom]);
  expr.months_ = to_bits<13>(masks[f_month]);
  expr.weekdays_ = to_bits<7>(masks[f_dow]);
  expr.dom_star_ = parts[f_dom - offset].starts_with('*');
  expr.dow_star_ = parts[f_dow - offset].starts_with('*');
  return expr;
}

bool cron_expr::day_matches(unsigned month, unsigned day, unsigned weekday) const {
  if (!months_[month]) return false;
  bool dom = days_[day];
  bool dow = weekdays_[weekday];
  // crontab(5): when both day fields are restricted, either one matching is enough.
  if (dom_star_ || dow_star_) return dom && dow;
  return dom || dow;
}

std::optional<int> cron_expr::first_time_of_day(int from) const {
  int h0 = from / 3600;
  int m0 = from / 60 % 60;
  int s0 = from % 60;
  for (int h = next_bit(hours_, h0); h >= 0; h = next_bit(hours_, h + 1)) {
    for (int m = next_bit(minutes_, h == h0 ? m0 : 0); m >= 0; m = next_bit(minutes_, m + 1)) {
      int s = next_bit(seconds_, (h == h0 && m == m0) ? s0 : 0);
      if (s >= 0) return h * 3600 + m * 60 + s;
    }
  }
  return std::nullopt;
}

std::optional<seconds> cron_expr::next_local(seconds from, seconds limit) const {
  auto day = to_local_days(from);
  auto tod = static_cast<int>((from - day.time_since_epoch()).count());
  auto last_day = to_local_days(limit);
  while (day <= last_day) {
    date::year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      auto ym = date::year_month{ymd.year(), ymd.month()} + date::months{1};
      day = date::local_days{ym / 1};
      tod = 0;
      continue;
    }
    date::weekday wd{day};
    if (day_matches(static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    wd.c_encoding())) {
      if (auto t = first_time_of_day(tod)) {
        auto local = day.time_since_epoch() + seconds{*t};
        if (local > limit) return std::nullopt;
        return local;
      }
    }
    day += date::days{1};
    tod = 0;
  }
  return std::nullopt;
}

std::optional<sys_seconds> cron_expr::next_after(sys_seconds after,
                                                 const date::time_zone* zone) const {
  // Stay inside the calendar the date library handles without overflow.
  constexpr auto lowest = date::sys_days{date::year{1} / 1 / 1};
  constexpr auto highest = date::sys_days{date::year{9990} / 1 / 1};
  if (after < lowest || after > highest) return std::nullopt;

  // Without a zone the wall clock is UTC.
  auto to_local = [&](sys_seconds t) {
    return zone ? zone->to_local(t).time_since_epoch() : t.time_since_epoch();
  };
  auto start = to_local(after);
  date::year_month_day start_ymd{to_local_days(start)};
  auto limit_ymd =
      date::year_month_day{start_ymd.year() + date::years{10}, start_ymd.month(), start_ymd.day()};
  if (!limit_ymd.ok()) limit_ymd = limit_ymd.year() / limit_ymd.month() / date::last;
  auto limit = date::local_days{limit_ymd}.time_since_epoch() +
               (start - to_local_days(start).time_since_epoch());

  // Local candidates come in wall-clock order, and with "earliest" for repeated times
  // the local-to-UTC mapping is increasing, so the first valid one after `after` wins.
  auto cursor = start + seconds{1};
  while (true) {
    auto local = next_local(cursor, limit);
    if (!local) return std::nullopt;
    if (!zone) {
      sys_seconds t{*local};
      if (t > after) return t;
      cursor = *local + seconds{1};
      continue;
    }
    auto info = zone->get_info(date::local_seconds{*local});
    switch (info.result) {
      case date::local_info::unique: {
        sys_seconds t{*local - info.first.offset};
        if (t > after) return t;
        cursor = *local + seconds{1};
        break;
      }
      case date::local_info::nonexistent:
        // Spring forward: skip to the first local time after the gap.
        cursor = std::max(*local + seconds{1},
                          info.second.begin.time_since_epoch() + info.second.offset);
        break;
      case date::local_info::ambiguous: {
        sys_seconds t{*local - info.first.offset};
        if (t > after) return t;
        // Fall back: when `after` is in the second pass of the repeated hour, every
        // repeated local time already fired in the first pass.
        cursor = *local + seconds{1};
        if (after >= info.second.begin) {
          cursor = std::max(cursor, info.second.begin.time_since_epoch() + info.first.offset);
        }
        break;
      }
      default:
        return std::nullopt;
    }
  }
}

long long cron_expr::count_upto(int tod) const {
  if (tod < 0) return 0;
  int h0 = tod / 3600;
  int m0 = tod / 60 % 60;
  int s0 = tod % 60;
  long long s_all = static_cast<long long>(seconds_.count());
  long long m_all = static_cast<long long>(minutes_.count());
  long long n = count_below(hours_, h0) * m_all * s_all;
  if (hours_[h0]) {
    n += count_below(minutes_, m0) * s_all;
    if (minutes_[m0]) n += count_below(seconds_, s0 + 1);
  }
  return n;
}

long long cron_expr::count_local(seconds lo, seconds hi) const {
  if (hi <= lo) return 0;
  auto first_day = to_local_days(lo);
  auto last_day = to_local_days(hi);
  long long n = 0;
  for (auto day = first_day; day <= last_day;) {
    date::year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      day = date::local_days{(date::year_month{ymd.year(), ymd.month()} + date::months{1}) / 1};
      continue;
    }
    date::weekday wd{day};
    if (day_matches(static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    wd.c_encoding())) {
      int from = day == first_day ? static_cast<int>((lo - day.time_since_epoch()).count()) : -1;
      int to = day == last_day ? static_cast<int>((hi - day.time_since_epoch()).count())
                               : seconds_per_day - 1;
      n += count_upto(to) - count_upto(from);
    }
    day += date::days{1};
  }
  return n;
}

long long cron_expr::count_between(sys_seconds after, sys_seconds until,
                                   const date::time_zone* zone) const {
  if (until <= after) return 0;
  if (!zone) return count_local(after.time_since_epoch(), until.time_since_epoch());
  // Between two offset changes local time is UTC plus a constant, so count piece by
  // piece; local times repeated after a fall-back fired in the piece before it.
  long long n = 0;
  auto t = after;
  while (t < until) {
    auto info = zone->get_info(t + seconds{1});
    auto piece_end = std::min(until, sys_seconds{info.end} - seconds{1});
    auto lo = t.time_since_epoch() + info.offset;
    auto before = zone->get_info(sys_seconds{info.begin} - seconds{1});
    if (before.offset > info.offset) {
      lo = std::max(lo, info.begin.time_since_epoch() + before.offset - seconds{1});
    }
    n += count_local(lo, piece_end.time_since_epoch() + info.offset);
    t = piece_end;
  }
  return n;
}

const date::time_zone* find_zone(std::string_view name) {
  if (name.empty() || name.size() > 128) return nullptr;
  try {
    return date::locate_zone(std::string(name));
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace orch
