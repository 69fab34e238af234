// Boost.JSON compiled header-only into the fuzz build, so the parser carries the same fuzzing
// and sanitizer instrumentation as the code under test (only in the standalone clang project).
#include <boost/json/src.hpp>
