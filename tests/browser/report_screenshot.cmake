# Renders an HTML report in headless Chromium and checks the screenshot: of a mock-server run
# (-D OLLAMA_BENCH=... -D PROMPTS=...), or of a given result file (-D RESULTS=...). With
# -D EXPECT="a;b", the DOM Chromium built must hold each of those strings.
# -D REPORT=... -D CHROMIUM=... -D WORK=...
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
if(NOT DEFINED RESULTS)
  set(RESULTS "${WORK}/run.jsonl")
  execute_process(
    COMMAND "${OLLAMA_BENCH}" --demo --model llama3.1:8b --prompts "${PROMPTS}" --runs 2 --num_predict 16 --memory --quiet
            --output "${RESULTS}"
    OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ollama-bench --demo failed: ${rc}")
  endif()
endif()
execute_process(COMMAND "${REPORT}" --format html -o "${WORK}/report.html" "${RESULTS}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "llmbench-report failed: ${rc}")
endif()
# The flags keep Chromium off the network (this machine has none) and out of the user's profile.
set(flags --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
          --disable-component-update --disable-sync "--user-data-dir=${WORK}/profile" --hide-scrollbars --window-size=1280,2000)
execute_process(COMMAND "${CHROMIUM}" ${flags} "--screenshot=${WORK}/report.png" "file://${WORK}/report.html"
                OUTPUT_QUIET ERROR_QUIET TIMEOUT 90 RESULT_VARIABLE rc)
if(NOT EXISTS "${WORK}/report.png")
  message(FATAL_ERROR "Chromium wrote no screenshot (exit ${rc})")
endif()
file(READ "${WORK}/report.png" signature LIMIT 8 HEX)
file(SIZE "${WORK}/report.png" size)
if(NOT signature STREQUAL "89504e470d0a1a0a")
  message(FATAL_ERROR "report.png is not a PNG (${signature})")
endif()
# A blank page compresses to a few KB; a rendered report with charts is far larger.
if(size LESS 40000)
  message(FATAL_ERROR "report.png is only ${size} bytes: the page rendered blank?")
endif()
message(STATUS "screenshot ${WORK}/report.png: ${size} bytes")
if(DEFINED EXPECT)
  execute_process(COMMAND "${CHROMIUM}" ${flags} --dump-dom "file://${WORK}/report.html"
                  OUTPUT_VARIABLE dom ERROR_QUIET TIMEOUT 90 RESULT_VARIABLE rc)
  foreach(needle IN LISTS EXPECT)
    string(FIND "${dom}" "${needle}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "the page Chromium built lacks '${needle}' (exit ${rc})")
    endif()
  endforeach()
endif()
