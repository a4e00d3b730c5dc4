// sampler-overhead: what one memory sample costs (wall time and the sampler thread's CPU),
// against the mock server's /api/ps and this machine's /proc and GPU query.
#include <llmbench/host/memory_sampler.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <cstdio>
#include <ctime>

#include <unistd.h>

int main() {
    llmbench::testing::MockOllama mock;
    llmbench::SamplerConfig cfg;
    cfg.loaded_models = llmbench::ollama_loaded_models(mock.endpoint());
    cfg.server_pid = static_cast<int>(::getpid());
    llmbench::MemorySampler sampler(cfg);
    const int n = 200;
    timespec c0{}, c1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (int i = 0; i < n; ++i) sampler.sample_now();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    const double cpu = static_cast<double>(c1.tv_sec - c0.tv_sec) + static_cast<double>(c1.tv_nsec - c0.tv_nsec) / 1e9;
    const auto last = sampler.samples().back();
    std::printf("%d samples: mean wall %.1f us, mean CPU of the sampling thread %.1f us\n", n,
                sampler.mean_sample_cost_s() * 1e6, cpu / n * 1e6);
    std::printf("at the default 100 ms interval: %.3f%% of one core\n", cpu / n / 0.100 * 100);
    std::printf("sources read: /api/ps %s, /proc RSS %s, GPU %s\n", last.ollama_size_bytes ? "yes" : "no",
                last.process_rss_bytes ? "yes" : "no", last.gpu_used_bytes ? "yes" : "no (no nvidia-smi here)");
    return 0;
}
