#include "domain/run_submit.hpp"

#include "domain/json_fields.hpp"

namespace orch {

using namespace fields;

result<run_submit> parse_run_submit(const json& body, const std::string& path) {
  static const std::vector<std::string> none;
  return parse_run_submit(body, path, none);
}

result<run_submit> parse_run_submit(const json& body, const std::string& path,
                                    const std::vector<std::string>& extra_fields) {
  std::vector<field_error> out;
  error_list errors(out);
  run_submit r;
  if (body.is_null()) return r;
  if (!body.is_object()) {
    errors.add(path, subject_name(path) + " must be a JSON object" + got_type(body));
    return validation_error(out);
  }
  reject_unknown(body, path, {"params", "idempotency_key", "priority", "run_at"}, errors,
                 &extra_fields);
  if (const json* p = find_present(body, "params")) {
    const std::string pp = child_path(path, "params");
    if (!p->is_object()) {
      errors.add(pp, pp + " must be an object" + got_type(*p));
    } else if (check_any(*p, pp, 0, errors)) {
      r.params = *p;
    }
  }
  if (const json* k = find_present(body, "idempotency_key")) {
    const std::string kp = child_path(path, "idempotency_key");
    if (auto s = get_string(*k, kp, errors)) {
      const std::size_t n = code_points(*s);
      if (n == 0 || n > max_idempotency_key_length) {
        errors.add(
            kp, kp + " must be 1 to " + std::to_string(max_idempotency_key_length) + " characters");
      } else {
        r.idempotency_key = std::move(*s);
      }
    }
  }
  if (const json* v = find_present(body, "priority")) {
    if (auto n = get_int(*v, child_path(path, "priority"), -max_priority, max_priority, errors)) {
      r.priority = static_cast<int>(*n);
    }
  }
  if (const json* v = find_present(body, "run_at")) {
    const std::string rp = child_path(path, "run_at");
    const auto t = v->is_string() ? parse_rfc3339(v->get_ref<const std::string&>()) : std::nullopt;
    if (!t) {
      errors.add(rp, rp + " must be an RFC 3339 time such as 2026-12-01T07:00:00.000Z" +
                         (v->is_string() ? std::string() : got_type(*v)));
    } else {
      r.run_at = *t;
    }
  }
  if (!out.empty()) return validation_error(out);
  return r;
}

json merge_params(const json& defaults, const json& overrides) {
  json out = defaults.is_object() ? defaults : json::object();
  if (overrides.is_object()) {
    for (auto it = overrides.begin(); it != overrides.end(); ++it) out[it.key()] = *it;
  }
  return out;
}

}  // namespace orch
