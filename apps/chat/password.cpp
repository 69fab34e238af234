// Reading passwords from a file or the environment.
#include "password.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

namespace chat::cli {

namespace {

void strip_line_end(std::string& line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
}

}  // namespace

PasswordFileResult read_password_file(const std::string& path) {
    PasswordFileResult result;
    std::string line;
    if (path == "-") {
        if (!std::getline(std::cin, line) && line.empty()) {
            result.error = "standard input is empty";
            return result;
        }
        strip_line_end(line);
        result.password = std::move(line);
        return result;
    }
    std::ifstream in(path);
    if (!in) {
        result.error = "cannot read password file " + path + ": " + std::strerror(errno);
        return result;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        result.warning =
            "password file " + path + " can be read by other users; consider chmod 600 " + path;
    }
    std::getline(in, line);
    strip_line_end(line);
    result.password = std::move(line);
    return result;
}

std::optional<std::string> password_from_environment() {
    const char* value = std::getenv("CHAT_PASSWORD");
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

}  // namespace chat::cli
