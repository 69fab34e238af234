# Installation and packaging: `cmake --install` lays out the libraries, the public headers, the
# programs and a CMake package, so other projects can
#   find_package(chatcore REQUIRED COMPONENTS core json)
#   target_link_libraries(app PRIVATE chat::core chat::transport_json)
# Included at the end of the top-level CMakeLists.txt, once every target exists; it installs only
# the targets that were actually built (no tests or benchmarks, ever; the programs only with
# CHAT_BUILD_APPS, which is on when chatcore is the top-level project). Also active when chatcore
# is added with add_subdirectory(), so an embedding project can install targets that link ours.
#
# Package components (one export set and one install component each, so a consumer that wants
# only the core never needs Boost, gRPC or libpq on its machine):
#   core        chat::core               SQLite3, libsodium, Threads
#   store_postgres chat::store_postgres  libpq (pkg-config); needs core
#   transport   chat::transport          the seam (ServerTransport, Client, registry); needs core
#   json        chat::json_frames,       Boost 1.81 (json), OpenSSL; needs transport
#               chat::transport_json     (json_frames: the JSON frames shared with websocket)
#   grpc        chat::proto,             Protobuf, gRPC; needs transport
#               chat::transport_grpc
#   websocket   chat::transport_ws,      Boost.Beast (headers), OpenSSL; needs json
#               chat::web_assets         (the embedded page, when it was built)
#   transports  chat::transports         chat::builtin_transports(); our libraries are static,
#                                        so its private links to the adapters reach the consumer:
#                                        needs json, and grpc and websocket when they were built
# The programs (chatd, chat, chat-bench), when built, go to bin/ as install component `apps`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CHAT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/chatcore"
  CACHE STRING "Where the chatcore CMake package files are installed (relative to the prefix)")

# Components in dependency order: each only needs components listed before it. The package
# config relies on this order.
set(CHATCORE_COMPONENTS "")

# _chat_install_component(<component> <target>...): installs the targets that exist under one
# export set `chatcore-<component>-targets` (namespace chat::) and one install component.
function(_chat_install_component component)
  set(targets "")
  foreach(target IN LISTS ARGN)
    if(TARGET ${target})
      list(APPEND targets ${target})
    endif()
  endforeach()
  if(NOT targets)
    return()
  endif()
  install(TARGETS ${targets}
    EXPORT chatcore-${component}-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ${component}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ${component}
      NAMELINK_COMPONENT ${component}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${component}
    # The libraries name $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> themselves (the top
    # level includes GNUInstallDirs before them); chat::proto names no include directory for
    # the install, so this gives it include/ too.
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT chatcore-${component}-targets
    NAMESPACE chat::
    FILE chatcore-${component}-targets.cmake
    DESTINATION ${CHAT_INSTALL_CMAKEDIR}
    COMPONENT ${component})
  set(CHATCORE_COMPONENTS ${CHATCORE_COMPONENTS} ${component} PARENT_SCOPE)
endfunction()

_chat_install_component(core chat_core)
_chat_install_component(store_postgres chat_store_postgres)
_chat_install_component(transport chat_transport)
_chat_install_component(json chat_json_frames chat_transport_json)
_chat_install_component(grpc chat_proto chat_transport_grpc)
_chat_install_component(websocket chat_web_assets chat_transport_ws)
_chat_install_component(transports chat_transports)

# Public headers, each with the component whose library defines what it declares. No public
# header includes generated protobuf code, so none of that is installed.
if(TARGET chat_core)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/libchatcore/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT core
    FILES_MATCHING PATTERN "*.hpp")
endif()
if(TARGET chat_store_postgres)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/stores/postgres/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT store_postgres
    FILES_MATCHING PATTERN "*.hpp")
endif()
if(TARGET chat_transport)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/transports/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT transport
    FILES_MATCHING PATTERN "*.hpp" PATTERN "builtin_transports.hpp" EXCLUDE)
endif()
if(TARGET chat_transports)
  install(FILES ${PROJECT_SOURCE_DIR}/transports/include/chat/builtin_transports.hpp
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/chat COMPONENT transports)
endif()
if(TARGET chat_transport_json)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/transports/json/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT json
    FILES_MATCHING PATTERN "*.hpp")
endif()
if(TARGET chat_transport_grpc)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/transports/grpc/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT grpc
    FILES_MATCHING PATTERN "*.hpp")
endif()
if(TARGET chat_transport_ws)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/transports/websocket/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT websocket
    FILES_MATCHING PATTERN "*.hpp")
endif()

# The programs.
foreach(app chatd chat chat-bench)
  if(TARGET ${app})
    install(TARGETS ${app} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT apps)
  endif()
endforeach()

# What chat::transports carries to its consumers (see the table at the top).
set(CHATCORE_TRANSPORTS_NEEDS transport)
if(TARGET chat_transport_json)
  list(APPEND CHATCORE_TRANSPORTS_NEEDS json)
endif()
if(TARGET chat_transport_grpc)
  list(APPEND CHATCORE_TRANSPORTS_NEEDS grpc)
endif()
if(TARGET chat_transport_ws)
  list(APPEND CHATCORE_TRANSPORTS_NEEDS websocket)
endif()

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/chatcoreConfig.cmake.in
  ${PROJECT_BINARY_DIR}/chatcoreConfig.cmake
  INSTALL_DESTINATION ${CHAT_INSTALL_CMAKEDIR})
# 0.x releases keep their API within one minor version.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/chatcoreConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/chatcoreConfig.cmake
  ${PROJECT_BINARY_DIR}/chatcoreConfigVersion.cmake
  DESTINATION ${CHAT_INSTALL_CMAKEDIR}
  COMPONENT core)
