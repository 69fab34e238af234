// Helpers of the PostgreSQL store tests (see pg_test_util.hpp).
#include "pg_test_util.hpp"

#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "pg_server.hpp"

namespace chat::test {

void EventRecorder::stored_elsewhere(AccountId recipient, const Message& message) {
    {
        std::lock_guard lock(mutex);
        stored.emplace_back(recipient, message);
    }
    changed_.notify_all();
}

void EventRecorder::deleted_elsewhere(AccountId account) {
    {
        std::lock_guard lock(mutex);
        deleted.push_back(account);
    }
    changed_.notify_all();
}

void EventRecorder::resync() {
    {
        std::lock_guard lock(mutex);
        ++resyncs;
    }
    changed_.notify_all();
}

bool EventRecorder::wait_until(const std::function<bool()>& ready,
                               std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    return changed_.wait_for(lock, timeout, ready);
}

RawConnection::RawConnection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
        const std::string error = PQerrorMessage(conn_);
        PQfinish(conn_);
        throw std::runtime_error("cannot connect: " + error);
    }
}

RawConnection::~RawConnection() { PQfinish(conn_); }

void RawConnection::exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(r);
    const std::string error = PQresultErrorMessage(r);
    PQclear(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw std::runtime_error(sql + ": " + error);
    }
}

std::optional<std::string> RawConnection::value(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const std::string error = PQresultErrorMessage(r);
        PQclear(r);
        throw std::runtime_error(sql + ": " + error);
    }
    std::optional<std::string> out;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) out = PQgetvalue(r, 0, 0);
    PQclear(r);
    return out;
}

std::int64_t RawConnection::number(const std::string& sql) {
    auto v = value(sql);
    if (!v) throw std::runtime_error(sql + ": no value");
    return std::stoll(*v);
}

std::string fresh_database() { return PgServer::shared().create_database(); }

PostgresOptions node_options(const std::string& url, std::string node_name) {
    PostgresOptions options;
    options.url = url;
    options.node_name = std::move(node_name);
    options.reconnect_min = std::chrono::milliseconds(20);
    options.reconnect_max = std::chrono::milliseconds(400);
    return options;
}

std::optional<Result<Message>> append_wait(Store& store, AccountId recipient, std::string body,
                                           std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<Result<Message>>>();
    auto future = promise->get_future();
    store.append_message(NewMessage{recipient, "sender", "recipient", std::move(body)},
                         [promise](Result<Message> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return future.get();
}

bool poll_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ready()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

std::int64_t lock_waiters(RawConnection& conn) {
    return conn.number(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'");
}

}  // namespace chat::test
