# MLU_SANITIZE: build every target with -fsanitize=<value>: "thread", or "address,undefined"
# (tools/check builds both). Included by the root project and by runtime/ and kernels/ alone.
set(MLU_SANITIZE "" CACHE STRING "Sanitizers to build with: thread, or address,undefined")
if(MLU_SANITIZE)
  add_compile_options(-fsanitize=${MLU_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${MLU_SANITIZE})
  if(MLU_SANITIZE MATCHES "undefined")
    # Undefined behaviour fails the test that reaches it instead of printing a line.
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
