// Exit codes of the `chat` client, the same for the interactive mode and the subcommands.
#pragma once

namespace chat::cli {

inline constexpr int kExitOk = 0;          // done
inline constexpr int kExitFailed = 1;      // the server refused: `error: <code>: <message>`
inline constexpr int kExitUsage = 2;       // wrong flags or arguments, no password available
inline constexpr int kExitConnection = 3;  // cannot reach the server, or the connection broke

}  // namespace chat::cli
