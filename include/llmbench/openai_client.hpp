// llmbench/openai_client.hpp - moved to llmbench/client/openai_client.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/client/openai_client.hpp"  // IWYU pragma: export
