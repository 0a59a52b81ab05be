#pragma once
/// \file bench_support.hpp What both benchmark programs share: JSON output,
/// percentiles and CPU accounting from /proc.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace orch::bench {

/// Set by `--quick`: every figure is printed with it.
inline bool quick = false;

/// Seconds on the steady clock since `t`.
inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Prints one figure as a JSON line.
inline void emit(nlohmann::json j) {
  j["quick"] = quick;
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

/// The `p` quantile (0 to 1) of `v`, nearest rank; 0 when empty.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

/// CPU seconds (user + system) of one process; with `children`, of its
/// waited-for children instead (a node's step processes).
inline double cpu_seconds(pid_t pid, bool children = false) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 17 && fields >> f; ++i) {
    if (children ? (i == 16 || i == 17) : (i == 14 || i == 15)) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// CPU seconds of the PostgreSQL backends serving database `db` (their process
/// title names it), so other databases on the same server do not count.
inline double backend_cpu_seconds(const std::string& db) {
  double total = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (!std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream c(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(c)), std::istreambuf_iterator<char>());
    if (cmd.rfind("postgres: ", 0) == 0 && cmd.find(" " + db + " ") != std::string::npos) {
      total += cpu_seconds(std::stoi(name));
    }
  }
  return total;
}

/// The database name of a PostgreSQL URL.
inline std::string database_name(const std::string& url) {
  auto base = url.substr(0, url.find('?'));
  return base.substr(base.rfind('/') + 1);
}

}  // namespace orch::bench
