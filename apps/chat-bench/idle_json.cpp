// Idle JSON clients: raw sockets that logged in and then only stay open (see idle_clients.hpp).
#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "account_setup.hpp"
#include "idle_clients.hpp"
#include "raw_json.hpp"

namespace chat::bench {

namespace {

class IdleJsonClients final : public IdleClients {
   public:
    IdleJsonClients(Endpoint endpoint, std::string prefix)
        : endpoint_(std::move(endpoint)), prefix_(std::move(prefix)) {}
    ~IdleJsonClients() override { close(); }

    void open(std::size_t count) override {
        const std::size_t accounts = (count + kIdleClientsPerAccount - 1) / kIdleClientsPerAccount;
        run_parallel(accounts, [&](std::size_t a) {
            const int fd = connect_tcp(endpoint_);
            std::string pending;
            const std::string reply = json_request(
                fd, pending, credentials_request("create_account", account(a), kBenchPassword));
            ::close(fd);
            if (reply.find("\"ok\":true") == std::string::npos) {
                throw std::runtime_error("create_account " + account(a) + ": " + reply);
            }
        });
        fds_.assign(count, -1);
        run_parallel(
            count,
            [&](std::size_t i) {
                const int fd = connect_tcp(endpoint_);
                fds_[i] = fd;
                std::string pending;
                const std::string reply =
                    json_request(fd, pending,
                                 credentials_request("login", account(i / kIdleClientsPerAccount),
                                                     kBenchPassword));
                if (reply.find("\"ok\":true") == std::string::npos) {
                    throw std::runtime_error("idle login: " + reply);
                }
            },
            kIdleLoginConcurrency);
    }

    void close() override {
        for (int fd : fds_) {
            if (fd >= 0) ::close(fd);
        }
        fds_.clear();
    }

   private:
    std::string account(std::size_t index) const { return prefix_ + "i" + std::to_string(index); }

    const Endpoint endpoint_;
    const std::string prefix_;
    std::vector<int> fds_;
};

}  // namespace

std::unique_ptr<IdleClients> make_idle_clients(const std::string& transport,
                                               const Endpoint& endpoint,
                                               const std::string& name_prefix) {
    if (transport == "json") return std::make_unique<IdleJsonClients>(endpoint, name_prefix);
#ifdef CHAT_BENCH_WITH_WS
    if (transport == "ws") return make_idle_ws_clients(endpoint, name_prefix);
#endif
#ifdef CHAT_BENCH_WITH_GRPC
    if (transport == "grpc") return make_idle_grpc_clients(endpoint, name_prefix);
#endif
    return nullptr;
}

}  // namespace chat::bench
