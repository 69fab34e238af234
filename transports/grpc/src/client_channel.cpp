// open_client_channel: channel arguments, credentials and the wait until the channel is ready.
#include "client_channel.hpp"

#include <chrono>
#include <string>

#include "grpc_runtime.hpp"
#include "tls_files.hpp"

namespace chat::grpc_transport {

namespace {

std::string host_port(const ClientConfig& config) {
    const bool ipv6 = config.host.find(':') != std::string::npos && config.host.front() != '[';
    return (ipv6 ? "[" + config.host + "]" : config.host) + ":" + std::to_string(config.port);
}

}  // namespace

Result<std::shared_ptr<grpc::Channel>> open_client_channel(const ClientConfig& config) {
    prepare_grpc_runtime();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);  // a full fetch page can exceed gRPC's 4 MiB default
    // One connection per client, as with the JSON transport (no sharing between clients).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // Only the filters a call needs: compression, message-size and census filters are not
    // used here (nothing is compressed; the receive size is unlimited). Deadlines stay
    // enforced by the client itself (the minimal stack would leave them to the server).
    args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
    args.SetInt(GRPC_ARG_ENABLE_DEADLINE_CHECKS, 1);
    const std::string target = host_port(config);
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (config.tls) {
        try {
            credentials = make_client_tls_credentials(config);
        } catch (const std::exception& e) {
            return make_error(Errc::internal, e.what());
        }
        // gRPC checks the certificate against the target's host unless told another name.
        if (!config.tls_server_name.empty()) {
            args.SetSslTargetNameOverride(config.tls_server_name);
        }
    }
    auto channel = grpc::CreateCustomChannel(target, credentials, args);
    const auto deadline = std::chrono::system_clock::now() + config.timeout;
    for (auto state = channel->GetState(true); state != GRPC_CHANNEL_READY;
         state = channel->GetState(true)) {
        if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
            return make_error(Errc::internal,
                              "cannot connect to " + target +
                                  (config.tls ? " (over TLS: is it a TLS server with a "
                                                "certificate the CA vouches for?)"
                                              : ""));
        }
        if (!channel->WaitForStateChange(state, deadline)) {
            return make_error(Errc::internal, "timed out connecting to " + target);
        }
    }
    return channel;
}

}  // namespace chat::grpc_transport
