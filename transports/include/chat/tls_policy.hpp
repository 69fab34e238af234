// The TLS policy every transport applies, client and server alike: TLS 1.2 or 1.3 only, forward
// secret key exchange (ECDHE) with AEAD ciphers only, in the server's order of preference. One
// definition, so the JSON Lines and the gRPC ports cannot drift apart.
// Thread use: constants and a pure function; use from any thread.
#pragma once

#include <string>
#include <string_view>

namespace chat::tls_policy {

// The oldest protocol version either side accepts is TLS 1.2 (TLS1_2_VERSION in OpenSSL).

// The TLS 1.2 cipher suites (OpenSSL names), most preferred first. No static RSA key exchange,
// no CBC mode, no SHA-1 MAC.
inline constexpr std::string_view kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The TLS 1.3 cipher suites, most preferred first (OpenSSL's own set: AES-GCM and ChaCha20).
inline constexpr std::string_view kTls13Ciphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// The TLS 1.2 suites to use when an operator asks for `requested` (a colon-separated list, as
// in gRPC's GRPC_SSL_CIPHER_SUITES): those of `requested` that the policy allows, in the
// operator's order, so a list can narrow the policy but never widen it. When none of them is
// allowed (or `requested` is empty) the result is kTls12Ciphers.
std::string allowed_tls12_ciphers(std::string_view requested);

}  // namespace chat::tls_policy
