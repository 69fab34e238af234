// Error codes of the wire contract and the Result<T> type every core call returns.
// Thread use: plain values; safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace chat {

// The stable error codes of docs/protocol.md. Each transport maps these to its wire form in one
// table.
enum class Errc {
    bad_request,
    unknown_op,
    unsupported_version,
    invalid_username,
    invalid_password,
    invalid_message,
    user_exists,
    no_such_user,
    bad_credentials,
    not_logged_in,
    already_logged_in,
    frame_too_large,
    rate_limited,
    server_busy,
    internal,
};

// The wire string of a code, e.g. "no_such_user".
std::string_view to_string(Errc code) noexcept;
// The code of a wire string; nullopt for a string that is no code.
std::optional<Errc> errc_from_string(std::string_view text) noexcept;

struct Error {
    Errc code = Errc::internal;
    std::string message;

    friend bool operator==(const Error&, const Error&) = default;
};

// A value or an Error. Core calls never throw across the API; they return one of these.
template <class T>
class [[nodiscard]] Result {
   public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<1>(v_); }
    Errc code() const { return error().code; }

   private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
   public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

    bool ok() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const { return *error_; }
    Errc code() const { return error_->code; }

   private:
    std::optional<Error> error_;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace chat
