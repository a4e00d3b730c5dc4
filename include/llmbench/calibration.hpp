// llmbench/calibration.hpp - moved to llmbench/measure/calibration.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/measure/calibration.hpp"  // IWYU pragma: export
