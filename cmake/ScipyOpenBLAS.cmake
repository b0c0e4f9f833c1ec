# Locate OpenBLAS from the installed `scipy_openblas64` wheel by asking the package itself.
# Defines the imported target ccinfer::openblas and the cache variables CCINFER_OPENBLAS_*.
# The wheel's symbols are ILP64 with a `scipy_` prefix and `64_` suffix; cpp/include/ccinfer/blas.h
# builds the names from CCINFER_BLAS_PREFIX / CCINFER_BLAS_SUFFIX, as numpy's npy_cblas.h does.

function(_ccinfer_ask_openblas out expr)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c "import scipy_openblas64 as o; print(${expr})"
    OUTPUT_VARIABLE value
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE status
    ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "ccinfer: cannot ask scipy_openblas64 (pip install scipy-openblas64): ${err}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

_ccinfer_ask_openblas(CCINFER_OPENBLAS_INCLUDE_DIR "o.get_include_dir()")
_ccinfer_ask_openblas(CCINFER_OPENBLAS_LIB_DIR "o.get_lib_dir()")
_ccinfer_ask_openblas(CCINFER_OPENBLAS_LIB_FILE "o.get_library(fullname=True)")
_ccinfer_ask_openblas(CCINFER_OPENBLAS_CFLAGS "o.get_pkg_config().split('Cflags:')[1].splitlines()[0]")

# Symbol prefix/suffix come from the package's own Cflags (-DBLAS_SYMBOL_PREFIX=scipy_ ...).
string(REGEX MATCH "BLAS_SYMBOL_PREFIX=([A-Za-z0-9_]*)" _m "${CCINFER_OPENBLAS_CFLAGS}")
set(CCINFER_BLAS_PREFIX "${CMAKE_MATCH_1}")
string(REGEX MATCH "BLAS_SYMBOL_SUFFIX=([A-Za-z0-9_]*)" _m "${CCINFER_OPENBLAS_CFLAGS}")
set(CCINFER_BLAS_SUFFIX "${CMAKE_MATCH_1}")
if(NOT CCINFER_OPENBLAS_CFLAGS MATCHES "HAVE_BLAS_ILP64")
  message(FATAL_ERROR "ccinfer: expected the ILP64 scipy-openblas64 wheel, got: ${CCINFER_OPENBLAS_CFLAGS}")
endif()

add_library(ccinfer_openblas SHARED IMPORTED GLOBAL)
set_target_properties(ccinfer_openblas PROPERTIES
  IMPORTED_LOCATION "${CCINFER_OPENBLAS_LIB_DIR}/${CCINFER_OPENBLAS_LIB_FILE}"
  IMPORTED_NO_SONAME FALSE
  INTERFACE_INCLUDE_DIRECTORIES "${CCINFER_OPENBLAS_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS
    "CCINFER_BLAS_PREFIX=${CCINFER_BLAS_PREFIX};CCINFER_BLAS_SUFFIX=${CCINFER_BLAS_SUFFIX}")
add_library(ccinfer::openblas ALIAS ccinfer_openblas)

message(STATUS "ccinfer: OpenBLAS ${CCINFER_OPENBLAS_LIB_DIR}/${CCINFER_OPENBLAS_LIB_FILE} "
               "(prefix '${CCINFER_BLAS_PREFIX}', suffix '${CCINFER_BLAS_SUFFIX}', ILP64)")
