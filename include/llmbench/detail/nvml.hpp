// llmbench/detail/nvml.hpp - NVIDIA's management library, loaded at run time.
//
// No link-time dependency: the library is opened with dlopen when a reader asks for it, and
// stays loaded for the life of the process, as NVML expects. The memory sampler (memory and
// power), the energy counters and the roofline (memory clock and bus width) read through this
// one loader.
#pragma once

#include <optional>
#include <type_traits>

#if defined(__unix__) && !defined(__APPLE__)
#include <dlfcn.h>
#endif

namespace llmbench::detail {

struct Nvml {
    struct Memory {  ///< nvmlMemory_t
        unsigned long long total, free, used;
    };
    static constexpr int clock_mem = 2;  ///< NVML_CLOCK_MEM

    int (*device_count)(unsigned*) = nullptr;
    int (*device_handle)(unsigned, void**) = nullptr;
    int (*memory_info)(void*, Memory*) = nullptr;
    int (*power_usage)(void*, unsigned*) = nullptr;  ///< milliwatts
    int (*total_energy)(void*, unsigned long long*) = nullptr;  ///< millijoules since the driver loaded (Volta and later)
    int (*max_clock)(void*, int, unsigned*) = nullptr;
    int (*memory_bus_width)(void*, unsigned*) = nullptr;
    int (*device_name)(void*, char*, unsigned) = nullptr;

    /// The library at `path`, initialised; nullopt when it is missing, lacks nvmlInit_v2 or
    /// nvmlDeviceGetHandleByIndex_v2, or does not initialise (no driver). Other entry points
    /// may be null: check before calling.
    static std::optional<Nvml> load(const char* path = "libnvidia-ml.so.1") {
#if defined(__unix__) && !defined(__APPLE__)
        void* lib = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) return std::nullopt;
        Nvml n;
        const auto bind = [lib](auto& fn, const char* name) { fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name)); };
        int (*init)() = nullptr;
        bind(init, "nvmlInit_v2");
        bind(n.device_count, "nvmlDeviceGetCount_v2");
        bind(n.device_handle, "nvmlDeviceGetHandleByIndex_v2");
        bind(n.memory_info, "nvmlDeviceGetMemoryInfo");
        bind(n.power_usage, "nvmlDeviceGetPowerUsage");
        bind(n.total_energy, "nvmlDeviceGetTotalEnergyConsumption");
        bind(n.max_clock, "nvmlDeviceGetMaxClockInfo");
        bind(n.memory_bus_width, "nvmlDeviceGetMemoryBusWidth");
        bind(n.device_name, "nvmlDeviceGetName");
        if (init == nullptr || n.device_handle == nullptr || init() != 0) {
            ::dlclose(lib);
            return std::nullopt;
        }
        return n;
#else
        (void)path;
        return std::nullopt;
#endif
    }
};

}  // namespace llmbench::detail
