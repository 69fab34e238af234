// Plain blocking JSON Lines over a TCP socket, for the parts of chat-bench that do not go through
// chat::Client (the lean load and the idle clients): connect, and one request -> one reply line.
// Thread use: free functions; a socket belongs to one thread at a time.
#pragma once

#include <string>
#include <string_view>

#include "bench_options.hpp"

namespace chat::bench {

// A connected TCP socket to a numeric address (or "localhost"), TCP_NODELAY on, blocking with a
// receive timeout. Throws std::runtime_error on failure.
int connect_tcp(const Endpoint& endpoint);

// Writes `line` (which ends in '\n') and returns the next reply line without its '\n'. `pending`
// keeps bytes read past that line. Throws std::runtime_error on failure or timeout.
std::string json_request(int fd, std::string& pending, std::string_view line);

// `{"op":"<op>","id":0,"username":"<name>","password":"<password>"}\n`
std::string credentials_request(std::string_view op, std::string_view name,
                                std::string_view password);

}  // namespace chat::bench
