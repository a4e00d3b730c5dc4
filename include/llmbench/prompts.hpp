// llmbench/prompts.hpp - moved to llmbench/run/prompts.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/run/prompts.hpp"  // IWYU pragma: export
