// llmbench/json.hpp - moved to llmbench/core/json.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/json.hpp"  // IWYU pragma: export
