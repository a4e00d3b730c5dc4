// llmbench/testing/mock_openai.hpp - an in-process OpenAI-compatible server for tests and demos.
//
// Streams /v1/chat/completions and /v1/completions as SSE in one of four flavours, each
// shaped like the real server in ../shared/fixtures/real-servers and protocols.md §3:
//  - openai:   content chunks, a finish chunk, a `choices: []` usage chunk, [DONE];
//  - ollama:   the role on every chunk, an empty-content finish chunk, a usage chunk, [DONE];
//  - llamacpp: `content: null` first, usage and `timings` (ms) on the finish chunk, [DONE];
//  - vllm:     like openai, and a failure is an error event followed by [DONE].
// The same fault catalogue as MockOllama. Real per-token delays; its numbers say nothing about
// any model. Each request's arrival and first content write are logged (ground truth for the
// client's timestamps).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <simdjson.h>

#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/testing/fiber_http_server.hpp"
#include "llmbench/testing/loopback_server.hpp"

namespace llmbench::testing {

enum class OpenAIFlavour { openai, ollama, llamacpp, vllm };

enum class OpenAIFault {
    none,
    http_500,           ///< an error body before any stream byte
    error_mid_stream,   ///< an error event after a few tokens (vLLM: then [DONE])
    eof_without_finish, ///< the connection ends after a few tokens: no finish_reason, no [DONE]
    no_usage,           ///< the server sends no usage at all
    drip_one_byte,      ///< the whole stream, one byte per HTTP chunk
    stall,              ///< silence for `stall_for` after some tokens, then the rest
    giant_final_line,   ///< the finish event carries `giant_line_bytes` of logprobs
    invalid_utf8,       ///< one token's text holds bytes that are not UTF-8
    malformed_json,     ///< an event whose JSON is cut off, after some tokens
};

struct MockOpenAIConfig {
    OpenAIFlavour flavour = OpenAIFlavour::openai;
    std::string model = "mock-model";
    int tokens = 16;  ///< the reply's length when max_tokens does not cut it
    std::chrono::microseconds first_token_delay{0};
    std::chrono::microseconds token_delay{0};
    /// When > 0, every stream holds its first token until this many are in flight at once (or
    /// `hold_for` has passed, once): a load test's ground truth that they ran together, which
    /// a busy machine cannot break and a client that serializes them still fails.
    int hold_until_in_flight = 0;
    std::chrono::milliseconds hold_for{30000};
    int fault_after_tokens = 3;
    int slots = 0;  ///< streams served at once (llama.cpp --parallel); others wait. 0: no limit
    /// Connections served at once: cpp-httplib's default pool is 8 threads, so a load test with
    /// more streams needs more (0: the default).
    int server_threads = 0;
    /// When > 0 (Linux), connections are served by fibers on this many event-loop threads
    /// instead of a cpp-httplib thread each (fiber_http_server.hpp): for thousands of streams.
    /// Not with `slots`, which waits on a condition variable.
    int event_loop_threads = 0;
    std::chrono::milliseconds stall_for{2000};
    std::size_t giant_line_bytes = std::size_t{17} << 20;
    /// When set, a thinking model on chat: this text streams first as `reasoning_content`
    /// deltas (one token per word, `thinking_token_delay` apart), then the answer;
    /// `reasoning_effort: "none"` or `chat_template_kwargs.enable_thinking: false` skips it.
    /// The openai flavour counts it in usage.completion_tokens_details.reasoning_tokens.
    std::string thinking;
    std::chrono::microseconds thinking_token_delay{0};
    /// llamacpp flavour: GET /metrics answers Prometheus counters, as `llama-server --metrics`
    /// does; false answers HTTP 501, as it does without the flag.
    bool metrics = true;
    /// When set, the first answer token and its alternatives (a letter model for evals).
    FirstTokenScript first_token;
    /// llamacpp flavour: llama-server's prefix reuse. The longest common prefix with the
    /// previous prompt (whole tokens of the mock's tokenizer, the template overhead with them;
    /// at least one token is evaluated) is reported as cached: timings.cache_n, and
    /// usage.prompt_tokens_details.cached_tokens, as b10587 sends them.
    bool prefix_reuse = false;
};

/// Ground truth for one request the mock received.
struct MockOpenAIRequest {
    using time_point = std::chrono::steady_clock::time_point;
    std::string body;
    time_point received;
    std::optional<time_point> first_content_write;  ///< just before the first content event was written
};

class MockOpenAI {
public:
    explicit MockOpenAI(MockOpenAIConfig config = {}) : config_(std::move(config)) {
        if (config_.event_loop_threads > 0) {
#if LLMBENCH_HAS_FIBER_LOOP
            if (config_.slots > 0) throw error(errc::usage, "mock OpenAI: slots wait on a condition variable, which would stop an event loop");
            add_routes([this](const char* method, const char* path, detail::FiberHttpServer::Handler h) { fiber_server_.route(method, path, std::move(h)); });
            fiber_server_.start(config_.event_loop_threads, "mock OpenAI");
            return;
#else
            throw error(errc::usage, "mock OpenAI: an event-loop server needs Linux");
#endif
        }
        server_.set_tcp_nodelay(true);
        if (config_.server_threads > 0)
            server_.new_task_queue = [n = static_cast<std::size_t>(config_.server_threads)] { return new httplib::ThreadPool(n); };
        add_routes([this](const char* method, const char* path, httplib::Server::Handler h) {
            if (std::string(method) == "POST") server_.Post(path, std::move(h));
            else server_.Get(path, std::move(h));
        });
        listener_.start(server_, "mock OpenAI");
    }
    MockOpenAI(const MockOpenAI&) = delete;
    MockOpenAI& operator=(const MockOpenAI&) = delete;
    ~MockOpenAI() {
        stopping_ = true;
        slot_cv_.notify_all();
        listener_.stop();
#if LLMBENCH_HAS_FIBER_LOOP
        fiber_server_.stop();
#endif
    }

    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    int port() const noexcept {
#if LLMBENCH_HAS_FIBER_LOOP
        if (config_.event_loop_threads > 0) return fiber_server_.port();
#endif
        return listener_.port();
    }

private:
    /// Every route, given to `add(method, path, handler)`: the same for either server.
    template <class Add>
    void add_routes(Add&& add) {
        add("POST", "/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res, true); });
        add("POST", "/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res, false); });
        add("GET", "/v1/models", [this](const httplib::Request&, httplib::Response& res) {
            JsonWriter w;
            w.begin_object().kv("object", "list").key("data").begin_array();
            w.begin_object().kv("id", config_.model).kv("object", "model");
            if (config_.flavour == OpenAIFlavour::llamacpp)  // b10587's meta: the served model's file
                w.key("meta").begin_object().kv("vocab_type", true).kv("n_vocab", 32000).kv("n_ctx", 4096).kv("n_ctx_train", 8192)
                    .kv("n_embd", 256).kv("n_params", 19825216).kv("size", 39651584).kv("ftype", "F16").end_object();
            res.set_content(w.end_object().end_array().end_object().take(), "application/json");
        });
        if (config_.flavour == OpenAIFlavour::llamacpp) {
            add("GET", "/props", [this](const httplib::Request&, httplib::Response& res) { res.set_content(props_json(), "application/json"); });
            add("GET", "/metrics", [this](const httplib::Request&, httplib::Response& res) {
                if (!config_.metrics) {
                    res.status = 501;
                    res.set_content(R"({"error":{"code":501,"message":"This server does not support metrics endpoint. Start it with `--metrics`","type":"not_supported_error"}})",
                                    "application/json; charset=utf-8");
                    return;
                }
                res.set_content(metrics_text(), "text/plain; version=0.0.4");
            });
        }
        add("GET", "/health", [](const httplib::Request&, httplib::Response& res) { res.set_content(R"({"status":"ok"})", "application/json"); });
    }

public:

    /// Faults for the next requests, one each, in order.
    void script(std::vector<OpenAIFault> faults) {
        std::lock_guard<std::mutex> lock(mutex_);
        script_.assign(faults.begin(), faults.end());
    }
    /// Request bodies received so far.
    std::vector<std::string> bodies() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<std::string> out;
        for (const auto& r : requests_) out.push_back(r.body);
        return out;
    }
    /// Every request received so far, in arrival order (a copy).
    std::vector<MockOpenAIRequest> requests() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }
    /// Streams being served right now, and the most at once.
    int in_flight() const noexcept { return in_flight_; }
    int peak_in_flight() const noexcept { return peak_in_flight_; }

private:
    /// What llama-server's /props says, in b10587's shape (the fields llmbench reads and a few more).
    std::string props_json() const {
        JsonWriter w;
        w.begin_object().key("default_generation_settings").begin_object().key("params").begin_object();
        w.kv("seed", 4294967295LL).kv("temperature", 0.8).kv("top_k", 40).kv("top_p", 0.95).kv("min_p", 0.05).kv("repeat_last_n", 64);
        w.kv("repeat_penalty", 1.0).kv("n_predict", -1).kv("stream", false).key("samplers").begin_array().value("top_k").value("temperature").end_array();
        w.end_object().kv("n_ctx", 4096).end_object();
        w.kv("total_slots", config_.slots > 0 ? config_.slots : 1).kv("model_alias", config_.model).kv("model_ftype", "F16");
        w.kv("model_path", "/models/" + config_.model + ".gguf");
        w.kv("chat_template", "{% for message in messages %}{{ message['role'] + ': ' + message['content'] }}{% endfor %}");
        return w.kv("build_info", "b10587-3f545becc").end_object().take();
    }

    /// The counters `llama-server --metrics` keeps, over every stream this mock finished.
    std::string metrics_text() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string out;
        const auto counter = [&out](const char* name, const char* help, double v) {
            char value[64];
            std::snprintf(value, sizeof value, "%.9g", v);
            out += std::string("# HELP llamacpp:") + name + " " + help + "\n# TYPE llamacpp:" + name + " counter\nllamacpp:" + name + " " + value + "\n";
        };
        counter("prompt_tokens_total", "Number of prompt tokens processed, excluding cached tokens", static_cast<double>(totals_.prompt_tokens));
        counter("prompt_tokens_cached_total", "Number of prompt tokens reused from the cache", static_cast<double>(totals_.cached_tokens));
        counter("prompt_seconds_total", "Total time spent processing prompts", totals_.prompt_seconds);
        counter("tokens_predicted_total", "Number of generation tokens processed", static_cast<double>(totals_.predicted));
        counter("tokens_predicted_seconds_total", "Total time spent generating tokens", totals_.predicted_seconds);
        out += "# HELP llamacpp:requests_processing Number of requests processing\n# TYPE llamacpp:requests_processing gauge\n";
        out += "llamacpp:requests_processing " + std::to_string(in_flight_.load()) + "\n";
        return out;
    }

    struct Stream {
        bool chat = true;
        OpenAIFault fault = OpenAIFault::none;
        int tokens = 0;
        std::string finish = "stop";
        int next = 0;
        int prompt_tokens = 12;
        int cached_tokens = 0;  ///< of prompt_tokens, reused from the previous prompt (prefix_reuse)
        std::vector<std::string> thinking;
        std::size_t next_thought = 0;
        std::size_t log_index = 0;
        bool logged_first_content = false;
        std::optional<int> logprobs;  ///< asked for, with this many alternatives
        std::vector<TokenLogprob> first_alternatives;  ///< MockOpenAIConfig::first_token's, for this prompt
    };

    void serve(const httplib::Request& req, httplib::Response& res, bool chat) {
        auto s = std::make_shared<Stream>();
        s->chat = chat;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            s->log_index = requests_.size();
            requests_.push_back({req.body, std::chrono::steady_clock::now(), std::nullopt});
            if (!script_.empty()) {
                s->fault = script_.front();
                script_.pop_front();
            }
        }
        s->tokens = config_.tokens;
        simdjson::dom::parser parser;
        std::int64_t max_tokens = 0;
        simdjson::dom::element doc;
        if (parser.parse(req.body).get(doc) == simdjson::SUCCESS) {
            if (doc["max_tokens"].get_int64().get(max_tokens) == simdjson::SUCCESS && max_tokens >= 0 && max_tokens <= s->tokens) {
                s->tokens = static_cast<int>(max_tokens);
                s->finish = "length";
            }
            // Prompt tokens as MockOllama counts them: 8 + a token per 4 characters.
            std::string prompt;  // the messages' contents run together, as MockOllama's responder gets them
            std::string_view text;
            simdjson::dom::array messages;
            if (doc["prompt"].get_string().get(text) == simdjson::SUCCESS) prompt = std::string(text);
            if (doc["messages"].get_array().get(messages) == simdjson::SUCCESS)
                for (auto m : messages)
                    if (m["content"].get_string().get(text) == simdjson::SUCCESS) prompt += text;
            s->prompt_tokens = 8 + static_cast<int>((prompt.size() + 3) / 4);
            if (config_.first_token) s->first_alternatives = config_.first_token(prompt);
            if (config_.prefix_reuse && config_.flavour == OpenAIFlavour::llamacpp) {
                std::lock_guard<std::mutex> lock(mutex_);
                const std::size_t shared = static_cast<std::size_t>(
                    std::mismatch(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(std::min(prompt.size(), last_prompt_.size())),
                                  last_prompt_.begin()).first - prompt.begin());
                if (shared > 0) s->cached_tokens = std::min(s->prompt_tokens - 1, 8 + static_cast<int>(shared / 4));
                last_prompt_ = std::move(prompt);
            }
            std::string_view effort;
            bool enable = true;
            const bool off = (doc["reasoning_effort"].get_string().get(effort) == simdjson::SUCCESS && effort == "none") ||
                             (doc["chat_template_kwargs"]["enable_thinking"].get_bool().get(enable) == simdjson::SUCCESS && !enable);
            if (chat && !off) s->thinking = detail::mock_tokens(config_.thinking);
            // chat: logprobs true + top_logprobs N; completions: logprobs N
            bool wanted = false;
            std::int64_t top = 0;
            if (chat && doc["logprobs"].get_bool().get(wanted) == simdjson::SUCCESS && wanted)
                s->logprobs = doc["top_logprobs"].get_int64().get(top) == simdjson::SUCCESS ? static_cast<int>(top) : 0;
            if (!chat && doc["logprobs"].get_int64().get(top) == simdjson::SUCCESS) s->logprobs = static_cast<int>(top);
        }
        if (s->fault == OpenAIFault::http_500) {
            res.status = 500;
            res.set_content(R"({"error":{"message":"mock: internal error","type":"server_error","code":500}})", "application/json");
            return;
        }
        if (config_.slots > 0) {  // wait for a free slot, as a server with --parallel N does
            std::unique_lock<std::mutex> lock(slot_mutex_);
            slot_cv_.wait(lock, [this] { return busy_slots_ < config_.slots || stopping_; });
            ++busy_slots_;
        }
        const int now = ++in_flight_;
        for (int peak = peak_in_flight_; now > peak && !peak_in_flight_.compare_exchange_weak(peak, now);) {
        }
        if (config_.hold_until_in_flight > 0) {  // released once for all: a stream that looks late still goes
            if (now >= config_.hold_until_in_flight) hold_released_ = true;
            const auto until = std::chrono::steady_clock::now() + config_.hold_for;
            while (!hold_released_ && !stopping_ && std::chrono::steady_clock::now() < until)
                detail::sleep_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(1));  // in a fiber, lets the others in
            hold_released_ = true;  // reached, or waited for in vain: the rest need not wait again
        }
        if (!sleep_for(config_.first_token_delay)) {
            release();
            return;
        }
        res.set_chunked_content_provider(
            "text/event-stream", [this, s](std::size_t, httplib::DataSink& sink) { return provide(*s, sink); },
            [this](bool) { release(); });
    }

    void release() {
        --in_flight_;
        if (config_.slots > 0) {
            {
                std::lock_guard<std::mutex> lock(slot_mutex_);
                --busy_slots_;
            }
            slot_cv_.notify_one();
        }
    }

    bool sleep_for(std::chrono::microseconds d) const {
        const auto until = std::chrono::steady_clock::now() + d;
        while (std::chrono::steady_clock::now() < until) {
            if (stopping_) return false;
            detail::sleep_until(std::min(until, std::chrono::steady_clock::now() + std::chrono::microseconds(2000)));
        }
        return true;
    }

    /// The choice's "logprobs" for generated token number `index`, when asked for: {"content":
    /// [entry]} as llama.cpp and Ollama send it, or on vLLM's and OpenAI's completions the
    /// legacy {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}]}.
    std::string logprobs_json(const Stream& s, const std::string& token, std::size_t index) const {
        if (!s.logprobs) return "";
        static const std::vector<TokenLogprob> none;
        const auto& scripted = index == s.thinking.size() ? s.first_alternatives : none;  // the first answer token
        JsonWriter w;
        const auto flavour = config_.flavour;
        if (!s.chat && (flavour == OpenAIFlavour::vllm || flavour == OpenAIFlavour::openai)) {
            const double logprob = scripted.empty() ? -0.125 * static_cast<double>(1 + index % 8) : scripted.front().logprob;
            w.begin_object().key("tokens").begin_array().value(token).end_array();
            w.key("token_logprobs").begin_array().value(logprob).end_array();
            w.key("top_logprobs").begin_array().begin_object();
            for (int k = 0; k < *s.logprobs; ++k) {
                const auto i = static_cast<std::size_t>(k);
                if (i < scripted.size()) w.kv(scripted[i].token, scripted[i].logprob);
                else w.kv(k == 0 ? token : "<alt" + std::to_string(k) + ">", logprob - 0.5 * k);
            }
            return w.end_object().end_array().end_object().take();
        }
        w.begin_object().key("content").begin_array();
        detail::write_mock_logprob(w, token, index, *s.logprobs, flavour == OpenAIFlavour::llamacpp, scripted);
        return w.end_array().end_object().take();
    }

    std::string chunk(const Stream& s, const std::string& content_json, const std::string& finish_json, bool with_role,
                      const char* content_key = "content", const std::string& logprobs = "") const {
        JsonWriter w;
        w.begin_object().kv("id", "chatcmpl-mock").kv("object", s.chat ? "chat.completion.chunk" : "text_completion");
        w.kv("created", 1795802190).kv("model", config_.model).key("choices").begin_array().begin_object().kv("index", 0);
        if (s.chat) {
            w.key("delta").begin_object();
            if (with_role) w.kv("role", "assistant");
            if (!content_json.empty()) w.key(content_key).raw(content_json);
            w.end_object();
        } else {
            w.key("text").raw(content_json.empty() || content_json == "null" ? "\"\"" : content_json);
        }
        w.key("finish_reason").raw(finish_json);
        if (!logprobs.empty()) w.key("logprobs").raw(logprobs);
        w.end_object().end_array();
        return w.end_object().take();
    }

    bool event(Stream& s, httplib::DataSink& sink, const std::string& json, bool content = false) {
        const std::string bytes = "data: " + json + "\n\n";
        const auto now = std::chrono::steady_clock::now();  // just before the write: no lock in between
        bool ok = true;
        if (s.fault != OpenAIFault::drip_one_byte) ok = sink.write(bytes.data(), bytes.size());
        else
            for (char c : bytes)
                if (ok) ok = sink.write(&c, 1);
        if (content && !s.logged_first_content) {
            s.logged_first_content = true;
            std::lock_guard<std::mutex> lock(mutex_);
            requests_[s.log_index].first_content_write = now;
        }
        return ok;
    }

    bool provide(Stream& s, httplib::DataSink& sink) {
        const auto flavour = config_.flavour;
        if (s.next == 0 && s.next_thought == 0 && flavour == OpenAIFlavour::llamacpp && s.chat &&
            !event(s, sink, chunk(s, "null", "null", true)))
            return false;
        if (s.next_thought < s.thinking.size()) {
            if (s.next_thought > 0 && !sleep_for(config_.thinking_token_delay)) return false;
            const std::size_t index = s.next_thought++;
            JsonWriter word;
            word.value(s.thinking[index]);
            return event(s, sink, chunk(s, word.take(), "null", flavour == OpenAIFlavour::ollama, "reasoning_content",
                                        logprobs_json(s, s.thinking[index], index)));
        }
        if (s.next < s.tokens) {
            if ((s.next > 0 || !s.thinking.empty()) && !sleep_for(config_.token_delay)) return false;
            std::string text = s.next == 0 ? (s.first_alternatives.empty() ? "Hello" : s.first_alternatives.front().token) : " word" + std::to_string(s.next);
            if (s.next == config_.fault_after_tokens) {
                switch (s.fault) {
                    case OpenAIFault::error_mid_stream:
                        event(s, sink, R"({"error":{"message":"mock: generation failed","type":"server_error","code":500}})");
                        if (flavour == OpenAIFlavour::vllm) event(s, sink, "[DONE]");
                        sink.done();
                        return true;
                    case OpenAIFault::eof_without_finish: sink.done(); return true;
                    case OpenAIFault::malformed_json: event(s, sink, R"({"id":"chatcmpl-mock","choices":[{"index":0,"delta":{"content":"cut)"); break;
                    case OpenAIFault::stall:
                        if (!sleep_for(config_.stall_for)) return false;
                        break;
                    case OpenAIFault::invalid_utf8: text = " @invalid-utf8@"; break;  // spliced in after the JSON writer
                    default: break;
                }
            }
            const std::size_t index = s.thinking.size() + static_cast<std::size_t>(s.next++);
            JsonWriter word;
            word.value(text);
            std::string data = chunk(s, word.take(), "null", flavour == OpenAIFlavour::ollama, "content", logprobs_json(s, text, index));
            for (std::size_t at; (at = data.find("@invalid-utf8@")) != std::string::npos;) data.replace(at, 14, "\xff\xfe");
            return event(s, sink, data, true);
        }
        const int generated = s.tokens + static_cast<int>(s.thinking.size());
        {
            std::lock_guard<std::mutex> lock(mutex_);  // what /metrics counts: the timings this stream reports
            totals_.prompt_tokens += s.prompt_tokens - s.cached_tokens;
            totals_.cached_tokens += s.cached_tokens;
            totals_.prompt_seconds += 0.0075;
            totals_.predicted += generated;
            totals_.predicted_seconds += generated * 0.0015;
        }
        std::string usage = R"({"prompt_tokens":)" + std::to_string(s.prompt_tokens) + R"(,"completion_tokens":)" +
                            std::to_string(generated) + R"(,"total_tokens":)" + std::to_string(s.prompt_tokens + generated);
        const bool reuse = config_.prefix_reuse && flavour == OpenAIFlavour::llamacpp;  // b10587 sends both, zeros too
        if (reuse) usage += R"(,"prompt_tokens_details":{"cached_tokens":)" + std::to_string(s.cached_tokens) + "}";
        if (flavour == OpenAIFlavour::openai && !s.thinking.empty())
            usage += R"(,"completion_tokens_details":{"reasoning_tokens":)" + std::to_string(s.thinking.size()) + "}";
        usage += "}";
        std::string finish = chunk(s, flavour == OpenAIFlavour::ollama ? "\"\"" : "", "\"" + s.finish + "\"", flavour == OpenAIFlavour::ollama);
        if (flavour == OpenAIFlavour::llamacpp && s.fault != OpenAIFault::no_usage) {
            finish.pop_back();
            finish += R"(,"usage":)" + usage + R"(,"timings":{)" + (reuse ? R"("cache_n":)" + std::to_string(s.cached_tokens) + "," : std::string()) +
                      R"("prompt_n":)" + std::to_string(s.prompt_tokens - s.cached_tokens) + R"(,"prompt_ms":7.5,"predicted_n":)" + std::to_string(generated) +
                      R"(,"predicted_ms":)" + std::to_string(generated * 1.5) + "}}";
        }
        if (s.fault == OpenAIFault::giant_final_line) {  // as logprobs on the last chunk make it
            finish.pop_back();
            finish += R"(,"logprobs":{"content":[)";
            for (std::size_t i = 0; finish.size() < config_.giant_line_bytes; ++i)
                finish += std::string(i ? "," : "") + R"({"token":" word","logprob":-0.25})";
            finish += "]}}";
        }
        if (!event(s, sink, finish)) return false;
        if (flavour != OpenAIFlavour::llamacpp && s.fault != OpenAIFault::no_usage &&
            !event(s, sink, R"({"id":"chatcmpl-mock","object":"chat.completion.chunk","choices":[],"usage":)" + usage + "}"))
            return false;
        event(s, sink, "[DONE]");
        sink.done();
        return true;
    }

    MockOpenAIConfig config_;
    httplib::Server server_;
    detail::LoopbackServer listener_;  // after server_: stops it before it is destroyed
#if LLMBENCH_HAS_FIBER_LOOP
    detail::FiberHttpServer fiber_server_;
#endif
    std::atomic<bool> stopping_{false};
    std::atomic<int> in_flight_{0}, peak_in_flight_{0};
    std::atomic<bool> hold_released_{false};  ///< hold_until_in_flight was reached, or hold_for passed
    mutable std::mutex mutex_;
    std::mutex slot_mutex_;
    std::condition_variable slot_cv_;
    int busy_slots_ = 0;
    std::deque<OpenAIFault> script_;
    std::vector<MockOpenAIRequest> requests_;
    struct {
        std::int64_t prompt_tokens = 0, cached_tokens = 0, predicted = 0;
        double prompt_seconds = 0, predicted_seconds = 0;
    } totals_;  ///< under mutex_
    std::string last_prompt_;  ///< prefix_reuse: the previous prompt, under mutex_
};

}  // namespace llmbench::testing
