# `cmake --install` of the core for C and C++ programs: lib/libccinfer.a, the headers, a
# find_package(ccinfer) config (target ccinfer::core) and a pkg-config file ccinfer.pc.
# Only for a core whose BLAS is exportable (CCINFER_BLAS=OFF, or an OpenBLAS given by path or
# pkg-config); the Python wheel installs its extension module instead (CMakeLists.txt).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

if(CCINFER_BLAS AND NOT (CCINFER_OPENBLAS_LIBRARY OR CCINFER_OPENBLAS_PKG))
  message(FATAL_ERROR "ccinfer: CCINFER_INSTALL needs CCINFER_BLAS=OFF or an OpenBLAS given by "
                      "CCINFER_OPENBLAS_LIBRARY / CCINFER_OPENBLAS_PKG (the scipy-openblas64 "
                      "wheel is for the Python package)")
endif()

set_target_properties(ccinfer_core PROPERTIES OUTPUT_NAME ccinfer EXPORT_NAME core)
target_include_directories(ccinfer_core PUBLIC "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
install(TARGETS ccinfer_core ccinfer_openblas EXPORT ccinferTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(DIRECTORY cpp/include/ccinfer DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.h")
set(_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/ccinfer")
install(EXPORT ccinferTargets NAMESPACE ccinfer:: DESTINATION "${_cmake_dir}")
configure_package_config_file(cmake/ccinferConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/ccinferConfig.cmake" INSTALL_DESTINATION "${_cmake_dir}")
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/ccinferConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/ccinferConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/ccinferConfigVersion.cmake"
        DESTINATION "${_cmake_dir}")

# pkg-config: a static C++ library, so a C program also needs the C++ runtime and OpenMP.
set(CCINFER_PC_LIBS "-lccinfer")
if(CCINFER_OPENBLAS_LIBRARY)
  string(APPEND CCINFER_PC_LIBS " ${CCINFER_OPENBLAS_LIBRARY}")
endif()
set(CCINFER_PC_REQUIRES "")
if(CCINFER_OPENBLAS_PKG)
  set(CCINFER_PC_REQUIRES "${CCINFER_OPENBLAS_PKG}")
endif()
configure_file(cmake/ccinfer.pc.in "${CMAKE_CURRENT_BINARY_DIR}/ccinfer.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/ccinfer.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
