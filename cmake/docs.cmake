# SPDX-License-Identifier: MIT
# `docs` target: Doxygen API reference of the public headers plus the pages in
# docs/*.md, main page README.md. Any Doxygen warning fails the build.
# Output: <build dir>/html/index.html. Disable with -DVIOMMU_BUILD_DOCS=OFF.
if(NOT VIOMMU_BUILD_DOCS)
  return()
endif()
find_package(Doxygen)
if(NOT DOXYGEN_FOUND)
  message(STATUS "Doxygen not found: no 'docs' target (apt-get install doxygen)")
  return()
endif()

set(DOXYGEN_PROJECT_NAME "libviommu")
set(DOXYGEN_PROJECT_NUMBER "${PROJECT_VERSION}")
set(DOXYGEN_PROJECT_BRIEF "${PROJECT_DESCRIPTION}")
set(DOXYGEN_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}")
set(DOXYGEN_HTML_OUTPUT html)
set(DOXYGEN_GENERATE_HTML YES)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_GENERATE_MAN NO)
set(DOXYGEN_USE_MDFILE_AS_MAINPAGE "${PROJECT_SOURCE_DIR}/README.md")
set(DOXYGEN_OPTIMIZE_OUTPUT_FOR_C YES)
set(DOXYGEN_EXTRACT_ALL NO)           # undocumented public API must warn
set(DOXYGEN_EXTRACT_STATIC NO)
set(DOXYGEN_WARNINGS YES)
set(DOXYGEN_WARN_IF_UNDOCUMENTED YES)
set(DOXYGEN_WARN_IF_DOC_ERROR YES)
set(DOXYGEN_WARN_AS_ERROR YES)
set(DOXYGEN_QUIET YES)
set(DOXYGEN_HAVE_DOT NO)
set(DOXYGEN_FULL_PATH_NAMES YES)
set(DOXYGEN_STRIP_FROM_PATH "${PROJECT_SOURCE_DIR}" "${PROJECT_BINARY_DIR}")
set(DOXYGEN_STRIP_FROM_INC_PATH "${PROJECT_SOURCE_DIR}/include" "${PROJECT_BINARY_DIR}/include")
set(DOXYGEN_ENABLE_PREPROCESSING YES)
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_EXPAND_ONLY_PREDEF YES)
set(DOXYGEN_PREDEFINED "VIOMMU_API=")
# error.h builds its enum from an X-macro list: let Doxygen expand it, and
# document each enumerator from the same list (generated errors.dox below).
set(DOXYGEN_EXPAND_AS_DEFINED VIOMMU_ERRORS VIOMMU_X_ENUM_)
set(DOXYGEN_EXCLUDE_SYMBOLS VIOMMU_X_ENUM_)
set(DOXYGEN_SORT_MEMBER_DOCS NO)
set(DOXYGEN_TYPEDEF_HIDES_STRUCT NO)
set(DOXYGEN_MARKDOWN_SUPPORT YES)
set(DOXYGEN_TOC_INCLUDE_HEADINGS 3)
set(DOXYGEN_IMAGE_PATH "${PROJECT_SOURCE_DIR}/docs")
set(DOXYGEN_EXCLUDE_PATTERNS "*/export.h")

file(GLOB VIOMMU_DOC_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)

set(_viommu_error_h ${PROJECT_SOURCE_DIR}/include/libviommu/error.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_viommu_error_h})
file(READ ${_viommu_error_h} _viommu_error_text)
string(REPLACE ";" "@SEMI@" _viommu_error_text "${_viommu_error_text}")  # keep list items whole
string(REGEX MATCHALL "X\\(VIOMMU_[A-Z0-9_]+, *-?[0-9]+, *\"[^\"]*\"\\)" _viommu_errors "${_viommu_error_text}")
set(_viommu_dox "")
foreach(e IN LISTS _viommu_errors)
  if(e MATCHES "X\\((VIOMMU_[A-Z0-9_]+), *(-?[0-9]+), *\"([^\"]*)\"")
    string(APPEND _viommu_dox "/** @var ${CMAKE_MATCH_1}\n *  ${CMAKE_MATCH_3} (${CMAKE_MATCH_2}). */\n")
  endif()
endforeach()
set(VIOMMU_DOC_EXTRA)
if(_viommu_errors)
  string(REPLACE "@SEMI@" ";" _viommu_dox "${_viommu_dox}")
  file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/doxygen/errors.dox CONTENT "${_viommu_dox}")
  set(VIOMMU_DOC_EXTRA ${PROJECT_BINARY_DIR}/doxygen/errors.dox)
endif()
doxygen_add_docs(docs
  ${VIOMMU_PUBLIC_HEADERS} ${PROJECT_BINARY_DIR}/include/libviommu/version.h
  ${PROJECT_SOURCE_DIR}/README.md ${VIOMMU_DOC_PAGES} ${VIOMMU_DOC_EXTRA}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "Doxygen: API reference -> ${PROJECT_BINARY_DIR}/html/index.html")
