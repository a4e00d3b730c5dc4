// llmbench/endpoint.hpp - moved to llmbench/core/endpoint.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/core/endpoint.hpp"  // IWYU pragma: export
