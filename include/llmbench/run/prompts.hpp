// llmbench/run/prompts.hpp - the prompts file: JSONL, one request per line.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"

namespace llmbench {

struct Prompt {
    std::string id;  ///< from the file, else "prompt-N" (1-based)
    std::string text;
    std::optional<std::string> system;
    std::optional<int> num_predict;  ///< overrides the benchmark's num_predict
};

/// Parses JSONL prompts: one object per line with "prompt" (required) and optional "id",
/// "system", "num_predict". Blank lines are skipped. Errors name `source:line`.
inline std::vector<Prompt> parse_prompts(std::string_view content, const std::string& source) {
    if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);  // UTF-8 BOM
    std::vector<Prompt> prompts;
    std::map<std::string, std::size_t> seen;  // id -> line
    simdjson::dom::parser parser;  // DOM, not On-Demand: it validates the whole line
    std::size_t line_no = 0;
    while (!content.empty()) {
        ++line_no;
        const auto nl = content.find('\n');
        std::string_view line = content.substr(0, nl);
        content.remove_prefix(nl == std::string_view::npos ? content.size() : nl + 1);
        if (detail::trim(line, " \t\r").empty()) continue;
        const std::string where = source + ":" + std::to_string(line_no) + ": ";
        simdjson::dom::element doc;
        if (auto err = parser.parse(line.data(), line.size()).get(doc))
            throw error(errc::usage, where + "invalid JSON (" + simdjson::error_message(err) + ")");
        simdjson::dom::object obj;
        if (doc.get_object().get(obj)) throw error(errc::usage, where + "expected a JSON object");
        Prompt p;
        bool has_prompt = false;
        for (auto [key, value] : obj) {
            auto string_field = [&, v = value](const char* name) {
                std::string_view s;
                if (v.get_string().get(s)) throw error(errc::usage, where + "field \"" + name + "\" must be a string");
                return std::string(s);
            };
            if (key == "prompt") {
                p.text = string_field("prompt");
                has_prompt = true;
            } else if (key == "id") {
                std::int64_t number = 0;
                if (value.get_int64().get(number) == simdjson::SUCCESS) p.id = std::to_string(number);
                else p.id = string_field("id");
            } else if (key == "system") {
                p.system = string_field("system");
            } else if (key == "num_predict") {
                std::int64_t n = 0;
                if (value.get_int64().get(n) || n < -1 || n > 1'000'000)
                    throw error(errc::usage, where + "field \"num_predict\" must be an integer from -1 to 1000000");
                p.num_predict = static_cast<int>(n);
            }
        }
        if (!has_prompt) throw error(errc::usage, where + "missing required field \"prompt\"");
        if (p.text.empty()) throw error(errc::usage, where + "field \"prompt\" is empty");
        if (p.id.empty()) p.id = "prompt-" + std::to_string(prompts.size() + 1);
        if (auto [it, fresh] = seen.emplace(p.id, line_no); !fresh)
            throw error(errc::usage, where + "duplicate id \"" + p.id + "\" (first on line " + std::to_string(it->second) + ")");
        prompts.push_back(std::move(p));
    }
    if (prompts.empty()) throw error(errc::usage, source + ": no prompts (expected one JSON object per line)");
    return prompts;
}

/// Reads and parses a JSONL prompts file; see parse_prompts.
inline std::vector<Prompt> load_prompts(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error(errc::io, "cannot open prompts file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_prompts(ss.str(), path);
}

}  // namespace llmbench
