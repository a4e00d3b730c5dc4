// llmbench/roofline.hpp - moved to llmbench/host/roofline.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/host/roofline.hpp"  // IWYU pragma: export
