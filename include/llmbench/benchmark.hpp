// llmbench/benchmark.hpp - moved to llmbench/run/benchmark.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/run/benchmark.hpp"  // IWYU pragma: export
