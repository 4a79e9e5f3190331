# SPDX-License-Identifier: MIT
# Install rules: libraries, public headers (incl. the generated version.h and
# export.h), the CMake package `libviommu` (targets libviommu::viommu and
# libviommu::viommu_static) and libviommu.pc. Everything is relative to the
# install prefix, so an installed tree keeps working after it is moved.
include(CMakePackageConfigHelpers)

set(VIOMMU_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/libviommu" CACHE STRING
    "Where libviommuConfig.cmake goes (relative to the prefix)")
mark_as_advanced(VIOMMU_INSTALL_CMAKEDIR)

install(TARGETS viommu viommu_static EXPORT libviommuTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT devel
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT devel)

install(EXPORT libviommuTargets NAMESPACE libviommu:: FILE libviommuTargets.cmake
        DESTINATION ${VIOMMU_INSTALL_CMAKEDIR} COMPONENT devel)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/libviommuConfig.cmake.in
  ${PROJECT_BINARY_DIR}/libviommuConfig.cmake INSTALL_DESTINATION ${VIOMMU_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/libviommuConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/libviommuConfig.cmake ${PROJECT_BINARY_DIR}/libviommuConfigVersion.cmake
        DESTINATION ${VIOMMU_INSTALL_CMAKEDIR} COMPONENT devel)

# pkg-config: prefix is derived from the .pc file's own location (${pcfiledir}),
# libdir/includedir from ${prefix}; no absolute path ends up in the file.
set(VIOMMU_PC_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
foreach(v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${v}}")
    message(FATAL_ERROR "libviommu.pc needs a prefix-relative CMAKE_INSTALL_${v} (got ${CMAKE_INSTALL_${v}})")
  endif()
endforeach()
file(RELATIVE_PATH VIOMMU_PC_TO_PREFIX "/prefix/${VIOMMU_PC_DIR}" "/prefix")
string(REGEX REPLACE "/+$" "" VIOMMU_PC_TO_PREFIX "${VIOMMU_PC_TO_PREFIX}")
set(VIOMMU_PC_PREFIX "\${pcfiledir}/${VIOMMU_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/libviommu.pc.in ${PROJECT_BINARY_DIR}/libviommu.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/libviommu.pc DESTINATION ${VIOMMU_PC_DIR} COMPONENT devel)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT devel)
# The API reference, when `cmake --build <dir> --target docs` ran before install.
install(DIRECTORY ${PROJECT_BINARY_DIR}/html/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/html
        COMPONENT docs OPTIONAL)
