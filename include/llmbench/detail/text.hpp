// llmbench/detail/text.hpp - small string helpers shared by the parsers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmbench::detail {

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

}  // namespace llmbench::detail
