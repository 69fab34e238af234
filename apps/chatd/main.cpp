// chatd: the chat server. Reads flags (or CHATD_* environment variables), opens the store,
// serves the chosen transports from one ChatService, and shuts down cleanly on SIGINT/SIGTERM.
// With --store=postgres several chatd nodes share one PostgreSQL database (built only when the
// PostgreSQL store is: CHAT_HAVE_POSTGRES).
// CLI11 is included here and nowhere else (it is slow to compile).
#include <pthread.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "chat/chat_service.hpp"
#include "chat/cpus.hpp"
#include "chat/log.hpp"
#include "chat/memory_store.hpp"
#include "chat/sqlite_store.hpp"
#ifdef CHAT_HAVE_POSTGRES
#include "chat/postgres_store.hpp"
#endif

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;
// The default hashing threads stop here: each Argon2id hash holds its own memory.
constexpr unsigned kMaxHashThreads = 4;

#ifdef CHAT_HAVE_POSTGRES
constexpr bool kHavePostgres = true;
#else
constexpr bool kHavePostgres = false;
#endif

struct Options {
    std::string transports = "json";
    std::string listen = "127.0.0.1";
    std::uint16_t json_port = 7400;
    std::uint16_t grpc_port = 7401;
    std::uint16_t ws_port = 7402;
    // The WebSocket transport's page and Origin rule (its settings web_root, allowed_origins).
    std::string web_root;
    std::vector<std::string> ws_allowed_origins;
    std::string store = "sqlite";
    std::string db = "./chatd.db";
    std::string sync = "normal";
    // A libpq connection string or URI; it may hold a password, so it is only ever shown
    // through redact_url().
    std::string pg_url;
    std::string node_name;  // empty: host:pid
    std::size_t max_frame = chat::Limits{}.max_frame;
    std::size_t max_connections = chat::Limits{}.max_connections;
    std::size_t max_connections_per_address = chat::Limits{}.max_connections_per_address;
    std::size_t max_outbound_memory = chat::Limits{}.max_outbound_memory;
    std::size_t max_outbound_bytes = chat::Limits{}.max_outbound_bytes;
    std::size_t max_fetch_bytes = chat::Limits{}.max_fetch_bytes;
    unsigned write_stall_timeout_s = static_cast<unsigned>(
        std::chrono::duration_cast<std::chrono::seconds>(chat::Limits{}.write_stall_timeout)
            .count());
    std::size_t hash_jobs_per_connection = chat::ServiceConfig{}.hash_jobs_per_connection;
    std::size_t hash_jobs_per_address = chat::ServiceConfig{}.hash_jobs_per_address;
    double rate_limit = chat::Limits{}.rate_limit;
    unsigned threads = 0;
    std::optional<unsigned> hash_threads;  // none: one per usable CPU, at most kMaxHashThreads
    unsigned login_failures = chat::ServiceConfig{}.login_free_failures;
    std::string log_level = "info";
    std::string tls_cert;  // with tls_key: every transport serves TLS
    std::string tls_key;
    // NAME=VALUE settings of one transport each (TransportInfo::server_settings).
    std::vector<std::string> transport_settings;
};

std::vector<std::string> split_names(const std::string& list) {
    std::vector<std::string> names;
    std::stringstream in(list);
    std::string name;
    while (std::getline(in, name, ',')) {
        auto first = name.find_first_not_of(" \t");
        auto last = name.find_last_not_of(" \t");
        if (first == std::string::npos) continue;
        names.push_back(name.substr(first, last - first + 1));
    }
    return names;
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

// `--transport NAME` picks its port from the flag of that name; an adapter without a port flag
// of its own listens on its registered default port.
std::uint16_t port_for(const Options& options, const chat::TransportInfo& info) {
    if (info.name == "json") return options.json_port;
    if (info.name == "grpc") return options.grpc_port;
    if (info.name == "ws") return options.ws_port;
    return info.default_port;
}

void add_flags(CLI::App& app, Options& o) {
    app.option_defaults()->always_capture_default();
    app.add_option("--transport", o.transports,
                   "Transports to serve, comma separated (available: " +
                       join(chat::builtin_transports().names()) + ")")
        ->envname("CHATD_TRANSPORT");
    app.add_option("--listen", o.listen, "Address to listen on")->envname("CHATD_LISTEN");
    app.add_option("--json-port", o.json_port, "TCP port of the JSON Lines transport (0: any free)")
        ->envname("CHATD_JSON_PORT");
    app.add_option("--grpc-port", o.grpc_port, "TCP port of the gRPC transport (0: any free)")
        ->envname("CHATD_GRPC_PORT");
    app.add_option("--ws-port", o.ws_port,
                   "TCP port of the WebSocket transport and its web page (0: any free)")
        ->envname("CHATD_WS_PORT");
    app.add_option("--web-root", o.web_root,
                   "Directory the WebSocket port serves the web page from (default: the page "
                   "built into chatd, if any)")
        ->envname("CHATD_WEB_ROOT");
    app.add_option("--ws-allowed-origin", o.ws_allowed_origins,
                   "Origin (scheme://host[:port]) whose pages may open a WebSocket besides the "
                   "page's own; repeatable or comma separated, * for any (default: only the "
                   "page's own)")
        ->envname("CHATD_WS_ALLOWED_ORIGIN");
    // postgres stays a valid choice in a build without it, so that the refusal can say why.
    app.add_option("--store", o.store,
                   std::string("Where state lives: sqlite (durable, one node), memory (volatile) "
                               "or postgres (durable, shared by several chatd nodes; needs "
                               "--pg-url") +
                       (kHavePostgres ? ")" : "; not in this build)"))
        ->check(CLI::IsMember({"sqlite", "memory", "postgres"}))
        ->envname("CHATD_STORE");
    app.add_option("--db", o.db, "SQLite database file (with --store=sqlite)")->envname("CHATD_DB");
    app.add_option("--pg-url", o.pg_url,
                   "PostgreSQL database (with --store=postgres), a libpq URI or connection "
                   "string, e.g. postgresql://chat@db.example/chat. A password in it is never "
                   "logged; pass it through CHATD_PG_URL to keep it out of the process list")
        ->envname("CHATD_PG_URL");
    app.add_option("--node-name", o.node_name,
                   "Name of this node in its logs and among the nodes sharing a PostgreSQL "
                   "database (default: host:pid)")
        ->envname("CHATD_NODE_NAME");
    app.add_option("--sync", o.sync,
                   "SQLite durability: normal (survives a crash of chatd) or full (survives power "
                   "loss too)")
        ->check(CLI::IsMember({"normal", "full"}))
        ->envname("CHATD_SYNC");
    app.add_option("--max-frame", o.max_frame, "Largest request frame in bytes")
        ->check(CLI::Range(std::size_t{64}, std::size_t{64} * 1024 * 1024))
        ->envname("CHATD_MAX_FRAME");
    app.add_option("--max-connections", o.max_connections,
                   "Connections served at once; more get server_busy")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
        ->envname("CHATD_MAX_CONNECTIONS");
    app.add_option("--max-connections-per-address", o.max_connections_per_address,
                   "Connections served at once from one peer address, per transport; more get "
                   "server_busy (0: no limit)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}))
        ->envname("CHATD_MAX_CONNECTIONS_PER_ADDRESS");
    app.add_option("--max-outbound-memory", o.max_outbound_memory,
                   "Bytes waiting to go out on all connections together; beyond it the "
                   "connection holding more than 64 KiB that adds to it is dropped (0: no limit)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 40))
        ->envname("CHATD_MAX_OUTBOUND_MEMORY");
    app.add_option("--max-outbound-bytes", o.max_outbound_bytes,
                   "Bytes of pushes waiting to go out on one connection before it is dropped as "
                   "a slow reader")
        ->check(CLI::Range(std::size_t{64} * 1024, std::size_t{1} << 32))
        ->envname("CHATD_MAX_OUTBOUND_BYTES");
    app.add_option("--max-fetch-bytes", o.max_fetch_bytes,
                   "Bytes of message text in one fetch page (at least one message); the rest is "
                   "counted in 'remaining'")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{64} * 1024 * 1024))
        ->envname("CHATD_MAX_FETCH_BYTES");
    app.add_option("--write-stall-timeout", o.write_stall_timeout_s,
                   "Seconds a write to a connection may make no progress before the connection "
                   "is closed (its unacknowledged messages stay queued; 0: never)")
        ->check(CLI::Range(0u, 86400u))
        ->envname("CHATD_WRITE_STALL_TIMEOUT");
    app.add_option("--hash-jobs-per-connection", o.hash_jobs_per_connection,
                   "Password checks (login, create, delete) in flight per connection; more get "
                   "server_busy (0: no limit)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{100000}))
        ->envname("CHATD_HASH_JOBS_PER_CONNECTION");
    app.add_option("--hash-jobs-per-address", o.hash_jobs_per_address,
                   "Password checks in flight per peer address; more get server_busy (0: no "
                   "limit)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{100000}))
        ->envname("CHATD_HASH_JOBS_PER_ADDRESS");
    app.add_option("--rate-limit", o.rate_limit,
                   "Requests per second per connection, burst twice that (0: no limit)")
        ->check(CLI::Range(0.0, 1e9))
        ->envname("CHATD_RATE_LIMIT");
    app.add_option("--login-failures", o.login_failures,
                   "Failed password checks in a row an account name may have from one peer "
                   "address (or a connection from any name) before its attempts are refused for "
                   "a while (1 s, doubling up to 60 s; 0: no limit)")
        ->check(CLI::Range(0u, 1000000u))
        ->envname("CHATD_LOGIN_FAILURES");
    app.add_option("--threads", o.threads,
                   "I/O threads per transport (0: one per CPU this process may use: its "
                   "affinity mask and cgroup CPU quota, whichever is smaller)")
        ->check(CLI::Range(0u, 1024u))
        ->envname("CHATD_THREADS");
    app.add_option("--hash-threads", o.hash_threads,
                   "Password hashing threads (default: one per CPU this process may use, at "
                   "most 4, since each hash holds its own memory; 0: hash on the I/O thread)")
        ->check(CLI::Range(0u, 256u))
        ->envname("CHATD_HASH_THREADS");
    app.add_option("--log-level", o.log_level, "Least severe log level written to stderr")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->envname("CHATD_LOG_LEVEL");
    app.add_option("--tls-cert", o.tls_cert,
                   "PEM certificate chain (leaf first); with --tls-key every transport serves "
                   "TLS (default: plain TCP)")
        ->envname("CHATD_TLS_CERT");
    app.add_option("--tls-key", o.tls_key, "PEM private key of the --tls-cert certificate")
        ->envname("CHATD_TLS_KEY");
    app.add_option("--transport-setting", o.transport_settings,
                   "NAME=VALUE: a setting that only one transport has, given to each chosen "
                   "transport that knows NAME (repeatable; the list is below)")
        ->allow_extra_args(false)
        ->envname("CHATD_TRANSPORT_SETTING");
    std::string footer = "Transport settings (--transport-setting NAME=VALUE):";
    for (const auto& name : chat::builtin_transports().names()) {
        const auto* info = chat::builtin_transports().find(name);
        for (const auto& setting : info->server_settings) {
            footer += "\n  " + setting.name + " (" + name + " only): " + setting.help;
        }
    }
    app.footer(footer);
}

// Hands each NAME=VALUE of --transport-setting to the chosen transports that list NAME. Returns
// the exit code of a malformed one or of a name none of them knows, or 0.
int apply_transport_settings(const Options& o,
                             const std::vector<const chat::TransportInfo*>& chosen,
                             std::vector<chat::TransportSettings>& settings) {
    settings.assign(chosen.size(), {});
    for (const auto& item : o.transport_settings) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
            std::fprintf(stderr, "chatd: --transport-setting wants NAME=VALUE, not '%s'\n",
                         item.c_str());
            return kExitUsage;
        }
        const std::string name = item.substr(0, eq);
        bool known = false;
        std::vector<std::string> accepted;
        for (std::size_t i = 0; i < chosen.size(); ++i) {
            for (const auto& setting : chosen[i]->server_settings) {
                accepted.push_back(setting.name);
                if (setting.name != name) continue;
                settings[i][name] = item.substr(eq + 1);
                known = true;
            }
        }
        if (!known) {
            std::fprintf(stderr,
                         "chatd: no chosen transport has the setting '%s' (they have: %s)\n",
                         name.c_str(), accepted.empty() ? "none" : join(accepted).c_str());
            return kExitUsage;
        }
    }
    return 0;
}

// --web-root and --ws-allowed-origin are the WebSocket transport's settings web_root and
// allowed_origins, under flags of their own. Returns the exit code of a refusal, or 0.
int apply_ws_flags(const Options& o, const std::vector<const chat::TransportInfo*>& chosen,
                   std::vector<chat::TransportSettings>& settings) {
    if (o.web_root.empty() && o.ws_allowed_origins.empty()) return 0;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        if (chosen[i]->name != "ws") continue;
        if (!o.web_root.empty()) settings[i]["web_root"] = o.web_root;
        if (!o.ws_allowed_origins.empty()) {
            std::string origins;
            for (const auto& item : o.ws_allowed_origins) {
                origins += (origins.empty() ? "" : ",") + item;
            }
            settings[i]["allowed_origins"] = origins;
        }
        return 0;
    }
    std::fprintf(stderr, "chatd: %s needs the ws transport (--transport=...,ws)\n",
                 o.web_root.empty() ? "--ws-allowed-origin" : "--web-root");
    return kExitUsage;
}

// The TLS flags come as a pair; the files must be readable before anything starts. Returns the
// exit code of a failure, or 0.
int check_tls_flags(const Options& o) {
    if (o.tls_cert.empty() != o.tls_key.empty()) {
        std::fprintf(stderr, "chatd: --tls-cert and --tls-key go together (%s is missing)\n",
                     o.tls_cert.empty() ? "--tls-cert" : "--tls-key");
        return kExitUsage;
    }
    for (const auto& [file, what] :
         {std::pair{&o.tls_cert, "certificate"}, std::pair{&o.tls_key, "key"}}) {
        if (file->empty()) continue;
        std::ifstream in(*file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "chatd: cannot read TLS %s file '%s': %s\n", what, file->c_str(),
                         std::strerror(errno));
            return kExitFailure;
        }
    }
    return 0;
}

// The database URL as it may be shown: without its password.
std::string redact_url(const std::string& url) {
#ifdef CHAT_HAVE_POSTGRES
    return chat::redact_postgres_url(url);
#else
    (void)url;
    return "***";
#endif
}

// `text` with every copy of the raw URL replaced by its redacted form (an error text may quote
// the URL it was given).
std::string without_url(std::string text, const std::string& url) {
    if (url.empty()) return text;
    const std::string redacted = redact_url(url);
    for (auto at = text.find(url); at != std::string::npos; at = text.find(url, at)) {
        text.replace(at, url.size(), redacted);
        at += redacted.size();
    }
    return text;
}

// A log field value: quoted when it holds a space (a key=value connection string does).
std::string field_text(const std::string& value) {
    if (value.find_first_of(" \t\"") == std::string::npos && !value.empty()) return value;
    std::string out = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string default_node_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
        std::strcpy(host, "chatd");
    }
    return std::string(host) + ":" + std::to_string(getpid());
}

// The store flags are consistent: postgres is built in and has a URL. Returns the exit code of a
// failure, or 0.
int check_store_flags(const Options& o) {
    if (o.store != "postgres") {
        if (!o.pg_url.empty()) {
            chat::log::write(chat::log::Level::warn, "chatd", "--pg-url ignored",
                             chat::log::Fields().add("store", o.store).str());
        }
        return 0;
    }
    if (!kHavePostgres) {
        std::fprintf(stderr,
                     "chatd: --store=postgres is not available: this chatd was built without "
                     "PostgreSQL support (configure with -DCHAT_WITH_POSTGRES=ON and libpq "
                     "installed)\n");
        return kExitUsage;
    }
    if (o.pg_url.empty()) {
        std::fprintf(stderr,
                     "chatd: --store=postgres needs the database: --pg-url URL or CHATD_PG_URL, "
                     "e.g. postgresql://chat@127.0.0.1:5432/chat\n");
        return kExitUsage;
    }
    return 0;
}

std::unique_ptr<chat::Store> open_store(const Options& o) {
    if (o.store == "memory") return std::make_unique<chat::MemoryStore>();
#ifdef CHAT_HAVE_POSTGRES
    if (o.store == "postgres") {
        chat::PostgresOptions postgres;
        postgres.url = o.pg_url;
        postgres.node_name = o.node_name;
        return std::make_unique<chat::PostgresStore>(std::move(postgres));
    }
#endif
    chat::SqliteOptions sqlite;
    sqlite.path = o.db;
    sqlite.sync =
        o.sync == "full" ? chat::SqliteOptions::Sync::full : chat::SqliteOptions::Sync::normal;
    return std::make_unique<chat::SqliteStore>(sqlite);
}

int run(Options o, sigset_t& stop_signals) {
    chat::log::set_level(chat::log::parse_level(o.log_level).value_or(chat::log::Level::info));
    if (o.node_name.empty()) o.node_name = default_node_name();

    std::vector<const chat::TransportInfo*> chosen;
    const auto& registry = chat::builtin_transports();
    for (const auto& name : split_names(o.transports)) {
        const auto* info = registry.find(name);
        if (info == nullptr) {
            std::fprintf(stderr, "chatd: unknown transport '%s' (available: %s)\n", name.c_str(),
                         join(registry.names()).c_str());
            return kExitUsage;
        }
        for (const auto* seen : chosen) {
            if (seen == info) {
                std::fprintf(stderr, "chatd: transport '%s' given twice\n", name.c_str());
                return kExitUsage;
            }
        }
        chosen.push_back(info);
    }
    if (chosen.empty()) {
        std::fprintf(stderr, "chatd: no transport given (available: %s)\n",
                     join(registry.names()).c_str());
        return kExitUsage;
    }
    if (int code = check_tls_flags(o); code != 0) return code;
    std::vector<chat::TransportSettings> settings;
    if (int code = apply_transport_settings(o, chosen, settings); code != 0) return code;
    if (int code = apply_ws_flags(o, chosen, settings); code != 0) return code;

    if (int code = check_store_flags(o); code != 0) return code;

    std::unique_ptr<chat::Store> store;
    const std::string where = o.store == "postgres" ? redact_url(o.pg_url) : o.db;
    try {
        store = open_store(o);
    } catch (const std::exception& e) {
        // The PostgreSQL store's messages name the (redacted) URL themselves.
        if (o.store == "postgres") {
            std::fprintf(stderr, "chatd: PostgreSQL store: %s\n",
                         without_url(e.what(), o.pg_url).c_str());
        } else {
            std::fprintf(stderr, "chatd: cannot open database '%s': %s\n", where.c_str(), e.what());
        }
        return kExitFailure;
    }
    {
        chat::log::Fields fields;
        fields.add("store", o.store);
        if (o.store == "postgres") fields.add("url", field_text(where));
        if (o.store == "sqlite") fields.add("db", field_text(where));
        chat::log::write(chat::log::Level::info, "chatd", "store opened",
                         fields.add("node", field_text(o.node_name)).str());
    }

    chat::ServiceConfig config;
    config.limits.max_frame = o.max_frame;
    config.limits.max_connections = o.max_connections;
    config.limits.rate_limit = o.rate_limit;
    config.limits.rate_burst = 2 * o.rate_limit;
    config.limits.max_connections_per_address = o.max_connections_per_address;
    config.limits.max_outbound_memory = o.max_outbound_memory;
    config.limits.max_outbound_bytes = o.max_outbound_bytes;
    config.limits.max_fetch_bytes = o.max_fetch_bytes;
    config.limits.write_stall_timeout = std::chrono::seconds(o.write_stall_timeout_s);
    config.hash_jobs_per_connection = o.hash_jobs_per_connection;
    config.hash_jobs_per_address = o.hash_jobs_per_address;
    // Thread counts follow the CPUs this process may use, not the machine's (a pinned process or
    // a container with a CPU quota would otherwise run more threads than it has CPUs).
    const chat::CpuCount cpus = chat::usable_cpus();
    config.hash_threads = o.hash_threads.value_or(std::min(cpus.usable, kMaxHashThreads));
    chat::log::write(chat::log::Level::info, "chatd", "threads",
                     chat::log::Fields()
                         .add("cpus", cpus.usable)
                         .add("affinity", cpus.affinity)
                         .add("quota", cpus.quota ? std::to_string(*cpus.quota) : "none")
                         .add("io_per_transport", o.threads != 0 ? o.threads : cpus.usable)
                         .add("hash", config.hash_threads)
                         .str());
    config.login_free_failures = o.login_failures;
    config.login_free_failures_per_connection = o.login_failures;
    auto service = std::make_unique<chat::ChatService>(*store, config);

    std::vector<std::unique_ptr<chat::ServerTransport>> servers;
    auto stop_all = [&servers] {
        for (auto it = servers.rbegin(); it != servers.rend(); ++it) (*it)->stop();
        servers.clear();
    };
    // One outbound budget for every transport: the bound is the process's.
    auto outbound_budget = std::make_shared<chat::OutboundBudget>(o.max_outbound_memory);
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        const auto* info = chosen[i];
        chat::ServerConfig server_config;
        server_config.settings = std::move(settings[i]);
        server_config.outbound_budget = outbound_budget;
        server_config.listen = o.listen;
        server_config.port = port_for(o, *info);
        server_config.threads = o.threads;
        server_config.tls_cert_file = o.tls_cert;
        server_config.tls_key_file = o.tls_key;
        try {
            auto server = info->make_server(*service, server_config);
            server->start();
            chat::log::write(chat::log::Level::info, "chatd", "listening",
                             chat::log::Fields()
                                 .add("transport", info->name)
                                 .add("addr", o.listen)
                                 .add("port", server->local_port())
                                 .add("tls", o.tls_cert.empty() ? "off" : "on")
                                 .str());
            servers.push_back(std::move(server));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "chatd: cannot start transport '%s': %s\n", info->name.c_str(),
                         e.what());
            stop_all();
            return kExitFailure;
        }
    }
    chat::log::write(
        chat::log::Level::info, "chatd", "ready",
        chat::log::Fields().add("store", o.store).add("node", field_text(o.node_name)).str());

    int signal = 0;
    sigwait(&stop_signals, &signal);
    chat::log::write(
        chat::log::Level::info, "chatd", "stopping",
        chat::log::Fields().add("signal", signal == SIGINT ? "SIGINT" : "SIGTERM").str());

    stop_all();
    service.reset();  // waits for queued password hashing
    store->flush();
    store.reset();
    chat::log::write(chat::log::Level::info, "chatd", "stopped");
    return 0;
}

// Overwrites the value of --pg-url in the process's own argument memory (what `ps` and
// /proc/PID/cmdline show), so a password given on the command line is visible there only
// between exec and this call. CLI11 has copied the value by then. CHATD_PG_URL avoids even that
// window.
void hide_pg_url_argument(int argc, char** argv) {
    const std::string_view flag = "--pg-url";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        char* value = nullptr;
        if (arg == flag && i + 1 < argc) {
            value = argv[i + 1];
        } else if (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag &&
                   arg[flag.size()] == '=') {
            value = argv[i] + flag.size() + 1;
        }
        if (value != nullptr) std::memset(value, '*', std::strlen(value));
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Block the stop signals in every thread (threads inherit the mask); the main thread then
    // waits for them with sigwait instead of running code in a signal handler.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    CLI::App app{
        "chatd: a chat server. Users create accounts, log in and send each other messages, which "
        "are stored durably and delivered live or on the next fetch. Serves JSON Lines over TCP "
        "and, when built, gRPC, from one store.",
        "chatd"};
    Options options;
    add_flags(app, options);
    try {
        app.parse(argc, argv);
        hide_pg_url_argument(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }
    try {
        return run(options, stop_signals);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chatd: %s\n", e.what());
        return kExitFailure;
    }
}
