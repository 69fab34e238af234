// The Store contract suite (tests/unit/store_contract.hpp) run against PostgresStore, each test
// on a fresh database of the process's shared test server.
#include <memory>
#include <string>

#include "chat/postgres_store.hpp"
#include "pg_server.hpp"

namespace {

struct PostgresFixture {
    std::string url = chat::test::PgServer::shared().create_database();
    std::unique_ptr<chat::Store> make() {
        chat::PostgresOptions options;
        options.url = url;
        return std::make_unique<chat::PostgresStore>(options);
    }
};

}  // namespace

#define CHAT_STORE_CONTRACT_FIXTURES PostgresFixture
#include "store_contract.hpp"
