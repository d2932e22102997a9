// The tests' independent HMAC-SHA256 (OpenSSL's libcrypto, not paysig's code),
// as lowercase hex: what a signature must equal.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace paysig::testing {

inline std::string HmacSha256Hex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &length);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

}  // namespace paysig::testing
