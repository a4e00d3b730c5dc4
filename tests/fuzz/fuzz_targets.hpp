// The fuzz targets, one function each (fuzz_<name>.cpp), all in one libFuzzer binary,
// llmbench_fuzz, compiled as one unit: the library's headers and inline code are compiled once,
// not once per target (tests/fuzz/fuzz.cmake). LLMBENCH_FUZZ_TARGET names the target a run
// feeds (fuzz_main.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzz {
int framing(const std::uint8_t* data, std::size_t size);
int sse(const std::uint8_t* data, std::size_t size);
int inputs(const std::uint8_t* data, std::size_t size);
int streams(const std::uint8_t* data, std::size_t size);
int parsers(const std::uint8_t* data, std::size_t size);
int datasets(const std::uint8_t* data, std::size_t size);
}  // namespace fuzz
