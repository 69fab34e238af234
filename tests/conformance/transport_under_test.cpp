// Names the transport this conformance executable tests. The build compiles this file once per
// transport with CHAT_CONFORMANCE_TRANSPORT set, and links it with the one shared suite.
#include "suite.hpp"

#ifndef CHAT_CONFORMANCE_TRANSPORT
#error "CHAT_CONFORMANCE_TRANSPORT must name the transport under test"
#endif

namespace chat::conformance {

const std::string& transport_under_test() {
    static const std::string name = CHAT_CONFORMANCE_TRANSPORT;
    return name;
}

}  // namespace chat::conformance
