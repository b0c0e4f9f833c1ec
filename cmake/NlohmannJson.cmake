# nlohmann-json (header-only), for the model-file reader: its CMake package (Debian's
# nlohmann-json3-dev, vcpkg, ...) or the headers of the PyPI package nlohmann-json, which the
# Python build lists in build-system.requires (it ships no CMake files). Defines
# ccinfer::nlohmann_json. CCINFER_NLOHMANN_JSON_INCLUDE_DIR overrides both.
set(CCINFER_NLOHMANN_JSON_INCLUDE_DIR "" CACHE PATH "directory holding nlohmann/json.hpp")

add_library(ccinfer_nlohmann_json INTERFACE)
if(CCINFER_NLOHMANN_JSON_INCLUDE_DIR)
  target_include_directories(ccinfer_nlohmann_json SYSTEM INTERFACE
    "$<BUILD_INTERFACE:${CCINFER_NLOHMANN_JSON_INCLUDE_DIR}>")
else()
  find_package(nlohmann_json 3.10 CONFIG QUIET)
  if(nlohmann_json_FOUND)
    target_link_libraries(ccinfer_nlohmann_json INTERFACE "$<BUILD_INTERFACE:nlohmann_json::nlohmann_json>")
    message(STATUS "ccinfer: nlohmann-json ${nlohmann_json_VERSION} (CMake package)")
  else()
    if(NOT Python_EXECUTABLE)
      find_package(Python 3.10 COMPONENTS Interpreter)
    endif()
    if(Python_EXECUTABLE)
      # find_spec, not the package's get_include(): that imports importlib_resources.
      execute_process(
        COMMAND "${Python_EXECUTABLE}" -c
          "import importlib.util as u, os; s = u.find_spec('nlohmann_json'); print(os.path.join(s.submodule_search_locations[0], 'include'))"
        OUTPUT_VARIABLE _nlj_dir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _nlj_status
        ERROR_QUIET)
    endif()
    if(NOT Python_EXECUTABLE OR NOT _nlj_status EQUAL 0 OR NOT EXISTS "${_nlj_dir}/nlohmann/json.hpp")
      message(FATAL_ERROR "ccinfer: nlohmann-json not found: install nlohmann-json3-dev (apt), "
                          "pip install nlohmann-json, or set CCINFER_NLOHMANN_JSON_INCLUDE_DIR")
    endif()
    target_include_directories(ccinfer_nlohmann_json SYSTEM INTERFACE "$<BUILD_INTERFACE:${_nlj_dir}>")
    message(STATUS "ccinfer: nlohmann-json headers from the PyPI package: ${_nlj_dir}")
  endif()
endif()
add_library(ccinfer::nlohmann_json ALIAS ccinfer_nlohmann_json)
