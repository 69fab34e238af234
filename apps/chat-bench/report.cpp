// The table, JSON and CSV forms of a run's results (see report.hpp).
#include "report.hpp"

#include <cstdio>
#include <functional>
#include <iomanip>
#include <optional>
#include <sstream>
#include <string>

namespace chat::bench {

namespace {

std::string number(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

// 1234567 -> "1 234 567" (thin groups read at a glance in a table).
std::string grouped(double value) {
    std::string digits = number(value, 0);
    std::string out;
    const std::size_t sign = !digits.empty() && digits[0] == '-' ? 1 : 0;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        out.push_back(digits[i]);
        const std::size_t left = digits.size() - i - 1;
        if (i >= sign && left > 0 && left % 3 == 0) out.push_back(' ');
    }
    return out;
}

std::string optional_number(const std::optional<double>& value, int decimals) {
    return value ? number(*value, decimals) : std::string("-");
}

// "1.20/1.31/1.18": one figure per node, in node order.
std::string per_node(const std::vector<double>& values) {
    if (values.empty()) return "-";
    std::string out;
    for (double value : values) out += (out.empty() ? "" : "/") + number(value, 2);
    return out;
}

bool shows_postgres(const BenchOptions& options) {
    return options.spawn && options.store == "postgres";
}

// How the PostgreSQL server was found, for the report (never its URL: it may hold a password).
std::string pg_server_kind(const BenchOptions& options) {
    if (!shows_postgres(options)) return "";
    return options.pg_url.empty() ? "private" : "external";
}

struct Row {
    std::string label;
    std::function<std::string(const CellResult&)> value;
};

std::vector<Row> table_rows(const BenchOptions& options) {
    std::vector<Row> rows = {
        {"delivered msgs/s", [](const CellResult& c) { return grouped(c.load.msgs_per_s); }},
        {"server CPU us/msg",
         [](const CellResult& c) { return optional_number(c.load.server_cpu_us, 2); }},
        {"server CPU load",
         [](const CellResult& c) {
             return c.load.server_cpu_load ? number(*c.load.server_cpu_load * 100, 0) + " %"
                                           : std::string("-");
         }},
        {"client CPU us/msg", [](const CellResult& c) { return number(c.load.client_cpu_us, 2); }},
        {"client CPU load",
         [](const CellResult& c) { return number(c.load.client_cpu_load * 100, 0) + " %"; }},
        {"latency p50 us", [](const CellResult& c) { return number(c.load.p50_us, 1); }},
        {"latency p99 us", [](const CellResult& c) { return number(c.load.p99_us, 1); }},
        {"latency p99.9 us", [](const CellResult& c) { return number(c.load.p999_us, 1); }},
        {"latency max us", [](const CellResult& c) { return number(c.load.max_us, 1); }},
        {"bytes/msg send", [](const CellResult& c) { return number(c.load.up_bytes, 1); }},
        {"bytes/msg reply", [](const CellResult& c) { return number(c.load.reply_bytes, 1); }},
        {"bytes/msg push", [](const CellResult& c) { return number(c.load.push_bytes, 1); }},
        {"bytes/msg ack", [](const CellResult& c) { return number(c.load.ack_bytes, 1); }},
        {"bytes/msg total",
         [](const CellResult& c) {
             return number(
                 c.load.up_bytes + c.load.reply_bytes + c.load.push_bytes + c.load.ack_bytes, 1);
         }},
        {"delivered in window",
         [](const CellResult& c) { return grouped(double(c.load.delivered)); }},
        {"send errors", [](const CellResult& c) { return std::to_string(c.load.send_errors); }},
    };
    // After the server's two CPU rows: the nodes one by one, then PostgreSQL's.
    auto next = rows.begin() + 3;
    if (options.nodes > 1) {
        next =
            rows.insert(next, {"server CPU us/msg per node",
                               [](const CellResult& c) { return per_node(c.load.node_cpu_us); }}) +
            1;
    }
    if (shows_postgres(options)) {
        const std::vector<Row> pg_rows = {
            {"PostgreSQL CPU us/msg",
             [](const CellResult& c) { return optional_number(c.load.pg_cpu_us, 2); }},
            {"PostgreSQL CPU load",
             [](const CellResult& c) {
                 return c.load.pg_cpu_load ? number(*c.load.pg_cpu_load * 100, 0) + " %"
                                           : std::string("-");
             }},
            {"server+PostgreSQL CPU us/msg",
             [](const CellResult& c) {
                 if (!c.load.server_cpu_us || !c.load.pg_cpu_us) return std::string("-");
                 return number(*c.load.server_cpu_us + *c.load.pg_cpu_us, 2);
             }},
        };
        rows.insert(next, pg_rows.begin(), pg_rows.end());
    }
    if (options.rate > 0) {
        rows.insert(rows.begin(), {"offered msgs/s", [](const CellResult& c) {
                                       return grouped(c.load.offered_per_s);
                                   }});
        rows.push_back({"sends skipped (window full)",
                        [](const CellResult& c) { return std::to_string(c.load.skipped); }});
    }
    if (options.idle > 0) {
        rows.push_back(
            {"idle clients", [](const CellResult& c) { return grouped(double(c.idle)); }});
        rows.push_back({"server RSS/idle client KiB", [](const CellResult& c) {
                            return c.idle_bytes_per_client
                                       ? number(*c.idle_bytes_per_client / 1024.0, 2)
                                       : std::string("-");
                        }});
        rows.push_back({"msgs/s without idle", [](const CellResult& c) {
                            return c.before_idle ? grouped(c.before_idle->msgs_per_s)
                                                 : std::string("-");
                        }});
        rows.push_back(
            {"throughput change with idle", [](const CellResult& c) {
                 if (!c.before_idle || c.before_idle->msgs_per_s <= 0) return std::string("-");
                 return number(100.0 * (c.load.msgs_per_s / c.before_idle->msgs_per_s - 1.0), 1) +
                        " %";
             }});
    }
    rows.push_back({"server RSS MiB", [](const CellResult& c) {
                        return c.server_rss ? number(double(*c.server_rss) / (1024.0 * 1024.0), 1)
                                            : std::string("-");
                    }});
    return rows;
}

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string json_number(const std::optional<double>& value) {
    return value ? number(*value, 3) : std::string("null");
}

std::string numbers(const std::vector<double>& values, const char* separator) {
    std::string out;
    for (double value : values) out += (out.empty() ? "" : separator) + number(value, 3);
    return out;
}

void window_json(std::ostream& out, const WindowResult& w) {
    out << "{\"seconds\":" << number(w.seconds, 3) << ",\"delivered\":" << w.delivered
        << ",\"sends_ok\":" << w.sends_ok << ",\"send_errors\":" << w.send_errors
        << ",\"skipped\":" << w.skipped << ",\"msgs_per_s\":" << number(w.msgs_per_s, 1)
        << ",\"offered_per_s\":" << number(w.offered_per_s, 1)
        << ",\"latency_us\":{\"p50\":" << number(w.p50_us, 2) << ",\"p90\":" << number(w.p90_us, 2)
        << ",\"p99\":" << number(w.p99_us, 2) << ",\"p999\":" << number(w.p999_us, 2)
        << ",\"max\":" << number(w.max_us, 2) << ",\"mean\":" << number(w.mean_us, 2) << "}"
        << ",\"bytes_per_msg\":{\"send\":" << number(w.up_bytes, 2)
        << ",\"reply\":" << number(w.reply_bytes, 2) << ",\"push\":" << number(w.push_bytes, 2)
        << ",\"ack\":" << number(w.ack_bytes, 2) << "}"
        << ",\"server_cpu_us_per_msg\":" << json_number(w.server_cpu_us)
        << ",\"server_cpu_load\":" << json_number(w.server_cpu_load) << ",\"node_cpu_us_per_msg\":["
        << numbers(w.node_cpu_us, ",") << "]"
        << ",\"pg_cpu_us_per_msg\":" << json_number(w.pg_cpu_us)
        << ",\"pg_cpu_load\":" << json_number(w.pg_cpu_load)
        << ",\"client_cpu_us_per_msg\":" << number(w.client_cpu_us, 3)
        << ",\"client_cpu_load\":" << number(w.client_cpu_load, 3) << "}";
}

std::string cpus(const std::vector<int>& list) {
    std::string out;
    for (int cpu : list) out += (out.empty() ? "" : ",") + std::to_string(cpu);
    return out;
}

const char* kCsvHeader =
    "transport,store,nodes,client,pairs,window,size,rate,idle,phase,seconds,delivered,msgs_per_s,"
    "offered_per_s,skipped,send_errors,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,"
    "send_bytes,reply_bytes,push_bytes,ack_bytes,server_cpu_us,server_cpu_load,client_cpu_us,"
    "client_cpu_load,idle_bytes_per_client,server_rss,pg_cpu_us,pg_cpu_load,node_cpu_us";

void csv_line(std::ostream& out, const CellResult& c, const char* phase, const WindowResult& w) {
    out << c.transport << ',' << c.store << ',' << c.nodes << ',' << c.client << ',' << c.pairs
        << ',' << c.window << ',' << c.size << ',' << number(c.rate, 1) << ',' << c.idle << ','
        << phase << ',' << number(w.seconds, 3) << ',' << w.delivered << ','
        << number(w.msgs_per_s, 1) << ',' << number(w.offered_per_s, 1) << ',' << w.skipped << ','
        << w.send_errors << ',' << number(w.p50_us, 2) << ',' << number(w.p90_us, 2) << ','
        << number(w.p99_us, 2) << ',' << number(w.p999_us, 2) << ',' << number(w.max_us, 2) << ','
        << number(w.mean_us, 2) << ',' << number(w.up_bytes, 2) << ',' << number(w.reply_bytes, 2)
        << ',' << number(w.push_bytes, 2) << ',' << number(w.ack_bytes, 2) << ','
        << (w.server_cpu_us ? number(*w.server_cpu_us, 3) : "") << ','
        << (w.server_cpu_load ? number(*w.server_cpu_load, 3) : "") << ','
        << number(w.client_cpu_us, 3) << ',' << number(w.client_cpu_load, 3) << ','
        << (c.idle_bytes_per_client ? number(*c.idle_bytes_per_client, 1) : "") << ','
        << (c.server_rss ? std::to_string(*c.server_rss) : "") << ','
        << (w.pg_cpu_us ? number(*w.pg_cpu_us, 3) : "") << ','
        << (w.pg_cpu_load ? number(*w.pg_cpu_load, 3) : "")
        << ','
        // One field: the per-node figures separated by ';'.
        << numbers(w.node_cpu_us, ";") << '\n';
}

}  // namespace

void print_table(std::ostream& out, const BenchOptions& options,
                 const std::vector<CellResult>& cells) {
    out << "chat-bench: pairs=" << options.pairs << " window=" << options.window
        << " size=" << options.size << "B duration=" << number(options.duration, 1)
        << "s warmup=" << number(options.warmup, 1) << "s client=" << options.client;
    if (options.spawn) out << " store=" << options.store << " nodes=" << options.nodes;
    if (shows_postgres(options)) out << " postgres=" << pg_server_kind(options);
    if (options.rate > 0) out << " rate=" << number(options.rate, 0) << "/s";
    if (!options.server_cpus.empty()) {
        out << " pin=server:" << cpus(options.server_cpus) << ",bench:" << cpus(options.bench_cpus);
        if (!options.pg_cpus.empty()) out << ",postgres:" << cpus(options.pg_cpus);
    }
    out << "\n\n";
    const auto rows = table_rows(options);
    std::size_t label_width = 0;
    for (const auto& row : rows) label_width = std::max(label_width, row.label.size());
    // Wide enough for the widest figure (the per-node lists grow with the nodes).
    std::size_t column = 14;
    for (const auto& row : rows) {
        for (const auto& cell : cells) column = std::max(column, row.value(cell).size() + 2);
    }
    const int width = static_cast<int>(column);
    out << std::left << std::setw(static_cast<int>(label_width)) << "" << std::right;
    for (const auto& cell : cells) out << std::setw(width) << cell.transport;
    out << '\n';
    for (const auto& row : rows) {
        out << std::left << std::setw(static_cast<int>(label_width)) << row.label << std::right;
        for (const auto& cell : cells) out << std::setw(width) << row.value(cell);
        out << '\n';
    }
    out << "\nlatency: one-way, send call -> receiver's handler; bytes: TCP payload counted by the "
           "kernel on the client's sockets (TCP_INFO)\n";
    for (const auto& cell : cells) {
        if (!cell.server_threads.empty()) {
            out << "chatd threads (" << cell.transport << "): " << cell.server_threads << '\n';
        }
        if (cell.transport == "redis") {
            out << "redis: the reference, Redis pub/sub in memory (PUBLISH, SUBSCRIBE): it relays "
                   "only, storing and acknowledging nothing\n";
        }
    }
}

void write_json(std::ostream& out, const BenchOptions& options,
                const std::vector<CellResult>& cells) {
    out << "{\"options\":{\"pairs\":" << options.pairs << ",\"window\":" << options.window
        << ",\"size\":" << options.size << ",\"duration\":" << number(options.duration, 3)
        << ",\"warmup\":" << number(options.warmup, 3) << ",\"rate\":" << number(options.rate, 1)
        << ",\"idle\":" << options.idle << ",\"client\":" << json_string(options.client)
        << ",\"store\":" << json_string(options.store) << ",\"nodes\":" << options.nodes
        << ",\"postgres\":" << json_string(pg_server_kind(options))
        << ",\"spawn\":" << (options.spawn ? "true" : "false")
        << ",\"server_cpus\":" << json_string(cpus(options.server_cpus))
        << ",\"bench_cpus\":" << json_string(cpus(options.bench_cpus))
        << ",\"pg_cpus\":" << json_string(cpus(options.pg_cpus)) << "},\"cells\":[";
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const auto& c = cells[i];
        if (i > 0) out << ',';
        out << "{\"transport\":" << json_string(c.transport)
            << ",\"store\":" << json_string(c.store) << ",\"nodes\":" << c.nodes
            << ",\"client\":" << json_string(c.client) << ",\"pairs\":" << c.pairs
            << ",\"window\":" << c.window << ",\"size\":" << c.size
            << ",\"rate\":" << number(c.rate, 1) << ",\"idle\":" << c.idle
            << ",\"server_threads\":" << json_string(c.server_threads) << ",\"load\":";
        window_json(out, c.load);
        out << ",\"before_idle\":";
        if (c.before_idle) {
            window_json(out, *c.before_idle);
        } else {
            out << "null";
        }
        out << ",\"idle_bytes_per_client\":" << json_number(c.idle_bytes_per_client)
            << ",\"server_rss\":"
            << (c.server_rss ? std::to_string(*c.server_rss) : std::string("null")) << '}';
    }
    out << "]}\n";
}

void write_csv(std::ostream& out, const std::vector<CellResult>& cells) {
    out << kCsvHeader << '\n';
    for (const auto& c : cells) {
        if (c.before_idle) csv_line(out, c, "before_idle", *c.before_idle);
        csv_line(out, c, "load", c.load);
    }
}

}  // namespace chat::bench
