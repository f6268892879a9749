// glibc's allocator controls (malloc_trim, mallopt), which the Glibc module leaves out.
#include <malloc.h>
