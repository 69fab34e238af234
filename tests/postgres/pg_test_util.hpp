// Helpers shared by the PostgreSQL store tests: a StoreEvents that records what it hears and
// lets a test wait for it, a raw libpq connection for looking behind the store's back, and
// waiting for appends and conditions with a deadline.
// Thread use: EventRecorder is called on a store's listener thread and read by the test thread
// (under its mutex); the rest belongs to the test thread.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/postgres_store.hpp"
#include "chat/store.hpp"

namespace chat::test {

constexpr auto kPgWait = std::chrono::seconds(30);

class EventRecorder final : public StoreEvents {
   public:
    void stored_elsewhere(AccountId recipient, const Message& message) override;
    void deleted_elsewhere(AccountId account) override;
    void resync() override;

    // Waits until `ready` (called under the mutex) holds; false on timeout.
    bool wait_until(const std::function<bool()>& ready,
                    std::chrono::milliseconds timeout = kPgWait);

    // Read under the mutex (or after the store stopped).
    std::mutex mutex;
    std::vector<std::pair<AccountId, Message>> stored;
    std::vector<AccountId> deleted;
    int resyncs = 0;

   private:
    std::condition_variable changed_;
};

// One libpq connection; every call throws std::runtime_error on failure.
class RawConnection {
   public:
    explicit RawConnection(const std::string& url);
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    void exec(const std::string& sql);
    // The first column of the first row (nullopt: no row or NULL).
    std::optional<std::string> value(const std::string& sql);
    std::int64_t number(const std::string& sql);

   private:
    PGconn* conn_;
};

// A fresh database on the shared test server.
std::string fresh_database();

// Options for a node on `url` with quick reconnects.
PostgresOptions node_options(const std::string& url, std::string node_name = {});

// append_message, waited for (nullopt: `done` did not run in time).
std::optional<Result<Message>> append_wait(Store& store, AccountId recipient, std::string body,
                                           std::chrono::milliseconds timeout = kPgWait);

// Polls `ready` until it holds or the timeout passes (for states nobody signals, such as a
// backend waiting on a row lock). Returns whether it held.
bool poll_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout = kPgWait);

// Number of backends of the database at `url` waiting for a lock.
std::int64_t lock_waiters(RawConnection& conn);

}  // namespace chat::test
