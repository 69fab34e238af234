// Conversions between chat types and chat.v1 messages; Errc <-> gRPC status.
#include "codec.hpp"

#include <string>

namespace chat::grpc_transport {

grpc::StatusCode status_code(Errc code) noexcept {
    switch (code) {
        case Errc::bad_request:
        case Errc::invalid_username:
        case Errc::invalid_password:
        case Errc::invalid_message:
            return grpc::StatusCode::INVALID_ARGUMENT;
        case Errc::unknown_op:
            return grpc::StatusCode::UNIMPLEMENTED;
        case Errc::unsupported_version:
        case Errc::already_logged_in:
            return grpc::StatusCode::FAILED_PRECONDITION;
        case Errc::user_exists:
            return grpc::StatusCode::ALREADY_EXISTS;
        case Errc::no_such_user:
            return grpc::StatusCode::NOT_FOUND;
        case Errc::bad_credentials:
        case Errc::not_logged_in:
            return grpc::StatusCode::UNAUTHENTICATED;
        case Errc::frame_too_large:
        case Errc::rate_limited:
            return grpc::StatusCode::RESOURCE_EXHAUSTED;
        case Errc::server_busy:
            return grpc::StatusCode::UNAVAILABLE;
        case Errc::internal:
            return grpc::StatusCode::INTERNAL;
    }
    return grpc::StatusCode::INTERNAL;
}

grpc::Status to_status(const Error& error) {
    std::string message(to_string(error.code));
    if (!error.message.empty()) {
        message += ": ";
        message += error.message;
    }
    return {status_code(error.code), message};
}

namespace {

// For errors gRPC raised itself (no code of ours): the closest code of the contract.
Errc errc_of_foreign_status(grpc::StatusCode code) noexcept {
    switch (code) {
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            return Errc::frame_too_large;  // gRPC's own limit: a message over the maximum size
        case grpc::StatusCode::UNAUTHENTICATED:
            return Errc::not_logged_in;
        case grpc::StatusCode::INVALID_ARGUMENT:
            return Errc::bad_request;
        case grpc::StatusCode::UNIMPLEMENTED:
            return Errc::unknown_op;
        default:
            return Errc::internal;
    }
}

}  // namespace

Error to_error(const grpc::Status& status, std::optional<std::string_view> trailer_code) {
    const std::string& text = status.error_message();
    std::optional<Errc> code;
    std::string_view human = text;
    if (trailer_code) code = errc_from_string(*trailer_code);
    if (auto colon = human.find(": "); colon != std::string_view::npos) {
        auto prefixed = errc_from_string(human.substr(0, colon));
        if (prefixed && (!code || *code == *prefixed)) {
            code = prefixed;
            human.remove_prefix(colon + 2);
        }
    } else if (auto bare = errc_from_string(human); bare && (!code || *code == *bare)) {
        code = bare;
        human = {};
    }
    if (code) return Error{*code, std::string(human)};
    std::string message = "grpc status " + std::to_string(static_cast<int>(status.error_code()));
    if (!text.empty()) message += ": " + text;
    return Error{errc_of_foreign_status(status.error_code()), std::move(message)};
}

void to_proto(const Message& in, v1::Message& out) {
    out.set_id(in.id);
    out.set_from(in.from);
    out.set_to(in.to);
    out.set_body(in.body);
    out.set_sent_at(in.sent_at);
}

Message from_proto(const v1::Message& in) {
    return Message{.id = in.id(),
                   .from = in.from(),
                   .to = in.to(),
                   .body = in.body(),
                   .sent_at = in.sent_at()};
}

}  // namespace chat::grpc_transport
