/* Test helper: builds layer tarballs in memory with libarchive. */
#pragma once

/* Test tables name only the fields each entry needs. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/common.h"

struct tar_entry {
    const char *path;
    mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO; 0 = hard link */
    mode_t perm;
    const char *data; /* file contents, symlink or hard link target */
    unsigned uid, gid;
    int64_t mtime;
    const char *xattr_name, *xattr_value;
    unsigned rdev_major, rdev_minor;
};

/* filter: ARCHIVE_FILTER_NONE, _GZIP, _ZSTD. Returns an owned buffer. */
static inline char *
tar_build(const struct tar_entry *ents, size_t n, int filter, size_t *len)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (filter == ARCHIVE_FILTER_GZIP)
        archive_write_add_filter_gzip(a);
    else if (filter == ARCHIVE_FILTER_ZSTD)
        archive_write_add_filter_zstd(a);
    size_t cap = 1 << 20;
    char *buf = xmalloc(cap);
    size_t used = 0;
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK)
        abort();
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, ents[i].path);
        archive_entry_set_uid(e, ents[i].uid);
        archive_entry_set_gid(e, ents[i].gid);
        archive_entry_set_mtime(e, ents[i].mtime ? ents[i].mtime : 1700000000, 0);
        if (ents[i].xattr_name)
            archive_entry_xattr_add_entry(e, ents[i].xattr_name, ents[i].xattr_value,
                                          strlen(ents[i].xattr_value));
        size_t size = 0;
        if (ents[i].type == 0) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_hardlink(e, ents[i].data);
        } else {
            archive_entry_set_filetype(e, ents[i].type);
            archive_entry_set_perm(e, ents[i].perm ? ents[i].perm : 0644);
            if (ents[i].type == AE_IFLNK)
                archive_entry_set_symlink(e, ents[i].data);
            if (ents[i].type == AE_IFREG && ents[i].data)
                size = strlen(ents[i].data);
            if (ents[i].type == AE_IFCHR || ents[i].type == AE_IFBLK)
                archive_entry_set_rdev(e, makedev(ents[i].rdev_major, ents[i].rdev_minor));
        }
        archive_entry_set_size(e, (la_int64_t)size);
        if (archive_write_header(a, e) != ARCHIVE_OK)
            abort();
        if (size)
            archive_write_data(a, ents[i].data, size);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    *len = used;
    return buf;
}
