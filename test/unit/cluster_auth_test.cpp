#define BOOST_TEST_MODULE cluster_auth
#include "domain/cluster_auth.hpp"

#include <boost/test/unit_test.hpp>
#include <set>

using namespace orch;
using namespace orch::cluster_auth;

BOOST_AUTO_TEST_CASE(nonces_are_128_random_bits_in_hex_and_never_repeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto n = make_nonce();
    BOOST_TEST(n.size() == 32u);
    BOOST_TEST(n.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(n);
  }
  BOOST_TEST(seen.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(a_proof_is_the_hmac_sha256_of_role_and_both_nonces) {
  // Checked against a value computed independently with
  // `printf 'orchestrator-cluster|client|c|s' | openssl dgst -sha256 -hmac key`.
  BOOST_TEST(proof("key", "client", "c", "s") ==
             "8e994378d8a5837955b5d71d867b3f535cb6b675b31c4fd22fe5dc4a510e17d6");
  auto p = proof("0123456789abcdef", "client", "n1", "n2");
  BOOST_TEST(p.size() == 64u);
  BOOST_TEST(p == proof("0123456789abcdef", "client", "n1", "n2"));
  // Any change of secret, role or nonce changes the proof: a replayed proof
  // from another handshake or the other side's proof is worthless.
  BOOST_TEST(p != proof("0123456789abcdeF", "client", "n1", "n2"));
  BOOST_TEST(p != proof("0123456789abcdef", "server", "n1", "n2"));
  BOOST_TEST(p != proof("0123456789abcdef", "client", "n1", "n3"));
  BOOST_TEST(p != proof("0123456789abcdef", "client", "n2", "n1"));
  // The proof does not contain the secret.
  BOOST_TEST(p.find("0123456789abcdef") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(same_compares_whole_strings) {
  BOOST_TEST(same("abc", "abc"));
  BOOST_TEST(!same("abc", "abd"));
  BOOST_TEST(!same("abc", "ab"));
  BOOST_TEST(!same("", "a"));
  BOOST_TEST(same("", ""));
}

BOOST_AUTO_TEST_CASE(endpoints_parse_host_port_and_bracketed_ipv6) {
  auto a = parse_endpoint("node-a.internal:7000");
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->host == "node-a.internal");
  BOOST_TEST(a->port == 7000);
  BOOST_TEST(a->text() == "node-a.internal:7000");
  auto b = parse_endpoint("[::1]:65535");
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(b->host == "::1");
  BOOST_TEST(b->text() == "[::1]:65535");
  for (const std::string& bad :
       {std::string(""), std::string("host"), std::string("host:"), std::string(":1"),
        std::string("host:0"), std::string("host:65536"), std::string("host:123456"),
        std::string("host:-1"), std::string("host:1a"), std::string("::1:80"),
        std::string("[::1]80"), std::string("[::1"), std::string("a b:80"), std::string("a\x01:80"),
        std::string(300, 'h') + ":80"}) {
    BOOST_TEST_CONTEXT(bad) {
      auto r = parse_endpoint(bad);
      BOOST_TEST(!r.ok());
      if (!r.ok()) BOOST_TEST((r.error().code == errc::validation_failed));
    }
  }
}
