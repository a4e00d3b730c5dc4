// llmbench/response.hpp - moved to llmbench/core/response.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/response.hpp"  // IWYU pragma: export
