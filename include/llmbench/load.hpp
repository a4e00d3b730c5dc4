// llmbench/load.hpp - moved to llmbench/run/load.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/run/load.hpp"  // IWYU pragma: export
