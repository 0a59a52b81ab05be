#include "domain/records.hpp"

namespace orch {
namespace {

nlohmann::json opt_time(const std::optional<sys_ms>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json to_json(const step_record& s) {
  nlohmann::json err = nullptr;
  if (s.error_code) err = {{"code", *s.error_code}, {"message", s.error_message.value_or("")}};
  return {{"name", s.name},
          {"status", s.status},
          {"attempt", s.attempt},
          {"started_at", opt_time(s.started_at)},
          {"finished_at", opt_time(s.finished_at)},
          {"exit_code", opt(s.exit_code)},
          {"http_status", opt(s.http_status)},
          {"output", opt(s.output)},
          {"error", err}};
}

nlohmann::json to_json(const run_record& r, bool with_steps) {
  nlohmann::json err = nullptr;
  if (r.error_code) err = {{"code", *r.error_code}, {"message", r.error_message.value_or("")}};
  nlohmann::json j = {{"id", std::to_string(r.id)},
                      {"task", r.task},
                      {"task_version", r.task_version},
                      {"queue", r.queue},
                      {"status", r.status},
                      {"params", r.params},
                      {"trigger", r.trigger},
                      {"schedule_id", opt(r.schedule_id)},
                      {"scheduled_for", opt_time(r.scheduled_for)},
                      {"attempt", r.attempt},
                      {"max_attempts", r.max_attempts},
                      {"priority", r.priority},
                      {"idempotency_key", opt(r.idempotency_key)},
                      {"created_at", format_rfc3339(r.created_at)},
                      {"available_at", format_rfc3339(r.available_at)},
                      {"started_at", opt_time(r.started_at)},
                      {"finished_at", opt_time(r.finished_at)},
                      {"node", opt(r.node)},
                      {"output", opt(r.output)},
                      {"error", err},
                      {"cancel_requested", r.cancel_requested},
                      {"lost_leases", r.lost_leases}};
  if (with_steps) {
    auto steps = nlohmann::json::array();
    for (const auto& s : r.steps) steps.push_back(to_json(s));
    j["steps"] = std::move(steps);
  }
  return j;
}

nlohmann::json to_json(const log_record& l) {
  return {{"seq", l.seq},       {"ts", format_rfc3339(l.ts)},
          {"stream", l.stream}, {"step", opt(l.step)},
          {"line", l.line},     {"attempt", l.attempt}};
}

std::string sanitize_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c == 0) {
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned cp = 0;
    if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07;
    bool valid = len != 0 && i + len <= n;
    for (std::size_t k = 1; valid && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        valid = false;
      else
        cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    if (valid &&
        ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
         (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))) {
      valid = false;
    }
    if (valid) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

}  // namespace orch
