# Where the core's dense path gets its BLAS (CCINFER_BLAS):
#  - OFF: nowhere. cpp/noblas/cblas_kernels.cpp implements the few CBLAS calls on ccinfer's own
#    gemv kernel; no library and no Python are needed to configure.
#  - ON with CCINFER_OPENBLAS_LIBRARY (a path): that ILP64 OpenBLAS; its symbol prefix and
#    suffix in CCINFER_BLAS_PREFIX / CCINFER_BLAS_SUFFIX (default "" and "64_", Debian's
#    libopenblas64). No Python.
#  - ON with CCINFER_OPENBLAS_PKG (a pkg-config module, e.g. openblas64): found by pkg-config,
#    prefix and suffix as above. No Python.
#  - ON otherwise: the scipy-openblas64 wheel, located by asking Python (the Python package's
#    build; cmake/ScipyOpenBLAS.cmake).
# Every branch defines the target ccinfer::openblas (an empty interface target when OFF) and
# CCINFER_OPENBLAS_LIB_DIR (for run paths; empty when unknown).

set(CCINFER_OPENBLAS_LIBRARY "" CACHE FILEPATH "ILP64 OpenBLAS library to link (skips Python)")
set(CCINFER_OPENBLAS_PKG "" CACHE STRING "pkg-config module of an ILP64 OpenBLAS (skips Python)")

if(NOT CCINFER_BLAS)
  set(CCINFER_BLAS_SOURCES "${CMAKE_CURRENT_SOURCE_DIR}/cpp/noblas/cblas_kernels.cpp")
  add_library(ccinfer_openblas INTERFACE)
  target_compile_definitions(ccinfer_openblas INTERFACE
    CCINFER_BLAS_PREFIX=ccinfer_noblas_ CCINFER_BLAS_SUFFIX= CCINFER_NO_BLAS=1)
  add_library(ccinfer::openblas ALIAS ccinfer_openblas)
  set(CCINFER_OPENBLAS_LIB_DIR "")
  message(STATUS "ccinfer: no BLAS (CCINFER_BLAS=OFF): dense products on ccinfer's own kernels")
elseif(CCINFER_OPENBLAS_LIBRARY OR CCINFER_OPENBLAS_PKG)
  set(CCINFER_BLAS_SOURCES "")
  set(CCINFER_BLAS_PREFIX "" CACHE STRING "symbol prefix of the OpenBLAS given")
  set(CCINFER_BLAS_SUFFIX "64_" CACHE STRING "symbol suffix of the OpenBLAS given")
  add_library(ccinfer_openblas INTERFACE)
  if(CCINFER_OPENBLAS_LIBRARY)
    target_link_libraries(ccinfer_openblas INTERFACE "${CCINFER_OPENBLAS_LIBRARY}")
    get_filename_component(CCINFER_OPENBLAS_LIB_DIR "${CCINFER_OPENBLAS_LIBRARY}" DIRECTORY)
  else()
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(CCINFER_OPENBLAS_PC REQUIRED IMPORTED_TARGET "${CCINFER_OPENBLAS_PKG}")
    target_link_libraries(ccinfer_openblas INTERFACE PkgConfig::CCINFER_OPENBLAS_PC)
    set(CCINFER_OPENBLAS_LIB_DIR "${CCINFER_OPENBLAS_PC_LIBDIR}")
  endif()
  target_compile_definitions(ccinfer_openblas INTERFACE
    "CCINFER_BLAS_PREFIX=${CCINFER_BLAS_PREFIX}" "CCINFER_BLAS_SUFFIX=${CCINFER_BLAS_SUFFIX}")
  add_library(ccinfer::openblas ALIAS ccinfer_openblas)
  message(STATUS "ccinfer: OpenBLAS ${CCINFER_OPENBLAS_LIBRARY}${CCINFER_OPENBLAS_PKG} "
                 "(prefix '${CCINFER_BLAS_PREFIX}', suffix '${CCINFER_BLAS_SUFFIX}', ILP64)")
else()
  set(CCINFER_BLAS_SOURCES "")
  find_package(Python 3.10 REQUIRED COMPONENTS Interpreter)
  include(ScipyOpenBLAS)
endif()
