#include "runtime/cli_checks.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "runtime/apply.hpp"
#include "runtime/config.hpp"
#include "runtime/env_file.hpp"

namespace orch::runtime {

int run_config_check(const std::vector<std::string>& env_files) {
  constexpr int invalid = 2;
  int problems = 0;
  auto problem = [&problems](const std::string& text) {
    std::printf("problem: %s\n", text.c_str());
    ++problems;
  };
  std::map<std::string, std::string> vars;
  for (const auto& path : env_files) {
    auto f = read_env_file(path);
    if (!f) {
      problem(f.error().message);
      continue;
    }
    for (const auto& p : f->problems) problem(path + ": " + p);
    for (auto& [k, v] : f->vars) {
      // Other services' settings share env files; a misspelt one of ours is
      // worth a look.
      if (!is_config_var(k))
        std::printf("note: %s: %s is not read by the orchestrator\n", path.c_str(), k.c_str());
      vars[k] = v;
    }
  }
  auto checked = env_files.empty() ? check_config([](const char* n) { return std::getenv(n); })
                                   : check_config([&vars](const char* n) -> const char* {
                                       auto it = vars.find(n);
                                       return it == vars.end() ? nullptr : it->second.c_str();
                                     });
  for (const auto& p : checked.problems) problem(p);
  if (problems > 0) {
    std::printf("%d problem(s)\n", problems);
    return invalid;
  }
  const auto& c = *checked.cfg;
  std::string roles;
  for (const auto& r : c.roles) roles += (roles.empty() ? "" : ",") + r;
  std::printf("configuration ok: node %s, roles %s, database %s, cluster %s\n",
              c.engine.node_name.c_str(), roles.c_str(),
              c.database_url.empty() ? "embedded" : "external", c.cluster.enabled() ? "on" : "off");
  return 0;
}

int run_health_check(const std::string& base_url, const std::string& path, millis timeout) {
  auto url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto reply = http_call("GET", url + path, "", "", timeout);
  if (!reply) {
    std::printf("unreachable: %s\n", reply.error().message.c_str());
    return 1;
  }
  std::string status = "(no status)";
  try {
    auto body = nlohmann::json::parse(reply->body);
    if (body.is_object() && body.contains("status") && body["status"].is_string())
      status = body["status"].get<std::string>();
    if (body.is_object() && body.contains("reason") && body["reason"].is_string())
      status += " (" + body["reason"].get<std::string>() + ")";
  } catch (const std::exception&) {
    status = "(not JSON)";
  }
  std::printf("%s %ld %s\n", path.c_str(), reply->status, status.c_str());
  return reply->status == 200 ? 0 : 1;
}

}  // namespace orch::runtime
