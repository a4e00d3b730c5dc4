// llmbench/run_record.hpp - moved to llmbench/core/run_record.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/run_record.hpp"  // IWYU pragma: export
