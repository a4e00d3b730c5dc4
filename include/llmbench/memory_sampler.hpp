// llmbench/memory_sampler.hpp - moved to llmbench/host/memory_sampler.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/host/memory_sampler.hpp"  // IWYU pragma: export
