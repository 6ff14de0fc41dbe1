// The declaration in include/CFuzzer.h is all this target provides; SwiftPM needs one source file.
#include "CFuzzer.h"
