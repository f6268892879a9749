// What the Swift Glibc module leaves out: the allocator's controls, and closing every other file
// descriptor in a spawned child (glibc 2.34+, declared only under _GNU_SOURCE).
#include <malloc.h>
#include <spawn.h>

extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
