// The RESP subset of the Redis reference load: commands as the server expects them, and every
// reply form it sends, whole, cut anywhere, and malformed.
#include "resp.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace chat::bench;

TEST_CASE("a command is an array of bulk strings, binary lengths included") {
    std::string out;
    resp::append_command(out, {"PUBLISH", "r1", "hi there"});
    REQUIRE(out == "*3\r\n$7\r\nPUBLISH\r\n$2\r\nr1\r\n$8\r\nhi there\r\n");
    resp::append_command(out, {"PING"});
    REQUIRE(out.ends_with("*1\r\n$4\r\nPING\r\n"));
    std::string empty;
    resp::append_command(empty, {"SET", "k", ""});
    REQUIRE(empty == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST_CASE("every scalar reply form parses") {
    resp::Value value;
    std::size_t used = 0;
    REQUIRE(resp::parse("+PONG\r\n", value, used) == resp::Parse::complete);
    REQUIRE(value.kind == resp::Kind::simple);
    REQUIRE(value.text == "PONG");
    REQUIRE(used == 7);
    REQUIRE(resp::parse(":12\r\n+OK\r\n", value, used) == resp::Parse::complete);
    REQUIRE(value.kind == resp::Kind::integer);
    REQUIRE(value.text == "12");
    REQUIRE(used == 5);
    REQUIRE(resp::parse("-ERR unknown\r\n", value, used) == resp::Parse::complete);
    REQUIRE(value.kind == resp::Kind::error);
    REQUIRE(value.text == "ERR unknown");
    REQUIRE(resp::parse("$5\r\na\r\nbc\r\n", value, used) == resp::Parse::complete);
    REQUIRE(value.kind == resp::Kind::bulk);
    REQUIRE(value.text == "a\r\nbc");  // a bulk string may hold CRLF
    REQUIRE(used == 11);
    REQUIRE(resp::parse("$-1\r\n", value, used) == resp::Parse::complete);
    REQUIRE(value.null);
}

TEST_CASE("a pub/sub message parses, and is incomplete at every cut before its end") {
    const std::string message = "*3\r\n$7\r\nmessage\r\n$2\r\nr1\r\n$11\r\n123 payload\r\n";
    resp::Value value;
    std::size_t used = 0;
    REQUIRE(resp::parse(message, value, used) == resp::Parse::complete);
    REQUIRE(used == message.size());
    REQUIRE(value.kind == resp::Kind::array);
    REQUIRE(value.items.size() == 3);
    REQUIRE(value.items[0] == "message");
    REQUIRE(value.items[1] == "r1");
    REQUIRE(value.items[2] == "123 payload");
    for (std::size_t cut = 0; cut < message.size(); ++cut) {
        INFO("cut at " << cut);
        REQUIRE(resp::parse(std::string_view(message).substr(0, cut), value, used) ==
                resp::Parse::incomplete);
    }
    // A subscription's confirmation ends with an integer.
    REQUIRE(resp::parse("*3\r\n$9\r\nsubscribe\r\n$2\r\nr1\r\n:1\r\n", value, used) ==
            resp::Parse::complete);
    REQUIRE(value.items.size() == 3);
    REQUIRE(value.items[2] == "1");
}

TEST_CASE("what is not RESP is refused rather than waited for") {
    resp::Value value;
    std::size_t used = 0;
    REQUIRE(resp::parse("hello\r\n", value, used) == resp::Parse::malformed);
    REQUIRE(resp::parse("$x\r\n", value, used) == resp::Parse::malformed);
    REQUIRE(resp::parse("$-2\r\n", value, used) == resp::Parse::malformed);
    REQUIRE(resp::parse("$3\r\nabcd\r\n", value, used) == resp::Parse::malformed);
    REQUIRE(resp::parse("*1\r\n*1\r\n:1\r\n", value, used) == resp::Parse::malformed);
    REQUIRE(resp::parse(":" + std::string(100, '1'), value, used) == resp::Parse::malformed);
}
