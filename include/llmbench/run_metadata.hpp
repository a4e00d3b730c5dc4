// llmbench/run_metadata.hpp - moved to llmbench/host/run_metadata.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/host/run_metadata.hpp"  // IWYU pragma: export
