// llmbench/sse.hpp - moved to llmbench/client/sse.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/client/sse.hpp"  // IWYU pragma: export
