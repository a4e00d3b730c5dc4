// Energy counters (host/energy.hpp) and thermal state (host/thermal.hpp) read from fake
// powercap, hwmon, cpufreq and thermal trees, a stand-in NVML and a stand-in powermetrics.
#include <doctest/doctest.h>

#include <llmbench/host/memory_sampler.hpp>
#include <llmbench/host/powermetrics.hpp>
#include <llmbench/host/thermal.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>
#if defined(__unix__)
#include <dlfcn.h>
#endif

using namespace llmbench;

namespace {

/// A temporary folder standing in for /sys, removed at the end.
struct FakeSysfs {
    std::filesystem::path root = std::filesystem::temp_directory_path() / ("llmbench-sysfs-" + std::to_string(::getpid()));
    FakeSysfs() { std::filesystem::remove_all(root); }
    ~FakeSysfs() { std::filesystem::remove_all(root); }
    void write(const std::string& relative, const std::string& text) const {
        const auto path = root / relative;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path, std::ios::trunc) << text << '\n';
    }
    /// A RAPL zone as the kernel lays it out: name, energy_uj, max_energy_range_uj.
    void rapl(const std::string& zone, const std::string& name, long long uj, long long range = 262143328850LL) const {
        write("class/powercap/" + zone + "/name", name);
        write("class/powercap/" + zone + "/energy_uj", std::to_string(uj));
        write("class/powercap/" + zone + "/max_energy_range_uj", std::to_string(range));
    }
};

const EnergyCounter* counter(const EnergyReading& r, const std::string& id) {
    for (const auto& c : r.counters)
        if (c.id == id) return &c;
    return nullptr;
}

}  // namespace

TEST_CASE("RAPL zones: package and DRAM count into the total, cores and psys do not (they hold or are held by the package)") {
    FakeSysfs sys;
    sys.rapl("intel-rapl:0", "package-0", 1'000'000);
    sys.rapl("intel-rapl:0:0", "core", 400'000);
    sys.rapl("intel-rapl:0:1", "dram", 50'000);
    sys.rapl("intel-rapl:1", "psys", 2'000'000);
    sys.write("class/powercap/intel-rapl-mmio:0/name", "package-0");  // the MMIO twin of the package: not read
    sys.write("class/powercap/intel-rapl-mmio:0/energy_uj", "1");
    const auto before = read_rapl(sys.root / "class/powercap");
    REQUIRE(before.counters.size() == 4);
    CHECK(before.notes.empty());
    const auto* package = counter(before, "rapl:intel-rapl:0");
    REQUIRE(package != nullptr);
    CHECK(package->name == "package-0");
    CHECK(package->covers == "cpu_package");
    CHECK(package->joules == 1.0);
    CHECK(package->wrap_joules == 262143.32885);
    CHECK(package->in_total);
    CHECK_FALSE(counter(before, "rapl:intel-rapl:0:0")->in_total);
    CHECK(counter(before, "rapl:intel-rapl:0:1")->in_total);
    CHECK(counter(before, "rapl:intel-rapl:1")->covers == "platform");
    CHECK_FALSE(counter(before, "rapl:intel-rapl:1")->in_total);

    sys.rapl("intel-rapl:0", "package-0", 31'000'000);   // +30 J
    sys.rapl("intel-rapl:0:0", "core", 20'400'000);      // +20 J, inside the package
    sys.rapl("intel-rapl:0:1", "dram", 2'050'000);       // +2 J
    sys.rapl("intel-rapl:1", "psys", 42'000'000);        // +40 J
    const auto use = energy_between(before, read_rapl(sys.root / "class/powercap"));
    REQUIRE(use.total_j.has_value());
    CHECK(*use.total_j == doctest::Approx(32.0).epsilon(1e-12));
    CHECK(use.source == "rapl");
    CHECK_FALSE(use.covers_gpu);
    REQUIRE(use.zones_j.size() == 4);
    CHECK(use.zones_j.at("rapl:intel-rapl:0:0") == doctest::Approx(20.0));
    CHECK(use.zones_j.at("rapl:intel-rapl:1") == doctest::Approx(40.0));
}

TEST_CASE("a RAPL counter that wrapped past max_energy_range_uj counts the joules on both sides of the wrap") {
    FakeSysfs sys;
    const long long range = 262143328850LL;
    sys.rapl("intel-rapl:0", "package-0", range - 1'000'000);  // 1 J before the wrap
    const auto before = read_rapl(sys.root / "class/powercap");
    sys.rapl("intel-rapl:0", "package-0", 2'500'000);          // 2.5 J after it
    const auto use = energy_between(before, read_rapl(sys.root / "class/powercap"));
    REQUIRE(use.total_j.has_value());
    CHECK(*use.total_j == doctest::Approx(3.5).epsilon(1e-9));

    EnergyReading no_range = before;  // a counter without a range that goes back was reset: left out, said so
    no_range.counters[0].wrap_joules.reset();
    EnergyReading later = no_range;
    later.counters[0].joules = 1;
    const auto reset = energy_between(no_range, later);
    CHECK_FALSE(reset.total_j.has_value());
    REQUIRE(reset.notes.size() == 1);
    CHECK(reset.notes[0].find("rapl:intel-rapl:0 went back") != std::string::npos);
}

TEST_CASE("missing and unreadable RAPL files: no counter, and a note saying how to allow reading them - never a throw") {
    FakeSysfs sys;
    CHECK(read_rapl(sys.root / "class/powercap").counters.empty());  // no powercap folder at all
    CHECK(read_rapl(sys.root / "class/powercap").notes.empty());
    sys.write("class/powercap/intel-rapl:0/name", "package-0");  // a zone without its counter file
    CHECK(read_rapl(sys.root / "class/powercap").counters.empty());
    // Unreadable: as root (these tests often are) permissions do not stop a read, so the
    // counter is a folder, which opens but reads nothing, as a root-only file does for others.
    std::filesystem::create_directories(sys.root / "class/powercap/intel-rapl:0/energy_uj");
    const auto r = read_rapl(sys.root / "class/powercap");
    CHECK(r.counters.empty());
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0].find("readable by root only") != std::string::npos);
    CHECK(r.notes[0].find("chmod o+r") != std::string::npos);
}

TEST_CASE("amdgpu: energy1_input is a counter and power1_average the sampled watts with VRAM from mem_info_vram_used - connectors and other drivers ignored") {
    FakeSysfs sys;
    sys.write("class/drm/card0/device/hwmon/hwmon3/name", "amdgpu");
    sys.write("class/drm/card0/device/hwmon/hwmon3/energy1_input", "7000000");
    sys.write("class/drm/card0/device/hwmon/hwmon3/power1_average", "95000000");
    sys.write("class/drm/card0/device/hwmon/hwmon3/power1_input", "99000000");
    sys.write("class/drm/card0/device/mem_info_vram_used", std::to_string(3LL << 30));
    sys.write("class/drm/card0-DP-1/device/hwmon/hwmon9/name", "amdgpu");  // a connector
    sys.write("class/drm/card0-DP-1/device/hwmon/hwmon9/energy1_input", "1");
    sys.write("class/drm/card1/device/hwmon/hwmon4/name", "nouveau");
    sys.write("class/drm/card1/device/hwmon/hwmon4/energy1_input", "1");
    sys.write("class/drm/card2/device/hwmon/hwmon5/name", "amdgpu");  // an APU without the energy file: watts only
    sys.write("class/drm/card2/device/hwmon/hwmon5/power1_input", "12500000");
    sys.write("class/drm/card2/device/mem_info_vram_used", "536870912");
    const auto drm = sys.root / "class/drm";
    const auto before = read_amdgpu_energy(drm);
    REQUIRE(before.counters.size() == 1);
    CHECK(before.counters[0].id == "amdgpu:card0");
    CHECK(before.counters[0].covers == "gpu");
    CHECK(before.counters[0].joules == 7.0);
    const auto watts = read_amdgpu_power_w(drm);
    REQUIRE(watts.size() == 2);
    CHECK(watts[0] == 95.0);  // the average, not the instant
    CHECK(watts[1] == 12.5);
    const GpuQuery query = amdgpu_query(drm);
    REQUIRE(static_cast<bool>(query));
    const auto gpus = query();
    REQUIRE(gpus.has_value());
    REQUIRE(gpus->size() == 2);
    CHECK((*gpus)[0].used_bytes == 3LL << 30);
    CHECK((*gpus)[0].power_w == 95.0);
    CHECK((*gpus)[1].power_w == 12.5);
    sys.write("class/drm/card0/device/hwmon/hwmon3/energy1_input", "19500000");
    const auto use = energy_between(before, read_amdgpu_energy(drm));
    CHECK(use.total_j == 12.5);
    CHECK(use.source == "amdgpu");
    CHECK(use.covers_gpu);
    CHECK_FALSE(static_cast<bool>(amdgpu_query(sys.root / "class/none")));
}

TEST_CASE("one request's energy: the counters' difference, GPU watts sampled only where no GPU counter ran") {
    FakeSysfs sys;
    sys.rapl("intel-rapl:0", "package-0", 10'000'000);
    SamplerConfig cfg;
    cfg.processes = nullptr;
    cfg.gpu = [] { return std::optional<std::vector<GpuReading>>(std::vector<GpuReading>{{1 << 20, 100.0}}); };
    cfg.energy = default_energy_query(sys.root, "/nonexistent/libnvidia-ml.so");
    MemorySampler sampler(cfg);
    const RunMemory m = sampler.around([&] {
        sys.rapl("intel-rapl:0", "package-0", 14'250'000);  // the request: 4.25 J
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    });
    REQUIRE(m.energy_j.has_value());
    CHECK(m.energy_source == "rapl+gpu_power_sampled");
    CHECK(*m.energy_j > 4.25);  // plus 100 W over about 20 ms
    CHECK(*m.energy_j < 4.25 + 100 * 1.0);
    CHECK(m.energy_zones_j.at("rapl:intel-rapl:0") == doctest::Approx(4.25));

    cfg.gpu = nullptr;
    MemorySampler cpu_only(cfg);
    const RunMemory c = cpu_only.around([&] { sys.rapl("intel-rapl:0", "package-0", 15'250'000); });
    CHECK(c.energy_j == doctest::Approx(1.0));
    CHECK(c.energy_source == "rapl");
    CHECK(c.energy_note.empty());

    cfg.energy = default_energy_query(sys.root / "elsewhere", "/nonexistent/libnvidia-ml.so");
    MemorySampler none(cfg);
    const RunMemory n = none.around([] {});
    CHECK_FALSE(n.energy_j.has_value());
    CHECK(n.energy_note.find("no energy counter") != std::string::npos);
}

#if defined(LLMBENCH_FAKE_NVML_PATH)
TEST_CASE("NVML's energy counter (millijoules since the driver loaded) for the GPUs that have one") {
    const EnergyQuery query = nvml_energy_query(LLMBENCH_FAKE_NVML_PATH);
    REQUIRE(static_cast<bool>(query));
    const auto before = query();
    REQUIRE(before.counters.size() == 1);  // the second GPU answers NVML_ERROR_NOT_SUPPORTED
    CHECK(before.counters[0].id == "nvml:gpu0");
    CHECK(before.counters[0].joules == 5000.0);
    void* lib = ::dlopen(LLMBENCH_FAKE_NVML_PATH, RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(lib != nullptr);
    const auto set = reinterpret_cast<void (*)(unsigned, unsigned long long)>(::dlsym(lib, "fake_nvml_set_energy"));
    REQUIRE(reinterpret_cast<void*>(set) != nullptr);
    set(0, 5'123'456);
    const auto use = energy_between(before, query());
    CHECK(use.total_j == doctest::Approx(123.456));
    CHECK(use.source == "nvml");
    CHECK(use.covers_gpu);  // the sampler then leaves NVML's sampled watts out
    set(0, 5'000'000);
    ::dlclose(lib);
}
#endif

TEST_CASE("--subtract-idle: idle watts measured over a rest period, then idle watts x duration taken off each run") {
    // A counter that climbs 5 W at rest, plus 2 J a request spends at once.
    const auto t0 = std::chrono::steady_clock::now();
    auto spent = std::make_shared<std::atomic<double>>(0.0);
    SamplerConfig cfg;
    cfg.processes = nullptr;
    cfg.gpu = nullptr;
    cfg.energy = [t0, spent] {
        EnergyReading r;
        EnergyCounter c;
        c.id = "rapl:intel-rapl:0";
        c.source = "rapl";
        c.covers = "cpu_package";
        c.in_total = true;
        c.joules = 5.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() + spent->load();
        r.counters.push_back(c);
        return r;
    };
    MemorySampler sampler(cfg);
    const IdlePower idle = sampler.measure_idle(std::chrono::milliseconds(200), true);
    REQUIRE(idle.watts.has_value());
    CHECK(*idle.watts == doctest::Approx(5.0).epsilon(0.01));
    CHECK(idle.seconds >= 0.2);
    CHECK(idle.source == "rapl");
    CHECK(idle.subtracted);
    const RunMemory m = sampler.around([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        *spent = 2.0;
    });
    REQUIRE(m.energy_j.has_value());
    REQUIRE(m.energy_idle_j.has_value());
    CHECK(*m.energy_idle_j == doctest::Approx(5.0 * 0.05).epsilon(0.5));  // 5 W over the run's ~50 ms
    CHECK(*m.energy_j == doctest::Approx(2.0).epsilon(0.01));             // what the request spent above idle
}

TEST_CASE("thermal state from sysfs: CPU clocks, zone temperatures and Intel throttle counts - a cell that throttled says so") {
    FakeSysfs sys;
    for (int cpu = 0; cpu < 2; ++cpu) {
        const std::string dir = "devices/system/cpu/cpu" + std::to_string(cpu);
        sys.write(dir + "/cpufreq/scaling_cur_freq", cpu == 0 ? "3600000" : "2400000");
        sys.write(dir + "/cpufreq/cpuinfo_max_freq", "4800000");
        sys.write(dir + "/thermal_throttle/core_throttle_count", "3");
        sys.write(dir + "/thermal_throttle/package_throttle_count", "1");
    }
    sys.write("devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "1");  // not a CPU folder
    sys.write("class/thermal/thermal_zone0/type", "x86_pkg_temp");
    sys.write("class/thermal/thermal_zone0/temp", "71000");
    sys.write("class/thermal/thermal_zone1/type", "acpitz");
    sys.write("class/thermal/thermal_zone1/temp", "45500");
    ThermalConditions c;
    c.start = read_thermal(sys.root);
    CHECK(c.start.cpu_mhz_mean == 3000.0);
    CHECK(c.start.cpu_mhz_min == 2400.0);
    CHECK(c.start.cpu_mhz_max == 3600.0);
    CHECK(c.start.cpu_max_mhz == 4800.0);
    CHECK(c.start.throttle_events == 8);
    REQUIRE(c.start.zones_c.size() == 2);
    CHECK(c.start.hottest_c() == 71.0);
    c.end = read_thermal(sys.root);
    CHECK_FALSE(c.throttled());
    CHECK(c.warning().empty());
    sys.write("devices/system/cpu/cpu1/thermal_throttle/core_throttle_count", "5");
    c.end = read_thermal(sys.root);
    CHECK(c.throttled());
    CHECK(c.warning().find("2 thermal throttling events") != std::string::npos);
    Summary s;
    c.attach_to(s);
    CHECK(s.conditions_json.find("\"throttled\":true") != std::string::npos);
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.to_json().find("\"conditions\":{\"start\":{\"cpu_mhz_mean\":3000") != std::string::npos);

    const ThermalSnapshot none = read_thermal(sys.root / "nothing");  // a machine that says nothing: all unknown
    CHECK_FALSE(none.cpu_mhz_mean.has_value());
    CHECK_FALSE(none.throttle_events.has_value());
    CHECK(none.zones_c.empty());
}

TEST_CASE("macOS pmset -g therm: CPU_Speed_Limit below 100 means slowed") {
    const char* cool = "Note: No thermal warning level has been recorded\nNote: No performance warning level has been recorded\n";
    CHECK_FALSE(parse_pmset_speed_limit(cool).has_value());
    const char* hot = "CPU_Scheduler_Limit \t= 100\nCPU_Available_CPUs \t= 8\nCPU_Speed_Limit \t= 73\n";
    CHECK(parse_pmset_speed_limit(hot) == 73);
    ThermalConditions c;
    c.end.speed_limit_percent = 73;
    CHECK(c.throttled());
    CHECK(c.warning().find("limited to 73%") != std::string::npos);
}

namespace {

/// One plist document as powermetrics prints it, with the power parts given (mW; "" leaves one out).
std::string pm_plist(const std::string& elapsed_ns, const std::string& cpu_mw, const std::string& gpu_mw, const std::string& ane_mw) {
    std::string processor = "<key>clusters</key><array><dict><key>name</key><string>P-Cluster</string><key>cpus</key><array/></dict></array>";
    if (!cpu_mw.empty()) processor += "<key>cpu_power</key><real>" + cpu_mw + "</real>";
    if (!gpu_mw.empty()) processor += "<key>gpu_power</key><real>" + gpu_mw + "</real>";
    if (!ane_mw.empty()) processor += "<key>ane_power</key><integer>" + ane_mw + "</integer>";
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"x\">\n<plist version=\"1.0\">\n<dict>\n"
           "<key>is_delta</key><true/><key>elapsed_ns</key><integer>" + elapsed_ns + "</integer>"
           "<key>timestamp</key><date>2026-12-05T12:00:00Z</date><key>kern_bootargs</key><string></string>"
           "<key>thermal_pressure</key><string>Moderate</string><!-- a comment -->"
           "<key>processor</key><dict>" + processor + "</dict></dict>\n</plist>\n";
}

}  // namespace

TEST_CASE("a powermetrics plist sample: CPU, GPU and ANE milliwatts over elapsed_ns - anything else is an error naming what") {
    const auto s = parse_powermetrics_sample(pm_plist("250000000", "2978.45", "269.6", "12"));
    CHECK(s.elapsed_s == doctest::Approx(0.25));
    CHECK(s.cpu_w == doctest::Approx(2.97845));
    CHECK(s.gpu_w == doctest::Approx(0.2696));
    CHECK(s.ane_w == doctest::Approx(0.012));
    CHECK(s.thermal_pressure == "Moderate");
    CHECK_FALSE(parse_powermetrics_sample(pm_plist("1000000", "", "7", "")).cpu_w.has_value());

    const auto error_of = [](const std::string& text) -> std::string {
        try {
            (void)parse_powermetrics_sample(text);
        } catch (const error& e) {
            CHECK(e.code() == errc::protocol);
            return e.what();
        }
        return "(no error)";
    };
    CHECK(error_of(pm_plist("0", "1", "1", "1")).find("no positive elapsed_ns") != std::string::npos);
    CHECK(error_of(pm_plist("100", "", "", "")).find("no processor.cpu_power, gpu_power or ane_power") != std::string::npos);
    CHECK(error_of(pm_plist("100", "12 mW", "", "")).find("processor.cpu_power is not a number: '12 mW'") != std::string::npos);
    CHECK(error_of(pm_plist("100", "-5", "", "")).find("processor.cpu_power is out of range") != std::string::npos);
    CHECK(error_of("<plist><dict><key>elapsed_ns</key><integer>5</integer></plist>").find("expected <key> in a dict at byte") != std::string::npos);
    CHECK(error_of("<plist><dict><key>a</key><bogus>1</bogus></dict></plist>").find("unknown element <bogus>") != std::string::npos);
    CHECK(error_of("{\"elapsed_ns\": 5}").find("expected a tag at byte 0") != std::string::npos);
    std::string deep = "<plist>";
    for (int i = 0; i < 40; ++i) deep += "<array>";
    CHECK(error_of(deep).find("nesting deeper than 32") != std::string::npos);
}

TEST_CASE("powermetrics samples become counters: watts x elapsed summed after the first sample and run on between samples") {
    using clock = PowermetricsIntegrator::clock;
    PowermetricsIntegrator pm;
    const auto t0 = clock::now();
    CHECK(pm.read(t0).counters.empty());  // nothing before the first sample
    PowermetricsSample s;
    s.elapsed_s = 0.1;
    s.cpu_w = 4.0;
    s.gpu_w = 10.0;  // no ANE part in these samples: no ANE counter
    pm.add(s, t0);
    const auto start = pm.read(t0);
    REQUIRE(start.counters.size() == 2);
    CHECK(counter(start, "powermetrics:cpu")->joules == 0.0);  // the first sample's interval was before the counters began
    CHECK(counter(start, "powermetrics:gpu")->covers == "gpu");
    CHECK(counter(start, "powermetrics:cpu")->covers == "cpu_cores");
    CHECK(counter(start, "powermetrics:cpu")->in_total);
    for (int i = 1; i <= 3; ++i) pm.add(s, t0 + std::chrono::milliseconds(100 * i));
    const auto at_300ms = pm.read(t0 + std::chrono::milliseconds(300));
    CHECK(energy_between(start, at_300ms).total_j == doctest::Approx(3 * 0.1 * 14.0));
    CHECK(energy_between(start, at_300ms).source == "powermetrics");
    CHECK(energy_between(start, at_300ms).covers_gpu);
    // 50 ms past the last sample the last watts run on; a second past it, one interval at most.
    CHECK(energy_between(at_300ms, pm.read(t0 + std::chrono::milliseconds(350))).total_j == doctest::Approx(0.05 * 14.0));
    CHECK(energy_between(at_300ms, pm.read(t0 + std::chrono::milliseconds(1300))).total_j == doctest::Approx(0.1 * 14.0));
    // Then samples at 1 W: the GPU counter, read at 4 J, is held there until the samples pass it.
    PowermetricsSample low = s;
    low.cpu_w = 0.0;
    low.gpu_w = 1.0;
    for (int i = 4; i <= 8; ++i) pm.add(low, t0 + std::chrono::milliseconds(100 * i));
    CHECK(counter(pm.read(t0 + std::chrono::milliseconds(800)), "powermetrics:gpu")->joules == doctest::Approx(4.0));
    for (int i = 9; i <= 15; ++i) pm.add(low, t0 + std::chrono::milliseconds(100 * i));
    CHECK(counter(pm.read(t0 + std::chrono::milliseconds(1500)), "powermetrics:gpu")->joules == doctest::Approx(3.0 + 12 * 0.1));
    CHECK(counter(pm.read(t0 + std::chrono::milliseconds(1500)), "powermetrics:cpu")->joules == doctest::Approx(1.2 + 0.4));  // held too: 0 W after
    CHECK(pm.samples() == 16);
    CHECK(pm.thermal_pressure().empty());
}

#if defined(LLMBENCH_FAKES_DIR)
TEST_CASE("the stand-in powermetrics' output parses sample by sample") {
    const std::string out = llmbench::detail::run_command(std::string(LLMBENCH_FAKES_DIR) + "/powermetrics --samplers cpu_power,gpu_power -i 20 -f plist -n 3");
    std::size_t docs = 0;
    for (auto end = out.find("</plist>"), begin = std::string::size_type(0); end != std::string::npos; begin = end + 8, end = out.find("</plist>", begin)) {
        const auto s = parse_powermetrics_sample(std::string_view(out).substr(begin, end + 8 - begin));
        CHECK(s.elapsed_s == doctest::Approx(0.02));
        CHECK(s.cpu_w == doctest::Approx(4.5));
        CHECK(s.gpu_w == doctest::Approx(12.0));
        CHECK(s.ane_w == doctest::Approx(0.0));
        CHECK(s.thermal_pressure == "Nominal");
        ++docs;
    }
    CHECK(docs == 3);
    CHECK(std::count(out.begin(), out.end(), '\0') == 3);  // each document ends in a NUL
}

TEST_CASE("powermetrics as a child process: its samples summed into counters while it runs - a refusal or a missing program is a note") {
    const std::string fake = std::string(LLMBENCH_FAKES_DIR) + "/powermetrics";
    ::setenv("FAKE_POWERMETRICS_CPU_MW", "2000", 1);
    ::setenv("FAKE_POWERMETRICS_GPU_MW", "6000", 1);
    ::setenv("FAKE_POWERMETRICS_ANE_MW", "1000", 1);
    {
        PowermetricsProcess pm(fake, std::chrono::milliseconds(40));
        const auto first = pm.read();  // waits for the first sample
        REQUIRE(first.counters.size() == 3);
        CHECK(first.notes.empty());
        const auto from = pm.samples();
        for (int i = 0; i < 500 && pm.samples() < from + 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const auto later = pm.read();
        const auto samples = static_cast<double>(pm.samples() - from);
        REQUIRE(samples >= 5);
        // 9 W in 40 ms samples: 0.36 J each, give or take the interval a reading may run on by.
        const auto use = energy_between(first, later);
        REQUIRE(use.total_j.has_value());
        CHECK(*use.total_j >= (samples - 2) * 0.36 - 1e-9);
        CHECK(*use.total_j <= (samples + 2) * 0.36 + 1e-9);
        CHECK(use.zones_j.at("powermetrics:gpu") == doctest::Approx(*use.total_j * 6.0 / 9.0).epsilon(0.01));
    }
    ::unsetenv("FAKE_POWERMETRICS_CPU_MW");
    ::unsetenv("FAKE_POWERMETRICS_GPU_MW");
    ::unsetenv("FAKE_POWERMETRICS_ANE_MW");

    ::setenv("FAKE_POWERMETRICS_REFUSE", "1", 1);
    {
        PowermetricsProcess refused(fake, std::chrono::milliseconds(40));
        const auto r = refused.read();
        CHECK(r.counters.empty());
        REQUIRE(r.notes.size() == 1);
        CHECK(r.notes[0].find("gave no sample (exit status 1): powermetrics must be invoked as the superuser; it needs root") != std::string::npos);
    }
    ::unsetenv("FAKE_POWERMETRICS_REFUSE");

    PowermetricsProcess missing("/nonexistent/powermetrics", std::chrono::milliseconds(40));
    const auto m = missing.read();
    CHECK(m.counters.empty());
    REQUIRE(m.notes.size() == 1);
    CHECK(m.notes[0].find("/nonexistent/powermetrics gave no sample") != std::string::npos);
}

TEST_CASE("LLMBENCH_POWERMETRICS puts powermetrics into the machine's energy query - off runs none") {
    FakeSysfs sys;  // no RAPL, no GPU
    ::setenv("LLMBENCH_POWERMETRICS", (std::string(LLMBENCH_FAKES_DIR) + "/powermetrics").c_str(), 1);
    CHECK(powermetrics_program() == std::string(LLMBENCH_FAKES_DIR) + "/powermetrics");
    SamplerConfig cfg;
    cfg.processes = nullptr;
    cfg.gpu = nullptr;
    cfg.energy = default_energy_query(sys.root, "/nonexistent/libnvidia-ml.so");
    MemorySampler sampler(cfg);
    const RunMemory m = sampler.around([] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });
    REQUIRE(m.energy_j.has_value());
    CHECK(*m.energy_j > 0);
    CHECK(m.energy_source == "powermetrics");
    CHECK(m.energy_zones_j.count("powermetrics:cpu") == 1);
    CHECK(m.energy_zones_j.count("powermetrics:ane") == 1);
    ::setenv("LLMBENCH_POWERMETRICS", "off", 1);
    CHECK(powermetrics_program().empty());
    CHECK_FALSE(static_cast<bool>(default_powermetrics_query()));
    ::unsetenv("LLMBENCH_POWERMETRICS");
}
#endif
