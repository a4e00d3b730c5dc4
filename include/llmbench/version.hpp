// llmbench/version.hpp - the one place the library version and output schema version live.
#pragma once

#define LLMBENCH_VERSION_MAJOR 0
#define LLMBENCH_VERSION_MINOR 1
#define LLMBENCH_VERSION_PATCH 0
#define LLMBENCH_VERSION_STRING "0.1.0"

namespace llmbench {

inline constexpr const char* version_string = LLMBENCH_VERSION_STRING;

/// Version of every JSON object llmbench writes. Bumped on any incompatible change
/// (a renamed or removed field, a changed unit); added fields do not bump it.
inline constexpr int schema_version = 1;

}  // namespace llmbench
