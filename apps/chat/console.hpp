// Console: where the interactive client reads lines and shows text. Two kinds:
//   a terminal console (its own line editor in raw mode) that lets incoming messages appear at
//   once above the line being typed without garbling it, and
//   a line console for pipes (plain lines in, plain lines out, no prompts), so scripts and
//   tests can drive the interactive mode.
// Thread use: read_line/read_secret from one input thread at a time; print() and wake() from
// any thread (one mutex serialises everything written to the output).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace chat::cli {

enum class ReadStatus {
    line,         // `text` holds the line (without its newline)
    eof,          // end of input (Ctrl-D on an empty line, or the pipe closed)
    interrupted,  // Ctrl-C; `text` holds what was typed so far
    woken,        // wake() was called: something happened that the caller must look at
};

struct ReadResult {
    ReadStatus status = ReadStatus::eof;
    std::string text;

    bool ok() const noexcept { return status == ReadStatus::line; }
};

class Console {
   public:
    virtual ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    // Reads one line after showing `prompt` (a terminal console only).
    virtual ReadResult read_line(std::string_view prompt) = 0;
    // Same, but what is typed is never shown and never kept in the history.
    virtual ReadResult read_secret(std::string_view prompt) = 0;
    // Shows `text` on its own line(s); a line being typed is redrawn below it.
    virtual void print(std::string_view text) = 0;
    // True when a person types at a terminal: prompts are shown and questions may be asked.
    virtual bool is_terminal() const noexcept = 0;

    // Makes the pending read (or the next one) return `woken`. Safe from any thread.
    void wake();
    // Forgets a wake() that no read has reported yet.
    void clear_wake() noexcept { woken_.store(false); }

   protected:
    Console();
    // The fd to poll next to the input; readable after wake().
    int wake_fd() const noexcept { return wake_pipe_[0]; }
    // True (once) when wake() was called since the last report.
    bool take_wake() noexcept;

   private:
    int wake_pipe_[2] = {-1, -1};
    std::atomic<bool> woken_{false};
};

// A console on a terminal (`in_fd` must be a terminal); it switches the terminal into raw mode
// for its lifetime.
std::unique_ptr<Console> make_terminal_console(int in_fd, int out_fd);
// A console on plain lines (pipes, files).
std::unique_ptr<Console> make_line_console(int in_fd, int out_fd);

}  // namespace chat::cli
