# `concur clean`: a segment named after a pid that cannot exist (above Linux's largest
# pid_max, 2^22) is stale; --dry-run lists it and keeps it, clean removes it.
string(RANDOM LENGTH 8 ALPHABET 0123456789 nonce)
set(segment /dev/shm/concur-4194305-${nonce}-0)
file(WRITE ${segment} "12345678")

execute_process(COMMAND ${CONCUR} clean --dry-run RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "would remove ${segment}  8 bytes  \\(owner pid 4194305 is gone\\)")
  file(REMOVE ${segment})
  message(FATAL_ERROR "concur clean --dry-run (${rc}) did not list ${segment}:\n${out}${err}")
endif()
if(NOT EXISTS ${segment})
  message(FATAL_ERROR "--dry-run removed ${segment}")
endif()

execute_process(COMMAND ${CONCUR} clean RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXISTS ${segment})
  file(REMOVE ${segment})
  message(FATAL_ERROR "concur clean (${rc}) left ${segment}:\n${out}${err}")
endif()
if(NOT rc EQUAL 0 OR NOT out MATCHES "removed ${segment}" OR NOT out MATCHES "stale segments? removed")
  message(FATAL_ERROR "concur clean (${rc}) printed:\n${out}${err}")
endif()
