// soak: thousands of requests against the mock with faults injected at random, bounded in time.
//
//   soak [--seconds 60] [--fault-share 0.3] [--seed 1] [--output /tmp/soak.jsonl]
//
// Sends requests one after another through one OllamaClient to the in-process mock Ollama
// server (which keeps only its last 16 requests in its log); every request has a chance of one of
// the mock's faults (HTTP 500, an error line mid-stream, EOF without done, malformed JSON,
// bytes that are not UTF-8, a one-byte drip, a stall past the idle timeout, a short reply).
// Afterwards it checks, and prints: the JSONL holds exactly one record per request sent; the
// process's resident memory did not grow over the last third of the run (allocators keep what
// they once needed, so a plateau is fine; at least 6 samples, i.e. 1,200 requests); no
// file descriptor leaked once the client is gone. Exit 0 when all three hold. Nothing here keeps
// per-request state by design (no summary statistics), so any growth would be a leak.
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/core/run_record.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d) != nullptr) ++n;
        ::closedir(d);
    }
    return n;
}

double rss_mib() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 60, fault_share = 0.3;
    unsigned seed = 1;
    std::string output = "/tmp/llmbench-soak.jsonl";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--seconds") seconds = std::stod(v);
        else if (a == "--fault-share") fault_share = std::stod(v);
        else if (a == "--seed") seed = static_cast<unsigned>(std::stoul(v));
        else if (a == "--output") output = v;
        else {
            std::cerr << "usage: soak [--seconds 60] [--fault-share 0.3] [--seed 1] [--output FILE]\n";
            return 2;
        }
    }
    using llmbench::testing::MockFault;
    llmbench::testing::MockConfig cfg;
    cfg.token_delay = std::chrono::microseconds(200);
    cfg.natural_tokens = 24;
    cfg.stall_for = std::chrono::milliseconds(300);
    cfg.giant_line_bytes = std::size_t{1} << 20;
    cfg.request_log_limit = 16;
    llmbench::testing::MockOllama mock(cfg);

    // A fault script long enough for any run: faults drawn with the given share.
    const std::vector<MockFault> kinds{MockFault::http_500,      MockFault::error_mid_stream, MockFault::eof_without_done,
                                       MockFault::malformed_json, MockFault::invalid_utf8,     MockFault::drip_one_byte,
                                       MockFault::stall,          MockFault::short_reply,      MockFault::giant_final_line};
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> coin(0, 1);
    std::uniform_int_distribution<std::size_t> pick(0, kinds.size() - 1);
    std::vector<MockFault> script(200000);
    for (auto& f : script) f = coin(rng) < fault_share ? kinds[pick(rng)] : MockFault::none;
    mock.script(script);

    llmbench::ClientOptions options;
    options.timeouts.idle_s = 0.2;  // the stall is 0.3 s: it must time out
    options.timeouts.first_byte_s = 5;

    std::ofstream out(output, std::ios::trunc);
    if (!out) {
        std::cerr << "soak: cannot write " << output << '\n';
        return 2;
    }
    const std::size_t fds_before = open_fds();
    std::size_t records = 0;
    std::map<std::string, std::size_t> outcomes;
    std::vector<double> rss;  // sampled every 200 records
    const auto t0 = std::chrono::steady_clock::now();
    {
        llmbench::OllamaClient client(mock.endpoint(), options);
        while (std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(seconds)) {
            llmbench::GenerateRequest request;
            request.model = "llama3.1:8b";
            request.prompt = "Soak prompt number " + std::to_string(records % 50);
            request.options.num_predict = 16;
            llmbench::StreamTimer timer;
            const auto result = client.generate(request, timer);
            const auto r = llmbench::make_run_record(result, timer, {"mock", request.model, "p" + std::to_string(records % 50), 0, false, 16, std::nullopt});
            out << r.to_json() << '\n' << std::flush;
            ++records;
            ++outcomes[r.ok() ? "ok" : llmbench::to_string(*r.outcome.error_kind)];
            if (records % 200 == 0) rss.push_back(rss_mib());
        }
    }
    out.close();
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the mock closes its end of the connection
    const std::size_t fds_after = open_fds();

    std::size_t lines = 0;
    {
        std::ifstream in(output);
        for (std::string line; std::getline(in, line);) lines += line.rfind("{\"type\":\"run\"", 0) == 0 ? 1u : 0u;
    }
    const std::size_t sent = mock.requests_served();
    // Allocators keep what they were given (the 1 MiB lines): a plateau is fine, growth is not.
    // The peak over the first two thirds of the samples against the peak over all of them.
    double peak_two_thirds = 0, peak_all = 0;
    for (std::size_t i = 0; i < rss.size(); ++i) {
        if (3 * i < 2 * rss.size()) peak_two_thirds = std::max(peak_two_thirds, rss[i]);
        peak_all = std::max(peak_all, rss[i]);
    }
    std::printf("soak: %.1f s, %zu requests sent, %zu records written, %zu run lines in %s\n", took, sent, records, lines, output.c_str());
    for (const auto& [kind, n] : outcomes) std::printf("  %-14s %zu\n", kind.c_str(), n);
    std::printf("resident memory: peak %.1f MiB over the first two thirds -> %.1f MiB over the run; samples every 200 requests:",
                peak_two_thirds, peak_all);
    for (double m : rss) std::printf(" %.1f", m);
    std::printf("\n");
    std::printf("open file descriptors: %zu before -> %zu after\n", fds_before, fds_after);
    const bool one_each = lines == records && records == sent;
    const bool judged = rss.size() >= 6;  // 1,200 requests: fewer cannot tell a plateau from growth
    const bool flat = !judged || peak_all <= peak_two_thirds * 1.05 + 2.0;  // 5% + 2 MiB of allocator noise
    const bool no_leak = fds_after <= fds_before;
    std::printf("one record per request: %s; memory flat: %s; no fd leak: %s\n", one_each ? "yes" : "NO", !judged ? "too few samples to judge" : flat ? "yes" : "NO",
                no_leak ? "yes" : "NO");
    return one_each && flat && no_leak ? 0 : 1;
}
