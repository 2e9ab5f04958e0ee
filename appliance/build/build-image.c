/* Stage state as JSON, layers committed from directories, overlay mounts of a stage, and the OCI config and
 * manifest of the result.  Invariant: the same state (and SOURCE_DATE_EPOCH) always gives the same bytes. */
#include "build-image.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "layer-create.h"
#include "layer-unpack.h"
#include "manifest.h"
#include "overlay.h"
#include "strbuf.h"

int build_state_new_scratch(json_t **ret) {
        json_t *s = json_pack("{s:[], s:{}, s:[], s:s, s:s}", "layers", "config", "history", "architecture",
                              "amd64", "os", "linux");
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static const char *layer_media_type(const char *mt) {
        if (!mt || streq(mt, DOCKER_MEDIA_TYPE_LAYER_GZIP))
                return OCI_MEDIA_TYPE_LAYER_GZIP;
        return mt;
}

int build_state_from_image(BuildContext *ctx, const char *digest, json_t **ret) {
        OciStore *store = ctx->builder->catalog->store;
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_free_ char *mdata = NULL, *cdata = NULL;
        _cleanup_json_ json_t *config = NULL, *s = NULL;
        size_t msize, csize;
        json_t *inner, *hist, *layers;
        char **ldigests = NULL, **diff_ids = NULL, **mtypes = NULL;
        size_t n = 0;
        int r;

        /* The manifest as the store parsed it at import; the config as JSON, whose fields the state keeps. */
        r = oci_store_read_blob(store, digest, OCI_MANIFEST_MAX, &mdata, &msize);
        if (r < 0)
                return r;
        r = oci_manifest_parse(mdata, msize, NULL, "manifest", &m, NULL);
        if (r < 0)
                return r;
        r = oci_store_read_blob(store, m.config.digest, OCI_CONFIG_MAX, &cdata, &csize);
        if (r < 0)
                return r;
        r = json_parse_buffer(cdata, csize, &config, NULL);
        if (r < 0)
                return r;
        r = oci_store_image_layers(store, digest, &ldigests, &diff_ids, &mtypes, &n);
        if (r < 0)
                return r;
        r = build_state_new_scratch(&s);
        if (r < 0)
                goto out;
        layers = json_object_get(s, "layers");
        for (size_t i = 0; i < n; i++) {
                json_int_t size = i < m.n_layers ? (json_int_t) m.layers[i].size : 0;

                if (json_array_append_new(layers, json_pack("{s:s, s:s, s:s, s:I}", "digest", ldigests[i],
                                                            "diffId", diff_ids[i], "mediaType",
                                                            layer_media_type(mtypes[i]), "size", size)) <
                    0) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        inner = json_object_get(config, "config");
        if (json_is_object(inner))
                json_object_set(s, "config", inner);
        hist = json_object_get(config, "history");
        if (json_is_array(hist))
                json_object_set(s, "history", hist);
        if (json_is_string(json_object_get(config, "architecture")))
                json_object_set(s, "architecture", json_object_get(config, "architecture"));
        if (json_is_string(json_object_get(config, "os")))
                json_object_set(s, "os", json_object_get(config, "os"));
        /* Docker keeps SHELL in the config; OCI images have no such field. */
        if (json_is_object(inner) && json_is_array(json_object_get(inner, "Shell"))) {
                json_object_set(s, "shell", json_object_get(inner, "Shell"));
                json_object_del(json_object_get(s, "config"), "Shell");
        }
        /* Work on a private copy: the cached JSON of the base is shared by nobody, but be explicit. */
        json_object_set_new(s, "config", json_deep_copy(json_object_get(s, "config")));
        json_object_set_new(s, "history", json_deep_copy(json_object_get(s, "history")));
        *ret = TAKE_PTR(s);
        r = 0;
out:
        strv_free_n(ldigests, n);
        strv_free_n(diff_ids, n);
        strv_free_n(mtypes, n);
        return r;
}

int build_state_add_history(BuildContext *ctx, json_t *state, const char *created_by, bool empty_layer) {
        json_t *h = json_pack("{s:s, s:s}", "created", ctx->created, "created_by", created_by);

        if (!h)
                return -ENOMEM;
        if (empty_layer)
                json_object_set_new(h, "empty_layer", json_true());
        if (json_array_append_new(json_object_get(state, "history"), h) < 0)
                return -ENOMEM;
        return 0;
}

int build_state_commit_layer(BuildContext *ctx, json_t *state, const char *dir, bool overlay_whiteouts,
                             char ret_digest[static DIGEST_STRING_MAX]) {
        OciStore *store = ctx->builder->catalog->store;
        LayerCreateOptions o = {
                .source_date_epoch = ctx->source_date_epoch,
                .gzip_level = LAYER_CREATE_GZIP_LEVEL_DEFAULT,
                .overlay_whiteouts = overlay_whiteouts,
        };
        LayerCreateResult res = {};
        _cleanup_close_ int fd = -EBADF;
        char stored[DIGEST_STRING_MAX];
        uint64_t size;
        int r;

        fd = open(ctx->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = layer_create(dir, fd, &o, &res);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = oci_store_put_blob_fd(store, fd, res.digest, stored, &size);
        if (r < 0)
                return r;
        if (json_array_append_new(json_object_get(state, "layers"),
                                  json_pack("{s:s, s:s, s:s, s:I}", "digest", res.digest, "diffId",
                                            res.diff_id, "mediaType", OCI_MEDIA_TYPE_LAYER_GZIP, "size",
                                            (json_int_t) res.size)) < 0)
                return -ENOMEM;
        strcpy(ret_digest, res.digest);
        return 0;
}

int build_state_layer_dirs(BuildContext *ctx, json_t *state, char ***ret, size_t *ret_n) {
        ImageCatalog *cat = ctx->builder->catalog;
        json_t *layers = json_object_get(state, "layers"), *l;
        _cleanup_strv_free_ char **dirs = calloc(json_array_size(layers) + 1, sizeof(char *));
        size_t i;
        int r;

        if (!dirs)
                return -ENOMEM;
        json_array_foreach(layers, i, l) {
                const char *digest = json_string_value(json_object_get(l, "digest"));
                const char *diff_id = json_string_value(json_object_get(l, "diffId"));
                _cleanup_close_ int fd = -EBADF;
                OciError oe = {};

                if (!digest || !diff_id)
                        return -EBADMSG;
                r = layer_cache_path(cat->layers_dir, diff_id, &dirs[i]);
                if (r < 0)
                        return r;
                /* The cache dir only ever appears complete and verified (renamed into place after the
                 * unpack checked the diff_id): when it is there, re-reading the blob would be waste. */
                if (access(dirs[i], F_OK) == 0)
                        continue;
                r = oci_store_open_blob(cat->store, digest, &fd, NULL);
                if (r < 0)
                        return r;
                r = layer_cache_ensure(cat->layers_dir, fd, diff_id, &oe);
                if (r < 0)
                        return r;
        }
        *ret_n = json_array_size(layers);
        *ret = TAKE_PTR(dirs);
        return 0;
}

int build_state_mount(BuildContext *ctx, json_t *state, const char *upper, const char *work,
                      const char *target) {
        _cleanup_strv_free_ char **dirs = NULL;
        _cleanup_free_ char *empty = NULL;
        size_t n;
        int r;

        r = build_state_layer_dirs(ctx, state, &dirs, &n);
        if (r < 0)
                return r;
        /* The same layer twice (e.g. two steps that changed nothing) would make overlayfs refuse the stack
         * (ELOOP); the same content higher up covers everything the lower copy provides, so keep the top one. */
        for (size_t k = 0; k < n; k++)
                if (strv_contains(dirs + k + 1, dirs[k])) {
                        free(dirs[k]);
                        memmove(dirs + k, dirs + k + 1, (n - k) * sizeof(char *)); /* with the NULL */
                        n--;
                        k--;
                }
        if (n + 1 > OVERLAY_LAYERS_MAX)
                return -E2BIG;
        if (n == 0 && !upper) {
                r = build_tmp_dir(ctx, "empty", &empty);
                if (r < 0)
                        return r;
                r = strv_extend(&dirs, empty);
                if (r < 0)
                        return r;
                n = 1;
        }
        if (mkdir(target, 0755) < 0 && errno != EEXIST)
                return -errno;
        return overlay_mount((const char *const *) dirs, n, upper, work, target, ctx->shim_dir);
}

int build_state_write_image(BuildContext *ctx, json_t *state, char ret_digest[static DIGEST_STRING_MAX]) {
        OciStore *store = ctx->builder->catalog->store;
        _cleanup_json_ json_t *config = NULL, *manifest = NULL, *diff_ids = json_array(),
                              *mlayers = json_array();
        _cleanup_free_ char *cdata = NULL, *mdata = NULL;
        char cdigest[DIGEST_STRING_MAX];
        const char *created;
        json_t *l, *hist;
        size_t i;
        int r;

        if (!diff_ids || !mlayers)
                return -ENOMEM;
        json_array_foreach(json_object_get(state, "layers"), i, l) {
                json_array_append(diff_ids, json_object_get(l, "diffId"));
                json_array_append_new(mlayers, json_pack("{s:O, s:O, s:O}", "mediaType",
                                                         json_object_get(l, "mediaType"), "digest",
                                                         json_object_get(l, "digest"), "size",
                                                         json_object_get(l, "size")));
        }
        /* The image is as old as its last step: a fully cached rebuild gives the same image. */
        hist = json_object_get(state, "history");
        created = json_string_value(
                json_object_get(json_array_get(hist, json_array_size(hist) - 1), "created"));
        if (ctx->source_date_epoch >= 0 || !created)
                created = ctx->created;
        config = json_pack("{s:s, s:O, s:O, s:O, s:{s:s, s:O}, s:O}", "created", created, "architecture",
                           json_object_get(state, "architecture"), "os", json_object_get(state, "os"),
                           "config", json_object_get(state, "config"), "rootfs", "type", "layers",
                           "diff_ids", diff_ids, "history", json_object_get(state, "history"));
        if (!config)
                return -ENOMEM;
        if (json_is_string(json_object_get(state, "author")))
                json_object_set(config, "author", json_object_get(state, "author"));
        cdata = json_dump_canonical(config);
        if (!cdata)
                return -ENOMEM;
        r = oci_store_put_blob_data(store, cdata, strlen(cdata), cdigest);
        if (r < 0)
                return r;
        manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
                             OCI_MEDIA_TYPE_MANIFEST, "config", "mediaType", OCI_MEDIA_TYPE_CONFIG, "digest",
                             cdigest, "size", (json_int_t) strlen(cdata), "layers", mlayers);
        if (!manifest)
                return -ENOMEM;
        mdata = json_dump_canonical(manifest);
        if (!mdata)
                return -ENOMEM;
        return oci_store_put_blob_data(store, mdata, strlen(mdata), ret_digest);
}
