# Layering of lib/ (STYLE.md): a layer may include only itself and the layers
# listed as its dependencies. hq_layer() declares a layer as an OBJECT library;
# the include check below runs at build time, so a layering mistake fails the build.
#
#   support <- ir <- runtime, data <- eval <- quant <- train
#   ir, quant <- compiler <- sim <- report

set(HQ_LAYERS "" CACHE INTERNAL "")

function(hq_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  add_library(hq_${name} OBJECT ${L_SOURCES})
  target_include_directories(hq_${name} PUBLIC ${PROJECT_SOURCE_DIR}/lib)
  foreach(dep IN LISTS L_DEPS)
    target_link_libraries(hq_${name} PUBLIC hq_${dep})
  endforeach()
  if(L_LIBS)
    target_link_libraries(hq_${name} PUBLIC ${L_LIBS})
  endif()
  # Transitive closure of allowed layers, for the include check.
  set(allowed ${name})
  foreach(dep IN LISTS L_DEPS)
    list(APPEND allowed ${dep} ${HQ_LAYER_ALLOWED_${dep}})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set(HQ_LAYER_ALLOWED_${name} ${allowed} CACHE INTERNAL "")
  set(HQ_LAYERS ${HQ_LAYERS} ${name} CACHE INTERNAL "")

  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/layering_${name}.stamp)
  file(GLOB_RECURSE layer_files CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/lib/${name}/*.h ${PROJECT_SOURCE_DIR}/lib/${name}/*.cpp
       ${PROJECT_SOURCE_DIR}/lib/${name}/*.def)
  string(REPLACE ";" "," allowed_csv "${allowed}")
  string(REPLACE ";" "," all_csv "support,ir,runtime,data,eval,quant,train,compiler,sim,report")
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DLAYER=${name} -DALLOWED=${allowed_csv} -DALL=${all_csv}
            -DDIR=${PROJECT_SOURCE_DIR}/lib/${name} -DSTAMP=${stamp}
            -P ${PROJECT_SOURCE_DIR}/cmake/check_layering.cmake
    DEPENDS ${layer_files} ${PROJECT_SOURCE_DIR}/cmake/check_layering.cmake
    COMMENT "Checking the include layering of lib/${name}")
  add_custom_target(hq_${name}_layering DEPENDS ${stamp})
  add_dependencies(hq_${name} hq_${name}_layering)
endfunction()
