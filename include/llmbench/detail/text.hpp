// llmbench/detail/text.hpp - small string and number helpers shared by the parsers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace llmbench::detail {

/// `d` as a whole number, when int64 can hold it; nullopt otherwise (NaN included). Casting a
/// double out of that range is undefined behaviour, and a server or a file can send 1e300.
inline std::optional<std::int64_t> to_int64(double d) {
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return std::nullopt;
    return static_cast<std::int64_t>(d);
}

/// `s` without leading and trailing characters from `chars`.
inline std::string_view trim(std::string_view s, std::string_view chars) {
    while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
    while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
    return s;
}

/// `s` with A-Z lowered and every other byte kept: HTTP header names and model replies are
/// matched the same way whatever the C locale is, and UTF-8 bytes are never touched.
inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// Unicode code points in UTF-8 text: every byte that does not continue a sequence (an
/// invalid byte counts as one).
inline std::size_t utf8_code_points(std::string_view s) {
    std::size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

/// The numeric lines of Ollama's /api/show `parameters` ("temperature    0.6\nstop ..."): the
/// Modelfile's defaults; `stop` and other text values are left out.
inline std::map<std::string, double> modelfile_numbers(std::string_view parameters) {
    std::map<std::string, double> out;
    while (!parameters.empty()) {
        const std::size_t nl = parameters.find('\n');
        const std::string_view line = trim(parameters.substr(0, nl), " \t\r");
        parameters.remove_prefix(nl == std::string_view::npos ? parameters.size() : nl + 1);
        const std::size_t space = line.find_first_of(" \t");
        if (space == std::string_view::npos) continue;
        const std::string value(trim(line.substr(space), " \t"));
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (!value.empty() && end == value.c_str() + value.size()) out[std::string(line.substr(0, space))] = v;
    }
    return out;
}

}  // namespace llmbench::detail
