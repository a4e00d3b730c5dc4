// llmbench/core/cli.hpp - command-line values the programs share: comma lists of numbers and names,
// and service-level objectives. Errors name the option and the item.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmbench/detail/text.hpp"
#include "llmbench/core/error.hpp"

namespace llmbench {

/// Calls on_item(trimmed item) for each comma-separated item of `text`.
template <class OnItem>
void for_each_list_item(std::string_view text, OnItem&& on_item) {
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        on_item(std::string(detail::trim(text.substr(start, comma - start), " \t")));
        start = comma + 1;
    }
}

/// Parses "4096,32768" into numbers; names `what` in errors.
inline std::vector<int> parse_int_list(std::string_view text, const std::string& what) {
    std::vector<int> out;
    for_each_list_item(text, [&](const std::string& item) {
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || end != item.c_str() + item.size() || v < 1 || v > 10'000'000)
            throw error(errc::usage, what + ": '" + item + "' is not a positive whole number (in '" + std::string(text) + "')");
        out.push_back(static_cast<int>(v));
    });
    return out;
}

/// Parses "a,b" into non-empty strings; names `what` in errors.
inline std::vector<std::string> parse_string_list(std::string_view text, const std::string& what) {
    std::vector<std::string> out;
    for_each_list_item(text, [&](const std::string& item) {
        if (item.empty()) throw error(errc::usage, what + ": empty item in '" + std::string(text) + "'");
        out.push_back(item);
    });
    return out;
}

/// Service-level objectives for goodput: "ttft_s=0.5,tpot_s=0.05" (either or both; empty: none).
struct Slo {
    std::optional<double> ttft_s, tpot_s;
};

/// Parses --slo; names `what` and the bad item in errors.
inline Slo parse_slo(std::string_view text, const std::string& what = "--slo") {
    Slo slo;
    for_each_list_item(text, [&](const std::string& item) {
        if (item.empty()) return;  // no objectives given
        const auto eq = item.find('=');
        const std::string key = item.substr(0, eq);
        char* end = nullptr;
        const double value = eq == std::string::npos ? -1 : std::strtod(item.c_str() + eq + 1, &end);
        if (value <= 0 || (end != nullptr && *end != '\0') || (key != "ttft_s" && key != "tpot_s"))
            throw error(errc::usage, what + ": '" + item + "' is not ttft_s=SECONDS or tpot_s=SECONDS");
        (key == "ttft_s" ? slo.ttft_s : slo.tpot_s) = value;
    });
    return slo;
}

}  // namespace llmbench
