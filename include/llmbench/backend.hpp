// llmbench/backend.hpp - moved to llmbench/client/backend.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/client/backend.hpp"  // IWYU pragma: export
