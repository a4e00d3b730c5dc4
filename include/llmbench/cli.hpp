// llmbench/cli.hpp - moved to llmbench/core/cli.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/cli.hpp"  // IWYU pragma: export
