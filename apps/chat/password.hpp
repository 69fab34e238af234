// Where the client gets a password without it ever appearing on the command line: the first
// line of a file (--password-file, "-" for standard input) or the CHAT_PASSWORD environment
// variable. Passwords are never printed or logged.
// Thread use: call from the main thread.
#pragma once

#include <optional>
#include <string>

namespace chat::cli {

struct PasswordFileResult {
    std::optional<std::string> password;  // set on success
    std::string error;                    // why the file could not be read
    std::string warning;                  // e.g. the file is readable by other users
};

// The first line of `path` (without its line ending); "-" reads the first line of stdin.
PasswordFileResult read_password_file(const std::string& path);

// CHAT_PASSWORD when set.
std::optional<std::string> password_from_environment();

}  // namespace chat::cli
