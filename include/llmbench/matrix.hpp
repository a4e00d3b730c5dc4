// llmbench/matrix.hpp - moved to llmbench/run/matrix.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/run/matrix.hpp"  // IWYU pragma: export
