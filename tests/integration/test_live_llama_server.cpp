// Against a real llama-server, opt-in: LLMBENCH_LLAMA_SERVER=<path to the binary> starts it on a
// free loopback port with ../shared/models/stories260K.gguf (a real, tiny, trained model). Skipped
// with a message otherwise. The mocks are checked against captures; this checks the client
// against the server itself, restarts included. Its numbers describe the tiny model only.
#include <llmbench/client/backend.hpp>
#include <llmbench/client/openai_client.hpp>
#include <llmbench/client/server_watch.hpp>
#include <llmbench/run/benchmark.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "../test_util.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace llmbench;
using namespace std::chrono_literals;

namespace {

/// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
int unused_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

/// llama-server serving stories260K on one port, started and killed at will; killed when it goes.
class LiveLlamaServer {
public:
    LiveLlamaServer(std::string binary, std::string model)
        : binary_(std::move(binary)), model_(std::move(model)), port_(unused_loopback_port()),
          log_((std::filesystem::temp_directory_path() / ("llmbench-llama-server-" + std::to_string(::getpid()) + ".log")).string()) {}
    ~LiveLlamaServer() {
        kill();
        if (!keep_log_) std::filesystem::remove(log_);
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    const std::string& log_path() const { return log_; }

    /// Starts it (2 slots, --metrics) and waits until /health says ready; false after 60 s.
    bool start() {
        std::vector<std::string> args = {binary_, "-m", model_, "--host", "127.0.0.1", "--port", std::to_string(port_),
                                         "-c", "2048", "-np", "2", "-t", "1", "--metrics"};
        pid_ = test_util::spawn_to_files(std::move(args), log_, log_, true);  // both streams, each start appended
        keep_log_ = true;  // until it is ready: the log says why not
        if (pid_ <= 0) return false;
        OpenAIClient client(url());
        for (const auto until = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < until;) {
            if (client.healthy()) return !(keep_log_ = false);
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

    /// SIGKILL, as a crash: no goodbye to the clients.
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    std::string binary_, model_;
    int port_;
    std::string log_;
    pid_t pid_ = -1;
    bool keep_log_ = false;
};

/// The binary and the model, or empty with the reason given.
std::string live_server_binary() {
    const char* binary = std::getenv("LLMBENCH_LLAMA_SERVER");
    if (binary == nullptr || *binary == '\0') {
        MESSAGE("LLMBENCH_LLAMA_SERVER is not set (a path to llama.cpp's llama-server): the live-server tests are skipped");
        return {};
    }
    return binary;
}
std::string live_server_model() {
    const std::string model = std::string(LLMBENCH_FIXTURES_DIR) + "/../../models/stories260K.gguf";
    if (!std::filesystem::exists(model)) MESSAGE("no " << model << " (../shared is absent): the live-server tests are skipped");
    return std::filesystem::exists(model) ? model : std::string();
}

}  // namespace

TEST_CASE("a real llama-server (LLMBENCH_LLAMA_SERVER): chat, completion, native completion, log-probabilities and metadata") {
    const std::string binary = live_server_binary(), model = live_server_model();
    if (binary.empty() || model.empty()) return;
    LiveLlamaServer server(binary, model);
    REQUIRE_MESSAGE(server.start(), "llama-server did not become ready; its log: " << server.log_path());
    OpenAIClient client(server.url());

    const auto props = client.props();
    REQUIRE(props.has_value());
    CHECK_FALSE(props->build_info.empty());
    CHECK(props->total_slots == 2);  // -np 2
    CHECK(props->n_ctx.value_or(0) > 0);
    const auto models = client.served_models();
    REQUIRE(models.size() == 1);
    CHECK(models[0].n_vocab == 512);         // stories260K's vocabulary (its README)
    CHECK(models[0].n_ctx_train == 2048);    // and its trained context
    CHECK(models[0].n_params == 292'800);
    CHECK(client.metrics_text().find("llamacpp:") != std::string::npos);

    ChatRequest chat;
    chat.model = "stories260K";
    chat.messages = {{"user", "Once upon a time"}};
    chat.options.num_predict = 24;
    chat.options.temperature = 0.0;
    StreamTimer chat_timer;
    test_util::SeenEvents chat_events;  // the callback sees the real server's events as they come
    const auto c = client.chat(chat, chat_timer, chat_events.callback());
    REQUIRE_MESSAGE(c.ok(), c.failure->what());
    CHECK(chat_events.text == c.text);
    CHECK(chat_events.done == 1);
    CHECK(chat_events.done_last);
    CHECK(c.done);
    CHECK_FALSE(c.token_counts_estimated);  // usage and timings, from the server
    REQUIRE(c.server.eval_count.has_value());
    CHECK(*c.server.eval_count >= 1);
    CHECK(*c.server.eval_count <= 24);
    CHECK(c.server.prompt_eval_count.value_or(0) > 0);
    CHECK(c.server.eval_duration_ns.value_or(0) > 0);
    CHECK(chat_timer.ttft_s().value_or(-1) > 0);
    CHECK(chat_timer.content_chunks() >= 1);

    GenerateRequest gen;
    gen.model = "stories260K";
    gen.prompt = "Once upon a time";
    gen.options.num_predict = 16;
    gen.options.temperature = 0.0;
    gen.controls.logprobs = 3;
    StreamTimer completion_timer;
    const auto g = client.completion(gen, completion_timer);
    REQUIRE_MESSAGE(g.ok(), g.failure->what());
    CHECK_FALSE(g.text.empty());
    REQUIRE(g.server.eval_count.has_value());
    CHECK(g.logprobs.size() == static_cast<std::size_t>(*g.server.eval_count));  // one per generated token
    CHECK(g.done_reason == (*g.server.eval_count == 16 ? "length" : "stop"));

    StreamTimer native_timer;
    test_util::SeenEvents native_events;
    const auto n = client.native_completion(gen, native_timer, native_events.callback());
    REQUIRE_MESSAGE(n.ok(), n.failure->what());
    CHECK(native_events.text == n.text);
    CHECK(native_events.done == 1);
    CHECK(native_events.done_last);
    CHECK(n.text == g.text);  // temperature 0, the same prompt: the same words by either API
    CHECK(n.server.eval_count == g.server.eval_count);
    CHECK(n.server.prompt_cached_tokens.value_or(0) > 0);  // the slot kept the prompt from the call before

    GenerateRequest huge = gen;  // far over the slot's context (2048 split over 2 slots)
    huge.prompt.clear();
    for (int i = 0; i < 400; ++i) huge.prompt += "Once upon a time there was a little girl. ";
    StreamTimer huge_timer;
    const auto refused = client.completion(huge, huge_timer);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.failure->code() == errc::context_overflow);
    CHECK(counted_prompt_tokens(refused) > 1024);  // the server's count, from its refusal: prompt sizing can use it
}

TEST_CASE("a real llama-server killed mid-benchmark and started again 2 s later: the runs after it are measured") {
    const std::string binary = live_server_binary(), model = live_server_model();
    if (binary.empty() || model.empty()) return;
    LiveLlamaServer server(binary, model);
    REQUIRE_MESSAGE(server.start(), "llama-server did not become ready; its log: " << server.log_path());
    BenchmarkConfig bc;
    bc.model = "stories260K";
    bc.prompts = {{"a", "Once upon a time", {}, {}}};
    bc.runs = 12;
    bc.warmup = 0;
    bc.options.num_predict = 32;
    std::atomic<bool> stop{false};
    ServerWatch watch(&stop, 30);
    std::vector<std::string> events;  // from the benchmark's thread only
    watch.on_event = [&](const std::string& m) { events.push_back(m); };
    auto backend = watch.wrap(make_openai_backend(server.url()));
    std::vector<RunRecord> records;
    std::atomic<bool> kill_now{false};
    std::atomic<bool> restarted{false};
    std::thread outage([&] {
        while (!kill_now) std::this_thread::sleep_for(1ms);
        server.kill();
        std::this_thread::sleep_for(2s);
        restarted = server.start();
    });
    Benchmark bench(*backend, bc);
    bench.stop_when(&stop).on_record([&](const RunRecord& r) {
        records.push_back(r);
        if (records.size() == 3) kill_now = true;
    });
    const auto acc = bench.run();
    outage.join();
    REQUIRE(restarted);
    REQUIRE(records.size() == 12);   // every run made: none lost to the outage
    CHECK(acc.runs_failed() <= 1);   // the run in flight when it died, if one was
    CHECK(acc.runs_ok() >= 11);
    CHECK(watch.recovered() >= 1);   // a run waited for the restart (refused, then 503 while loading) and got through
    CHECK(watch.abandoned() == 0);
    CHECK_FALSE(watch.gave_up());
    for (const auto& e : events) MESSAGE(e);
}

#endif
