# Helpers for paramd's own targets: warnings as errors, repo-root includes.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-Wthread-safety PARAMD_HAVE_THREAD_SAFETY)

set(PARAMD_WARNINGS -Wall -Wextra -Werror)
if(PARAMD_HAVE_THREAD_SAFETY)
  list(APPEND PARAMD_WARNINGS -Wthread-safety)
endif()

function(paramd_apply_options target)
  target_compile_options(${target} PRIVATE ${PARAMD_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
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
