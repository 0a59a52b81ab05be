#define BOOST_TEST_MODULE env_file
#include "runtime/env_file.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <string>

using namespace orch;
using namespace orch::runtime;

namespace {

bool mentions(const env_file& f, const std::string& text) {
  for (const auto& p : f.problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(names_values_comments_and_blank_lines) {
  auto f = parse_env_file(
      "# the api replicas\n"
      "\n"
      "HTTP_PORT=8080\n"
      "export LOG_LEVEL=DEBUG\n"
      "  NODE_ROLES = api,worker  \n"
      "EMPTY=\n"
      "WINDOWS=crlf\r\n"
      "COMMENTED=value # a note\n"
      "HASH=a#b\n");
  BOOST_TEST(f.problems.empty());
  BOOST_TEST(f.vars.at("HTTP_PORT") == "8080");
  BOOST_TEST(f.vars.at("LOG_LEVEL") == "DEBUG");
  BOOST_TEST(f.vars.at("NODE_ROLES") == "api,worker");
  BOOST_TEST(f.vars.at("EMPTY") == "");
  BOOST_TEST(f.vars.at("WINDOWS") == "crlf");
  BOOST_TEST(f.vars.at("COMMENTED") == "value");
  BOOST_TEST(f.vars.at("HASH") == "a#b");
}

BOOST_AUTO_TEST_CASE(quoted_values_keep_what_is_inside) {
  auto f = parse_env_file(
      "SINGLE='a b # not a comment \\n'\n"
      "DOUBLE=\"say \\\"hi\\\"\\n\" # a note\n"
      "URL=\"postgresql://u@db:5432/orch?sslmode=disable\"\n");
  BOOST_TEST(f.problems.empty());
  BOOST_TEST(f.vars.at("SINGLE") == "a b # not a comment \\n");
  BOOST_TEST(f.vars.at("DOUBLE") == "say \"hi\"\n");
  BOOST_TEST(f.vars.at("URL") == "postgresql://u@db:5432/orch?sslmode=disable");
}

BOOST_AUTO_TEST_CASE(every_malformed_line_is_reported_with_its_number) {
  auto f = parse_env_file(
      "GOOD=1\n"
      "no equals sign here\n"
      "1BAD=x\n"
      "BAD-NAME=x\n"
      "OPEN='never closed\n"
      "TRAIL=\"x\" y\n"
      "GOOD=2\n");
  BOOST_TEST(f.problems.size() == 6u);
  BOOST_TEST(mentions(f, "line 2: expected NAME=VALUE"));
  BOOST_TEST(mentions(f, "line 3: '1BAD' is not a variable name"));
  BOOST_TEST(mentions(f, "line 4: 'BAD-NAME' is not a variable name"));
  BOOST_TEST(mentions(f, "line 5: OPEN: the single quote is not closed"));
  BOOST_TEST(mentions(f, "line 6: TRAIL: text after the closing quote"));
  BOOST_TEST(mentions(f, "line 7: GOOD is set again (first on line 1)"));
  BOOST_TEST(f.vars.at("GOOD") == "1");  // the first stays: nothing is silently overridden
  BOOST_TEST(f.vars.count("OPEN") == 0u);
}

BOOST_AUTO_TEST_CASE(hostile_text_is_refused_without_echoing_it_whole) {
  auto nul = parse_env_file(std::string("A=1\n\0B=2\n", 9));
  BOOST_TEST(nul.problems.size() == 1u);
  BOOST_TEST(nul.vars.empty());
  auto ctrl = parse_env_file("\x01\x02\x1b[31m" + std::string(5000, 'x') + "\n");
  BOOST_REQUIRE(ctrl.problems.size() == 1u);
  BOOST_TEST(ctrl.problems[0].size() < 120u);
  BOOST_TEST(ctrl.problems[0].find('\x1b') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(files_that_cannot_be_read_or_are_too_large_are_refused) {
  BOOST_TEST((read_env_file("/nonexistent/dev.env").error().code == errc::not_found));
  BOOST_TEST(!read_env_file("/tmp").ok());
  const std::string big = "/tmp/orch-env-file-test-big.env";
  {
    std::ofstream out(big);
    std::string line = "A=" + std::string(1000, 'x') + "\n";
    for (int i = 0; i < 1100; ++i) out << line;
  }
  auto r = read_env_file(big);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message.find("larger than") != std::string::npos);
  std::remove(big.c_str());
}
