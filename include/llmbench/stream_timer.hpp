// llmbench/stream_timer.hpp - moved to llmbench/core/stream_timer.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/stream_timer.hpp"  // IWYU pragma: export
