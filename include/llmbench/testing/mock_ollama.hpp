// llmbench/testing/mock_ollama.hpp - an in-process Ollama server for tests and demos.
//
// Speaks Ollama's native API as captured from a real v0.5.12 server: chunked NDJSON with
// the same field order, nanosecond durations measured from its own sleeps, real per-token
// delays, the metadata endpoints, and scripted faults. (cpp-httplib adds a Keep-Alive
// header that Ollama does not send; bodies and the other headers match.) It records when it wrote every
// chunk, so tests can check the client's clock against ground truth. Its numbers say
// nothing about any real model.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>
#include <simdjson.h>

#include "llmbench/detail/json_parse.hpp"
#include "llmbench/detail/utc_time.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/testing/loopback_server.hpp"
#include "llmbench/client/ollama_client.hpp"  // detail::same_model: one rule for model tags

namespace llmbench::testing {

/// What goes wrong with one generate/chat request (see MockOllama::script).
enum class MockFault {
    none,
    http_500,          ///< HTTP 500 with an error body, before any stream byte
    error_mid_stream,  ///< {"error":...} line after some tokens, then the stream ends
    eof_without_done,  ///< the stream ends cleanly after some tokens, no done:true (Ollama 0.5.12 repeat abort)
    drip_one_byte,     ///< the whole stream, one byte per HTTP chunk
    stall,             ///< silence for `stall_for` after some tokens, then the rest
    giant_final_line,  ///< the final line carries a `context` array of `giant_line_bytes`
    invalid_utf8,      ///< one token's text holds bytes that are not UTF-8
    malformed_json,    ///< a truncated JSON object line after some tokens
    short_reply,       ///< the "model" stops by itself (done_reason "stop") after some tokens
};

/// Which Ollama the mock behaves like.
enum class MockGeneration {
    ollama_0_5,   ///< 0.5.12, as the captures in fixtures/real-servers/*.txt
    ollama_0_33,  ///< 0.33 (llama-server underneath): durations in whole microseconds, and
                  ///< prompt_eval_cached_count on a cache hit (omitted when 0, like every metric)
};

struct MockConfig {
    MockGeneration generation = MockGeneration::ollama_0_5;
    std::vector<std::string> models{"llama3.1:8b"};
    std::string version = "0.5.12";
    std::chrono::microseconds load_delay{0};         ///< first request for a model that is not loaded
    std::chrono::microseconds first_token_delay{0};  ///< fixed part of the prefill
    std::chrono::microseconds prefill_per_token{0};  ///< per evaluated prompt token
    std::chrono::microseconds token_delay{0};        ///< between two generated tokens
    int natural_tokens = 32;   ///< where the "model" stops by itself ("stop"); num_predict may cut it first
    bool prompt_cache = true;  ///< a repeat of the slot's last prompt evaluates one token
    bool cache_hit_counts_new_tokens_only = false;  ///< as Ollama <= 0.1.48 and 0.30.0 (count shrinks)
    /// llama-server's prefix reuse (Ollama 0.30+ runs it): the longest common prefix with the
    /// slot's previous prompt is not evaluated again and is reported as cached (whole tokens of
    /// the mock's tokenizer, the template overhead with them). Off: only an identical prompt hits.
    bool prefix_reuse = false;
    int fault_after_tokens = 3;
    std::chrono::milliseconds stall_for{2000};
    std::size_t giant_line_bytes = std::size_t{17} << 20;
    /// Requests kept in the log (0: all). A soak test sets it, so the log does not grow.
    std::size_t request_log_limit = 0;
    /// When set, the "model" replies with this text (one token per word, with its leading
    /// space) and stops there, instead of hash-picked words. Gets the prompt (for chat, the
    /// messages' contents run together).
    std::function<std::string(const std::string& prompt)> responder;
    /// When set, a thinking model: it streams the text this gives for the prompt first, in
    /// `thinking` fields (one token per word, `thinking_token_delay` apart), then the answer;
    /// `think: false` skips it. num_predict caps both together, as in Ollama.
    std::function<std::string(const std::string& prompt)> thinker;
    std::chrono::microseconds thinking_token_delay{0};
    /// When set, the first answer token and its alternatives (a letter model for evals).
    FirstTokenScript first_token;
};

/// Ground truth for one request the mock served.
struct MockRequest {
    using time_point = std::chrono::steady_clock::time_point;
    std::string path, body, model;
    MockFault fault = MockFault::none;
    int status = 200;
    time_point received;
    std::vector<time_point> writes;              ///< just before each write of stream bytes
    std::optional<time_point> first_content_write;  ///< the first chunk with text
    std::int64_t prompt_tokens = 0;
    std::int64_t evaluated_tokens = 0;  ///< of prompt_tokens, those not served from the cache
    bool prompt_cache_hit = false;
    bool cold_load = false;  ///< the model was (re)loaded for this request: load_delay was paid
};

class MockOllama {
public:
    using clock = std::chrono::steady_clock;

    explicit MockOllama(MockConfig config = {}) : config_(std::move(config)) {
        server_.set_tcp_nodelay(true);  // as Go's net/http: no Nagle delay between chunks
        routes();
        listener_.start(server_, "mock Ollama");
    }
    MockOllama(const MockOllama&) = delete;
    MockOllama& operator=(const MockOllama&) = delete;
    ~MockOllama() {
        stopping_ = true;
        listener_.stop();
    }

    int port() const noexcept { return listener_.port(); }

    /// Goes away as a killed server does: streams in flight are cut and new connections are
    /// refused, until come_back() listens on the same port again (a restarted server).
    void go_away() {
        stopping_ = true;
        listener_.stop();
    }
    void come_back() {
        stopping_ = false;
        listener_.restart();
    }

    /// The mock's tokenizer: a template overhead plus one token per four bytes (what it
    /// reports as prompt_eval_count, before any truncation).
    static std::int64_t count_tokens(std::string_view prompt) {
        return 8 + static_cast<std::int64_t>((prompt.size() + 3) / 4);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    Endpoint endpoint() const { return Endpoint{"http", "127.0.0.1", port(), ""}; }

    /// Faults for the next generate/chat requests, one each, in order; later requests are clean.
    void script(std::vector<MockFault> faults) {
        std::lock_guard<std::mutex> lock(mutex_);
        script_.assign(faults.begin(), faults.end());
    }

    /// How many requests arrived so far (all of them, whatever request_log_limit keeps).
    std::size_t requests_served() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return served_;
    }

    /// Every request served so far (the last request_log_limit), with its ground-truth timestamps.
    std::vector<MockRequest> requests() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<MockRequest> out;
        for (const auto& r : log_) out.push_back(*r);
        return out;
    }

    /// The generate/chat requests served so far.
    std::vector<MockRequest> stream_requests() const {
        auto all = requests();
        std::vector<MockRequest> out;
        for (auto& r : all)
            if (r.path == "/api/generate" || r.path == "/api/chat") out.push_back(std::move(r));
        return out;
    }

private:
    struct Parsed {
        std::string model, prompt;
        std::optional<std::string> keep_alive;
        bool stream = true;
        std::optional<std::int64_t> num_predict, num_ctx;
        bool truncate = true;  ///< 0.33: false refuses a prompt over the context (HTTP 400)
        bool think = true;     ///< false: a thinking model answers at once
        std::optional<int> logprobs;  ///< 0.33: logprobs true, with top_logprobs alternatives
    };

    struct Loaded {
        std::int64_t num_ctx = 4096;
        std::string last_prompt;
    };

    // ---- helpers ------------------------------------------------------------------
    static std::string now_rfc3339() {
        const auto now = std::chrono::system_clock::now();
        const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
        const std::time_t t = std::chrono::system_clock::to_time_t(secs);
        const std::tm tm = detail::utc_tm(t);
        char buf[64];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(ns));
        return std::string(buf) + frac;
    }

    static std::string http_date() {
        const std::time_t t = std::time(nullptr);
        const std::tm tm = detail::utc_tm(t);
        char buf[64];
        std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        return buf;
    }

    static void json_reply(httplib::Response& res, int status, const std::string& body) {
        res.status = status;
        res.set_header("Date", http_date());
        res.set_content(body, "application/json; charset=utf-8");
    }

    static std::string error_body(const std::string& message) {
        JsonWriter w;
        w.begin_object().kv("error", message).end_object();
        return w.take();
    }

    static std::int64_t ns_between(clock::time_point a, clock::time_point b) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
    }


    /// Deterministic "model output": words picked by a hash of the prompt.
    static std::string token_text(std::string_view prompt, std::size_t i) {
        static const char* const words[] = {" the", " sky", " is", " blue", " because", " light", " scatters", ",",
                                            " and", " grâce", " мая", " 日本", " model", " tokens", " run", "."};
        std::uint64_t h = 1469598103934665603ull;
        for (char c : prompt) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        h ^= i * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        return words[h % (sizeof words / sizeof *words)];
    }

    bool sleep_for(std::chrono::microseconds d) const {
        const auto until = clock::now() + d;
        while (clock::now() < until) {
            if (stopping_) return false;
            const auto left = until - clock::now();
            std::this_thread::sleep_for(std::min<clock::duration>(left, std::chrono::milliseconds(10)));
        }
        return !stopping_;
    }

    bool has_model(const std::string& name) const {
        for (const auto& m : config_.models)
            if (detail::same_model(m, name)) return true;
        return false;
    }

    static Parsed parse_request(const std::string& body, bool chat) {
        Parsed p;
        int top_logprobs = 0;
        detail::for_each_field(body, [&](std::string_view key, simdjson::ondemand::value& value) {
            if (key == "model") {
                p.model = std::string(value.get_string().value());
            } else if (key == "prompt" && !chat) {
                p.prompt = std::string(value.get_string().value());
            } else if (key == "messages" && chat) {
                for (auto message : value.get_array()) {
                    for (auto mf : message.get_object()) {
                        if (mf.unescaped_key().value() == "content") p.prompt += std::string(mf.value().get_string().value());
                    }
                }
            } else if (key == "stream") {
                p.stream = value.get_bool().value();
            } else if (key == "truncate") {
                p.truncate = value.get_bool().value();
            } else if (key == "think") {
                bool on = true;
                if (value.get_bool().get(on) == simdjson::SUCCESS) p.think = on;  // else "low", "medium", "high": thinks
            } else if (key == "logprobs") {
                if (value.get_bool().value() && !p.logprobs) p.logprobs = 0;
            } else if (key == "top_logprobs") {
                top_logprobs = static_cast<int>(value.get_int64().value());
            } else if (key == "keep_alive") {
                p.keep_alive = std::string(detail::trim(value.raw_json_token(), " \t\r\n"));
            } else if (key == "options") {
                for (auto option : value.get_object()) {
                    const std::string_view name = option.unescaped_key().value();
                    if (name == "num_predict") p.num_predict = option.value().get_int64().value();
                    else if (name == "num_ctx") p.num_ctx = option.value().get_int64().value();
                }
            }
        });
        if (p.logprobs) p.logprobs = top_logprobs;
        return p;
    }

    std::shared_ptr<MockRequest> log_request(const httplib::Request& req, clock::time_point received) {
        std::lock_guard<std::mutex> lock(mutex_);
        ++served_;
        log_.push_back(std::make_shared<MockRequest>());
        if (config_.request_log_limit > 0 && log_.size() > config_.request_log_limit) log_.pop_front();
        std::shared_ptr<MockRequest> r = log_.back();
        r->path = req.path;
        r->body = req.body;
        r->received = received;
        return r;
    }

    // ---- routes -------------------------------------------------------------------
    void routes() {
        server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
            res.set_header("Date", http_date());
            res.set_content("Ollama is running", "text/plain; charset=utf-8");
        });
        server_.Get("/api/version", [this](const httplib::Request& req, httplib::Response& res) {
            log_request(req, clock::now());
            JsonWriter w;
            w.begin_object().kv("version", config_.version).end_object();
            json_reply(res, 200, w.str());
        });
        server_.Get("/api/tags", [this](const httplib::Request& req, httplib::Response& res) {
            log_request(req, clock::now());
            JsonWriter w;
            w.begin_object().key("models").begin_array();
            for (const auto& m : config_.models) {
                w.begin_object().kv("name", m).kv("model", m).kv("modified_at", "2026-11-27T17:56:43.585714612Z");
                w.kv("size", std::int64_t{4920753328}).kv("digest", digest_of(m));
                write_details(w);
                w.end_object();
            }
            w.end_array().end_object();
            json_reply(res, 200, w.str());
        });
        server_.Post("/api/show", [this](const httplib::Request& req, httplib::Response& res) {
            log_request(req, clock::now());
            std::string model;
            try {
                detail::for_each_field(req.body, [&](std::string_view key, simdjson::ondemand::value& value) {
                    if (key == "model" || key == "name") model = std::string(value.get_string().value());
                });
            } catch (const simdjson::simdjson_error& e) {
                return json_reply(res, 400, error_body(e.what()));
            }
            if (!has_model(model)) return json_reply(res, 404, error_body("model '" + model + "' not found"));
            JsonWriter w;
            w.begin_object().kv("modelfile", "# mock").kv("parameters", "").kv("template", "{{ .Prompt }}");
            write_details(w);
            w.key("model_info")
                .begin_object()
                .kv("general.architecture", "llama")
                .kv("general.file_type", 15)
                .kv("general.parameter_count", std::int64_t{8030261248})
                .kv("llama.attention.head_count", 32)
                .kv("llama.attention.head_count_kv", 8)
                .kv("llama.block_count", 32)
                .kv("llama.context_length", 131072)
                .kv("llama.embedding_length", 4096)
                .kv("llama.vocab_size", 128256)
                .end_object();
            w.kv("modified_at", "2026-11-27T17:56:43.585714612Z").end_object();
            json_reply(res, 200, w.str());
        });
        server_.Get("/api/ps", [this](const httplib::Request& req, httplib::Response& res) {
            log_request(req, clock::now());
            JsonWriter w;
            w.begin_object().key("models").begin_array();
            {
                std::lock_guard<std::mutex> lock(mutex_);
                for (const auto& [name, loaded] : loaded_) {
                    w.begin_object().kv("name", name).kv("model", name).kv("size", std::int64_t{6654289920});
                    w.kv("digest", digest_of(name));
                    write_details(w);
                    w.kv("expires_at", "2026-11-27T18:01:56.416959388Z")
                        .kv("size_vram", std::int64_t{6654289920})
                        .kv("context_length", loaded.num_ctx)
                        .end_object();
                }
            }
            w.end_array().end_object();
            json_reply(res, 200, w.str());
        });
        server_.Post("/api/generate",
                     [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, false); });
        server_.Post("/api/chat", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, true); });
    }

    static std::string digest_of(const std::string& model) {
        std::string hex;
        std::uint64_t h = 1469598103934665603ull;
        for (char c : model) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        static constexpr char digits[] = "0123456789abcdef";
        for (int i = 0; i < 64; ++i) {
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            hex.push_back(digits[(h >> 60) & 0xF]);
        }
        return hex;
    }

    static void write_details(JsonWriter& w) {
        w.key("details")
            .begin_object()
            .kv("parent_model", "")
            .kv("format", "gguf")
            .kv("family", "llama")
            .key("families")
            .begin_array()
            .value("llama")
            .end_array()
            .kv("parameter_size", "8.0B")
            .kv("quantization_level", "Q4_K_M")
            .end_object();
    }

    // ---- generate / chat --------------------------------------------------------------
    struct Stream {
        bool chat = false;
        std::string model, prompt;
        MockFault fault = MockFault::none;
        int tokens = 0;
        const char* done_reason = "stop";
        std::int64_t prompt_tokens = 0, cached_tokens = 0, load_ns = 0, prompt_ns = 0;
        clock::time_point entry, first_token, last_token;
        int next = 0;  // index of the next token to write
        bool done = false;
        std::shared_ptr<MockRequest> log;  // shared: the log may drop it while the stream runs
        std::vector<std::string> scripted;  // the responder's reply, split into tokens
        std::vector<std::string> thinking;  // thought before the answer, split into tokens
        std::size_t next_thought = 0;
        std::optional<int> logprobs;  // 0.33, asked for: each chunk carries its token's logprobs
        std::vector<TokenLogprob> first_alternatives;  // MockConfig::first_token's, for this prompt

        std::string token(std::size_t i) const {
            if (i == 0 && !first_alternatives.empty()) return first_alternatives.front().token;
            return scripted.empty() ? token_text(prompt, i) : scripted[i];
        }
    };

    void generate(const httplib::Request& req, httplib::Response& res, bool chat) {
        const auto entry = clock::now();
        const std::shared_ptr<MockRequest> log = log_request(req, entry);
        Parsed p;
        try {
            p = parse_request(req.body, chat);
        } catch (const simdjson::simdjson_error& e) {
            log->status = 400;
            return json_reply(res, 400, error_body(e.what()));
        }
        log->model = p.model;
        if (!has_model(p.model)) {
            log->status = 404;
            // Ollama names the model with its tag in generate/chat errors (0.5.12 wording).
            const std::string tagged = p.model.find(':') == std::string::npos ? p.model + ":latest" : p.model;
            return json_reply(res, 404, error_body(chat ? "model \"" + tagged + "\" not found, try pulling it first"
                                                        : "model '" + tagged + "' not found"));
        }
        MockFault fault = MockFault::none;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!script_.empty() && !(p.prompt.empty() && !chat)) {
                fault = script_.front();
                script_.pop_front();
            }
        }
        log->fault = fault;
        if (fault == MockFault::http_500) {
            log->status = 500;
            return json_reply(res, 500, error_body("model runner has unexpectedly stopped, this may be due to resource "
                                                   "limitations or an internal error, check ollama server logs for details"));
        }

        // Load (cold) or reuse (warm) the model.
        bool cold = false, cache_hit = false;
        std::size_t common_bytes = 0;  // shared with the slot's previous prompt
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = loaded_.find(p.model);
            const std::int64_t num_ctx = p.num_ctx.value_or(4096);
            cold = it == loaded_.end() || it->second.num_ctx != num_ctx;
            if (cold) loaded_[p.model] = Loaded{num_ctx, {}};
            log->cold_load = cold;
            auto& slot = loaded_[p.model];
            cache_hit = config_.prompt_cache && !p.prompt.empty() && slot.last_prompt == p.prompt;
            if (config_.prompt_cache && config_.prefix_reuse)
                common_bytes = static_cast<std::size_t>(
                    std::mismatch(p.prompt.begin(), p.prompt.begin() + static_cast<std::ptrdiff_t>(std::min(p.prompt.size(), slot.last_prompt.size())),
                                  slot.last_prompt.begin()).first - p.prompt.begin());
            slot.last_prompt = p.prompt;
        }
        if (cold && !sleep_for(config_.load_delay)) return;
        const auto loaded_at = clock::now();
        const bool unload_after = p.keep_alive && (*p.keep_alive == "0" || *p.keep_alive == "\"0\"" ||
                                                   *p.keep_alive == "\"0s\"" || *p.keep_alive == "\"0m\"");

        if (p.prompt.empty() && !chat) {  // load / unload request: one object, no stream
            if (unload_after) {
                std::lock_guard<std::mutex> lock(mutex_);
                loaded_.erase(p.model);
            }
            JsonWriter w;
            w.begin_object().kv("model", p.model).kv("created_at", now_rfc3339()).kv("response", "").kv("done", true);
            w.kv("done_reason", unload_after ? "unload" : "load").end_object();
            return json_reply(res, 200, w.str());
        }

        auto s = std::make_shared<Stream>();
        s->chat = chat;
        s->model = p.model;
        s->prompt = p.prompt;
        s->fault = fault;
        s->entry = entry;
        s->log = log;
        s->load_ns = ns_between(entry, loaded_at);
        s->prompt_tokens = count_tokens(p.prompt);
        // A prompt over the context is cut silently, keeping half the window (ollama #17427),
        // unless 0.33 is told truncate:false: then llama-server's error, inside Ollama's.
        const std::int64_t num_ctx = p.num_ctx.value_or(4096);
        if (s->prompt_tokens >= num_ctx && !p.truncate && config_.generation == MockGeneration::ollama_0_33) {
            log->status = 400;
            JsonWriter inner;
            inner.begin_object().key("error").begin_object().kv("code", 400);
            inner.kv("message", "request (" + std::to_string(s->prompt_tokens) + " tokens) exceeds the available context size (" +
                                    std::to_string(num_ctx) + " tokens), try increasing it");
            inner.kv("type", "exceed_context_size_error").kv("n_prompt_tokens", s->prompt_tokens).kv("n_ctx", num_ctx);
            inner.end_object().end_object();
            return json_reply(res, 400, error_body(inner.take()));
        }
        if (s->prompt_tokens >= num_ctx) s->prompt_tokens = num_ctx / 2;
        const std::int64_t reused = common_bytes == 0 ? 0 : std::min<std::int64_t>(s->prompt_tokens - 1, 8 + static_cast<std::int64_t>(common_bytes / 4));
        const std::int64_t evaluated = cache_hit ? 1 : s->prompt_tokens - reused;  // at least the last token, as llama-server
        s->cached_tokens = s->prompt_tokens - evaluated;
        if (cache_hit && config_.cache_hit_counts_new_tokens_only) s->prompt_tokens = 1;
        s->tokens = fault == MockFault::short_reply ? config_.fault_after_tokens : config_.natural_tokens;
        if (config_.responder) {
            s->scripted = detail::mock_tokens(config_.responder(p.prompt));
            s->tokens = static_cast<int>(s->scripted.size());
        }
        if (config_.first_token) s->first_alternatives = config_.first_token(p.prompt);
        if (config_.thinker && p.think) s->thinking = detail::mock_tokens(config_.thinker(p.prompt));
        if (p.num_predict && *p.num_predict >= 0 && static_cast<std::size_t>(*p.num_predict) < s->thinking.size())
            s->thinking.resize(static_cast<std::size_t>(*p.num_predict));
        const int thought = static_cast<int>(s->thinking.size());
        if (p.num_predict && *p.num_predict >= 0 && *p.num_predict - thought <= s->tokens) {
            s->tokens = static_cast<int>(*p.num_predict) - thought;
            s->done_reason = "length";
        }
        log->prompt_tokens = s->prompt_tokens;
        log->prompt_cache_hit = cache_hit || reused > 0;
        log->evaluated_tokens = evaluated;
        if (config_.generation == MockGeneration::ollama_0_33) s->logprobs = p.logprobs;

        // Prefill: Ollama sends nothing (not even headers) until the first token.
        if (!sleep_for(config_.first_token_delay + config_.prefill_per_token * evaluated)) return;
        s->first_token = clock::now();
        s->prompt_ns = ns_between(loaded_at, s->first_token);
        if (unload_after) {
            std::lock_guard<std::mutex> lock(mutex_);
            loaded_.erase(p.model);
        }

        if (!p.stream) {
            std::string text;
            for (int i = 0; i < s->tokens; ++i) {
                if (i > 0 && !sleep_for(config_.token_delay)) return;
                text += s->token(static_cast<std::size_t>(i));
            }
            return json_reply(res, 200, final_line(*s, text, clock::now()));
        }
        res.set_header("Date", http_date());
        res.set_chunked_content_provider("application/x-ndjson",
                                         [this, s](std::size_t, httplib::DataSink& sink) { return provide(*s, sink); });
    }

    bool write(Stream& s, httplib::DataSink& sink, const std::string& bytes, bool content) {
        const auto t = clock::now();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            s.log->writes.push_back(t);
            if (content && !s.log->first_content_write) s.log->first_content_write = t;
        }
        if (s.fault != MockFault::drip_one_byte) return sink.write(bytes.data(), bytes.size());
        for (char c : bytes)
            if (!sink.write(&c, 1)) return false;
        return true;
    }

    /// Generated token number `index`: `text` of the answer, or of the thinking when `thinking`
    /// (Ollama then sends an empty answer beside it).
    std::string chunk_line(const Stream& s, std::string_view text, std::size_t index, bool thinking = false) const {
        static const std::vector<TokenLogprob> none;
        const bool first_answer = !thinking && index == s.thinking.size();
        JsonWriter w;
        w.begin_object().kv("model", s.model).kv("created_at", now_rfc3339());
        if (s.chat) {
            w.key("message").begin_object().kv("role", "assistant").kv("content", thinking ? std::string_view() : text);
            if (thinking) w.kv("thinking", text);
            w.end_object();
        } else {
            w.kv("response", thinking ? std::string_view() : text);
            if (thinking) w.kv("thinking", text);
        }
        w.kv("done", false);
        if (s.logprobs) {
            w.key("logprobs").begin_array();
            detail::write_mock_logprob(w, std::string(text), index, *s.logprobs, false, first_answer ? s.first_alternatives : none);
            w.end_array();
        }
        w.end_object();
        return w.take() + "\n";
    }

    std::string final_line(const Stream& s, std::string_view text, clock::time_point last_token) const {
        const auto now = clock::now();
        JsonWriter w;
        w.begin_object().kv("model", s.model).kv("created_at", now_rfc3339());
        if (s.chat) {
            w.key("message").begin_object().kv("role", "assistant").kv("content", text).end_object();
            w.kv("done_reason", s.done_reason).kv("done", true);
        } else {
            w.kv("response", text).kv("done", true).kv("done_reason", s.done_reason);
            w.key("context").begin_array();
            const std::size_t target = s.fault == MockFault::giant_final_line ? config_.giant_line_bytes : 0;
            std::size_t written = 0;
            for (int i = 0; i < 16 || written < target; ++i) {
                w.value(128000 + i % 256);
                written += 7;
            }
            w.end_array();
        }
        // Ollama omits zero-valued metrics; 0.33 has llama-server's milliseconds with three
        // decimals underneath, so its durations are whole microseconds.
        const bool v0_33 = config_.generation == MockGeneration::ollama_0_33;
        auto put = [&w](const char* name, std::int64_t v) {
            if (v != 0) w.kv(name, v);
        };
        auto duration = [v0_33](std::int64_t ns) { return v0_33 ? ns / 1000 * 1000 : ns; };
        put("total_duration", ns_between(s.entry, now));
        put("load_duration", s.load_ns);
        put("prompt_eval_count", s.prompt_tokens);
        put("prompt_eval_duration", duration(s.prompt_ns));
        put("eval_count", s.tokens + static_cast<std::int64_t>(s.thinking.size()));
        put("eval_duration", s.tokens > 0 || !s.thinking.empty() ? duration(ns_between(s.first_token, last_token)) : 0);
        if (v0_33) put("prompt_eval_cached_count", s.cached_tokens);
        w.end_object();
        return w.take();
    }

    bool provide(Stream& s, httplib::DataSink& sink) {
        if (s.done) return false;
        const int fault_at = config_.fault_after_tokens;
        if (s.next_thought < s.thinking.size()) {
            if (s.next_thought > 0 && !sleep_for(config_.thinking_token_delay)) return false;
            s.last_token = clock::now();
            const std::size_t index = s.next_thought++;
            return write(s, sink, chunk_line(s, s.thinking[index], index, true), false);
        }
        if (s.next < s.tokens) {
            const int i = s.next;
            if ((i > 0 || !s.thinking.empty()) && !sleep_for(config_.token_delay)) return false;
            if (i == fault_at) {
                switch (s.fault) {
                    case MockFault::error_mid_stream:
                        write(s, sink, "{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n", false);
                        s.done = true;
                        sink.done();
                        return true;
                    case MockFault::eof_without_done:
                        s.done = true;
                        sink.done();
                        return true;
                    case MockFault::malformed_json:
                        write(s, sink, "{\"model\":\"" + s.model + "\",\"response\":\"cut\",\n", false);
                        break;
                    case MockFault::stall:
                        if (!sleep_for(config_.stall_for)) return false;
                        break;
                    default: break;
                }
            }
            std::string text = s.token(static_cast<std::size_t>(i));
            const bool invalid = s.fault == MockFault::invalid_utf8 && i == fault_at;
            if (invalid) text = " @invalid-utf8@";  // the JSON writer would make the bytes valid: spliced in after it
            s.next = i + 1;
            s.last_token = clock::now();
            std::string line = chunk_line(s, text, s.thinking.size() + static_cast<std::size_t>(i));
            for (std::size_t at; invalid && (at = line.find("@invalid-utf8@")) != std::string::npos;) line.replace(at, 14, "\xff\xfe");
            return write(s, sink, line, true);
        }
        s.done = true;
        const auto last = s.tokens > 0 || !s.thinking.empty() ? s.last_token : s.first_token;
        if (!write(s, sink, final_line(s, "", last) + "\n", false)) return false;
        sink.done();
        return true;
    }

    MockConfig config_;
    httplib::Server server_;
    detail::LoopbackServer listener_;  // after server_: stops it before it is destroyed
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::deque<MockFault> script_;
    std::deque<std::shared_ptr<MockRequest>> log_;
    std::size_t served_ = 0;
    std::map<std::string, Loaded> loaded_;
};

}  // namespace llmbench::testing
