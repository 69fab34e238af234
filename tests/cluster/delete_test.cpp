// Deleting an account on one node while it is logged in on another, through the real binaries:
// the other node's session ends with logged_out(account_deleted), the name is free again at
// once on both nodes, and the old password no longer logs in.
// Thread use: the test thread; the clients record on their callback threads.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "cluster_harness.hpp"
#include "pg_server.hpp"

namespace chat::cluster {
namespace {

using namespace std::chrono_literals;

void run_delete_case(const std::string& other_transport) {
    REQUIRE(test::PgServer::available());
    test::PgServer pg;
    const std::string url = pg.create_database();
    Node node1("node1", url);
    Node node2("node2", url);
    INFO("node1:\n" << node1.log() << "node2:\n" << node2.log());

    create_account(node1.json_port(), "alice", "old-password");
    create_account(node2.json_port(), "bob", "bob-password");
    Peer on_node1(Peer::Options{.transport = "json", .port = node1.json_port()});
    Peer on_node2(Peer::Options{.transport = other_transport, .port = node2.port(other_transport)});
    REQUIRE(on_node1.client().login("alice", "old-password"));
    REQUIRE(on_node2.client().login("alice", "old-password"));
    // A session of someone else on node2 stays.
    Peer bob(Peer::Options{.transport = "json", .port = node2.json_port()});
    REQUIRE(bob.client().login("bob", "bob-password"));

    REQUIRE(on_node1.client().delete_account("old-password"));
    CHECK(on_node2.wait_until([](const Peer::State& s) { return s.logged_out.has_value(); }, 10s));
    CHECK(on_node2.state().logged_out == LogoutReason::account_deleted);
    // Its requests now need a login.
    auto after = on_node2.client().send("bob", "still here?");
    REQUIRE(!after);
    CHECK(after.error().code == Errc::not_logged_in);

    // Free again, on both nodes: a new alice with a new password.
    Peer fresh(Peer::Options{.transport = "json", .port = node2.json_port()});
    auto bad = fresh.client().login("alice", "old-password");
    REQUIRE(!bad);
    CHECK(bad.error().code == Errc::bad_credentials);
    REQUIRE(fresh.client().create_account("alice", "new-password"));
    auto again = on_node1.client().login("alice", "new-password");
    REQUIRE(again);
    CHECK(again->unread == 0);
    REQUIRE(fresh.client().login("alice", "new-password"));

    // bob's session on node2 was not touched, and the new alice is reachable across nodes.
    auto sent = bob.client().send("alice", "welcome back");
    REQUIRE(sent);
    CHECK(on_node1.wait_message(sent->id, 10s));
    CHECK(!bob.state().logged_out);
}

TEST_CASE("deleting alice on node1 logs her out on node2 and frees the name - json") {
    run_delete_case("json");
}

TEST_CASE("deleting alice on node1 logs her out on node2 and frees the name - grpc") {
    run_delete_case("grpc");
}

}  // namespace
}  // namespace chat::cluster
