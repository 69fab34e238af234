// ChatdProcess: runs the real chatd binary for a test. Captures its stdout and stderr (the log),
// learns the JSON port from the `listening transport=json ... port=N` line, and stops it with
// SIGTERM. Thread use: one test thread drives it; an internal thread drains the output.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chat::e2e {

// The chatd binary under test (set by CMake).
const char* chatd_path();

class ChatdProcess {
   public:
    // Starts chatd with `args` (and `env` entries "NAME=value" added to the environment).
    ChatdProcess(std::vector<std::string> args, std::vector<std::string> env = {});
    ~ChatdProcess();  // kills it if still running
    ChatdProcess(const ChatdProcess&) = delete;
    ChatdProcess& operator=(const ChatdProcess&) = delete;

    // Waits for the listening line of `transport`; nullopt if chatd exits or is silent too long.
    std::optional<std::uint16_t> wait_port(
        std::string_view transport = "json",
        std::chrono::milliseconds timeout = std::chrono::seconds(20));

    // Waits until the log contains `text`; false on timeout or exit.
    bool wait_log(std::string_view text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20));

    // Sends `signal` and waits for the exit. Returns the exit code, 128+signal when killed by a
    // signal, or -1 if it did not exit within `timeout` (then it is killed).
    int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Waits for an exit without sending anything (for runs that end by themselves).
    int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));

    std::string log() const;
    bool running() const { return pid_ > 0; }

   private:
    void drain();
    int reap(std::chrono::milliseconds timeout);

    pid_t pid_ = -1;
    int stderr_fd_ = -1;
    std::thread drainer_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string log_;
    bool eof_ = false;
};

// Starts a chatd with an in-memory store on an ephemeral JSON port, plus `extra` flags.
struct RunningChatd {
    explicit RunningChatd(std::vector<std::string> extra = {});
    ~RunningChatd();
    // SIGTERM and the exit code (0 for a clean shutdown).
    int stop();

    ChatdProcess process;
    std::uint16_t port = 0;
    bool stopped = false;
};

}  // namespace chat::e2e
