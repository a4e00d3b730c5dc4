// The memory sampler with a fake /proc tree and a fake GPU, so no GPU is needed.
#include <llmbench/run/benchmark.hpp>
#include <llmbench/host/memory_sampler.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <dlfcn.h>
#include <unistd.h>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
/// A /proc tree: ollama (100) -> runner (200); an unrelated process (300).
struct FakeProc {
    fs::path root = fs::temp_directory_path() / ("llmbench_proc_" + std::to_string(::getpid()));
    FakeProc() {
        add(100, "ollama", 1, 300'000, 350'000);
        add(200, "ollama_llama_se", 100, 5'000'000, 5'500'000);
        add(300, "bash", 1, 4'000, 4'000);
    }
    ~FakeProc() { fs::remove_all(root); }
    void add(int pid, const std::string& comm, int ppid, long rss_kb, long hwm_kb) {
        const fs::path dir = root / std::to_string(pid);
        fs::create_directories(dir);
        std::ofstream(dir / "comm") << comm << "\n";
        std::ofstream(dir / "stat") << pid << " (" << comm << ") S " << ppid << " 1 1 0 -1 4194560\n";
        std::ofstream(dir / "status") << "Name:\t" << comm << "\nVmHWM:\t" << hwm_kb << " kB\nVmRSS:\t" << rss_kb << " kB\n";
    }
};
}  // namespace

TEST_CASE("ProcReader finds the server and its runner processes in a /proc tree") {
    FakeProc proc;
    ProcReader reader(proc.root.string());
    CHECK(reader.find_by_name("ollama") == std::vector<int>{100});
    auto tree = reader.with_descendants({100});
    std::sort(tree.begin(), tree.end());
    CHECK(tree == std::vector<int>{100, 200});
    CHECK(reader.rss_bytes(200) == 5'000'000LL * 1024);
    CHECK(reader.peak_rss_bytes(100) == 350'000LL * 1024);
    CHECK_FALSE(reader.rss_bytes(999).has_value());
}

namespace {
/// A process table in memory, as any platform's source would list it.
struct FakeTable : ProcessSource {
    std::vector<ProcessEntry> entries;
    std::map<int, std::int64_t> rss;
    std::vector<ProcessEntry> list() const override { return entries; }
    std::optional<std::int64_t> rss_bytes(int pid) const override {
        const auto it = rss.find(pid);
        return it == rss.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
    }
    std::optional<std::int64_t> peak_rss_bytes(int pid) const override { return rss_bytes(pid); }
    std::string name() const override { return "fake table"; }
};
}  // namespace

TEST_CASE("the process tree walk is the same for every platform's source") {
    FakeTable t;
    // launchd(1) -> ollama(10) -> runner(20) -> helper(30); a second ollama(40); pid 0 is its own parent
    t.entries = {{0, 0, "kernel_task"}, {1, 0, "launchd"}, {10, 1, "ollama"}, {20, 10, "ollama"}, {30, 20, "helper"}, {40, 1, "ollama"}, {50, 1, "zsh"}};
    CHECK(t.find_by_name("ollama") == std::vector<int>{10, 20, 40});
    CHECK(t.with_descendants({10}) == std::vector<int>{10, 20, 30});
    CHECK(t.with_descendants({10, 20}) == std::vector<int>{10, 20, 30});  // no process twice
    CHECK(t.with_descendants({0}).size() == t.entries.size());            // a self-parent does not loop
    CHECK(t.with_descendants({999}) == std::vector<int>{999});

    SamplerConfig cfg;
    cfg.gpu = nullptr;
    cfg.server_pid = 10;
    auto shared = std::make_shared<FakeTable>(t);
    shared->rss = {{10, 100}, {20, 2000}, {30, 30000}, {40, 400000}};
    cfg.processes = shared;
    MemorySampler sampler(cfg);
    CHECK(sampler.sample_now().process_rss_bytes == 32100);  // pid 40 is another server
    shared->rss.erase(30);  // the helper exited...
    CHECK_FALSE(sampler.sample_now().process_rss_bytes.has_value());  // ...between listing and reading: no undercount
    shared->entries.erase(std::remove_if(shared->entries.begin(), shared->entries.end(), [](const ProcessEntry& e) { return e.pid == 30; }),
                          shared->entries.end());
    CHECK(sampler.sample_now().process_rss_bytes == 2100);  // rescanned
}

TEST_CASE("a platform without a process reader says so") {
    SamplerConfig cfg;
    cfg.processes = nullptr;
    cfg.gpu = nullptr;
    MemorySampler sampler(cfg);
    const auto w = sampler.around([] {});
    CHECK_FALSE(w.peak_rss_bytes.has_value());
    CHECK(w.rss_note.find("cannot read process memory on this platform") != std::string::npos);
}

TEST_CASE("nvidia-smi output parses - anything else means no GPU reading") {
    const auto g = parse_nvidia_smi("1024, 250.5\n2048, [N/A]\n");
    REQUIRE(g.has_value());
    REQUIRE(g->size() == 2);
    CHECK((*g)[0].used_bytes == 1024LL * 1024 * 1024);
    CHECK((*g)[0].power_w == 250.5);
    CHECK_FALSE((*g)[1].power_w.has_value());
    CHECK_FALSE(parse_nvidia_smi("").has_value());
    CHECK_FALSE(parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the driver").has_value());
    // numbers no int64 can hold were cast anyway: undefined behaviour (UBSan), now no reading
    CHECK_FALSE(parse_nvidia_smi("1e300, 50\n").has_value());
    CHECK_FALSE(parse_nvidia_smi("nan, 50\n").has_value());
    CHECK_FALSE(parse_nvidia_smi("-5, 50\n").has_value());
}

TEST_CASE("NVML that cannot be loaded means no NVML query, not a crash") {
    CHECK_FALSE(static_cast<bool>(nvml_query("libllmbench-no-such-library.so")));
    CHECK(static_cast<bool>(default_gpu_query()));  // falls back to nvidia-smi
}

#if defined(LLMBENCH_FAKE_NVML_PATH)
TEST_CASE("NVML readings of every GPU, through the library's real entry points (a stand-in library)") {
    const GpuQuery query = nvml_query(LLMBENCH_FAKE_NVML_PATH);
    REQUIRE(static_cast<bool>(query));
    auto gpus = query();
    REQUIRE(gpus.has_value());
    REQUIRE(gpus->size() == 2);
    CHECK((*gpus)[0].used_bytes == 1LL << 30);
    CHECK((*gpus)[0].power_w == 150.0);
    CHECK((*gpus)[1].used_bytes == 512LL << 20);
    CHECK_FALSE((*gpus)[1].power_w.has_value());  // NVML_ERROR_NOT_SUPPORTED: no power, still memory

    void* lib = ::dlopen(LLMBENCH_FAKE_NVML_PATH, RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(lib != nullptr);
    const auto set = reinterpret_cast<void (*)(unsigned, unsigned long long, unsigned)>(::dlsym(lib, "fake_nvml_set"));
    REQUIRE(reinterpret_cast<void*>(set) != nullptr);
    set(0, 6ULL << 30, 212'500);  // a model loaded: readings change between samples
    gpus = query();
    REQUIRE(gpus.has_value());
    CHECK((*gpus)[0].used_bytes == 6LL << 30);
    CHECK((*gpus)[0].power_w == 212.5);
    ::dlclose(lib);
}
#endif

#if defined(__unix__)
TEST_CASE("nvidia-smi is the fallback: found on PATH once, asked once per sample") {
    const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
    ::setenv("PATH", (std::string(LLMBENCH_FAKES_DIR) + ":" + old_path).c_str(), 1);
    const GpuQuery query = nvidia_smi_query();
    ::setenv("PATH", "/nonexistent", 1);
    const GpuQuery missing = nvidia_smi_query();
    ::setenv("PATH", old_path.c_str(), 1);
    const auto gpus = query();
    REQUIRE(gpus.has_value());
    REQUIRE(gpus->size() == 2);
    CHECK((*gpus)[0].used_bytes == 24268LL * 1024 * 1024);
    CHECK((*gpus)[0].power_w == 287.45);
    CHECK_FALSE((*gpus)[1].power_w.has_value());
    CHECK_FALSE(missing().has_value());
}
#endif

TEST_CASE("peaks, Ollama's view and energy over a window, from fake readings") {
    FakeProc proc;
    testing::MockOllama mock;
    OllamaClient client(mock.endpoint());
    REQUIRE(client.load("llama3.1:8b").ok());
    SamplerConfig cfg;
    cfg.processes = std::make_shared<ProcReader>(proc.root.string());
    cfg.loaded_models = ollama_loaded_models(mock.endpoint());
    std::int64_t used = 1000;
    cfg.gpu = [&used]() -> std::optional<std::vector<GpuReading>> {
        used += 1000;  // rises with every sample
        return std::vector<GpuReading>{{used, 100.0}, {7, 50.0}};
    };
    MemorySampler sampler(cfg);
    const auto before = std::chrono::steady_clock::now();
    const auto window = sampler.around([] { std::this_thread::sleep_for(200ms); });
    const double outer_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    CHECK(window.samples == 2);
    CHECK(window.peak_rss_bytes == (300'000LL + 5'000'000LL) * 1024);  // ollama + runner, not bash
    CHECK(window.peak_vram_bytes == 3000 + 7);
    CHECK(window.peak_ollama_size_bytes == 6654289920LL);
    REQUIRE(window.energy_j.has_value());
    // 150 W over the window, which holds the 200 ms sleep and lies inside what was measured
    // around it (a fixed ~0.2 s would fail on a busy machine that sleeps longer).
    CHECK(*window.energy_j >= 150.0 * 0.2 * 0.99);
    CHECK(*window.energy_j <= 150.0 * outer_s * 1.01);
    CHECK(window.rss_note.empty());
}

TEST_CASE("missing sources give nulls with a reason, not zeros") {
    SamplerConfig cfg;
    cfg.processes = std::make_shared<ProcReader>("/nonexistent");
    cfg.gpu = []() -> std::optional<std::vector<GpuReading>> { return std::nullopt; };
    MemorySampler sampler(cfg);
    const auto w = sampler.around([] {});
    CHECK_FALSE(w.peak_rss_bytes.has_value());
    CHECK(w.rss_note.find("no process named 'ollama'") == 0);
    CHECK_FALSE(w.peak_vram_bytes.has_value());
    CHECK(w.vram_note.find("no GPU reading") == 0);
    CHECK_FALSE(w.energy_j.has_value());
}

TEST_CASE("a benchmark with a sampler records peaks per run and in the summary - the thread samples on its own") {
    FakeProc proc;
    testing::MockOllama mock;
    OllamaClient client(mock.endpoint());
    SamplerConfig cfg;
    cfg.interval = 20ms;
    cfg.processes = std::make_shared<ProcReader>(proc.root.string());
    cfg.gpu = []() -> std::optional<std::vector<GpuReading>> { return std::vector<GpuReading>{{4096, 200.0}}; };
    MemorySampler sampler(cfg);
    sampler.start();
    BenchmarkConfig bc;
    bc.model = "llama3.1:8b";
    bc.prompts = {{"a", "x", {}, {}}};
    bc.runs = 2;
    bc.options.num_predict = 5;
    std::vector<RunRecord> records;
    Benchmark bench(client, bc);
    const auto summary = bench.memory_sampler(&sampler).on_record([&](const RunRecord& r) { records.push_back(r); }).run().summary();
    std::this_thread::sleep_for(60ms);
    sampler.stop();
    REQUIRE(records.size() == 3);
    for (const auto& r : records) {
        REQUIRE(r.memory.has_value());
        CHECK(r.memory->peak_vram_bytes == 4096);
        CHECK(r.joules_per_token().has_value());
        CHECK(r.to_json().find("\"peak_rss_bytes\":" + std::to_string((300'000LL + 5'000'000LL) * 1024)) != std::string::npos);
    }
    CHECK(summary.peak_vram_bytes == 4096);
    CHECK(summary.find("joules_per_token")->n == 2);
    CHECK(sampler.samples().size() >= 3 * 2 + 2);  // 2 per request, plus the thread's own ticks
    CHECK(sampler.mean_sample_cost_s() > 0);

    const std::string timeline = sampler.timeline_json();
    CHECK(timeline.find(R"({"type":"memory_timeline","schema_version":1,"interval_ms":20,"t_s":[0,)") == 0);
    // Whole array elements only: a time such as 0.14096 s holds the digits too.
    const auto count = [&](const std::string& needle) {
        std::size_t n = 0;
        for (auto at = timeline.find(needle); at != std::string::npos; at = timeline.find(needle, at + 1)) {
            const auto after = at + needle.size();
            n += at > 0 && (timeline[at - 1] == '[' || timeline[at - 1] == ',') && after < timeline.size() &&
                 (timeline[after] == ',' || timeline[after] == ']');
        }
        return n;
    };
    CHECK(count("4096") == sampler.samples().size());  // one VRAM reading per sample
    CHECK(timeline.find(R"("power_w":[200,200,)") != std::string::npos);
    CHECK(timeline.find(R"("ollama_size_bytes":[null,)") != std::string::npos);  // not configured: nulls, not zeros
}
