# rnncConfig.cmake — find_package(rnnc) for a CMake project: the rnnc of this install,
# its runtime, and two functions that turn a spec into a target, re-running rnnc when
# the spec, the weights or rnnc itself change (README, "Build systems").
#
#   rnnc_add_trainer(<target> <spec.lua> [MARCH all|native|<value>] [OPTIONS <rnnc options>...])
#       the standalone trainer <target>, an executable
#   rnnc_add_predictor(<target> <spec.lua> <weights> [MARCH ...] [OPTIONS ...])
#       a static library with the inference-only predictor of <weights> (a checkpoint,
#       or a file a rule of the project writes): int MODEL_predict(void *work,
#       const int32_t *tokens, int n, float *out) and size_t MODEL_predict_workspace(void)
#
# MARCH (default all with a GNU or Clang C compiler for x86-64, else none): all compiles
# the generated file once per x86-64 level (-march=LEVEL -DRNN_ISA_LEVEL=N, rnn_isa.h)
# and links the copies, the best one for the CPU picked at run time (a trainer at
# start-up, a predictor at each call); native or another value, one build with
# -march=<value>. The generated code always gets -O3 (and -mprefer-vector-width=512 on
# x86-64), whatever CMAKE_BUILD_TYPE says: without it a trainer is several times slower.
#
# Sets RNNC_EXECUTABLE, RNNC_INCLUDE_DIR and the imported library rnnc::rnnrt.

get_filename_component(_rnnc_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(RNNC_EXECUTABLE "${_rnnc_prefix}/bin/rnnc")
set(RNNC_INCLUDE_DIR "${_rnnc_prefix}/include")
if(NOT EXISTS "${RNNC_EXECUTABLE}" OR NOT EXISTS "${_rnnc_prefix}/lib/librnnrt.a")
  set(rnnc_FOUND FALSE)
  set(rnnc_NOT_FOUND_MESSAGE "no rnnc or librnnrt.a under ${_rnnc_prefix}")
  return()
endif()

if(NOT TARGET rnnc::rnnrt)
  add_library(rnnc::rnnrt STATIC IMPORTED)
  set_target_properties(rnnc::rnnrt PROPERTIES
    IMPORTED_LOCATION "${_rnnc_prefix}/lib/librnnrt.a"
    INTERFACE_INCLUDE_DIRECTORIES "${RNNC_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES m)
endif()

# The -march choice: "all" where the compiler builds the x86-64 levels, else none.
function(_rnnc_march out given)
  if(given)
    set(${out} "${given}" PARENT_SCOPE)
  elseif(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(${out} all PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# The objects of a generated C file: one OBJECT library per x86-64 level, or one.
# Sets <out> to the list of $<TARGET_OBJECTS:...> of them.
function(_rnnc_objects out name c_file march)
  set(x86 "")
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(x86 -mprefer-vector-width=512)
  endif()
  set(objects "")
  if(march STREQUAL "all")
    set(level 1)
    foreach(arch x86-64 x86-64-v2 x86-64-v3 x86-64-v4)
      add_library(${name}_isa${level} OBJECT "${c_file}")
      target_include_directories(${name}_isa${level} PRIVATE "${RNNC_INCLUDE_DIR}")
      target_compile_options(${name}_isa${level} PRIVATE -O3 ${x86} -march=${arch})
      target_compile_definitions(${name}_isa${level} PRIVATE RNN_ISA_LEVEL=${level})
      set_target_properties(${name}_isa${level} PROPERTIES C_STANDARD 17 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
      list(APPEND objects $<TARGET_OBJECTS:${name}_isa${level}>)
      math(EXPR level "${level} + 1")
    endforeach()
  else()
    add_library(${name}_code OBJECT "${c_file}")
    target_include_directories(${name}_code PRIVATE "${RNNC_INCLUDE_DIR}")
    if(march)
      target_compile_options(${name}_code PRIVATE -O3 ${x86} -march=${march})
    else()
      target_compile_options(${name}_code PRIVATE -O3)
    endif()
    set_target_properties(${name}_code PROPERTIES C_STANDARD 17 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
    list(APPEND objects $<TARGET_OBJECTS:${name}_code>)
  endif()
  set(${out} "${objects}" PARENT_SCOPE)
endfunction()

function(rnnc_add_trainer target spec)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "MARCH" "OPTIONS")
  get_filename_component(spec "${spec}" ABSOLUTE)
  set(c_file "${CMAKE_CURRENT_BINARY_DIR}/${target}.c")
  add_custom_command(OUTPUT "${c_file}"
    COMMAND "${RNNC_EXECUTABLE}" "${spec}" -o "${c_file}" ${arg_OPTIONS}
    DEPENDS "${spec}" "${RNNC_EXECUTABLE}"
    COMMENT "rnnc ${spec} -> ${target}.c" VERBATIM)
  _rnnc_march(march "${arg_MARCH}")
  _rnnc_objects(objects ${target} "${c_file}" "${march}")
  add_executable(${target} ${objects})
  target_link_libraries(${target} PRIVATE rnnc::rnnrt)
endfunction()

function(rnnc_add_predictor target spec weights)
  cmake_parse_arguments(PARSE_ARGV 3 arg "" "MARCH" "OPTIONS")
  get_filename_component(spec "${spec}" ABSOLUTE)
  get_filename_component(weights "${weights}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  set(c_file "${CMAKE_CURRENT_BINARY_DIR}/${target}.c")
  add_custom_command(OUTPUT "${c_file}"
    COMMAND "${RNNC_EXECUTABLE}" "${spec}" --weights "${weights}" -o "${c_file}" ${arg_OPTIONS}
    DEPENDS "${spec}" "${weights}" "${RNNC_EXECUTABLE}"
    COMMENT "rnnc ${spec} --weights ${weights} -> ${target}.c" VERBATIM)
  _rnnc_march(march "${arg_MARCH}")
  _rnnc_objects(objects ${target} "${c_file}" "${march}")
  add_library(${target} STATIC ${objects})
  target_link_libraries(${target} INTERFACE m)
endfunction()
