// Tests of the consoles: plain lines from a pipe, and the line editor on a pseudo-terminal
// showing a message above the line being typed without losing it.
#include "console.hpp"

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "terminal.hpp"
#include "test_io.hpp"

using namespace chat::cli;
using namespace chat::cli::test;
using namespace std::chrono_literals;

TEST_CASE("line console reads lines and strips CR", "[console]") {
    Pipe in;
    Pipe out;
    auto console = make_line_console(in.read_fd(), out.write_fd());
    CHECK_FALSE(console->is_terminal());
    write_fd(in.write_fd(), "first\r\nsecond\nlast");
    in.close_write();
    auto a = console->read_line("ignored> ");
    CHECK(a.status == ReadStatus::line);
    CHECK(a.text == "first");
    CHECK(console->read_secret("Password: ").text == "second");
    CHECK(console->read_line("").text == "last");
    CHECK(console->read_line("").status == ReadStatus::eof);
    console->print("shown");
    out.close_write();
    // Prompts are not written in line mode.
    CHECK(read_rest(out.read_fd()) == "shown\n");
}

TEST_CASE("line console read returns woken after wake", "[console]") {
    Pipe in;
    Pipe out;
    auto console = make_line_console(in.read_fd(), out.write_fd());
    auto pending = std::async(std::launch::async, [&] { return console->read_line(""); });
    CHECK(pending.wait_for(100ms) == std::future_status::timeout);
    console->wake();
    REQUIRE(pending.wait_for(5s) == std::future_status::ready);
    CHECK(pending.get().status == ReadStatus::woken);
    // Once reported, a wake-up is gone.
    write_fd(in.write_fd(), "x\n");
    CHECK(console->read_line("").text == "x");
    console->wake();
    console->clear_wake();
    write_fd(in.write_fd(), "y\n");
    CHECK(console->read_line("").text == "y");
}

TEST_CASE("terminal console edits a line with keys", "[console]") {
    Pty pty;
    REQUIRE(is_terminal(pty.slave()));
    std::string screen;
    auto console = make_terminal_console(pty.slave(), pty.slave());
    auto pending = std::async(std::launch::async, [&] { return console->read_line("> "); });
    REQUIRE(read_until(pty.master(), screen, "> "));
    // "helo", left, "l", home, delete, "H", end, "!", enter
    write_fd(pty.master(), "helo\x1b[Dl\x01\x1b[3~H\x05!\r");
    REQUIRE(pending.wait_for(5s) == std::future_status::ready);
    const auto result = pending.get();
    CHECK(result.status == ReadStatus::line);
    CHECK(result.text == "Hello!");
}

TEST_CASE("terminal console hides secrets and reports Ctrl-C and Ctrl-D", "[console]") {
    Pty pty;
    std::string screen;
    auto console = make_terminal_console(pty.slave(), pty.slave());
    auto secret = std::async(std::launch::async, [&] { return console->read_secret("Pw: "); });
    REQUIRE(read_until(pty.master(), screen, "Pw: "));
    write_fd(pty.master(), "hunter2\r");
    REQUIRE(secret.wait_for(5s) == std::future_status::ready);
    CHECK(secret.get().text == "hunter2");
    CHECK(read_until(pty.master(), screen, "\n", 1s));
    CHECK(screen.find("hunter2") == std::string::npos);

    // Keys are sent once the prompt is up: between edits Ctrl-C is a signal, not a key.
    screen.clear();
    auto interrupted = std::async(std::launch::async, [&] { return console->read_line("> "); });
    REQUIRE(read_until(pty.master(), screen, "> "));
    write_fd(pty.master(), "half\x03");
    REQUIRE(interrupted.wait_for(5s) == std::future_status::ready);
    const auto r = interrupted.get();
    CHECK(r.status == ReadStatus::interrupted);
    CHECK(r.text == "half");

    screen.clear();
    auto eof = std::async(std::launch::async, [&] { return console->read_line("> "); });
    REQUIRE(read_until(pty.master(), screen, "> "));
    write_fd(pty.master(), "\x04");
    REQUIRE(eof.wait_for(5s) == std::future_status::ready);
    CHECK(eof.get().status == ReadStatus::eof);
}

TEST_CASE("terminal console prints a message above the typed line and redraws it", "[console]") {
    Pty pty;
    std::string screen;
    auto console = make_terminal_console(pty.slave(), pty.slave());
    auto pending = std::async(std::launch::async, [&] { return console->read_line("bob> "); });
    REQUIRE(read_until(pty.master(), screen, "bob> "));
    write_fd(pty.master(), "send alice hel\x1b[D");  // cursor one left of the end
    REQUIRE(read_until(pty.master(), screen, "send alice hel"));
    screen.clear();

    console->print("[12:03] alice: hi");
    // Clear the line, the message on its own line, then prompt + text with the cursor back.
    REQUIRE(read_until(pty.master(), screen, "\x1b[18C"));
    const std::string expected =
        "\r\x1b[K[12:03] alice: hi\r\n\rbob> send alice hel\x1b[K\r\x1b[18C";
    CHECK(screen.find(expected) != std::string::npos);

    write_fd(pty.master(), "lo\r");
    REQUIRE(pending.wait_for(5s) == std::future_status::ready);
    CHECK(pending.get().text == "send alice helol");
}

TEST_CASE("terminal console wake abandons the typed line", "[console]") {
    Pty pty;
    std::string screen;
    auto console = make_terminal_console(pty.slave(), pty.slave());
    auto pending = std::async(std::launch::async, [&] { return console->read_line("> "); });
    REQUIRE(read_until(pty.master(), screen, "> "));
    write_fd(pty.master(), "abc");
    REQUIRE(read_until(pty.master(), screen, "abc"));
    console->wake();
    REQUIRE(pending.wait_for(5s) == std::future_status::ready);
    CHECK(pending.get().status == ReadStatus::woken);
}

TEST_CASE("terminal mode is restored when the console goes away", "[console]") {
    Pty pty;
    termios before{};
    REQUIRE(::tcgetattr(pty.slave(), &before) == 0);
    {
        auto console = make_terminal_console(pty.slave(), pty.slave());
        termios during{};
        REQUIRE(::tcgetattr(pty.slave(), &during) == 0);
        CHECK((during.c_lflag & ECHO) == 0);
        CHECK((during.c_lflag & ICANON) == 0);
    }
    termios after{};
    REQUIRE(::tcgetattr(pty.slave(), &after) == 0);
    CHECK(after.c_lflag == before.c_lflag);
    CHECK(after.c_iflag == before.c_iflag);
}
