#ifndef CFUZZER_H
#define CFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver, from compiler-rt: linked only into the `-sanitize=fuzzer` build of
/// `sagemaker-callback-fuzz`. It parses libFuzzer's flags from argv and calls `callback` with
/// each input it generates.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
