// Helpers of the conformance suite (see suite.hpp).
#include "suite.hpp"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

namespace chat::conformance {

User create_named_user(Client& client, std::string name) {
    User user{std::move(name), {}};
    user.password = "pw-" + user.name;
    auto created = client.create_account(user.name, user.password);
    INFO("creating " << user.name);
    REQUIRE(outcome(created) == "ok");
    return user;
}

User create_user(Client& client, std::string_view tag) {
    return create_named_user(client, test::unique_name(tag));
}

User create_user(const TestServer& server, std::string_view tag) {
    auto client = server.connect_client();
    User user = create_user(*client, tag);
    client->close();
    return user;
}

TestClient login_client(const TestServer& server, const User& user, bool auto_ack,
                        std::uint64_t* unread) {
    auto client = server.connect_client(auto_ack);
    auto login = client->login(user.name, user.password);
    INFO("logging in as " << user.name);
    REQUIRE(outcome(login) == "ok");
    if (unread != nullptr) *unread = login->unread;
    return client;
}

std::vector<Message> send_many(Client& client, std::string_view to, std::size_t count,
                               std::string_view body_prefix) {
    // Shared with the callbacks: a late reply after a failed wait must not touch a dead frame.
    struct State {
        std::mutex mutex;
        std::condition_variable all_done;
        std::size_t done = 0;
        std::vector<Message> sent;
        std::optional<Error> first_error;
    };
    auto state = std::make_shared<State>();
    for (std::size_t i = 0; i < count; ++i) {
        client.send_async(to, std::string(body_prefix) + std::to_string(i),
                          [state](Result<Message> result) {
                              std::lock_guard lock(state->mutex);
                              if (result.ok()) {
                                  state->sent.push_back(std::move(result).value());
                              } else if (!state->first_error) {
                                  state->first_error = result.error();
                              }
                              ++state->done;
                              state->all_done.notify_all();
                          });
    }
    std::unique_lock lock(state->mutex);
    const bool finished =
        state->all_done.wait_for(lock, kEventTimeout * 3, [&] { return state->done == count; });
    INFO(state->done << " of " << count << " sends completed");
    REQUIRE(finished);
    INFO("first failed send: " << (state->first_error ? outcome(Result<void>(*state->first_error))
                                                      : "none"));
    REQUIRE_FALSE(state->first_error.has_value());
    std::vector<Message> sent = std::move(state->sent);
    REQUIRE(sent.size() == count);
    std::sort(sent.begin(), sent.end(),
              [](const Message& a, const Message& b) { return a.id < b.id; });
    return sent;
}

bool eventually(const std::function<bool()>& condition, std::size_t attempts,
                std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t i = 0; i < attempts; ++i) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() > deadline) break;
    }
    return false;
}

std::vector<MessageId> ids_of(const std::vector<Message>& messages) {
    std::vector<MessageId> ids;
    ids.reserve(messages.size());
    for (const auto& m : messages) ids.push_back(m.id);
    return ids;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace chat::conformance
