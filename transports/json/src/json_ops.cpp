// The op table of the JSON transport (see json_ops.hpp). Field names and reply shapes are those
// of docs/protocol.md, which documents each row.
#include "json_ops.hpp"

#include <array>
#include <limits>

#include "frame_connection.hpp"

namespace chat::json_transport {

namespace {

Result<json::object> no_fields(Result<void> result) {
    if (!result.ok()) return result.error();
    return json::object{};
}

// `version` is an int on the wire; anything outside int's range is simply not a version we
// speak, which the core reports as unsupported_version.
int to_version(std::int64_t version) {
    if (version <= 0 || version > std::numeric_limits<int>::max()) return version == 0 ? 0 : -1;
    return static_cast<int>(version);
}

void op_hello(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto version = in.optional_i64("version");
    if (!in.ok()) return c.reply(*in.error());
    auto info = c.service().hello(to_version(version.value_or(0)));
    if (!info.ok()) return c.reply(info.error());
    c.reply(json::object{
        {"version", info->version}, {"server", info->server}, {"max_frame", info->max_frame}});
}

void op_create_account(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto username = in.required_string("username");
    auto password = in.required_string("password");
    if (!in.ok()) return c.reply(*in.error());
    c.service().create_account(std::string(username), std::string(password),
                               c.reply_later<void>([](FrameConnection&, Result<void> r) {
                                   return no_fields(std::move(r));
                               }),
                               c.origin());
}

void op_login(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto username = in.required_string("username");
    auto password = in.required_string("password");
    if (!in.ok()) return c.reply(*in.error());
    if (c.session()) {
        return c.reply(make_error(Errc::already_logged_in, "this connection is logged in"));
    }
    auto sink = c.begin_login();
    c.service().login(std::string(username), std::string(password), std::move(sink),
                      c.reply_later<LoginResult>(
                          [](FrameConnection& conn, Result<LoginResult> r) -> Result<json::object> {
                              conn.end_login(r);
                              if (!r.ok()) return r.error();
                              return json::object{{"username", r->username}, {"unread", r->unread}};
                          }),
                      c.origin());
}

void op_logout(FrameConnection& c, const json::object&) {
    auto result = c.service().logout(*c.session());
    c.session_logged_out();
    c.reply(no_fields(std::move(result)));
}

void op_send(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto to = in.required_string("to");
    auto body = in.required_string("body");
    if (!in.ok()) return c.reply(*in.error());
    c.service().send(
        *c.session(), to, std::string(body),
        c.reply_later<Message>([](FrameConnection&, Result<Message> r) -> Result<EncodedFields> {
            // The hottest reply: written straight out, no json::object in between.
            if (!r.ok()) return r.error();
            EncodedFields fields;
            // "message":{"id":…,"from":…,"to":…,"body":…,"sent_at":…}: 60 bytes of names and
            // punctuation, two numbers of up to 20 digits, the strings (escapes grow it).
            fields.text.reserve(112 + r->from.size() + r->to.size() + r->body.size());
            fields.text.append("\"message\":");
            append_message(fields.text, *r);
            return fields;
        }));
}

void op_fetch(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto max = in.optional_u64("max");
    if (!in.ok()) return c.reply(*in.error());
    auto result = c.service().fetch(*c.session(), max.value_or(0));
    if (!result.ok()) return c.reply(result.error());
    // Written straight out like a push: the message encoder is the same.
    EncodedFields fields;
    std::size_t size = 32;
    for (const auto& m : result->messages) size += 64 + m.from.size() + m.to.size() + m.body.size();
    fields.text.reserve(size);
    fields.text.append("\"messages\":[");
    for (std::size_t i = 0; i < result->messages.size(); ++i) {
        if (i > 0) fields.text.push_back(',');
        append_message(fields.text, result->messages[i]);
    }
    fields.text.append("],\"remaining\":");
    fields.text.append(std::to_string(result->remaining));
    c.reply_encoded(std::move(fields));
}

void op_ack(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto ids = in.optional_u64_array("ids");
    auto up_to = in.optional_u64("up_to");
    if (!in.ok()) return c.reply(*in.error());
    // Message ids start at 1, so `up_to` 0 acks nothing: it counts as not given, as on gRPC
    // (docs/protocol.md, ack).
    if (up_to == 0) up_to.reset();
    if (!ids && !up_to) return c.reply(make_error(Errc::bad_request, "give 'ids' or 'up_to'"));
    std::vector<MessageId> acked_ids;
    if (ids) acked_ids = std::move(*ids);
    c.service().ack(*c.session(), std::move(acked_ids), up_to,
                    c.reply_later<std::uint64_t>(
                        [](FrameConnection&, Result<std::uint64_t> r) -> Result<json::object> {
                            if (!r.ok()) return r.error();
                            return json::object{{"acked", *r}};
                        }));
}

void op_list_accounts(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto pattern = in.optional_string("pattern");
    auto limit = in.optional_u64("limit");
    auto after = in.optional_string("after");
    if (!in.ok()) return c.reply(*in.error());
    auto page = c.service().list_accounts(*c.session(), pattern.value_or(""), limit.value_or(0),
                                          after.value_or(""));
    if (!page.ok()) return c.reply(page.error());
    json::array accounts;
    accounts.reserve(page->accounts.size());
    for (const auto& name : page->accounts) accounts.emplace_back(name);
    json::value next = nullptr;
    if (page->next) next = *page->next;
    c.reply(json::object{{"accounts", std::move(accounts)}, {"next", std::move(next)}});
}

void op_delete_account(FrameConnection& c, const json::object& request) {
    FieldReader in(request);
    auto password = in.required_string("password");
    if (!in.ok()) return c.reply(*in.error());
    c.service().delete_account(
        *c.session(), std::string(password),
        c.reply_later<void>([](FrameConnection& conn, Result<void> r) -> Result<json::object> {
            if (r.ok()) conn.session_deleted();
            return no_fields(std::move(r));
        }),
        c.origin());
}

// name, needs a session, fields whose text the core validates, row
constexpr std::array kOps = {
    OpRow{"hello", false, {}, op_hello},
    OpRow{"create_account", false, {"username", "password"}, op_create_account},
    OpRow{"login", false, {"username", "password"}, op_login},
    OpRow{"logout", true, {}, op_logout},
    OpRow{"send", true, {"to", "body"}, op_send},
    OpRow{"fetch", true, {}, op_fetch},
    OpRow{"ack", true, {}, op_ack},
    OpRow{"list_accounts", true, {}, op_list_accounts},
    OpRow{"delete_account", true, {"password"}, op_delete_account},
};

}  // namespace

const OpRow* find_op(std::string_view name) noexcept {
    for (const auto& row : kOps) {
        if (row.name == name) return &row;
    }
    return nullptr;
}

}  // namespace chat::json_transport
