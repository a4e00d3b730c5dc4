// llmbench/metrics.hpp - moved to llmbench/core/metrics.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/metrics.hpp"  // IWYU pragma: export
