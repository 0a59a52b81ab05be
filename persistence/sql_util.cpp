#include "persistence/sql_util.hpp"

namespace orch::persistence {

std::string epoch_ms(const std::string& column) {
  return "(extract(epoch from " + column + ")*1000)::bigint";
}

std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::optional<std::string> ms_param(const std::optional<sys_ms>& t) {
  if (!t) return std::nullopt;
  return std::to_string(to_epoch_ms(*t));
}

std::optional<std::string> num_param(const std::optional<long long>& v) {
  if (!v) return std::nullopt;
  return std::to_string(*v);
}

std::optional<sys_ms> opt_ms(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return from_epoch_ms(f.as<long long>());
}

std::optional<std::string> opt_str(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

std::optional<int> opt_int(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int>();
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace orch::persistence
