// llmbench/llmbench.hpp - umbrella header: every public component, nothing else.
// The mock servers live apart, in llmbench/testing/.
#pragma once

#include "llmbench/benchmark.hpp"
#include "llmbench/endpoint.hpp"
#include "llmbench/error.hpp"
#include "llmbench/framing.hpp"
#include "llmbench/json.hpp"
#include "llmbench/matrix.hpp"
#include "llmbench/memory_sampler.hpp"
#include "llmbench/metrics.hpp"
#include "llmbench/ollama_client.hpp"
#include "llmbench/prompts.hpp"
#include "llmbench/report/console_table.hpp"
#include "llmbench/response.hpp"
#include "llmbench/run_metadata.hpp"
#include "llmbench/run_record.hpp"
#include "llmbench/statistics.hpp"
#include "llmbench/stream_timer.hpp"
#include "llmbench/synthetic_prompt.hpp"
#include "llmbench/version.hpp"
