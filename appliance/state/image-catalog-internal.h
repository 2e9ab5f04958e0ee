/* Internal to the image catalog (image-catalog.c, image-catalog-gc.c). */
#pragma once

#include "image-catalog.h"

/* image_catalog_gc() with the store lock (write) and the db lock already held. */
int image_catalog_gc_locked(ImageCatalog *c, bool dry_run, CatalogGcResult *ret, OciError *err);
