/* Cleanup helpers for libarchive objects, one place for every module that reads or writes tar
 * (include only where libarchive is a dependency). */
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_write_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry *, archive_entry_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry_linkresolver *, archive_entry_linkresolver_free);
