// What the Swift Glibc module leaves out: the allocator's controls, closing every other file descriptor in
// a spawned child (glibc 2.34+), and pipe2, both declared only under _GNU_SOURCE.
#include <malloc.h>
#include <spawn.h>

extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
extern int pipe2(int pipefd[2], int flags);
