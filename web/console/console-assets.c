/* Looking up the console's embedded files by name.  Only names in the generated table are ever served:
 * a request's path is compared, never opened. */
#include "console-assets.h"

#include <string.h>

const ConsoleAsset *console_asset_find(const char *name, bool *ret_hashed) {
        if (!name || strlen(name) > CONSOLE_ASSET_NAME_MAX)
                return NULL;
        for (size_t i = 0; i < console_assets_n; i++) {
                const ConsoleAsset *a = &console_assets[i];

                if (strcmp(a->name, name) == 0 || strcmp(a->hashed_name, name) == 0) {
                        if (ret_hashed)
                                *ret_hashed = strcmp(a->hashed_name, name) == 0;
                        return a;
                }
        }
        return NULL;
}

size_t console_assets_size(void) {
        size_t n = 0;

        for (size_t i = 0; i < console_assets_n; i++)
                n += console_assets[i].size;
        return n;
}
