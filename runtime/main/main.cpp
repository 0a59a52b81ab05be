// The orchestrator binary: serve, migrate, apply, token create, config check,
// health, version.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "actors/log.hpp"
#include "persistence/db.hpp"
#include "persistence/token_repo.hpp"
#include "runtime/apply.hpp"
#include "runtime/cli_checks.hpp"
#include "runtime/config.hpp"
#include "runtime/database.hpp"
#include "runtime/node.hpp"

namespace {

using namespace orch;

// Exit codes: 0 success, 1 a failed operation, 2 a usage or configuration error.
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

std::string env_or(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : def;
}

std::string config_help() {
  std::string out = "\nEnvironment (serve, migrate, token):\n";
  for (const auto& v : runtime::config_vars()) {
    out += "  " + std::string(v.name) + " (default " + v.default_value + "): " + v.meaning + "\n";
  }
  out += "Client verbs read ORCH_URL (default http://127.0.0.1:8080) and ORCH_TOKEN.\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Personal Agent Orchestrator: durable runs, schedules and pipelines on PostgreSQL"};
  app.require_subcommand(1);
  app.footer(config_help());

  bool no_migrate = false;
  bool insecure = false;
  auto* serve = app.add_subcommand("serve", "run a node (roles from NODE_ROLES)");
  serve->add_flag("--no-migrate", no_migrate, "do not apply migrations at start");
  serve->add_flag("--insecure-no-auth", insecure,
                  "allow a non-loopback HTTP_HOST while no API token exists");

  auto* migrate = app.add_subcommand("migrate", "apply database migrations and exit");

  std::vector<std::string> files;
  auto* apply = app.add_subcommand("apply", "send tasks and schedules from YAML/JSON files");
  apply->add_option("-f,--file", files, "file or directory (repeatable)")->required();

  auto* token = app.add_subcommand("token", "manage API tokens");
  token->require_subcommand(1);
  std::string token_name;
  auto* token_create = token->add_subcommand("create", "create a token; prints it once");
  token_create->add_option("--name", token_name, "what the token is for")->required();

  auto* config_cmd = app.add_subcommand("config", "configuration tools");
  config_cmd->require_subcommand(1);
  std::vector<std::string> env_files;
  auto* config_check = config_cmd->add_subcommand(
      "check",
      "validate the environment (or --env-file files) with serve's rules; print every problem");
  config_check->add_option("--env-file", env_files,
                           "an environment file, NAME=VALUE a line (repeatable; later files win)");

  std::string health_url = env_or("ORCH_URL", "");
  std::string health_path = "/health";
  std::string health_timeout = "5s";
  auto* health = app.add_subcommand(
      "health", "ask a node for its health; exit 0 when it answers 200, else 1 (HEALTHCHECK)");
  health->add_option("--url", health_url,
                     "the node (default: ORCH_URL, else http://127.0.0.1:HTTP_PORT)");
  health->add_option("--path", health_path, "what to ask")
      ->check(CLI::IsMember({"/health", "/ready", "/live"}));
  health->add_option("--timeout", health_timeout, "give up after this long (e.g. 3s, 500ms)");

  auto* ver = app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : exit_usage;
  }

  if (ver->parsed()) {
    std::printf("orchestrator %s\n", runtime::version());
    return 0;
  }
  if (config_check->parsed()) return runtime::run_config_check(env_files);
  if (health->parsed()) {
    auto timeout = parse_duration(health_timeout);
    if (!timeout || *timeout < millis(100) || *timeout > std::chrono::minutes(5)) {
      std::fprintf(stderr, "health: --timeout '%s' must be a duration from 100ms to 5m\n",
                   health_timeout.c_str());
      return exit_usage;
    }
    if (health_url.empty()) health_url = "http://127.0.0.1:" + env_or("HTTP_PORT", "8080");
    return runtime::run_health_check(health_url, health_path, *timeout);
  }
  if (apply->parsed()) {
    auto set = runtime::read_apply_files(files);
    if (!set) {
      std::fprintf(stderr, "apply: %s\n", set.error().message.c_str());
      return set.error().code == errc::not_found ? exit_usage : exit_failed;
    }
    return runtime::apply(*set, env_or("ORCH_URL", "http://127.0.0.1:8080"),
                          env_or("ORCH_TOKEN", ""));
  }

  auto cfg = runtime::load_config([](const char* n) { return std::getenv(n); });
  if (!cfg) {
    std::fprintf(stderr, "configuration error: %s\n", cfg.error().message.c_str());
    return exit_usage;
  }
  configure_logging(cfg->level, cfg->log_json, cfg->engine.node_name);

  if (serve->parsed()) {
    return runtime::serve(*cfg, runtime::serve_flags{no_migrate, insecure});
  }

  auto db = runtime::open_database(cfg->database_url, cfg->orch_home);
  if (!db) {
    std::fprintf(stderr, "database: %s\n", db.error().message.c_str());
    return exit_failed;
  }
  if (migrate->parsed()) {
    auto applied = runtime::apply_migrations(db->url, std::chrono::seconds(30));
    if (!applied) {
      std::fprintf(stderr, "migrate: %s\n", applied.error().message.c_str());
      return exit_failed;
    }
    std::printf("applied %d migration(s)\n", *applied);
    return 0;
  }
  if (token_create->parsed()) {
    if (token_name.empty() || token_name.size() > 200) {
      std::fprintf(stderr, "token create: --name must be 1 to 200 characters\n");
      return exit_usage;
    }
    auto applied = runtime::apply_migrations(db->url, std::chrono::seconds(30));
    if (!applied) {
      std::fprintf(stderr, "migrate: %s\n", applied.error().message.c_str());
      return exit_failed;
    }
    persistence::session s(db->url);
    auto t = persistence::token_repo::create(s, token_name);
    if (!t) {
      std::fprintf(stderr, "token create: %s\n", t.error().message.c_str());
      return exit_failed;
    }
    std::printf("%s\n", t->c_str());
    std::fprintf(stderr, "Store this token now: it is not shown again. Only its hash is kept.\n");
    return 0;
  }
  return exit_usage;
}
