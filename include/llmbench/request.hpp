// llmbench/request.hpp - moved to llmbench/core/request.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/request.hpp"  // IWYU pragma: export
