#define BOOST_TEST_MODULE secrets
#include "runtime/secrets.hpp"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <string>

using namespace orch;
using namespace orch::runtime;

namespace {

std::string file_with(const std::string& content) {
  static int n = 0;
  auto path = "/tmp/orch-secret-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string refusal(const result<std::string>& r) {
  return r.ok() ? std::string("(accepted)") : r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_secret_file_gives_its_line_without_the_line_break) {
  BOOST_TEST(*read_secret_file(file_with("s3cret\n")) == "s3cret");
  BOOST_TEST(*read_secret_file(file_with("s3cret\r\n")) == "s3cret");
  BOOST_TEST(*read_secret_file(file_with("no break")) == "no break");
  BOOST_TEST(*read_secret_file(file_with(" spaces kept ")) == " spaces kept ");
}

BOOST_AUTO_TEST_CASE(unusable_secret_files_are_refused_with_the_reason) {
  BOOST_TEST(refusal(read_secret_file("/nonexistent/secret")).find("missing") != std::string::npos);
  BOOST_TEST(refusal(read_secret_file("/tmp")).find("regular") != std::string::npos);
  BOOST_TEST(refusal(read_secret_file("")).find("empty") != std::string::npos);
  BOOST_TEST(refusal(read_secret_file(file_with(""))).find("empty") != std::string::npos);
  BOOST_TEST(refusal(read_secret_file(file_with("\n"))).find("empty") != std::string::npos);
  BOOST_TEST(refusal(read_secret_file(file_with("two\nlines\n"))).find("more than one line") !=
             std::string::npos);
  BOOST_TEST(refusal(read_secret_file(file_with(std::string("a\0b", 3)))).find("NUL") !=
             std::string::npos);
  BOOST_TEST(refusal(read_secret_file(file_with(std::string(max_secret_file_bytes + 1, 'x'))))
                 .find("larger") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_password_joins_a_uri_percent_encoded) {
  BOOST_TEST(*with_password("postgresql://orch@db:5432/orch", "p@ss w/rd&x") ==
             "postgresql://orch@db:5432/orch?password=p%40ss%20w%2Frd%26x");
  BOOST_TEST(*with_password("postgres://orch@db/orch?sslmode=disable", "pw") ==
             "postgres://orch@db/orch?sslmode=disable&password=pw");
}

BOOST_AUTO_TEST_CASE(a_password_joins_a_keyword_string_quoted) {
  BOOST_TEST(*with_password("host=db user=orch dbname=orch", "it's\\x") ==
             "host=db user=orch dbname=orch password='it\\'s\\\\x'");
}

BOOST_AUTO_TEST_CASE(a_second_password_or_no_url_is_refused) {
  BOOST_TEST(!with_password("postgresql://orch:old@db/orch", "new").ok());
  BOOST_TEST(!with_password("postgresql://orch@db/orch?password=old", "new").ok());
  BOOST_TEST(!with_password("host=db password=old", "new").ok());
  BOOST_TEST(refusal(with_password("", "pw")).find("DATABASE_URL") != std::string::npos);
}
