#include "persistence/token_repo.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "domain/hex.hpp"
#include "persistence/db.hpp"

namespace orch::persistence {

std::string token_hash(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return to_hex(digest, sizeof(digest));
}

namespace token_repo {

result<std::string> create(session& db, const std::string& name) {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return error_info{errc::internal, "no randomness for a token", ""};
  }
  std::string token = "orch_" + to_hex(bytes, sizeof(bytes));
  auto res = db.transact([&](pqxx::work& tx) {
    tx.exec_params("INSERT INTO api_tokens (name, hash) VALUES ($1, $2)", name, token_hash(token));
    return true;
  });
  if (!res) return res.error();
  return token;
}

result<long long> count(session& db) {
  return db.transact([&](pqxx::work& tx) {
    return tx.exec("SELECT count(*) FROM api_tokens")[0][0].as<long long>();
  });
}

result<std::vector<std::string>> hashes(session& db) {
  return db.transact([&](pqxx::work& tx) {
    std::vector<std::string> out;
    for (const auto& r : tx.exec("SELECT hash FROM api_tokens")) out.push_back(r[0].c_str());
    return out;
  });
}

}  // namespace token_repo

}  // namespace orch::persistence
