// llmbench/framing.hpp - moved to llmbench/client/framing.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/client/framing.hpp"  // IWYU pragma: export
