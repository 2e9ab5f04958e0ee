/* The web console's files, embedded at build time (gen-console-assets.py writes the table): each with its
 * content type, its sha256 as an ETag and a content-hashed name.  Invariant: a hashed name always names
 * the same bytes, so it may be cached for ever; a plain name is revalidated by its ETag. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Longest file name the console serves ("view-component.0123456789ab.js" and the like). */
#define CONSOLE_ASSET_NAME_MAX 64U
/* The page served at "/". */
#define CONSOLE_INDEX "index.html"

typedef struct ConsoleAsset {
        const char *name;         /* "app.js" */
        const char *hashed_name;  /* "app.0123456789ab.js" */
        const char *content_type; /* "text/javascript; charset=utf-8" */
        const unsigned char *data;
        size_t size;
        const char *etag; /* "\"<sha256 hex>\"", quoted as the header carries it */
} ConsoleAsset;

extern const ConsoleAsset console_assets[];
extern const size_t console_assets_n;

/* The asset called name (plain or hashed), or NULL; *ret_hashed says whether name was the hashed one. */
const ConsoleAsset *console_asset_find(const char *name, bool *ret_hashed);
/* The total size of every asset, for the status page and the bench. */
size_t console_assets_size(void);
