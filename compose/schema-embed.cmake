# Embeds compose-spec.json into the compose library as a C array
# (compose_spec_json / compose_spec_json_len, see schema-data.h).
#
# Included from compose/CMakeLists.txt, it adds the generation rule; run as
# a script (cmake -DIN=... -DOUT=... -P schema-embed.cmake), it writes the
# C file.
if(CMAKE_SCRIPT_MODE_FILE)
  file(READ "${IN}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
         bytes "${bytes}")
  file(WRITE "${OUT}.tmp"
       "/* Generated from compose/compose-spec.json by compose/schema-embed.cmake. */\n"
       "#include <stddef.h>\n"
       "#include \"compose/schema-data.h\"\n"
       "const char compose_spec_json[] = {\n${bytes}0x00};\n"
       "const size_t compose_spec_json_len = ${len};\n")
  file(RENAME "${OUT}.tmp" "${OUT}")
  return()
endif()

set(_schema_json ${CMAKE_CURRENT_SOURCE_DIR}/compose-spec.json)
set(_schema_c ${CMAKE_CURRENT_BINARY_DIR}/compose-spec-data.c)
add_custom_command(
  OUTPUT ${_schema_c}
  COMMAND ${CMAKE_COMMAND} -DIN=${_schema_json} -DOUT=${_schema_c}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/schema-embed.cmake
  DEPENDS ${_schema_json} ${CMAKE_CURRENT_SOURCE_DIR}/schema-embed.cmake
  COMMENT "Embedding the Compose Specification schema"
  VERBATIM)
target_sources(berth_compose PRIVATE ${_schema_c})
