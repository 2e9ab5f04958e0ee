/* File system helpers.  Every file that matters is written to a temp name, fsynced, renamed
 * over the target and its directory fsynced, so readers see the old or the new file, never half. */
#pragma once

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

/* Write data atomically to dir_fd/path (AT_FDCWD allowed) with the given mode. */
int write_file_atomic_at(int dir_fd, const char *path, const void *data, size_t size, mode_t mode);
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Temp-file protocol for streaming writers: open a hidden temp file in the target's directory,
 * write it, then link_tmpfile_atomic() fsyncs, renames and fsyncs the directory. */
int open_tmpfile_at(int dir_fd, const char *target, char **ret_tmp_path);
int link_tmpfile_atomic_at(int fd, int dir_fd, const char *tmp_path, const char *target);

int fsync_directory_of(int dir_fd, const char *path);
int fsync_dir_fd(int dir_fd);

int read_full_file(const char *path, char **ret_data, size_t *ret_size);
int read_full_file_at(int dir_fd, const char *path, size_t max_size, char **ret_data, size_t *ret_size);

int mkdir_p(const char *path, mode_t mode);
/* mkdir_p(), then opens path as a directory (O_CLOEXEC): the fd, or -errno. */
int mkdir_p_open(const char *path, mode_t mode);

typedef enum RmRfFlags {
        RM_RF_CHMOD = 1 << 0, /* make each directory 0700 first, so read-only trees (layers) are removable */
} RmRfFlags;

/* Remove a tree without following symlinks; ENOENT is not an error.  The first failure is returned,
 * after removing all that can be removed. */
int rm_rf_at(int dir_fd, const char *path, RmRfFlags flags);
int rm_rf(const char *path);

/* fdopendir() that takes the fd: on failure it is closed. */
int fdopendir_consume(int fd, DIR **ret);
/* Opens dir_fd/path as a DIR stream. */
int opendir_at(int dir_fd, const char *path, DIR **ret);
/* A DIR stream on a duplicate of fd, rewound, leaving fd itself usable. */
int opendir_dup(int fd, DIR **ret);
/* readdir() without "." and "..": the next entry, or NULL at the end (or on error, with errno set). */
struct dirent *readdir_no_dot(DIR *d);
/* 1 when dir_fd/path is a directory with no entries, 0 when it has some, or -errno. */
int dir_is_empty_at(int dir_fd, const char *path);

/* Write all of buf to fd, retrying on EINTR and short writes. */
int loop_write(int fd, const void *buf, size_t size);
/* The same at a file offset, with pwrite(2). */
int loop_pwrite(int fd, const void *buf, size_t size, off_t offset);
/* One read(2), restarted on EINTR: bytes read, 0 at EOF, or -errno. */
ssize_t read_retry(int fd, void *buf, size_t size);
/* Read up to size bytes; returns bytes read (short only at EOF). */
ssize_t loop_read(int fd, void *buf, size_t size);

/* Joins two path components with one '/'. Returns NULL on OOM. */
char *path_join(const char *a, const char *b);
