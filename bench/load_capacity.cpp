// load-capacity: how many streams and chunks per second llmbench's load generator sustains,
// what it costs per chunk and per stream, and how much it delays the first token it observes.
//
//   load-capacity [--streams 256,1024,4096] [--tokens 400] [--rounds 2] [--flavour openai|llamacpp]
//                 [--token-delay-us 0] [--reader kernel|httplib] [--driver loop|threads] [--loop-threads N]
//                 [--mock-loop-threads 1]
//
// --loop-threads defaults to the cores the mock's loop threads leave (1 of 2 here).
//
// Runs closed-loop load (run_load with OpenAIClient workers) against the mock OpenAI server at
// zero delay. The mock runs in a child process, served by fibers on --mock-loop-threads event-loop
// threads (0: by cpp-httplib, a thread per connection, which cannot accept 4,096 in time), so this process's CPU and memory are the
// client's alone: every stream asks for `tokens` chunks, `rounds` requests per stream. Prints,
// per stream count: content chunks per second ingested, the client's CPU per chunk, the
// threads that drove the streams, peak streams in flight (client and server), the client's
// memory per stream (peak RSS growth over the run / streams), and the TTFT distortion: for
// each request the client's first-content timestamp minus the mock's own timestamp taken just
// before it wrote that chunk (both on CLOCK_MONOTONIC, one clock for both processes).
// --reader httplib reads with cpp-httplib (a thread per stream, stamped when each read
// returns); --driver threads keeps llmbench's reader but gives each stream a thread. The mock
// shares the two cores with the client, so these numbers are a floor for the client, not a model's.
#include <llmbench/client/backend.hpp>
#include <llmbench/core/cli.hpp>
#include <llmbench/host/run_metadata.hpp>
#include <llmbench/run/load.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cpu_time.hpp"

namespace {

struct Row {
    int streams = 0;
    std::size_t requests = 0, ok = 0;
    double chunks_per_s = 0, duration_s = 0, client_cpu_s = 0, chunks = 0, kib_per_stream = 0;
    int client_peak = 0, server_peak = 0, driver_threads = 0;
    std::string driver;
    llmbench::Stats distortion_us;
};

/// A field of /proc/self/status in KiB (VmRSS, VmHWM); 0 where there is none.
double status_kib(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1));
    return 0;
}

bool write_all(int fd, const std::string& data) {
    std::size_t at = 0;
    while (at < data.size()) {
        const auto n = ::write(fd, data.data() + at, data.size() - at);
        if (n <= 0) return false;
        at += static_cast<std::size_t>(n);
    }
    return true;
}

std::string read_all(int fd) {
    std::string out;
    char buf[65536];
    for (long n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

/// The mock in a child process: it writes its port to `report`, serves until `done` closes,
/// then writes its peak streams in flight and, per request, "<prompt index> <first content
/// write, ns of CLOCK_MONOTONIC>" lines, and exits.
[[noreturn]] void serve_mock(const llmbench::testing::MockOpenAIConfig& cfg, int report, int done) {
    llmbench::raise_open_files_limit();
    {
        llmbench::testing::MockOpenAI mock(cfg);
        write_all(report, std::to_string(mock.port()) + "\n");
        char c;
        while (::read(done, &c, 1) > 0) {
        }
        std::string truth = std::to_string(mock.peak_in_flight()) + "\n";
        for (const auto& logged : mock.requests()) {
            const auto at = logged.body.find("\"load ");
            if (at == std::string::npos || !logged.first_content_write) continue;
            truth += logged.body.substr(at + 6, logged.body.find('"', at + 6) - at - 6) + " " +
                     std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(logged.first_content_write->time_since_epoch()).count()) + "\n";
        }
        write_all(report, truth);
    }
    ::_exit(0);
}

Row run(int streams, int tokens, int rounds, llmbench::testing::OpenAIFlavour flavour, std::chrono::microseconds token_delay, bool kernel_timestamps,
        bool thread_per_stream, int loop_threads, int mock_loop_threads) {
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.flavour = flavour;
    cfg.tokens = tokens;
    cfg.token_delay = token_delay;
    cfg.server_threads = streams + 4;
    cfg.event_loop_threads = mock_loop_threads;  // 0: cpp-httplib, a thread per connection
    int report[2], done[2];
    if (::pipe(report) != 0 || ::pipe(done) != 0) throw std::runtime_error("pipe failed");
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) {
        ::close(report[0]);
        ::close(done[1]);
        serve_mock(cfg, report[1], done[0]);
    }
    ::close(report[1]);
    ::close(done[0]);
    std::string port_line;
    for (char c; ::read(report[0], &c, 1) == 1 && c != '\n';) port_line += c;
    if (port_line.empty()) throw std::runtime_error("the mock's process did not start");
    const std::string url = "http://127.0.0.1:" + port_line;

    llmbench::LoadSpec spec;
    spec.concurrency = streams;
    spec.requests = static_cast<std::size_t>(streams) * static_cast<std::size_t>(rounds);
    spec.thread_per_stream = thread_per_stream;
    spec.loop_threads = loop_threads;
    llmbench::OpenAIClientOptions options;
    options.kernel_timestamps = kernel_timestamps;
    const auto make_backend = [&url, &options] { return llmbench::make_openai_backend(url, options); };
    const auto request_for = [](std::size_t i) {
        llmbench::GenerateRequest r;
        r.model = "mock-model";
        r.prompt = "load " + std::to_string(i);
        return r;
    };
    std::ofstream("/proc/self/clear_refs") << "5";  // peak RSS starts again from now
    const double rss0 = status_kib("VmRSS");
    const double cpu0 = bench::cpu_time(RUSAGE_SELF).total_s();
    const llmbench::LoadResult result = llmbench::run_load(make_backend, request_for, spec);
    Row row;
    row.client_cpu_s = bench::cpu_time(RUSAGE_SELF).total_s() - cpu0;
    row.kib_per_stream = (status_kib("VmHWM") - rss0) / streams;
    ::close(done[1]);
    std::istringstream truth(read_all(report[0]));
    ::close(report[0]);
    int status = 0;
    ::waitpid(child, &status, 0);

    for (const auto& r : result.requests) row.chunks += static_cast<double>(r.run.client.gaps_s.size() + (r.ttft_s ? 1 : 0));
    row.streams = streams;
    row.requests = result.requests.size();
    row.ok = result.succeeded();
    row.duration_s = result.duration_s;
    row.chunks_per_s = result.output_token_throughput().value_or(std::nan(""));  // printed as nan when nothing was timed
    row.client_peak = result.peak_concurrency;
    row.driver = result.driver + (result.poller ? "/" + *result.poller : "");
    row.driver_threads = result.driver_threads;
    truth >> row.server_peak;
    for (const auto& [kind, count] : result.failures_by_kind) std::fprintf(stderr, "  %d streams: %zu failed (%s)\n", streams, count, kind.c_str());
    for (const auto& r : result.requests)
        if (!r.ok()) {
            std::fprintf(stderr, "  first failure: sent %.3f s, ended %.3f s: %s\n", r.sent_s, r.end_s, r.run.outcome.error_message.c_str());
            break;
        }

    std::map<std::size_t, std::chrono::steady_clock::time_point> server_first;
    std::size_t index = 0;
    long long ns = 0;
    while (truth >> index >> ns)
        server_first[index] = std::chrono::steady_clock::time_point(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
    std::vector<double> distortion;
    for (std::size_t i = 0; i < result.requests.size(); ++i) {
        const auto& r = result.requests[i];
        const auto server = server_first.find(i);
        if (!r.ok() || !r.ttft_s || server == server_first.end()) continue;
        const auto client_first = result.started_at + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(r.scheduled_s + *r.ttft_s));
        distortion.push_back(std::chrono::duration<double, std::micro>(client_first - server->second).count());
    }
    row.distortion_us = llmbench::compute_stats(std::move(distortion));
    return row;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> streams{256, 1024, 4096};
    int tokens = 400, rounds = 2, token_delay_us = 0, loop_threads = -1, mock_loop_threads = 1;
    bool kernel_timestamps = true, thread_per_stream = false;
    auto flavour = llmbench::testing::OpenAIFlavour::openai;
    const char* usage =
        "usage: load-capacity [--streams 256,1024,4096] [--tokens 400] [--rounds 2] [--flavour openai|llamacpp] [--token-delay-us 0]\n"
        "                     [--reader kernel|httplib] [--driver loop|threads] [--loop-threads N] [--mock-loop-threads N (0: cpp-httplib)]\n";
    for (int i = 1; i < argc; i += 2) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            std::cerr << "load-capacity: " << a << " needs a value\n" << usage;
            return 2;
        }
        const std::string v = argv[i + 1];
        if (a == "--streams") {
            streams.clear();
            llmbench::for_each_list_item(v, [&](const std::string& s) { streams.push_back(std::stoi(s)); });
        } else if (a == "--tokens") tokens = std::stoi(v);
        else if (a == "--rounds") rounds = std::stoi(v);
        else if (a == "--token-delay-us") token_delay_us = std::stoi(v);
        else if (a == "--reader") kernel_timestamps = v != "httplib";
        else if (a == "--driver") thread_per_stream = v == "threads";
        else if (a == "--loop-threads") loop_threads = std::stoi(v);
        else if (a == "--mock-loop-threads") mock_loop_threads = std::stoi(v);
        else if (a == "--flavour") flavour = v == "llamacpp" ? llmbench::testing::OpenAIFlavour::llamacpp : llmbench::testing::OpenAIFlavour::openai;
        else {
            std::cerr << "load-capacity: unknown option " << a << "\n" << usage;
            return 2;
        }
    }
    if (loop_threads < 0) {
        // The cores the mock leaves: a loop thread more than that would share a core with the
        // mock's, and a first token could wait for a scheduler time slice (docs/performance.md).
        const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
        loop_threads = std::max(1, cores - std::max(0, mock_loop_threads));
    }
    const auto files = llmbench::raise_open_files_limit();
    std::printf("mock OpenAI server in a child process (%s), %d µs between tokens, %d chunks per request, %d requests per stream, read by %s; open files limit %lld "
                "(numbers describe the client and the mock on this machine, not a model)\n\n",
                mock_loop_threads > 0 ? ("an event loop on " + std::to_string(mock_loop_threads) + " thread(s)").c_str() : "cpp-httplib, a thread per connection",
                token_delay_us, tokens, rounds, kernel_timestamps ? "llmbench's socket reader with kernel receive times" : "cpp-httplib",
                static_cast<long long>(files.value_or(-1)));
    std::printf("| streams | requests ok | driver/poller (threads) | wall s | chunks/s | client CPU s | client CPU µs per chunk | client KiB per stream | peak in flight (client / server) | TTFT distortion p50 / p99 / max (µs) |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int n : streams) {
        const Row r = run(n, tokens, rounds, flavour, std::chrono::microseconds(token_delay_us), kernel_timestamps, thread_per_stream, loop_threads, mock_loop_threads);
        std::printf("| %d | %zu/%zu | %s (%d) | %.2f | %.0f | %.2f | %.2f | %.1f | %d / %d | %.0f / %.0f / %.0f |\n", r.streams, r.ok, r.requests, r.driver.c_str(), r.driver_threads,
                    r.duration_s, r.chunks_per_s, r.client_cpu_s, r.chunks > 0 ? r.client_cpu_s / r.chunks * 1e6 : 0.0, r.kib_per_stream, r.client_peak, r.server_peak,
                    r.distortion_us.p50, r.distortion_us.p99, r.distortion_us.max);
        std::fflush(stdout);
    }
}
