// llmbench/measure.hpp - moved to llmbench/measure/measure.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/measure/measure.hpp"  // IWYU pragma: export
