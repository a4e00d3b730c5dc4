// llmbench/synthetic_prompt.hpp - moved to llmbench/run/synthetic_prompt.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/run/synthetic_prompt.hpp"  // IWYU pragma: export
