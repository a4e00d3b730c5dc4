// llmbench/ollama_client.hpp - moved to llmbench/client/ollama_client.hpp; kept for one release so old includes still build.
#pragma once

#include "llmbench/client/ollama_client.hpp"  // IWYU pragma: export
