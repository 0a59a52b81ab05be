#define BOOST_TEST_MODULE pg_token_repo
#include "persistence/token_repo.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "pg/pg_fixture.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;
using namespace std::chrono_literals;

BOOST_FIXTURE_TEST_SUITE(tokens, pg_db)

BOOST_AUTO_TEST_CASE(create_returns_a_secret_whose_sha256_is_what_is_stored) {
  auto secret = must(p::token_repo::create(db, "ci"));
  BOOST_CHECK(secret.rfind("orch_", 0) == 0);
  BOOST_CHECK_GE(secret.size(), 40u);
  auto stored = scalar<std::string>("SELECT hash FROM api_tokens WHERE name = 'ci'");
  BOOST_CHECK_EQUAL(stored, p::token_hash(secret));
  BOOST_CHECK_EQUAL(stored.size(), 64u);
  BOOST_CHECK_NE(stored, secret);
  // The secret itself appears nowhere in the table.
  BOOST_CHECK_EQUAL(
      scalar("SELECT count(*) FROM api_tokens t WHERE t::text LIKE '%" + secret + "%'"), 0);
  BOOST_CHECK_EQUAL(must(p::token_repo::count(db)), 1);
  auto hashes = must(p::token_repo::hashes(db));
  BOOST_REQUIRE_EQUAL(hashes.size(), 1u);
  BOOST_CHECK_EQUAL(hashes[0], p::token_hash(secret));
}

BOOST_AUTO_TEST_CASE(token_hash_is_the_hex_sha256_of_the_token) {
  BOOST_CHECK_EQUAL(p::token_hash("abc"),
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_CHECK_EQUAL(p::token_hash(""),
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_CASE(every_created_token_is_a_different_secret) {
  auto a = must(p::token_repo::create(db, "a"));
  auto b = must(p::token_repo::create(db, "a"));
  BOOST_CHECK_NE(a, b);
  BOOST_CHECK_EQUAL(must(p::token_repo::count(db)), 2);
  auto hashes = must(p::token_repo::hashes(db));
  BOOST_CHECK(std::find(hashes.begin(), hashes.end(), p::token_hash(a)) != hashes.end());
  BOOST_CHECK(std::find(hashes.begin(), hashes.end(), p::token_hash(b)) != hashes.end());
}

BOOST_AUTO_TEST_SUITE_END()
