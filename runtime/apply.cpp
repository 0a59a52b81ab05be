#include "runtime/apply.hpp"

#include <curl/curl.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace orch::runtime {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t max_file_bytes = 4 << 20;

json scalar(const YAML::Node& n) {
  const std::string& v = n.Scalar();
  if (n.Tag() == "!") return v;  // quoted: always a string
  if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") return nullptr;
  if (v == "true" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "False" || v == "FALSE") return false;
  try {
    std::size_t pos = 0;
    long long i = std::stoll(v, &pos, 10);
    if (pos == v.size()) return i;
  } catch (const std::exception&) {
  }
  try {
    std::size_t pos = 0;
    double d = std::stod(v, &pos);
    if (pos == v.size() && v.find_first_of("0123456789") != std::string::npos) return d;
  } catch (const std::exception&) {
  }
  return v;
}

json convert(const YAML::Node& n, int depth) {
  if (depth > 64) throw std::runtime_error("nesting deeper than 64 levels");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar(n);
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : n) arr.push_back(convert(item, depth + 1));
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : n) obj[kv.first.as<std::string>()] = convert(kv.second, depth + 1);
      return obj;
    }
  }
  return nullptr;
}

result<std::vector<std::string>> expand(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
          found.push_back(e.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      return error_info{errc::not_found, p + ": no such file or directory", ""};
    }
  }
  return files;
}

std::size_t write_body(char* data, std::size_t size, std::size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > (16u << 20)) return 0;
  s->append(data, size * n);
  return size * n;
}

std::string describe(const http_reply& r) {
  try {
    auto j = json::parse(r.body);
    if (j.contains("error")) {
      std::string msg = j["error"].value("message", "");
      if (j["error"].contains("field"))
        msg += " (field " + j["error"]["field"].get<std::string>() + ")";
      return "HTTP " + std::to_string(r.status) + ": " + msg;
    }
  } catch (const std::exception&) {
  }
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

result<std::vector<json>> yaml_to_json(const std::string& text) {
  try {
    std::vector<json> docs;
    for (const auto& doc : YAML::LoadAll(text)) docs.push_back(convert(doc, 0));
    return docs;
  } catch (const YAML::Exception& e) {
    return error_info{errc::validation_failed,
                      "line " + std::to_string(e.mark.line + 1) + ": " + e.msg, ""};
  } catch (const std::exception& e) {
    return error_info{errc::validation_failed, e.what(), ""};
  }
}

result<apply_set> read_apply_files(const std::vector<std::string>& paths) {
  auto files = expand(paths);
  if (!files) return files.error();
  apply_set set;
  for (const auto& f : *files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return error_info{errc::not_found, f + ": cannot be read", ""};
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > max_file_bytes) {
      return error_info{errc::payload_too_large, f + ": larger than 4 MiB", ""};
    }
    std::vector<json> docs;
    if (fs::path(f).extension() == ".json") {
      try {
        docs.push_back(json::parse(text));
      } catch (const std::exception& e) {
        return error_info{errc::validation_failed, f + ": malformed JSON: " + e.what(), ""};
      }
    } else {
      auto parsed = yaml_to_json(text);
      if (!parsed)
        return error_info{errc::validation_failed, f + ": " + parsed.error().message, ""};
      docs = std::move(*parsed);
    }
    for (std::size_t i = 0; i < docs.size(); ++i) {
      const auto& d = docs[i];
      std::string where = f + (docs.size() > 1 ? " (document " + std::to_string(i + 1) + ")" : "");
      if (d.is_null()) continue;
      if (!d.is_object()) {
        return error_info{errc::validation_failed,
                          where + ": expected a mapping with 'tasks' and/or 'schedules'", ""};
      }
      for (const auto& [k, v] : d.items()) {
        if (k != "tasks" && k != "schedules") {
          return error_info{errc::validation_failed, where + ": unknown key '" + k + "'", ""};
        }
        if (!v.is_array()) {
          return error_info{errc::validation_failed, where + ": '" + k + "' must be a list", ""};
        }
        for (std::size_t j = 0; j < v.size(); ++j) {
          const auto& item = v[j];
          std::string at = where + ": " + k + "[" + std::to_string(j) + "]";
          if (!item.is_object()) {
            return error_info{errc::validation_failed, at + " must be a mapping", ""};
          }
          const char* key = k == "tasks" ? "name" : "id";
          if (!item.contains(key) || !item[key].is_string()) {
            return error_info{errc::validation_failed, at + " needs a string '" + key + "'", ""};
          }
          (k == "tasks" ? set.tasks : set.schedules).push_back(item);
        }
      }
    }
  }
  return set;
}

result<http_reply> http_call(const std::string& method, const std::string& url,
                             const std::string& body, const std::string& token, millis timeout) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return error_info{errc::internal, "curl_easy_init failed", ""};
  http_reply reply;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string auth;
  if (!token.empty()) {
    auth = "Authorization: Bearer " + token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  const long total = static_cast<long>(timeout.count());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(total, 5000L));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  auto rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    return error_info{errc::unavailable, url + ": " + curl_easy_strerror(rc), ""};
  }
  return reply;
}

int apply(const apply_set& set, const std::string& base_url, const std::string& token) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  int failures = 0;
  auto send = [&](const char* kind, const std::string& path, const std::string& name, json body) {
    auto r = http_call("PUT", base + path, body.dump(), token);
    if (!r) {
      std::fprintf(stderr, "%s %s: %s\n", kind, name.c_str(), r.error().message.c_str());
      ++failures;
      return;
    }
    if (r->status == 201 || r->status == 200) {
      std::string what = r->status == 201 ? "created" : "applied";
      try {
        auto j = json::parse(r->body);
        if (j.contains("version"))
          what += " (version " + std::to_string(j["version"].get<int>()) + ")";
      } catch (const std::exception&) {
      }
      std::printf("%s %s: %s\n", kind, name.c_str(), what.c_str());
    } else {
      std::fprintf(stderr, "%s %s: rejected, %s\n", kind, name.c_str(), describe(*r).c_str());
      ++failures;
    }
  };
  for (auto t : set.tasks) {
    auto name = t["name"].get<std::string>();
    send("task", "/v1/tasks/" + name, name, t);
  }
  for (auto s : set.schedules) {
    auto id = s["id"].get<std::string>();
    s.erase("id");
    send("schedule", "/v1/schedules/" + id, id, s);
  }
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

}  // namespace orch::runtime
