// llmbench/testing/mock_openai.hpp - an in-process OpenAI-compatible server for tests and demos.
//
// Streams /v1/chat/completions and /v1/completions as SSE in one of four flavours, each
// shaped like the real server in ../shared/fixtures/real-servers and protocols.md §3:
//  - openai:   content chunks, a finish chunk, a `choices: []` usage chunk, [DONE];
//  - ollama:   the role on every chunk, an empty-content finish chunk, a usage chunk, [DONE];
//  - llamacpp: `content: null` first, usage and `timings` (ms) on the finish chunk, [DONE];
//  - vllm:     like openai, and a failure is an error event followed by [DONE].
// Faults as in MockOllama. Real per-token delays; its numbers say nothing about any model.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <simdjson.h>

#include "llmbench/endpoint.hpp"
#include "llmbench/error.hpp"
#include "llmbench/json.hpp"

namespace llmbench::testing {

enum class OpenAIFlavour { openai, ollama, llamacpp, vllm };

enum class OpenAIFault {
    none,
    http_500,           ///< an error body before any stream byte
    error_mid_stream,   ///< an error event after a few tokens (vLLM: then [DONE])
    eof_without_finish, ///< the connection ends after a few tokens: no finish_reason, no [DONE]
    no_usage,           ///< the server sends no usage at all
};

struct MockOpenAIConfig {
    OpenAIFlavour flavour = OpenAIFlavour::openai;
    std::string model = "mock-model";
    int tokens = 16;  ///< the reply's length when max_tokens does not cut it
    std::chrono::microseconds first_token_delay{0};
    std::chrono::microseconds token_delay{0};
    int fault_after_tokens = 3;
    int slots = 0;  ///< streams served at once (llama.cpp --parallel); others wait. 0: no limit
};

class MockOpenAI {
public:
    explicit MockOpenAI(MockOpenAIConfig config = {}) : config_(std::move(config)) {
        server_.set_tcp_nodelay(true);
        server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res, true); });
        server_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res, false); });
        server_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
            JsonWriter w;
            w.begin_object().kv("object", "list").key("data").begin_array();
            w.begin_object().kv("id", config_.model).kv("object", "model").end_object();
            res.set_content(w.end_array().end_object().take(), "application/json");
        });
        server_.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content(R"({"status":"ok"})", "application/json"); });
        port_ = server_.bind_to_any_port("127.0.0.1");
        if (port_ <= 0) throw error(errc::io, "mock OpenAI: cannot bind a port on 127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    MockOpenAI(const MockOpenAI&) = delete;
    MockOpenAI& operator=(const MockOpenAI&) = delete;
    ~MockOpenAI() {
        stopping_ = true;
        slot_cv_.notify_all();
        server_.stop();
        if (thread_.joinable()) thread_.join();
    }

    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const noexcept { return port_; }

    /// Faults for the next requests, one each, in order.
    void script(std::vector<OpenAIFault> faults) {
        std::lock_guard<std::mutex> lock(mutex_);
        script_.assign(faults.begin(), faults.end());
    }
    /// Request bodies received so far.
    std::vector<std::string> bodies() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return bodies_;
    }
    /// Streams being served right now, and the most at once.
    int in_flight() const noexcept { return in_flight_; }
    int peak_in_flight() const noexcept { return peak_in_flight_; }

private:
    struct Stream {
        bool chat = true;
        OpenAIFault fault = OpenAIFault::none;
        int tokens = 0;
        std::string finish = "stop";
        int next = 0;
        bool finished = false;
    };

    void serve(const httplib::Request& req, httplib::Response& res, bool chat) {
        auto s = std::make_shared<Stream>();
        s->chat = chat;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            bodies_.push_back(req.body);
            if (!script_.empty()) {
                s->fault = script_.front();
                script_.pop_front();
            }
        }
        s->tokens = config_.tokens;
        simdjson::dom::parser parser;
        std::int64_t max_tokens = 0;
        simdjson::dom::element doc;
        if (parser.parse(req.body).get(doc) == simdjson::SUCCESS && doc["max_tokens"].get_int64().get(max_tokens) == simdjson::SUCCESS &&
            max_tokens >= 0 && max_tokens <= s->tokens) {
            s->tokens = static_cast<int>(max_tokens);
            s->finish = "length";
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
            std::this_thread::sleep_for(std::min<std::chrono::microseconds>(d, std::chrono::microseconds(2000)));
        }
        return true;
    }

    std::string chunk(const Stream& s, const std::string& content_json, const std::string& finish_json, bool with_role) const {
        JsonWriter w;
        w.begin_object().kv("id", "chatcmpl-mock").kv("object", s.chat ? "chat.completion.chunk" : "text_completion");
        w.kv("created", 1795802190).kv("model", config_.model).key("choices").begin_array().begin_object().kv("index", 0);
        if (s.chat) {
            w.key("delta").begin_object();
            if (with_role) w.kv("role", "assistant");
            if (!content_json.empty()) w.key("content").raw(content_json);
            w.end_object();
        } else {
            w.key("text").raw(content_json.empty() || content_json == "null" ? "\"\"" : content_json);
        }
        w.key("finish_reason").raw(finish_json).end_object().end_array();
        return w.end_object().take();
    }

    bool event(httplib::DataSink& sink, const std::string& json) { return sink.write(("data: " + json + "\n\n").data(), json.size() + 8); }

    bool provide(Stream& s, httplib::DataSink& sink) {
        const auto flavour = config_.flavour;
        if (s.next == 0 && flavour == OpenAIFlavour::llamacpp && s.chat && !event(sink, chunk(s, "null", "null", true))) return false;
        if (s.next < s.tokens) {
            const bool faulty = s.fault == OpenAIFault::error_mid_stream || s.fault == OpenAIFault::eof_without_finish;
            if (faulty && s.next == config_.fault_after_tokens) {
                if (s.fault == OpenAIFault::error_mid_stream) {
                    event(sink, R"({"error":{"message":"mock: generation failed","type":"server_error","code":500}})");
                    if (flavour == OpenAIFlavour::vllm) event(sink, "[DONE]");
                }
                sink.done();
                return true;
            }
            if (s.next > 0 && !sleep_for(config_.token_delay)) return false;
            const std::string word = s.next == 0 ? "Hello" : " word" + std::to_string(s.next);
            ++s.next;
            return event(sink, chunk(s, "\"" + word + "\"", "null", flavour == OpenAIFlavour::ollama));
        }
        const std::string usage = R"({"prompt_tokens":12,"completion_tokens":)" + std::to_string(s.tokens) +
                                  R"(,"total_tokens":)" + std::to_string(12 + s.tokens) + "}";
        std::string finish = chunk(s, flavour == OpenAIFlavour::ollama ? "\"\"" : "", "\"" + s.finish + "\"", flavour == OpenAIFlavour::ollama);
        if (flavour == OpenAIFlavour::llamacpp && s.fault != OpenAIFault::no_usage) {
            finish.pop_back();
            finish += R"(,"usage":)" + usage + R"(,"timings":{"prompt_n":12,"prompt_ms":7.5,"predicted_n":)" + std::to_string(s.tokens) +
                      R"(,"predicted_ms":)" + std::to_string(s.tokens * 1.5) + "}}";
        }
        if (!event(sink, finish)) return false;
        if (flavour != OpenAIFlavour::llamacpp && s.fault != OpenAIFault::no_usage &&
            !event(sink, R"({"id":"chatcmpl-mock","object":"chat.completion.chunk","choices":[],"usage":)" + usage + "}"))
            return false;
        event(sink, "[DONE]");
        sink.done();
        return true;
    }

    MockOpenAIConfig config_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> in_flight_{0}, peak_in_flight_{0};
    mutable std::mutex mutex_;
    std::mutex slot_mutex_;
    std::condition_variable slot_cv_;
    int busy_slots_ = 0;
    std::deque<OpenAIFault> script_;
    std::vector<std::string> bodies_;
};

}  // namespace llmbench::testing
