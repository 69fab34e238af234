// Registers the JSON Lines transport under the name "json".
#include "chat/json/json_transport.hpp"

namespace chat::json_transport {

void register_transport(TransportRegistry& registry) {
    registry.add(TransportInfo{"json", kDefaultPort, make_server, make_client});
}

}  // namespace chat::json_transport
