// The scripted subcommands of the client: `send`, `fetch`, `list`, `create-account`. Each one
// connects, logs in when needed, does one thing, prints the result (plain text, or one JSON
// object per line with --json) and exits with a code scripts can test.
// Thread use: run_script() on one thread; it owns the client for the duration of the call.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "chat/transport.hpp"

namespace chat::cli {

enum class ScriptCommand { send, fetch, list, create_account };

struct ScriptRequest {
    ScriptCommand command = ScriptCommand::fetch;
    std::string server;  // "host:port", for messages
    std::string user;
    std::string password;
    bool json = false;
    std::string to;         // send
    std::string body;       // send
    std::uint64_t max = 0;  // fetch: at most this many messages; 0 = all
    std::string pattern;    // list
};

// Runs one subcommand on a client that is not connected yet. Returns the exit code:
// 0 done, 1 the server refused (`error: <code>: <message>` on `err`), 3 no connection.
int run_script(const ScriptRequest& request, Client& client, std::ostream& out, std::ostream& err);

}  // namespace chat::cli
