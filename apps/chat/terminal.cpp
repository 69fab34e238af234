// Raw-mode handling and terminal restoration for the interactive client.
#include "terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>

namespace chat::cli {

namespace {

// Published for the signal handlers, which may only use async-signal-safe calls.
volatile std::sig_atomic_t g_active = 0;
int g_fd = -1;
termios g_saved{};
termios g_current{};

constexpr int kFatalSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

void on_fatal_signal(int sig) {
    if (g_active) {
        ::tcsetattr(g_fd, TCSANOW, &g_saved);
        const char nl = '\n';
        [[maybe_unused]] auto n = ::write(g_fd, &nl, 1);
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void on_stop_signal(int) {
    if (g_active) ::tcsetattr(g_fd, TCSANOW, &g_saved);
    ::signal(SIGTSTP, SIG_DFL);
    ::raise(SIGTSTP);
    // Continued: take the terminal back.
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTSTP, &sa, nullptr);
    if (g_active) ::tcsetattr(g_fd, TCSANOW, &g_current);
}

void install_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    ::sigemptyset(&sa.sa_mask);
    for (const int sig : kFatalSignals) ::sigaction(sig, &sa, nullptr);
    sa.sa_handler = on_stop_signal;
    ::sigaction(SIGTSTP, &sa, nullptr);
}

void apply(int fd, const termios& t) {
    g_current = t;
    ::tcsetattr(fd, TCSANOW, &t);
}

}  // namespace

bool is_terminal(int fd) noexcept { return ::isatty(fd) == 1; }

std::size_t terminal_columns(int fd) noexcept {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

TerminalMode::TerminalMode(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    g_fd = fd_;
    g_saved = saved_;
    g_active = 1;
    install_handlers();
    ok_ = true;
    set_editing(false);
}

TerminalMode::~TerminalMode() {
    if (!ok_) return;
    ::tcsetattr(fd_, TCSANOW, &saved_);
    g_active = 0;
}

void TerminalMode::set_editing(bool editing) {
    if (!ok_) return;
    termios t = saved_;
    // Output post-processing stays on, so "\n" still moves to the start of the next line.
    t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | IEXTEN);
    t.c_iflag &= ~static_cast<tcflag_t>(ICRNL | INLCR | IXON);
    if (editing) {
        t.c_lflag &= ~static_cast<tcflag_t>(ISIG);
    } else {
        t.c_lflag |= ISIG;
    }
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    apply(fd_, t);
}

}  // namespace chat::cli
