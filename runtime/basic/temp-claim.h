/* Temp files and dirs a crash may leave behind.  A writer claims each one with flock(LOCK_EX) on an fd of
 * it, right after creating it and for as long as it works on it; a sweeper (daemon start, image gc)
 * removes only entries whose claim it can take.  So the temp of a write in progress is never removed, and
 * everything a killed writer left (the kernel drops its locks) is. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct TempSweepStats {
        uint64_t removed; /* entries removed (or that would be, on a dry run) */
        uint64_t bytes;   /* their size: file sizes, summed over a directory's tree */
} TempSweepStats;

typedef enum TempSweepFlags {
        TEMP_SWEEP_DRY_RUN = 1 << 0, /* count, remove nothing */
} TempSweepFlags;

/* Claims the entry fd refers to (the caller just created it).  -EBUSY: a sweeper holds it right now;
 * -ESTALE: a sweeper removed it before the claim.  Either way the caller closes fd and creates another. */
int temp_claim(int fd);

/* mkdir(path, mode) and claim it: the claimed fd (O_DIRECTORY), or -errno (-EEXIST when path exists;
 * -EBUSY/-ESTALE when a sweep got in between, and the caller may simply try again). */
int temp_mkdir_claimed(const char *path, mode_t mode);

/* Called with the entry (dir_fd, name), claimed, before a sweep removes it: e.g. to unmount what a killed
 * build left mounted below it. */
typedef void (*TempSweepHook)(int dir_fd, const char *name, void *userdata);

/* For each entry of dir_fd whose name starts with prefix and that nobody claims: counts it into stats and,
 * unless TEMP_SWEEP_DRY_RUN, removes it (a directory with all it holds).  Returns 0 or the first error. */
int temp_sweep_at(int dir_fd, const char *prefix, TempSweepFlags flags, TempSweepHook hook, void *userdata,
                  TempSweepStats *stats);
/* The same by path; a missing directory has nothing to sweep. */
int temp_sweep(const char *dir, const char *prefix, TempSweepFlags flags, TempSweepHook hook, void *userdata,
               TempSweepStats *stats);
