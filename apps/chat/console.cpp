// The terminal console (line editor in raw mode, messages shown above the edited line) and the
// line console for pipes.
#include "console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "line_editor.hpp"
#include "terminal.hpp"

namespace chat::cli {

namespace {

// How long to wait for the rest of an escape sequence before taking Escape as a lone key.
constexpr int kEscapeWaitMs = 50;

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // the output is gone (closed pipe): nothing useful left to do
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

enum class Ready { input, wake, timeout, error };

// Waits for input or a wake-up; a wake-up wins when both are ready.
Ready wait_for(int in_fd, int wake_fd, int timeout_ms) {
    pollfd fds[2] = {{in_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    for (;;) {
        const int n = ::poll(fds, 2, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Ready::error;
        }
        if (n == 0) return Ready::timeout;
        if (fds[1].revents & POLLIN) return Ready::wake;
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) return Ready::input;
        return Ready::error;
    }
}

// Reads what is available; false at end of input or on an error.
bool read_some(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            into.append(buf, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            if (errno == EAGAIN) return true;
            continue;
        }
        return false;
    }
}

class TerminalConsole final : public Console {
   public:
    TerminalConsole(int in_fd, int out_fd) : in_(in_fd), out_(out_fd), mode_(in_fd) {}

    ~TerminalConsole() override {
        std::lock_guard lock(mu_);
        if (active_) write_all(out_, "\r\033[K");
    }

    ReadResult read_line(std::string_view prompt) override { return edit(prompt, false); }
    ReadResult read_secret(std::string_view prompt) override { return edit(prompt, true); }

    void print(std::string_view text) override {
        std::string out;
        out.reserve(text.size() + 64);
        std::lock_guard lock(mu_);
        if (active_) out += "\r\033[K";
        out += text;
        out += '\n';
        if (active_) out += render();
        write_all(out_, out);
    }

    bool is_terminal() const noexcept override { return true; }

   private:
    ReadResult edit(std::string_view prompt, bool hidden);
    // Applies one key; true when the edit is over (then `result` says how).
    bool apply(const Key& key, ReadResult& result);
    std::string render() const {
        return render_line(prompt_, line_.text(), line_.cursor(), terminal_columns(out_), hidden_);
    }

    const int in_;
    const int out_;
    TerminalMode mode_;
    std::mutex mu_;  // guards everything below and every write to out_
    bool active_ = false;
    bool hidden_ = false;
    std::string prompt_;
    EditLine line_;
    LineHistory history_;
    KeyDecoder decoder_;
    std::string pending_;  // bytes read but not used yet (typeahead, the rest of a paste)
};

ReadResult TerminalConsole::edit(std::string_view prompt, bool hidden) {
    ReadResult result;
    {
        std::lock_guard lock(mu_);
        if (take_wake()) return ReadResult{ReadStatus::woken, {}};
        mode_.set_editing(true);
        active_ = true;
        hidden_ = hidden;
        prompt_ = prompt;
        line_.clear();
        history_.reset_navigation();
        write_all(out_, render());
    }
    bool done = false;
    bool flush_escape = false;
    while (!done) {
        {
            std::lock_guard lock(mu_);
            bool changed = false;
            while (!done) {
                auto key = decoder_.next(pending_, flush_escape);
                if (!key) break;
                done = apply(*key, result);
                changed = true;
            }
            flush_escape = false;
            if (changed && !done) write_all(out_, render());
        }
        if (done) break;
        switch (wait_for(in_, wake_fd(), pending_.empty() ? -1 : kEscapeWaitMs)) {
            case Ready::timeout:
                flush_escape = true;
                break;
            case Ready::wake:
                if (take_wake()) {
                    result.status = ReadStatus::woken;
                    done = true;
                }
                break;
            case Ready::input:
                if (!read_some(in_, pending_)) {
                    result.status = ReadStatus::eof;
                    done = true;
                }
                break;
            case Ready::error:
                result.status = ReadStatus::eof;
                done = true;
                break;
        }
    }

    std::lock_guard lock(mu_);
    std::string out;
    switch (result.status) {
        case ReadStatus::line:
            if (!hidden_) history_.add(result.text);
            line_.move_end();
            out = render() + "\n";
            break;
        case ReadStatus::interrupted:
            line_.move_end();
            out = render() + "^C\n";
            break;
        case ReadStatus::eof:
            out = "\n";
            break;
        case ReadStatus::woken:
            // The half-typed line is dropped: the caller is about to change the conversation.
            out = "\r\033[K";
            break;
    }
    write_all(out_, out);
    active_ = false;
    mode_.set_editing(false);
    return result;
}

bool TerminalConsole::apply(const Key& key, ReadResult& result) {
    switch (key.kind) {
        case KeyKind::text:
            line_.insert(key.text);
            break;
        case KeyKind::enter:
            result.status = ReadStatus::line;
            result.text = line_.text();
            return true;
        case KeyKind::backspace:
            line_.backspace();
            break;
        case KeyKind::erase_forward:
            line_.erase_forward();
            break;
        case KeyKind::eof_or_erase:
            if (line_.empty()) {
                result.status = ReadStatus::eof;
                return true;
            }
            line_.erase_forward();
            break;
        case KeyKind::left:
            line_.move_left();
            break;
        case KeyKind::right:
            line_.move_right();
            break;
        case KeyKind::word_left:
            line_.move_word_left();
            break;
        case KeyKind::word_right:
            line_.move_word_right();
            break;
        case KeyKind::home:
            line_.move_home();
            break;
        case KeyKind::end:
            line_.move_end();
            break;
        case KeyKind::up:
            if (!hidden_) {
                if (auto text = history_.older(line_.text())) line_.set(std::move(*text));
            }
            break;
        case KeyKind::down:
            if (!hidden_) {
                if (auto text = history_.newer()) line_.set(std::move(*text));
            }
            break;
        case KeyKind::kill_to_start:
            line_.kill_to_start();
            break;
        case KeyKind::kill_to_end:
            line_.kill_to_end();
            break;
        case KeyKind::kill_word:
            line_.kill_word_back();
            break;
        case KeyKind::clear_screen:
            write_all(out_, "\033[H\033[2J");
            break;
        case KeyKind::interrupt:
            result.status = ReadStatus::interrupted;
            result.text = line_.text();
            return true;
        case KeyKind::ignored:
            break;
    }
    return false;
}

class LineConsole final : public Console {
   public:
    LineConsole(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}

    ReadResult read_line(std::string_view) override { return read_plain(); }
    ReadResult read_secret(std::string_view) override { return read_plain(); }

    void print(std::string_view text) override {
        std::string out(text);
        out += '\n';
        std::lock_guard lock(mu_);
        write_all(out_, out);
    }

    bool is_terminal() const noexcept override { return false; }

   private:
    ReadResult read_plain() {
        if (take_wake()) return ReadResult{ReadStatus::woken, {}};
        for (;;) {
            if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                return ReadResult{ReadStatus::line, std::move(line)};
            }
            if (eof_) {
                if (buffer_.empty()) return ReadResult{ReadStatus::eof, {}};
                return ReadResult{ReadStatus::line, std::exchange(buffer_, {})};
            }
            switch (wait_for(in_, wake_fd(), -1)) {
                case Ready::wake:
                    if (take_wake()) return ReadResult{ReadStatus::woken, {}};
                    break;
                case Ready::input:
                    if (!read_some(in_, buffer_)) eof_ = true;
                    break;
                case Ready::timeout:
                    break;
                case Ready::error:
                    eof_ = true;
                    break;
            }
        }
    }

    const int in_;
    const int out_;
    std::mutex mu_;       // serialises writes to out_
    std::string buffer_;  // input thread only
    bool eof_ = false;
};

}  // namespace

Console::Console() {
    if (::pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) {
        throw std::runtime_error("cannot create a pipe for the console");
    }
}

Console::~Console() {
    for (const int fd : wake_pipe_) {
        if (fd >= 0) ::close(fd);
    }
}

void Console::wake() {
    woken_.store(true);
    const char byte = 1;
    // A full pipe already wakes the reader, so a failed write loses nothing.
    [[maybe_unused]] const auto n = ::write(wake_pipe_[1], &byte, 1);
}

bool Console::take_wake() noexcept {
    char buf[64];
    while (::read(wake_pipe_[0], buf, sizeof buf) > 0) {
    }
    return woken_.exchange(false);
}

std::unique_ptr<Console> make_terminal_console(int in_fd, int out_fd) {
    return std::make_unique<TerminalConsole>(in_fd, out_fd);
}

std::unique_ptr<Console> make_line_console(int in_fd, int out_fd) {
    return std::make_unique<LineConsole>(in_fd, out_fd);
}

}  // namespace chat::cli
