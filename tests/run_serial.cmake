# Included by CTest after the discovered doctest cases (TEST_INCLUDE_FILES): the load tests
# that keep every core busy with hundreds of streams run alone. Beside them, tests that time a
# server's pauses (an idle deadline of 0.3 s, inter-token gaps) saw its threads starved for most
# of a second under ThreadSanitizer and failed. The names are the TEST_CASEs' (a name that
# matches none is passed over); both suites, the C++20 one where it is built.
foreach(suite IN ITEMS llmbench_tests llmbench_tests_cxx20)
  foreach(name IN ITEMS
      "64 streams at once: the mock takes every connection - inter-token gaps are gathered"
      "512 streams on two event-loop threads: all in flight at once, each with its own gaps")
    set_tests_properties("${suite}:${name}" PROPERTIES RUN_SERIAL TRUE)
  endforeach()
endforeach()
