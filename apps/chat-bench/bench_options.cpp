// Checks of chat-bench's settings that do not need the flag parser (see bench_options.hpp).
#include "bench_options.hpp"

#include <algorithm>

#include "process_stats.hpp"

namespace chat::bench {

std::string parse_transports(const std::string& text,
                             const std::function<bool(const std::string&)>& built_in,
                             std::vector<std::string>& out) {
    out.clear();
    auto add = [&](const std::string& name) -> std::string {
        if (name != "redis" && !built_in(name)) {
            return "transport '" + name + "' is not built into this chat-bench";
        }
        if (std::find(out.begin(), out.end(), name) != out.end()) {
            return "--transport names " + name + " twice";
        }
        out.push_back(name);
        return {};
    };
    std::size_t start = 0;
    for (;;) {
        const auto comma = text.find(',', start);
        const std::string word =
            text.substr(start, comma == std::string::npos ? comma : comma - start);
        std::vector<std::string> names;
        if (word == "both") {
            names = {"json", "grpc"};
        } else if (word == "all") {
            for (const char* name : {"json", "grpc", "ws"}) {
                if (built_in(name)) names.emplace_back(name);
            }
        } else if (word == "json" || word == "grpc" || word == "ws" || word == "redis") {
            names = {word};
        } else {
            return "--transport: unknown '" + word +
                   "' (json, grpc, ws, redis, both, all, or a comma-separated list)";
        }
        for (const auto& name : names) {
            if (std::string error = add(name); !error.empty()) return error;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return {};
}

bool parse_pin(const std::string& text, BenchOptions& options, std::string& error) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (auto colon = text.find(':');; colon = text.find(':', start)) {
        parts.push_back(text.substr(start, colon == std::string::npos ? colon : colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    if (parts.size() != 2 && parts.size() != 3) {
        error = "--pin expects SERVER_CPUS:BENCH_CPUS[:POSTGRES_CPUS]";
        return false;
    }
    std::vector<std::vector<int>> lists;
    for (const auto& part : parts) {
        lists.push_back(parse_cpu_list(part));
        if (lists.back().empty()) {
            error = "--pin: bad CPU list '" + part + "'";
            return false;
        }
    }
    options.server_cpus = lists[0];
    options.bench_cpus = lists[1];
    options.pg_cpus = lists.size() == 3 ? lists[2] : std::vector<int>{};
    return true;
}

std::string check_store_options(const BenchOptions& options) {
    if (options.nodes == 0) return "--nodes must be at least 1";
    if (options.nodes > 1 && !options.spawn) {
        return "--nodes needs --spawn (chat-bench starts the nodes)";
    }
    if (options.nodes > 1 && options.store != "postgres") {
        return "--nodes " + std::to_string(options.nodes) +
               " needs --store postgres: only that store is shared by several chatd nodes";
    }
    if (options.pg_pid != 0 && options.pg_url.empty()) {
        return "--pg-pid goes with --pg-url (chat-bench knows the pid of its own server)";
    }
    return {};
}

}  // namespace chat::bench
