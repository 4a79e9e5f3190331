# SPDX-License-Identifier: MIT
# Formats are leaf modules: a file in src/fmt/ includes only the core's
# format interface (core/pt_fmt.h, core/bits.h), the formats' own header,
# public headers and the C library; never a device model's or the core's
# internals. Run as: cmake -DSRC=<source dir> -P check_leaf_modules.cmake
file(GLOB files ${SRC}/src/fmt/*.c ${SRC}/src/fmt/*.h ${SRC}/src/core/pt_fmt.h)
set(bad "")
foreach(f ${files})
  file(STRINGS ${f} incs REGEX "^[ \t]*#[ \t]*include")
  foreach(i ${incs})
    if(NOT i MATCHES "[<\"](fmt/fmt\\.h|core/pt_fmt\\.h|core/bits\\.h|libviommu/[a-z_]+\\.h|[a-z]+\\.h)[>\"]")
      list(APPEND bad "${f}: ${i}")
    elseif(i MATCHES "\"[a-z]+\\.h\"")
      list(APPEND bad "${f}: ${i}")
    endif()
  endforeach()
endforeach()
list(LENGTH files n)
if(n LESS 4)
  message(FATAL_ERROR "expected the formats in src/fmt/, found: ${files}")
endif()
if(bad)
  string(REPLACE ";" "\n" bad "${bad}")
  message(FATAL_ERROR "format files include more than the core's format interface:\n${bad}")
endif()
message(STATUS "${n} format files are leaf modules")
