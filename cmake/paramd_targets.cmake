# Helpers for paramd's own targets: warnings as errors, repo-root includes.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-Wthread-safety PARAMD_HAVE_THREAD_SAFETY)

set(PARAMD_WARNINGS -Wall -Wextra -Werror)
if(PARAMD_HAVE_THREAD_SAFETY)
  list(APPEND PARAMD_WARNINGS -Wthread-safety)
endif()

# Sanitizer builds, each in its own build dir (clang 14):
#   -DPARAMD_SANITIZE=address  ASan + UBSan; with clang, the libraries also
#                              carry libFuzzer's coverage instrumentation and
#                              the fuzz targets in tests/fuzz/ are built.
#   -DPARAMD_SANITIZE=thread   TSan.
# Only paramd's own targets are instrumented: gRPC, protobuf and abseil come
# from the system as they are (and so does paramd_proto's generated code).
set(PARAMD_SANITIZE "" CACHE STRING
  "Sanitizer for paramd's targets: empty, address (ASan+UBSan) or thread")
set_property(CACHE PARAMD_SANITIZE PROPERTY STRINGS "" address thread)
set(PARAMD_SANITIZE_FLAGS "")
set(PARAMD_FUZZ OFF)
if(PARAMD_SANITIZE STREQUAL "address")
  set(PARAMD_SANITIZE_FLAGS -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    set(PARAMD_FUZZ ON)
  endif()
elseif(PARAMD_SANITIZE STREQUAL "thread")
  set(PARAMD_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT PARAMD_SANITIZE STREQUAL "")
  message(FATAL_ERROR
    "PARAMD_SANITIZE must be empty, address or thread, got ${PARAMD_SANITIZE}")
endif()

function(paramd_apply_options target)
  target_compile_options(${target} PRIVATE ${PARAMD_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  if(PARAMD_SANITIZE_FLAGS)
    target_compile_options(${target} PRIVATE ${PARAMD_SANITIZE_FLAGS})
    # PUBLIC: a static library passes the runtime on to whatever links it.
    target_link_options(${target} PUBLIC ${PARAMD_SANITIZE_FLAGS})
  endif()
  if(PARAMD_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
  # TSan cannot see Debian's uninstrumented absl::Mutex order accesses; the
  # shim tells it (see the file's comment).
  get_target_property(type ${target} TYPE)
  if(PARAMD_SANITIZE STREQUAL "thread" AND type STREQUAL "EXECUTABLE")
    target_sources(${target} PRIVATE
      ${PROJECT_SOURCE_DIR}/tests/sanitizers/absl_sync_tsan.cc)
    target_link_libraries(${target} PRIVATE absl::synchronization
      ${CMAKE_DL_LIBS})
  endif()
endfunction()

# paramd_cc_library(NAME n SRCS a.cc b.cc DEPS x y)
function(paramd_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SRCS})
  paramd_apply_options(${ARG_NAME})
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# paramd_cc_binary(NAME n SRCS main.cc DEPS x y)
function(paramd_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  paramd_apply_options(${ARG_NAME})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

# paramd_cc_test(NAME n SRCS t.cc DEPS x y [LABELS cluster])
# Tests default to the "unit" label; cluster tests start real daemons.
function(paramd_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  paramd_apply_options(${ARG_NAME})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest_main)
  gtest_discover_tests(${ARG_NAME}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300
    DISCOVERY_TIMEOUT 30)
endfunction()
