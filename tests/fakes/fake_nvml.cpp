// A stand-in for NVIDIA's libnvidia-ml.so: the entry points llmbench loads, with the
// real signatures (nvmlReturn_t is an int enum, nvmlDevice_t a pointer), serving two GPUs
// whose readings a test sets through fake_nvml_set. Lets the NVML path run without a GPU.
#include <cstdint>

namespace {
struct Device {
    unsigned long long used_bytes;
    unsigned milliwatts;
    int power_status;  // 0 = NVML_SUCCESS; 3 = NVML_ERROR_NOT_SUPPORTED
    unsigned long long millijoules;  // since "driver load"
    int energy_status;               // the second GPU is pre-Volta: no energy counter
};
Device devices[2] = {{1ULL << 30, 150'000, 0, 5'000'000, 0}, {512ULL << 20, 0, 3, 0, 3}};
bool initialized = false;
}  // namespace

extern "C" {
struct nvmlMemory_t {
    unsigned long long total, free, used;
};

__attribute__((visibility("default"))) void fake_nvml_set(unsigned index, unsigned long long used_bytes, unsigned milliwatts) {
    devices[index].used_bytes = used_bytes;
    devices[index].milliwatts = milliwatts;
}
__attribute__((visibility("default"))) void fake_nvml_set_energy(unsigned index, unsigned long long millijoules) {
    devices[index].millijoules = millijoules;
}
__attribute__((visibility("default"))) int nvmlInit_v2() {
    initialized = true;
    return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetCount_v2(unsigned* count) {
    if (!initialized) return 1;  // NVML_ERROR_UNINITIALIZED
    *count = 2;
    return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
    if (index >= 2) return 2;  // NVML_ERROR_INVALID_ARGUMENT
    *device = &devices[index];
    return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* memory) {
    const auto* d = static_cast<Device*>(device);
    *memory = {80ULL << 30, (80ULL << 30) - d->used_bytes, d->used_bytes};
    return 0;
}
// Peak bandwidth inputs, as an RTX 4090 reports them: 10501 MHz memory clock, 384-bit bus.
__attribute__((visibility("default"))) int nvmlDeviceGetMaxClockInfo(void*, int type, unsigned* mhz) {
    if (type != 2) return 2;  // only NVML_CLOCK_MEM is asked for
    *mhz = 10501;
    return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMemoryBusWidth(void*, unsigned* bits) {
    *bits = 384;
    return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetName(void*, char* name, unsigned length) {
    const char fake[] = "Fake RTX 4090";
    for (unsigned i = 0; i < length; ++i) {
        name[i] = i < sizeof fake ? fake[i] : '\0';
        if (name[i] == '\0') break;
    }
    return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetPowerUsage(void* device, unsigned* milliwatts) {
    const auto* d = static_cast<Device*>(device);
    if (d->power_status != 0) return d->power_status;
    *milliwatts = d->milliwatts;
    return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetTotalEnergyConsumption(void* device, unsigned long long* millijoules) {
    const auto* d = static_cast<Device*>(device);
    if (d->energy_status != 0) return d->energy_status;
    *millijoules = d->millijoules;
    return 0;
}
}
