# Per-file ISA flags (docs/design.md section 5): a kernel file named avx2.cpp or avx512.cpp
# (one file per ISA) gets the flags of its ISA and nothing else does, so the baseline path
# never runs an instruction the CPU may lack. CCINFER_NATIVE adds -march=native everywhere (local
# experiments only: the binary then runs only on this CPU).

set(CCINFER_AVX2_FLAGS -mavx2 -mfma -mf16c)
# -Wno-maybe-uninitialized: gcc 12 false positive inside _mm512_reduce_add_ps.
set(CCINFER_AVX512_FLAGS -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c
    -Wno-maybe-uninitialized)

function(ccinfer_apply_isa_flags)
  foreach(src IN LISTS ARGN)
    get_filename_component(name "${src}" NAME)
    if(name STREQUAL "avx2.cpp")
      set_source_files_properties("${src}" PROPERTIES COMPILE_OPTIONS "${CCINFER_AVX2_FLAGS}")
    elseif(name STREQUAL "avx512.cpp")
      set_source_files_properties("${src}" PROPERTIES COMPILE_OPTIONS "${CCINFER_AVX512_FLAGS}")
    endif()
  endforeach()
endfunction()

# The gate-maths kernels give the same bits on every ISA: no multiply and add may be fused
# that the scalar reference keeps apart (gcc fuses them by default where FMA exists).
function(ccinfer_exact_fp_contract)
  foreach(src IN LISTS ARGN)
    if(src MATCHES "/kernels/gru_gates/")
      set_property(SOURCE "${src}" APPEND PROPERTY COMPILE_OPTIONS -ffp-contract=off)
    endif()
  endforeach()
endfunction()
