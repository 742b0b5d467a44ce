# Man pages: docs/man/*.scd (scdoc source) -> ${CMAKE_BINARY_DIR}/man/NAME.SECTION,
# built by the target `man` (part of ALL) and installed under CMAKE_INSTALL_MANDIR.
# Without scdoc the pages are skipped with a warning; nothing else depends on them.
include(GNUInstallDirs)

set(CASED_MAN_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}/../docs/man)
set(CASED_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(CASED_MAN_PAGES casectl.1 cased.8 cased.toml.5)

find_program(SCDOC_PROGRAM scdoc)
if(NOT SCDOC_PROGRAM)
  message(WARNING "scdoc not found: the man pages (casectl(1), cased(8), cased.toml(5)) will not be built")
  return()
endif()

set(_cased_man_outputs)
foreach(page ${CASED_MAN_PAGES})
  set(src ${CASED_MAN_SOURCE_DIR}/${page}.scd)
  set(out ${CASED_MAN_DIR}/${page})
  # scdoc reads stdin and writes stdout; a failed run must not leave a partial page.
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CASED_MAN_DIR}
    COMMAND sh -c "\"$0\" < \"$1\" > \"$2.tmp\" && mv \"$2.tmp\" \"$2\"" ${SCDOC_PROGRAM} ${src} ${out}
    DEPENDS ${src}
    COMMENT "scdoc ${page}"
    VERBATIM)
  list(APPEND _cased_man_outputs ${out})
  string(REGEX MATCH "[0-9]$" section ${page})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()

add_custom_target(man ALL DEPENDS ${_cased_man_outputs})
