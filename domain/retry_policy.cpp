#include "domain/retry_policy.hpp"

#include <cmath>

#include "domain/json_fields.hpp"

namespace orch {

using namespace fields;

std::optional<retry_policy> parse_retry(const json& j, const std::string& path, error_list& errors,
                                        const retry_policy& base) {
  if (!j.is_object()) {
    errors.add(path, path + " must be an object" + got_type(j));
    return std::nullopt;
  }
  const std::size_t before = errors.count();
  retry_policy r = base;
  reject_unknown(j, path, {"max_attempts", "initial_delay", "max_delay", "multiplier", "jitter"},
                 errors);
  if (const json* v = find_present(j, "max_attempts")) {
    if (auto n = get_int(*v, path + ".max_attempts", 1, max_attempts_limit, errors)) {
      r.max_attempts = static_cast<int>(*n);
    }
  }
  if (const json* v = find_present(j, "initial_delay")) {
    if (auto d =
            get_duration(*v, path + ".initial_delay", millis{0}, millis::max(), true, errors)) {
      r.initial_delay = *d;
    }
  }
  if (const json* v = find_present(j, "max_delay")) {
    if (auto d = get_duration(*v, path + ".max_delay", millis{0}, millis::max(), true, errors)) {
      r.max_delay = *d;
    }
  }
  if (const json* v = find_present(j, "multiplier")) {
    const std::string mp = path + ".multiplier";
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < 1.0 ||
        v->get<double>() > 10.0) {
      errors.add(mp, mp + " must be a number between 1.0 and 10.0" +
                         (v->is_number() ? std::string() : got_type(*v)));
    } else {
      r.multiplier = v->get<double>();
    }
  }
  if (const json* v = find_present(j, "jitter")) {
    if (!v->is_boolean()) {
      errors.add(path + ".jitter", path + ".jitter must be true or false" + got_type(*v));
    } else {
      r.jitter = v->get<bool>();
    }
  }
  if (errors.count() != before) return std::nullopt;
  if (r.max_delay < r.initial_delay) {
    errors.add(path + ".max_delay", path + ".max_delay (" + format_duration(r.max_delay) +
                                        ") must be at least " + path + ".initial_delay (" +
                                        format_duration(r.initial_delay) + ")");
    return std::nullopt;
  }
  return r;
}

std::optional<retry_policy> parse_retry(const json& j, const std::string& path,
                                        std::vector<field_error>& errors) {
  return parse_retry(j, path, errors, retry_policy{});
}

std::optional<retry_policy> parse_retry(const json& j, const std::string& path,
                                        std::vector<field_error>& errors,
                                        const retry_policy& base) {
  error_list list(errors);
  return parse_retry(j, path, list, base);
}

json to_json(const retry_policy& r) {
  return json{{"max_attempts", r.max_attempts},
              {"initial_delay", format_duration(r.initial_delay)},
              {"max_delay", format_duration(r.max_delay)},
              {"multiplier", r.multiplier},
              {"jitter", r.jitter}};
}

}  // namespace orch
