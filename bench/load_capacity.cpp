// load-capacity: how many streams and chunks per second llmbench's load generator sustains,
// and how much it delays the first token it observes while doing so.
//
//   load-capacity [--streams 1,64,256] [--tokens 400] [--rounds 4] [--flavour openai|llamacpp] [--token-delay-us 0] [--reader kernel|httplib]
//
// Runs closed-loop load (run_load with OpenAIClient workers) against the mock OpenAI server at
// zero delay, in this process: every stream asks for `tokens` chunks, `rounds` requests per
// stream. Prints, per stream count: content chunks per second ingested, peak streams in
// flight (client and server), process CPU, and the TTFT distortion: for each request the
// client's first-content timestamp minus the mock's own timestamp taken just before it wrote
// that chunk (same process, same steady clock). --reader httplib reads with cpp-httplib
// instead (stamped when each read returns), for comparison. The mock shares the cores with the client,
// so these numbers are a floor for the client, not a model's.
#include <llmbench/client/backend.hpp>
#include <llmbench/run/load.hpp>
#include <llmbench/core/cli.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cpu_time.hpp"

namespace {

struct Row {
    int streams = 0;
    std::size_t requests = 0, ok = 0;
    double chunks_per_s = 0, duration_s = 0, cpu_s = 0, client_cpu_s = 0, chunks = 0;
    int client_peak = 0, server_peak = 0;
    llmbench::Stats distortion_us;
};

Row run(int streams, int tokens, int rounds, llmbench::testing::OpenAIFlavour flavour, std::chrono::microseconds token_delay, bool kernel_timestamps) {
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.flavour = flavour;
    cfg.tokens = tokens;
    cfg.token_delay = token_delay;
    cfg.server_threads = streams + 4;
    llmbench::testing::MockOpenAI mock(cfg);
    const std::string url = mock.base_url();

    llmbench::LoadSpec spec;
    spec.concurrency = streams;
    spec.requests = static_cast<std::size_t>(streams) * static_cast<std::size_t>(rounds);
    llmbench::OpenAIClientOptions options;
    options.kernel_timestamps = kernel_timestamps;
    const auto make_backend = [&url, &options] { return llmbench::make_openai_backend(url, options); };
    const auto request_for = [](std::size_t i) {
        llmbench::GenerateRequest r;
        r.model = "mock-model";
        r.prompt = "load " + std::to_string(i);
        return r;
    };
    // The client's own CPU: each worker thread's total, read when it reports its last request.
    std::map<std::thread::id, double> worker_cpu;
    const double cpu0 = bench::cpu_time(RUSAGE_SELF).total_s();
    const llmbench::LoadResult result =
        llmbench::run_load(make_backend, request_for, spec, [&](std::size_t, const llmbench::LoadRequest&) { worker_cpu[std::this_thread::get_id()] = bench::cpu_time(RUSAGE_THREAD).total_s(); });
    Row row;
    for (const auto& [id, cpu] : worker_cpu) row.client_cpu_s += cpu;
    for (const auto& r : result.requests) row.chunks += static_cast<double>(r.run.client.gaps_s.size() + (r.ttft_s ? 1 : 0));
    row.cpu_s = bench::cpu_time(RUSAGE_SELF).total_s() - cpu0;
    row.streams = streams;
    row.requests = result.requests.size();
    row.ok = result.succeeded();
    row.duration_s = result.duration_s;
    row.chunks_per_s = result.output_token_throughput().value_or(std::nan(""));  // printed as nan when nothing was timed
    row.client_peak = result.peak_concurrency;
    row.server_peak = mock.peak_in_flight();
    for (const auto& [kind, count] : result.failures_by_kind) std::fprintf(stderr, "  %d streams: %zu failed (%s)\n", streams, count, kind.c_str());
    for (const auto& r : result.requests)
        if (!r.ok()) {
            std::fprintf(stderr, "  first failure: sent %.3f s, ended %.3f s\n", r.sent_s, r.end_s);
            break;
        }

    // Match the mock's log to the client's requests by the prompt each carried.
    std::map<std::size_t, llmbench::testing::MockOpenAIRequest::time_point> server_first;
    for (const auto& logged : mock.requests()) {
        const auto at = logged.body.find("\"load ");
        if (at == std::string::npos || !logged.first_content_write) continue;
        server_first[std::stoul(logged.body.substr(at + 6))] = *logged.first_content_write;
    }
    std::vector<double> distortion;
    for (std::size_t i = 0; i < result.requests.size(); ++i) {
        const auto& r = result.requests[i];
        const auto truth = server_first.find(i);
        if (!r.ok() || !r.ttft_s || truth == server_first.end()) continue;
        const auto client_first = result.started_at + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(r.scheduled_s + *r.ttft_s));
        distortion.push_back(std::chrono::duration<double, std::micro>(client_first - truth->second).count());
    }
    row.distortion_us = llmbench::compute_stats(std::move(distortion));
    return row;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> streams{1, 64, 256};
    int tokens = 400, rounds = 4, token_delay_us = 0;
    bool kernel_timestamps = true;
    auto flavour = llmbench::testing::OpenAIFlavour::openai;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--streams") {
            streams.clear();
            llmbench::for_each_list_item(v, [&](const std::string& s) { streams.push_back(std::stoi(s)); });
        } else if (a == "--tokens") tokens = std::stoi(v);
        else if (a == "--rounds") rounds = std::stoi(v);
        else if (a == "--token-delay-us") token_delay_us = std::stoi(v);
        else if (a == "--reader") kernel_timestamps = v != "httplib";
        else if (a == "--flavour") flavour = v == "llamacpp" ? llmbench::testing::OpenAIFlavour::llamacpp : llmbench::testing::OpenAIFlavour::openai;
        else {
            std::cerr << "usage: load-capacity [--streams 1,64,256] [--tokens 400] [--rounds 4] [--flavour openai|llamacpp] [--token-delay-us 0] [--reader kernel|httplib]\n";
            return 2;
        }
    }
    std::printf("mock OpenAI server, %d µs between tokens, %d chunks per request, %d requests per stream, read by %s (numbers describe the client and the mock, not a model)\n\n",
                token_delay_us, tokens, rounds, kernel_timestamps ? "llmbench's socket reader with kernel receive times" : "cpp-httplib");
    std::printf("| streams | requests ok | wall s | chunks/s | CPU s: process / client | client CPU µs per chunk | peak in flight (client / server) | TTFT distortion p50 / p95 / p99 / max (µs) |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    for (int n : streams) {
        const Row r = run(n, tokens, rounds, flavour, std::chrono::microseconds(token_delay_us), kernel_timestamps);
        std::printf("| %d | %zu/%zu | %.2f | %.0f | %.2f / %.2f | %.2f | %d / %d | %.0f / %.0f / %.0f / %.0f |\n", r.streams, r.ok, r.requests, r.duration_s,
                    r.chunks_per_s, r.cpu_s, r.client_cpu_s, r.chunks > 0 ? r.client_cpu_s / r.chunks * 1e6 : 0.0, r.client_peak, r.server_peak, r.distortion_us.p50, r.distortion_us.p95, r.distortion_us.p99,
                    r.distortion_us.max);
        std::fflush(stdout);
    }
}
