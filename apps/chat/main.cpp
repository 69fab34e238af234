// `chat`: the command-line client of chatcore. Flags -> configuration -> the interactive
// session or one scripted subcommand, over any transport of the registry.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <clocale>
#include <csignal>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "console.hpp"
#include "exit_codes.hpp"
#include "interactive.hpp"
#include "password.hpp"
#include "script.hpp"
#include "terminal.hpp"

namespace {

using namespace chat::cli;

constexpr const char* kDescription =
    "chat - the command-line client of chatcore; it talks to a chatd server.\n"
    "\n"
    "Without a subcommand it is interactive: it asks for the server (unless --host is given),\n"
    "offers to create an account or log in, then takes commands (send, fetch, list, delete,\n"
    "logout, quit). Messages sent to you appear as they arrive, without disturbing what you\n"
    "are typing. When standard input is not a terminal it reads the same answers and commands\n"
    "as plain lines, without prompts. When the connection to the server breaks it reconnects\n"
    "and logs in again by itself (unless --no-reconnect), and shows what arrived meanwhile.\n"
    "\n"
    "With a subcommand it does one thing and exits, for scripts.";

constexpr const char* kFooter =
    "Examples:\n"
    "  chat                                   interactive; asks for the server\n"
    "  chat --host 10.0.0.5 --user alice      interactive, alice as the default username\n"
    "  chat --user carol create-account       asks for the new password twice\n"
    "  chat --user alice --password-file ~/.chat-pw send bob \"lunch at 12?\"\n"
    "  echo \"long text\" | chat --user alice --password-file ~/.chat-pw send bob\n"
    "  CHAT_PASSWORD=... chat --user bob fetch --json\n"
    "  chat --user bob --password-file ~/.chat-pw list 'a*'\n"
    "  chat --transport grpc --port 7401 --user bob fetch\n"
    "  chat --tls --tls-ca ca.pem --host chat.example.org --user bob fetch\n"
    "\n"
    "Passwords are never taken on the command line (other users could see them in the\n"
    "process list): use --password-file F (its first line; - for standard input), the\n"
    "environment variable CHAT_PASSWORD, or type it when asked (it is not shown).\n"
    "The --user default can also come from CHAT_USER.\n"
    "\n"
    "TLS: --tls encrypts the connection and checks that the server's certificate is signed by\n"
    "a trusted CA (the system's, or the ones in --tls-ca FILE) and names --host; otherwise\n"
    "chat refuses to talk to it. Without --tls the connection is plain TCP.\n"
    "\n"
    "Reconnecting (interactive mode only): when the connection breaks, chat says so in one\n"
    "line, retries (waiting up to 0.1 s at first, doubling up to 5 s) until the server\n"
    "answers, logs in again with the password it keeps in memory for that, and says so in one\n"
    "more line; commands typed meanwhile fail at once. If that login is refused (the account\n"
    "was deleted or its password changed), it says so and goes back to the login menu.\n"
    "A message sent just as the connection broke is\n"
    "reported as not sent, although the server may have stored it: sending it again may\n"
    "deliver it twice. With --no-reconnect a broken connection ends chat with exit status 3.\n"
    "Subcommands never reconnect: a broken connection fails them with exit status 3, and a\n"
    "script decides whether to run them again.\n"
    "\n"
    "Output: messages as `[2026-11-25 12:03] alice: hi`; with --json one JSON object per line\n"
    "(fetch/send: {\"id\",\"from\",\"to\",\"body\",\"sent_at\"}; list: {\"username\"}).\n"
    "Exit status: 0 done, 1 the server refused (stderr: error: <code>: <message>),\n"
    "2 usage error, 3 the server cannot be reached or the connection broke.";

struct Flags {
    std::string transport = "json";
    std::string host;
    int port = 0;
    std::string user;
    std::string password_file;
    bool json = false;
    double timeout_s = 10;
    bool tls = false;
    std::string tls_ca;
    bool no_reconnect = false;
    std::string to;
    std::vector<std::string> words;
    std::uint64_t max = 0;
    std::string pattern;
};

// A password given as a flag would be visible to every user of the machine, so it is refused
// before the parser could echo it in an error message.
bool has_password_flag(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") return false;
        if (arg == "--password" || arg.starts_with("--password=") || arg == "--pass" ||
            arg.starts_with("--pass=")) {
            return true;
        }
    }
    return false;
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += w;
    }
    return out;
}

// The password of a subcommand: the file, the environment, or a prompt on the terminal.
std::optional<std::string> script_password(const Flags& flags, bool confirm, int& exit_code) {
    if (!flags.password_file.empty()) {
        auto file = read_password_file(flags.password_file);
        if (!file.warning.empty()) std::cerr << "warning: " << file.warning << '\n';
        if (!file.password) {
            std::cerr << "error: " << file.error << '\n';
            exit_code = kExitUsage;
            return std::nullopt;
        }
        return file.password;
    }
    if (auto env = password_from_environment()) return env;
    if (!is_terminal(STDIN_FILENO)) {
        std::cerr << "error: no password: use --password-file FILE or set CHAT_PASSWORD "
                     "(standard input is not a terminal to ask on)\n";
        exit_code = kExitUsage;
        return std::nullopt;
    }
    auto console = make_terminal_console(STDIN_FILENO, STDERR_FILENO);
    auto first = console->read_secret("Password for " + flags.user + ": ");
    if (!first.ok()) {
        std::cerr << "error: no password given\n";
        exit_code = kExitUsage;
        return std::nullopt;
    }
    if (confirm) {
        auto again = console->read_secret("Repeat the password: ");
        if (!again.ok()) {
            std::cerr << "error: no password given\n";
            exit_code = kExitUsage;
            return std::nullopt;
        }
        if (again.text != first.text) {
            std::cerr << "error: the two passwords differ\n";
            exit_code = kExitUsage;
            return std::nullopt;
        }
    }
    return std::move(first.text);
}

int run_interactive(const Flags& flags, const chat::TransportInfo& transport,
                    chat::ClientConfig config, bool host_given) {
    if (flags.password_file == "-") {
        std::cerr << "error: --password-file - reads standard input, which the interactive "
                     "mode needs for commands\n";
        return kExitUsage;
    }
    const bool tty = is_terminal(STDIN_FILENO) && is_terminal(STDOUT_FILENO);
    auto console = tty ? make_terminal_console(STDIN_FILENO, STDOUT_FILENO)
                       : make_line_console(STDIN_FILENO, STDOUT_FILENO);
    InteractiveConfig session_config;
    if (!flags.user.empty()) session_config.user = flags.user;
    if (!flags.password_file.empty()) {
        auto file = read_password_file(flags.password_file);
        if (!file.warning.empty()) console->print("warning: " + file.warning);
        if (!file.password) {
            console->print("error: " + file.error);
            return kExitUsage;
        }
        session_config.password = std::move(file.password);
    } else {
        session_config.password = password_from_environment();
    }
    if (!host_given && console->is_terminal()) {
        auto answer = console->read_line("Server host [" + config.host + "]: ");
        if (!answer.ok()) return kExitOk;
        std::string_view host = answer.text;
        while (!host.empty() && host.front() == ' ') host.remove_prefix(1);
        while (!host.empty() && host.back() == ' ') host.remove_suffix(1);
        if (!host.empty()) config.host = std::string(host);
    }
    session_config.server = config.host + ":" + std::to_string(config.port);
    // The registry's factory wraps the transport's client in a chat::ReconnectingClient.
    config.reconnect.enabled = !flags.no_reconnect;
    console->print("Connecting to " + session_config.server + " (" + transport.name +
                   (config.tls ? ", TLS" : "") + ")...");
    auto client = transport.make_client(config);
    InteractiveSession session(*client, *console, std::move(session_config));
    return session.run();
}

int run_subcommand(chat::cli::ScriptCommand command, const Flags& flags,
                   const chat::TransportInfo& transport, const chat::ClientConfig& config) {
    ScriptRequest request;
    request.command = command;
    request.server = config.host + ":" + std::to_string(config.port);
    request.json = flags.json;
    request.max = flags.max;
    request.pattern = flags.pattern;
    request.to = flags.to;
    if (flags.user.empty()) {
        std::cerr << "error: this command needs --user NAME (or CHAT_USER)\n";
        return kExitUsage;
    }
    request.user = flags.user;
    int code = kExitOk;
    auto password = script_password(flags, command == ScriptCommand::create_account, code);
    if (!password) return code;
    request.password = std::move(*password);
    if (command == ScriptCommand::send) {
        if (!flags.words.empty()) {
            request.body = join(flags.words);
        } else if (!is_terminal(STDIN_FILENO)) {
            request.body.assign(std::istreambuf_iterator<char>(std::cin),
                                std::istreambuf_iterator<char>());
            if (!request.body.empty() && request.body.back() == '\n') request.body.pop_back();
            if (!request.body.empty() && request.body.back() == '\r') request.body.pop_back();
        } else {
            std::cerr << "error: send needs a message: chat send TO TEXT...\n";
            return kExitUsage;
        }
    }
    // Scripts see pushes only through fetch, so nothing is acknowledged behind their back.
    chat::ClientConfig script_config = config;
    script_config.auto_ack = false;
    // One request and out: a broken connection is exit status 3, and the script decides
    // whether to try again (a resent `send` could deliver twice).
    script_config.reconnect.enabled = false;
    auto client = transport.make_client(script_config);
    return run_script(request, *client, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
    std::setlocale(LC_CTYPE, "");
    std::signal(SIGPIPE, SIG_IGN);

    if (has_password_flag(argc, argv)) {
        std::cerr << "error: passwords are not accepted on the command line (other users could "
                     "see them); use --password-file FILE, CHAT_PASSWORD, or type it when "
                     "asked\n";
        return kExitUsage;
    }

    const auto& registry = chat::builtin_transports();
    Flags flags;
    CLI::App app{kDescription, "chat"};
    app.footer(kFooter);
    app.set_version_flag("--version", "chat 0.1.0");
    app.fallthrough();
    app.require_subcommand(0, 1);
    std::string protocols;
    for (const auto& name : registry.names()) protocols += (protocols.empty() ? "" : ", ") + name;
    app.add_option("--transport", flags.transport, "Wire protocol (available: " + protocols + ")")
        ->capture_default_str();
    auto* host_opt = app.add_option("--host", flags.host,
                                    "Server address (interactive: asked, default 127.0.0.1)");
    app.add_option("--port", flags.port,
                   "Server port (default: the transport's: json 7400, grpc 7401, ws 7402)")
        ->check(CLI::Range(1, 65535));
    app.add_option("--user,-u", flags.user, "Your username")->envname("CHAT_USER");
    app.add_option("--password-file", flags.password_file,
                   "Read the password from the first line of this file (- = stdin)");
    app.add_flag("--json", flags.json, "Machine-readable output: one JSON object per line");
    app.add_option("--timeout", flags.timeout_s, "Seconds to wait for each reply")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_flag("--tls", flags.tls,
                 "Connect over TLS, verifying the server certificate (default: plain TCP)");
    app.add_option("--tls-ca", flags.tls_ca,
                   "PEM file of the CA certificates to trust with --tls (default: the system's); "
                   "implies --tls");
    app.add_flag("--no-reconnect", flags.no_reconnect,
                 "Interactive: end (exit status 3) when the connection breaks, instead of "
                 "reconnecting and logging in again; subcommands never reconnect");

    auto* send = app.add_subcommand("send", "Send a message: send TO TEXT... (no TEXT: stdin)");
    send->add_option("TO", flags.to, "Recipient")->required();
    send->add_option("TEXT", flags.words, "The message (words are joined with spaces)");
    auto* fetch = app.add_subcommand("fetch", "Print undelivered messages and acknowledge them");
    fetch->add_option("--max", flags.max, "At most this many messages (default: all)");
    auto* list = app.add_subcommand("list", "List accounts matching a wildcard (* and ?)");
    list->add_option("PATTERN", flags.pattern, "Wildcard pattern (default: all)");
    auto* create = app.add_subcommand("create-account", "Create the account named by --user");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitUsage;
    }

    const chat::TransportInfo* transport = registry.find(flags.transport);
    if (transport == nullptr) {
        std::cerr << "error: unknown transport '" << flags.transport << "'; this build has:";
        for (const auto& name : registry.names()) std::cerr << ' ' << name;
        std::cerr << '\n';
        return kExitUsage;
    }
    chat::ClientConfig config;
    config.host = host_opt->count() > 0 ? flags.host : "127.0.0.1";
    config.port =
        flags.port != 0 ? static_cast<std::uint16_t>(flags.port) : transport->default_port;
    config.timeout = std::chrono::milliseconds(static_cast<long long>(flags.timeout_s * 1000));
    config.tls = flags.tls || !flags.tls_ca.empty();
    config.tls_ca_file = flags.tls_ca;

    try {
        if (send->parsed()) return run_subcommand(ScriptCommand::send, flags, *transport, config);
        if (fetch->parsed()) return run_subcommand(ScriptCommand::fetch, flags, *transport, config);
        if (list->parsed()) return run_subcommand(ScriptCommand::list, flags, *transport, config);
        if (create->parsed()) {
            return run_subcommand(ScriptCommand::create_account, flags, *transport, config);
        }
        return run_interactive(flags, *transport, config, host_opt->count() > 0);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return kExitFailed;
    }
}
