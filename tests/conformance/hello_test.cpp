// Conformance: hello (protocol version, server description) and the transport registry.
#include "chat/builtin_transports.hpp"
#include "suite.hpp"

namespace chat::conformance {
namespace {

TEST_CASE("transport: the transport under test is built in", "[conformance][hello]") {
    INFO("transport " << transport_under_test());
    REQUIRE(builtin_transports().find(transport_under_test()) != nullptr);
}

TEST_CASE("hello: version 1 is accepted and describes the server", "[conformance][hello]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    auto hello = c->hello(1);
    REQUIRE(outcome(hello) == "ok");
    CHECK(hello->version == 1);
    CHECK(hello->server == "chatd/0.1.0");
    CHECK(hello->server == server.service().config().server_name);
    CHECK(hello->max_frame == 64u * 1024u);
}

TEST_CASE("hello: the version defaults to 1", "[conformance][hello]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    auto by_default = c->hello();
    REQUIRE(outcome(by_default) == "ok");
    CHECK(by_default->version == 1);
    // 0 is "not given" in the client API (and on the gRPC wire).
    auto zero = c->hello(0);
    REQUIRE(outcome(zero) == "ok");
    CHECK(zero->version == 1);
}

TEST_CASE("hello: an unknown version is unsupported_version", "[conformance][hello]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    CHECK(code_of(c->hello(2)) == "unsupported_version");
    CHECK(code_of(c->hello(-1)) == "unsupported_version");
    // The connection stays usable.
    auto again = c->hello(1);
    REQUIRE(outcome(again) == "ok");
    CHECK(again->version == 1);
    User u = create_user(*c, "after_bad_hello");
    CHECK(outcome(c->login(u.name, u.password)) == "ok");
}

TEST_CASE("hello: is optional before any other op", "[conformance][hello]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User u = create_user(*c, "no_hello");
    auto login = c->login(u.name, u.password);
    REQUIRE(outcome(login) == "ok");
    CHECK(login->username == u.name);
    CHECK(outcome(c->fetch()) == "ok");
}

TEST_CASE("hello: max_frame reports the configured limit", "[conformance][hello][limits]") {
    TestServerOptions options;
    options.limits.max_frame = 4096;
    TestServer server(transport_under_test(), options);
    auto c = server.connect_client();
    auto hello = c->hello(1);
    REQUIRE(outcome(hello) == "ok");
    CHECK(hello->max_frame == 4096u);
}

}  // namespace
}  // namespace chat::conformance
