// llmbench/error.hpp - moved to llmbench/core/error.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/error.hpp"  // IWYU pragma: export
