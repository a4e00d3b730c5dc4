// llmbench/detail/json_parse.hpp - small helpers around simdjson On-Demand.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "llmbench/core/response.hpp"
#include "llmbench/detail/text.hpp"

namespace llmbench::detail {

/// Copies `text` into `storage` with the padding simdjson reads past the end, reusing
/// the allocation from line to line.
inline simdjson::padded_string_view padded(std::string& storage, std::string_view text) {
    if (storage.capacity() < text.size() + simdjson::SIMDJSON_PADDING)
        storage.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    storage.assign(text.data(), text.size());
    return simdjson::padded_string_view(storage.data(), storage.size(), storage.capacity());
}

/// The parser and padded copy for a thread's stream events. An event is parsed and its strings
/// copied out before the thread parses another (no wait in between), so every stream a thread
/// drives shares them: one set stays in cache, where each of 4,096 streams' own would not
/// (docs/performance.md).
struct EventParseSpace {
    simdjson::ondemand::parser parser;
    std::string padded_copy;
};
inline EventParseSpace& thread_event_parse_space() {
    static thread_local EventParseSpace space;
    return space;
}

/// Calls `on_field(std::string_view key, simdjson::ondemand::value& value)` for each member
/// of the JSON object in `text`. Throws simdjson::simdjson_error on malformed input.
template <class OnField>
void for_each_field(std::string_view text, OnField&& on_field) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded_text(text);
    auto doc = parser.iterate(padded_text);
    for (auto field : doc.get_object()) {
        const std::string_view key = field.unescaped_key().value();
        simdjson::ondemand::value value = field.value();
        on_field(key, value);
    }
}

/// Walks the top-level fields of a metadata body, calling on_field(key, value, out); malformed
/// JSON or a field of the wrong type is an errc::protocol error naming `source` (a server's URL).
template <class T, class OnField>
T parse_fields(std::string_view body, const std::string& source, OnField&& on_field, T out) {
    try {
        for_each_field(body, [&](std::string_view key, simdjson::ondemand::value& value) { on_field(key, value, out); });
    } catch (const simdjson::simdjson_error& e) {
        throw error(errc::protocol, "unexpected JSON from " + source + ": " + e.what());
    }
    return out;
}

/// An integer field; floats are rounded (some servers send 1.5e9); null, and a number no
/// int64 can hold (a reply with "eval_count": 1e300), mean unknown.
inline simdjson::error_code read_int(simdjson::ondemand::value& v, std::optional<std::int64_t>& out) {
    simdjson::ondemand::json_type type;
    if (auto err = v.type().get(type)) return err;
    if (type == simdjson::ondemand::json_type::null) {
        out.reset();
        return simdjson::SUCCESS;
    }
    std::int64_t i = 0;
    if (v.get_int64().get(i) == simdjson::SUCCESS) {
        out = i;
        return simdjson::SUCCESS;
    }
    double d = 0;
    if (auto err = v.get_double().get(d)) return err;
    out = to_int64(std::round(d));
    return simdjson::SUCCESS;
}

/// A number field; null means unknown.
inline simdjson::error_code read_double(simdjson::ondemand::value& v, std::optional<double>& out) {
    simdjson::ondemand::json_type type;
    if (auto err = v.type().get(type)) return err;
    if (type == simdjson::ondemand::json_type::null) {
        out.reset();
        return simdjson::SUCCESS;
    }
    double d = 0;
    if (auto err = v.get_double().get(d)) return err;
    out = d;
    return simdjson::SUCCESS;
}

/// Calls on_field(key, value) for each member of the object `v`, stopping at the first error
/// either returns.
template <class OnField>
simdjson::error_code for_each_member(simdjson::ondemand::value& v, OnField&& on_field) {
    simdjson::ondemand::object obj;
    if (auto err = v.get_object().get(obj)) return err;
    for (auto member : obj) {
        simdjson::ondemand::field field;
        std::string_view key;
        if (auto err = std::move(member).get(field)) return err;
        if (auto err = field.unescaped_key().get(key)) return err;
        simdjson::ondemand::value value = field.value();
        if (auto err = on_field(key, value)) return err;
    }
    return simdjson::SUCCESS;
}

/// A string field; null reads as empty.
inline simdjson::error_code read_string(simdjson::ondemand::value& v, std::string_view& out) {
    simdjson::ondemand::json_type type;
    if (auto err = v.type().get(type)) return err;
    if (type == simdjson::ondemand::json_type::null) {
        out = {};
        return simdjson::SUCCESS;
    }
    return v.get_string().get(out);
}

/// A log-probability; null (an impossible token) reads as -infinity.
inline simdjson::error_code read_logprob(simdjson::ondemand::value& v, double& out) {
    std::optional<double> d;
    if (auto err = read_double(v, d)) return err;
    out = d.value_or(-std::numeric_limits<double>::infinity());
    return simdjson::SUCCESS;
}

/// One entry {"token", "logprob", "id"?, "bytes"?, "top_logprobs"?: [entries]} as Ollama,
/// llama.cpp and OpenAI chat send it; `top` gets the alternatives (null: the entry has none).
inline simdjson::error_code read_token_logprob(simdjson::ondemand::value& v, TokenLogprob& out, std::vector<TokenLogprob>* top) {
    return for_each_member(v, [&](std::string_view key, simdjson::ondemand::value& f) -> simdjson::error_code {
        if (key == "token") {
            std::string_view token;
            if (auto err = read_string(f, token)) return err;
            out.token = std::string(token);
        } else if (key == "logprob") {
            return read_logprob(f, out.logprob);
        } else if (key == "id") {
            return read_int(f, out.id);
        } else if (key == "top_logprobs" && top != nullptr) {
            simdjson::ondemand::array alternatives;
            if (auto err = f.get_array().get(alternatives)) return err;
            for (auto element : alternatives) {
                simdjson::ondemand::value a;
                if (auto err = std::move(element).get(a)) return err;
                top->emplace_back();
                if (auto err = read_token_logprob(a, top->back(), nullptr)) return err;
            }
        }
        return simdjson::SUCCESS;
    });
}

/// An array of entries (Ollama's "logprobs", OpenAI chat's "logprobs.content", llama.cpp's
/// "completion_probabilities"), appended to `out`; null appends nothing.
inline simdjson::error_code read_logprobs_array(simdjson::ondemand::value& v, std::vector<TokenLogprobs>& out) {
    simdjson::ondemand::json_type type;
    if (auto err = v.type().get(type)) return err;
    if (type == simdjson::ondemand::json_type::null) return simdjson::SUCCESS;
    simdjson::ondemand::array entries;
    if (auto err = v.get_array().get(entries)) return err;
    for (auto element : entries) {
        simdjson::ondemand::value e;
        if (auto err = std::move(element).get(e)) return err;
        out.emplace_back();
        if (auto err = read_token_logprob(e, out.back().sampled, &out.back().top)) return err;
    }
    return simdjson::SUCCESS;
}

/// A choice's "logprobs" object: {"content": [entries]} (chat; llama.cpp's completions too), or
/// the legacy completions form {"tokens": [], "token_logprobs": [], "top_logprobs": [{token:
/// logprob}]} that vLLM sends; appended to `out`.
inline simdjson::error_code read_choice_logprobs(simdjson::ondemand::value& v, std::vector<TokenLogprobs>& out) {
    simdjson::ondemand::json_type type;
    if (auto err = v.type().get(type)) return err;
    if (type == simdjson::ondemand::json_type::null) return simdjson::SUCCESS;
    std::vector<std::string> tokens;
    std::vector<double> logprobs;
    std::vector<std::vector<TokenLogprob>> tops;
    const auto for_each_element = [](simdjson::ondemand::value& a, auto&& on_element) -> simdjson::error_code {
        simdjson::ondemand::array array;
        if (auto err = a.get_array().get(array)) return err;
        for (auto element : array) {
            simdjson::ondemand::value e;
            if (auto err = std::move(element).get(e)) return err;
            if (auto err = on_element(e)) return err;
        }
        return simdjson::SUCCESS;
    };
    if (auto failed = for_each_member(v, [&](std::string_view key, simdjson::ondemand::value& f) -> simdjson::error_code {
            if (key == "content") return read_logprobs_array(f, out);
            if (f.type().get(type) == simdjson::SUCCESS && type == simdjson::ondemand::json_type::null) return simdjson::SUCCESS;
            if (key == "tokens")
                return for_each_element(f, [&](simdjson::ondemand::value& e) {
                    std::string_view t;
                    if (auto err = read_string(e, t)) return err;
                    tokens.emplace_back(t);
                    return simdjson::SUCCESS;
                });
            if (key == "token_logprobs")
                return for_each_element(f, [&](simdjson::ondemand::value& e) {
                    logprobs.emplace_back();
                    return read_logprob(e, logprobs.back());
                });
            if (key == "top_logprobs")
                return for_each_element(f, [&](simdjson::ondemand::value& e) {
                    tops.emplace_back();
                    if (e.type().get(type) == simdjson::SUCCESS && type == simdjson::ondemand::json_type::null) return simdjson::SUCCESS;
                    return for_each_member(e, [&](std::string_view token, simdjson::ondemand::value& lp) {
                        tops.back().push_back({std::string(token), 0, std::nullopt});
                        return read_logprob(lp, tops.back().back().logprob);
                    });
                });
            return simdjson::SUCCESS;
        }))
        return failed;
    for (std::size_t i = 0; i < tokens.size() && i < logprobs.size(); ++i) {  // a token without its logprob is not made up
        TokenLogprobs t{{tokens[i], logprobs[i], std::nullopt}, {}};
        if (i < tops.size()) t.top = std::move(tops[i]);
        out.push_back(std::move(t));
    }
    return simdjson::SUCCESS;
}

/// What a server says when a prompt does not fit its context: llama-server's
/// `exceed_context_size_error` (Ollama 0.30+ passes it on JSON-encoded inside its own "error"
/// string), or Ollama's "prompt is longer than the context length".
struct ContextOverflow {
    std::optional<std::int64_t> prompt_tokens, n_ctx;
};

/// An error body, read once: its message and, when it is one, the context overflow.
struct ErrorBody {
    std::string message;
    std::optional<ContextOverflow> overflow;
};

/// {"error":"text"} (Ollama), {"error":{"message", "type", ...}} (OpenAI style, llama-server),
/// or Ollama 0.30+'s {"error":"<llama-server's JSON error>"}. A body that is none of these is
/// its own message, shortened.
inline ErrorBody parse_error_body(std::string_view body, int depth = 0) {
    ErrorBody out;
    std::string raw(body.substr(0, 300));
    while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.pop_back();
    out.message = raw;
    std::string storage;
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    simdjson::ondemand::value err;
    if (parser.iterate(padded(storage, body)).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj) != simdjson::SUCCESS ||
        obj.find_field_unordered("error").get(err) != simdjson::SUCCESS)
        return out;
    std::string_view text;
    if (err.get_string().get(text) == simdjson::SUCCESS) {
        if (depth == 0 && !text.empty() && text.front() == '{') {
            ErrorBody inner = parse_error_body(std::string(text), 1);
            if (inner.message != std::string(text.substr(0, 300)) || inner.overflow) return inner;
        }
        out.message = std::string(text);
        if (text.find("longer than the context length") != std::string_view::npos ||
            text.find("exceeds the available context size") != std::string_view::npos)
            out.overflow = ContextOverflow{};
        return out;
    }
    simdjson::ondemand::object nested;
    if (err.get_object().get(nested) != simdjson::SUCCESS) return out;
    ContextOverflow o;
    bool overflow = false;
    for (auto field : nested) {
        std::string_view key, type;
        simdjson::ondemand::value v;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS || field.value().get(v) != simdjson::SUCCESS) return out;
        if (key == "message" && v.get_string().get(text) == simdjson::SUCCESS) out.message = std::string(text);
        else if (key == "type" && v.get_string().get(type) == simdjson::SUCCESS) overflow = type == "exceed_context_size_error";
        else if (key == "n_prompt_tokens") (void)read_int(v, o.prompt_tokens);
        else if (key == "n_ctx") (void)read_int(v, o.n_ctx);
    }
    if (overflow) out.overflow = o;
    return out;
}

/// The message inside an error body (see parse_error_body).
inline std::string error_message_from_body(std::string_view body) { return parse_error_body(body).message; }

/// A DOM element or lookup result as a number (integers convert too); nullopt when missing or
/// not a number.
template <class E>
std::optional<double> dom_double(E e) {
    double d = 0;
    if (e.get_double().get(d) == simdjson::SUCCESS) return d;
    return std::nullopt;
}

/// A DOM element or lookup result as a whole number: integers as they are, other numbers when
/// int64 holds them; a missing field, another type or an out-of-range number reads as nullopt.
template <class E>
std::optional<std::int64_t> dom_int64(E e) {
    std::int64_t i = 0;
    double d = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS) return i;
    if (e.get_double().get(d) == simdjson::SUCCESS) return to_int64(d);
    return std::nullopt;
}

}  // namespace llmbench::detail
