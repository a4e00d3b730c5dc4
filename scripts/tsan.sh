#!/usr/bin/env bash
# Builds the test suite with ThreadSanitizer and runs the tests that use threads: load
# generation, many streams at once, the socket reader, the memory sampler, the mocks' slots,
# the eval runner's concurrency. Not part of the test command (a third full build would not
# fit its 10 minutes); run it after changing anything concurrent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target llmbench_tests -j "$(nproc 2>/dev/null || echo 2)"
# setarch -R: TSan of GCC 12 cannot map its shadow memory under the kernel's high-entropy ASLR.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" setarch "$(uname -m)" -R build/tsan/tests/llmbench_tests \
  -tc="*loop*,*streams*,*slot*,*stop:*,*duration*,*sweep*,*chunked bodies*,*Content-Length*,timeouts:*,kernel receive*,*sampler*,*memory*,*concurren*,*mock*"
