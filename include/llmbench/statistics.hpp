// llmbench/statistics.hpp - moved to llmbench/core/statistics.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/statistics.hpp"  // IWYU pragma: export
