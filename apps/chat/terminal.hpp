// The terminal under the interactive client: a raw-mode guard that always gives the terminal
// back as it found it (on return, on exceptions and on fatal signals), and small queries.
// Thread use: one TerminalMode per process, driven by the input thread; the signal handlers
// only read the state it publishes.
#pragma once

#include <termios.h>

#include <cstddef>

namespace chat::cli {

bool is_terminal(int fd) noexcept;

// Columns of the terminal on `fd` (80 when unknown).
std::size_t terminal_columns(int fd) noexcept;

// Puts the terminal on `fd` into the client's mode: no line buffering and no echo (the line
// editor draws what is typed, so typeahead during a request is not echoed into the output).
// While editing, signal keys are off too so that Ctrl-C and Ctrl-Z reach the editor; between
// edits they stay on, so Ctrl-C interrupts a slow request. SIGINT, SIGTERM, SIGHUP and SIGQUIT
// restore the terminal before the process ends; SIGTSTP restores it while stopped.
class TerminalMode final {
   public:
    explicit TerminalMode(int fd);
    ~TerminalMode();
    TerminalMode(const TerminalMode&) = delete;
    TerminalMode& operator=(const TerminalMode&) = delete;

    void set_editing(bool editing);
    bool ok() const noexcept { return ok_; }

   private:
    int fd_;
    bool ok_ = false;
    termios saved_{};
};

}  // namespace chat::cli
