#pragma once
/// \file sql_util.hpp Small helpers shared by the repositories.

#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "domain/time.hpp"

namespace orch::persistence {

/// `(extract(epoch from col)*1000)::bigint`: times travel as epoch milliseconds.
std::string epoch_ms(const std::string& column);

/// JSON as text for a jsonb parameter; invalid UTF-8 is replaced, never thrown on.
std::string json_text(const nlohmann::json& j);

/// A PostgreSQL array literal of strings, with quoting: {"a","b\"c"}.
std::string text_array(const std::vector<std::string>& items);

/// An optional time as an optional epoch-milliseconds string parameter.
std::optional<std::string> ms_param(const std::optional<sys_ms>& t);

/// An optional number as an optional string parameter.
std::optional<std::string> num_param(const std::optional<long long>& v);

/// Reads an optional epoch-milliseconds column.
std::optional<sys_ms> opt_ms(const pqxx::field& f);
/// Reads an optional text column.
std::optional<std::string> opt_str(const pqxx::field& f);
/// Reads an optional integer column.
std::optional<int> opt_int(const pqxx::field& f);

}  // namespace orch::persistence
