// The fast encoders of the JSON transport (written for the hot paths chat-bench measures) must
// produce exactly the bytes Boost.JSON's serializer produces for the same values.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "codec.hpp"

namespace json = boost::json;
namespace jt = chat::json_transport;

namespace {

// Text with every kind of byte the encoder treats specially, at every offset in a word.
std::string random_text(std::mt19937& random) {
    static const std::string pieces[] = {"a",
                                         "xyz01234",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\t",
                                         "\x01",
                                         "\x1f",
                                         " ",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "/",
                                         "\x7f",
                                         "\b",
                                         "\f",
                                         "\r",
                                         "0123456789abcdef"};
    std::string out;
    const int parts = static_cast<int>(random() % 40);
    for (int i = 0; i < parts; ++i) out += pieces[random() % std::size(pieces)];
    return out;
}

}  // namespace

TEST_CASE("json strings are escaped exactly as Boost.JSON does") {
    std::mt19937 random(7);
    for (int i = 0; i < 20000; ++i) {
        const std::string text = random_text(random);
        std::string ours;
        jt::append_json_string(ours, text);
        REQUIRE(ours == json::serialize(json::string(text)));
    }
    for (int c = 0; c < 256; ++c) {
        const std::string text = "abcdefgh" + std::string(1, static_cast<char>(c)) + "ijklmnop";
        std::string ours;
        jt::append_json_string(ours, text);
        REQUIRE(ours == json::serialize(json::string(text)));
    }
}

TEST_CASE("a push frame matches the serialized event object") {
    std::mt19937 random(11);
    for (int i = 0; i < 2000; ++i) {
        chat::Message m{random(), random_text(random), random_text(random), random_text(random),
                        static_cast<std::int64_t>(random()) * 1000};
        json::object message{
            {"id", m.id}, {"from", m.from}, {"to", m.to}, {"body", m.body}, {"sent_at", m.sent_at}};
        json::object event{{"event", "message"}, {"message", std::move(message)}};
        REQUIRE(jt::message_event_frame(m) == json::serialize(event) + "\n");
    }
}

TEST_CASE("reply and error frames match the serialized objects") {
    const json::value ids[] = {nullptr, 42, "abc\"d", -7, 1.5};
    for (const auto& id : ids) {
        const std::string id_json = json::serialize(id);
        json::object fields{{"acked", 3}, {"note", "x\ny"}};
        std::string text = json::serialize(fields);
        std::string ours;
        jt::append_reply_frame(ours, id_json, std::string_view(text).substr(1, text.size() - 2));
        REQUIRE(ours == jt::reply_frame(id, fields));
        ours.clear();
        jt::append_reply_frame(ours, id_json, "");
        REQUIRE(ours == jt::reply_frame(id, json::object{}));
        const chat::Error error{chat::Errc::no_such_user, "bob \"x\" does not exist"};
        ours.clear();
        jt::append_error_frame(ours, id_json, error);
        REQUIRE(ours == jt::error_frame(id, error));
    }
}
