// Micro benchmarks of the two wire encodings of one chat message: the JSON transport's codec
// (what the server writes per push and reads per send) against protobuf (the gRPC transport's
// messages), in ns per operation and bytes on the wire. Bodies of 64 and 1024 bytes.
// Run: build/release/benchmarks/chat_codec_bench
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "chat/types.hpp"
#include "codec.hpp"
#ifdef CHAT_BENCH_HAVE_PROTO
#include "../transports/grpc/src/codec.hpp"
#include "chat/v1/chat.pb.h"
#endif

namespace {

namespace json = boost::json;
namespace jt = chat::json_transport;

chat::Message sample(std::size_t body_size) {
    chat::Message m;
    m.id = 1234567;
    m.from = "alice_sender";
    m.to = "bob_receiver";
    m.body.assign(body_size, 'x');
    m.sent_at = 1764000000123;
    return m;
}

std::string send_request(std::size_t body_size) {
    return R"({"op":"send","id":4711,"to":"bob_receiver","body":")" + std::string(body_size, 'x') +
           "\"}";
}

// The push frame as the server writes it: {"event":"message","message":{...}}\n
void BM_JsonEncodePush(benchmark::State& state) {
    const auto m = sample(static_cast<std::size_t>(state.range(0)));
    std::size_t bytes = 0;
    for (auto _ : state) {
        std::string frame = jt::message_event_frame(m);
        bytes = frame.size();
        benchmark::DoNotOptimize(frame);
    }
    state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_JsonEncodePush)->Arg(64)->Arg(1024);

// The client's side of a push: parse the frame, pull the Message out.
void BM_JsonDecodePush(benchmark::State& state) {
    const std::string frame =
        jt::message_event_frame(sample(static_cast<std::size_t>(state.range(0))));
    json::parser parser;
    for (auto _ : state) {
        parser.reset();
        boost::system::error_code ec;
        parser.write(frame.data(), frame.size() - 1, ec);  // without the '\n'
        json::value value = parser.release();
        auto message = jt::decode_message(value.as_object().at("message"));
        benchmark::DoNotOptimize(message);
    }
    state.counters["bytes"] = static_cast<double>(frame.size());
}
BENCHMARK(BM_JsonDecodePush)->Arg(64)->Arg(1024);

// The server's side of a send: parse the request and read its fields.
void BM_JsonDecodeSendRequest(benchmark::State& state) {
    const std::string frame = send_request(static_cast<std::size_t>(state.range(0)));
    json::parser parser;
    for (auto _ : state) {
        parser.reset();
        boost::system::error_code ec;
        parser.write(frame.data(), frame.size(), ec);
        json::value value = parser.release();
        jt::FieldReader in(value.as_object());
        auto to = in.required_string("to");
        std::string body(in.required_string("body"));
        benchmark::DoNotOptimize(to);
        benchmark::DoNotOptimize(body);
    }
    state.counters["bytes"] = static_cast<double>(frame.size() + 1);
}
BENCHMARK(BM_JsonDecodeSendRequest)->Arg(64)->Arg(1024);

#ifdef CHAT_BENCH_HAVE_PROTO

// The push as the gRPC transport sends it: an Event holding the Message.
void BM_ProtoEncodePush(benchmark::State& state) {
    const auto m = sample(static_cast<std::size_t>(state.range(0)));
    std::string out;
    for (auto _ : state) {
        chat::v1::Event event;
        chat::grpc_transport::to_proto(m, *event.mutable_message());
        out.clear();
        event.SerializeToString(&out);
        benchmark::DoNotOptimize(out);
    }
    state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_ProtoEncodePush)->Arg(64)->Arg(1024);

void BM_ProtoDecodePush(benchmark::State& state) {
    const auto m = sample(static_cast<std::size_t>(state.range(0)));
    chat::v1::Event event;
    chat::grpc_transport::to_proto(m, *event.mutable_message());
    const std::string wire = event.SerializeAsString();
    for (auto _ : state) {
        chat::v1::Event parsed;
        parsed.ParseFromString(wire);
        chat::Message out = chat::grpc_transport::from_proto(parsed.message());
        benchmark::DoNotOptimize(out);
    }
    state.counters["bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_ProtoDecodePush)->Arg(64)->Arg(1024);

void BM_ProtoDecodeSendRequest(benchmark::State& state) {
    chat::v1::SendRequest request;
    request.set_to("bob_receiver");
    request.set_body(std::string(static_cast<std::size_t>(state.range(0)), 'x'));
    const std::string wire = request.SerializeAsString();
    for (auto _ : state) {
        chat::v1::SendRequest parsed;
        parsed.ParseFromString(wire);
        std::string body = parsed.body();
        benchmark::DoNotOptimize(body);
    }
    state.counters["bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_ProtoDecodeSendRequest)->Arg(64)->Arg(1024);

#endif

}  // namespace

BENCHMARK_MAIN();
