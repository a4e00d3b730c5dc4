// client-overhead: what llmbench's client itself costs, against the mock server at zero delay.
//
//   client-overhead [--tokens N] [--streams K] [--ttft-requests R] [--python PATH]
//                   [--paced-tokens N] [--paced-us U]
//
// Prints: chunks per second ingested on one stream, client CPU microseconds per chunk
// (CPU time of the thread that runs the client: HTTP reads, chunked decoding, NDJSON framing,
// simdjson parsing, timing), the same for a Python requests + json.loads client reading the
// same stream, both again on a paced stream (a token every U microseconds, each written on
// its own, so the reader waits for each), and the error of the client's first-token timestamp
// against the mock's own record of when it wrote that token. Numbers describe this machine
// and the mock, not a model.
#include <llmbench/llmbench.hpp>
#include <llmbench/testing/loopback_server.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <sys/resource.h>
#include <iostream>
#include <string>
#include <vector>

#include "cpu_time.hpp"

namespace {

/// This source's folder, where python_baseline.py lives.
std::string bench_dir() {
    const std::string here = __FILE__;
    return here.substr(0, here.find_last_of('/'));
}

using bench::Cpu;
Cpu thread_cpu() { return bench::cpu_time(RUSAGE_THREAD); }

std::string run_command(const std::string& cmd) {
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        pclose(p);
    }
    return out;
}

/// Serves a pre-rendered generate stream in 64 KiB HTTP chunks: the client's reads then
/// carry many lines each, so what is left is llmbench's own work per line.
class BurstServer {
public:
    explicit BurstServer(int tokens) {
        for (int i = 0; i < tokens; ++i)
            body_ += "{\"model\":\"llama3.1:8b\",\"created_at\":\"2026-11-27T17:56:52.751939267Z\",\"response\":\" token\",\"done\":false}\n";
        body_ += "{\"model\":\"llama3.1:8b\",\"created_at\":\"2026-11-27T17:56:56.360124196Z\",\"response\":\"\",\"done\":true,"
                 "\"done_reason\":\"length\",\"total_duration\":1,\"load_duration\":1,\"prompt_eval_count\":1,"
                 "\"prompt_eval_duration\":1,\"eval_count\":" + std::to_string(tokens) + ",\"eval_duration\":1}\n";
        server_.Post("/api/generate", [this](const httplib::Request&, httplib::Response& res) {
            res.set_chunked_content_provider("application/x-ndjson", [this](std::size_t offset, httplib::DataSink& sink) {
                if (offset >= body_.size()) {
                    sink.done();
                    return true;
                }
                return sink.write(body_.data() + offset, std::min<std::size_t>(65536, body_.size() - offset));
            });
        });
        listener_.start(server_, "burst server");
    }
    llmbench::Endpoint endpoint() const { return {"http", "127.0.0.1", listener_.port(), ""}; }

private:
    std::string body_;
    httplib::Server server_;
    llmbench::detail::LoopbackServer listener_;
};

struct Measured {
    double chunks_per_s, user_us, sys_us;
};

Measured measure(const llmbench::Endpoint& ep, int tokens, int streams) {
    llmbench::OllamaClient client(ep);
    llmbench::GenerateRequest req;
    req.model = "llama3.1:8b";
    req.prompt = "overhead";
    req.options.num_predict = tokens;
    std::vector<double> rate, user, sys;
    for (int s = 0; s < streams + 1; ++s) {  // the first stream warms caches and is dropped
        llmbench::StreamTimer timer;
        const Cpu c0 = thread_cpu();
        const auto t0 = std::chrono::steady_clock::now();
        const auto result = client.generate(req, timer);
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const Cpu c1 = thread_cpu();
        if (!result.ok()) throw std::runtime_error(result.failure->what());
        const auto chunks = static_cast<double>(timer.content_chunks());
        if (s == 0) continue;
        rate.push_back(chunks / wall);
        user.push_back((c1.user_s - c0.user_s) / chunks * 1e6);
        sys.push_back((c1.sys_s - c0.sys_s) / chunks * 1e6);
    }
    return {llmbench::percentile(rate, 50), llmbench::percentile(user, 50), llmbench::percentile(sys, 50)};
}

/// Runs bench/python_baseline.py against `url`; returns CPU microseconds per chunk, or < 0.
double python_us_per_chunk(const std::string& python, const std::string& url, int tokens, int streams, std::string& label) {
    const std::string out = run_command(python + " " + bench_dir() + "/python_baseline.py " + url +
                                        " llama3.1:8b " + std::to_string(tokens) + " " + std::to_string(streams) + " 2>/dev/null");
    try {
        simdjson::ondemand::parser parser;
        simdjson::padded_string padded(out);
        auto doc = parser.iterate(padded);
        const double chunks = double(doc["chunks"]);
        const double cpu = double(doc["cpu_s"]);
        label = std::string(doc["client"].get_string().value());
        return cpu / chunks * 1e6;
    } catch (const std::exception&) {
        return -1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    int tokens = 20000, streams = 5, ttft_requests = 200, paced_tokens = 4000, paced_us = 100;
    std::string python = "python3";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--tokens") tokens = std::stoi(argv[i + 1]);
        else if (a == "--streams") streams = std::stoi(argv[i + 1]);
        else if (a == "--ttft-requests") ttft_requests = std::stoi(argv[i + 1]);
        else if (a == "--python") python = argv[i + 1];
        else if (a == "--paced-tokens") paced_tokens = std::stoi(argv[i + 1]);
        else if (a == "--paced-us") paced_us = std::stoi(argv[i + 1]);
    }
    std::printf("simdjson kernel: %s; %d streams x %d chunks per mode; medians over streams\n",
                simdjson::builtin_implementation()->name().c_str(), streams, tokens);

    llmbench::testing::MockConfig cfg;
    cfg.natural_tokens = tokens;
    llmbench::testing::MockOllama mock(cfg);
    BurstServer burst(tokens);
    const std::pair<const char*, llmbench::Endpoint> modes[] = {
        {"one line per HTTP chunk (as Ollama writes; mock at zero delay)", mock.endpoint()},
        {"pre-rendered stream in 64 KiB HTTP chunks (llmbench's own work)", burst.endpoint()}};
    for (const auto& [name, ep] : modes) {
        const Measured m = measure(ep, tokens, streams);
        std::printf("%s\n", name);
        std::printf("  llmbench: %9.0f chunks/s, CPU/chunk %.3f us (user %.3f + sys %.3f)\n", m.chunks_per_s,
                    m.user_us + m.sys_us, m.user_us, m.sys_us);
        std::string label;
        const double py = python_us_per_chunk(python, ep.url(), tokens, streams, label);
        if (py < 0) {
            std::printf("  python  : not measured (%s could not run bench/python_baseline.py)\n", python.c_str());
        } else {
            std::printf("  python  : CPU/chunk %.3f us (%s + json.loads, process CPU); ratio %.1fx\n", py, label.c_str(),
                        py / (m.user_us + m.sys_us));
        }
    }

    // 3. Paced: each token written and flushed on its own, `paced_us` apart, the reader waiting
    // for each (a real server's regime). CPU per chunk is the slope between a short and a long
    // stream, so the per-request and start-up costs cancel, for both clients alike.
    llmbench::testing::MockConfig paced_cfg;
    paced_cfg.token_delay = std::chrono::microseconds(paced_us);
    paced_cfg.natural_tokens = paced_tokens;
    llmbench::testing::MockOllama paced(paced_cfg);
    const int short_tokens = std::max(1, paced_tokens / 4);
    const auto cpu_us = [](const Measured& m) { return m.user_us + m.sys_us; };
    const Measured paced_short = measure(paced.endpoint(), short_tokens, streams), paced_long = measure(paced.endpoint(), paced_tokens, streams);
    const double slope = (cpu_us(paced_long) * paced_tokens - cpu_us(paced_short) * short_tokens) / (paced_tokens - short_tokens);
    std::printf("paced: a token every %d us, each its own write (the reader waits for each); slope between %d and %d chunks\n", paced_us,
                short_tokens, paced_tokens);
    std::printf("  llmbench: CPU/chunk %.3f us\n", slope);
    std::string paced_label;
    const double py_short = python_us_per_chunk(python, paced.url(), short_tokens, streams, paced_label);
    const double py_long = python_us_per_chunk(python, paced.url(), paced_tokens, streams, paced_label);
    if (py_short < 0 || py_long < 0) {
        std::printf("  python  : not measured (%s could not run bench/python_baseline.py)\n", python.c_str());
    } else {
        const double py_slope = (py_long * paced_tokens - py_short * short_tokens) / (paced_tokens - short_tokens);
        std::printf("  python  : CPU/chunk %.3f us (%s + json.loads, process CPU); ratio %.1fx\n", py_slope, paced_label.c_str(), py_slope / slope);
    }

    // 4. TTFT error: client first-content arrival minus the mock's write of that chunk.
    llmbench::testing::MockConfig slow;
    slow.first_token_delay = std::chrono::milliseconds(2);
    slow.natural_tokens = 4;
    llmbench::testing::MockOllama ttft_mock(slow);
    llmbench::OllamaClient ttft_client(ttft_mock.endpoint());
    std::vector<double> error_us;
    llmbench::GenerateRequest small;
    small.model = "llama3.1:8b";
    small.options.num_predict = 4;
    for (int i = 0; i < ttft_requests; ++i) {
        small.prompt = "ttft " + std::to_string(i);
        llmbench::StreamTimer timer;
        const auto r = ttft_client.generate(small, timer);
        const auto truth = ttft_mock.stream_requests().back();
        if (!r.ok() || !timer.first_content_at() || !truth.first_content_write) continue;
        error_us.push_back(std::chrono::duration<double, std::micro>(*timer.first_content_at() - *truth.first_content_write).count());
    }
    const auto e = llmbench::compute_stats(error_us);
    std::printf("TTFT error vs mock ground truth (%zu requests): p50 %.1f us, p95 %.1f us, p99 %.1f us, max %.1f us\n", e.n,
                e.p50, e.p95, e.p99, e.max);
    return 0;
}
