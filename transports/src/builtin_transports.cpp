// The registry of the adapters compiled into this build. Each adapter exposes one
// `register_transport(TransportRegistry&)`; adding a third adapter adds one line here.
#include "chat/builtin_transports.hpp"

#ifdef CHAT_HAVE_JSON
#include "chat/json/json_transport.hpp"
#endif
#ifdef CHAT_HAVE_GRPC
#include "chat/grpc/grpc_transport.hpp"
#endif
#ifdef CHAT_HAVE_WEBSOCKET
#include "chat/websocket/ws_transport.hpp"
#endif

namespace chat {

const TransportRegistry& builtin_transports() {
    static const TransportRegistry registry = [] {
        TransportRegistry r;
#ifdef CHAT_HAVE_JSON
        json_transport::register_transport(r);
#endif
#ifdef CHAT_HAVE_GRPC
        grpc_transport::register_transport(r);
#endif
#ifdef CHAT_HAVE_WEBSOCKET
        ws_transport::register_transport(r);
#endif
        return r;
    }();
    return registry;
}

}  // namespace chat
