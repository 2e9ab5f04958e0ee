/* Manifest, index and config parsing: OCI and Docker schema2, platform selection, and the errors a
 * person sees for unknown media types and broken JSON. */
#include "manifest.h"
#include "oci-store.h"
#include "test-util.h"

#define D1 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D2 "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define D3 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static int parse_m(const char *text, const char *desc_mt, OciManifest *m, OciError *err) {
        return oci_manifest_parse(text, strlen(text), desc_mt, "manifest X", m, err);
}

static void test_oci_manifest(void) {
        OciManifest m = {};
        OciError err = {};
        const char *text =
                "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\","
                "\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\",\"digest\":\"" D1 "\",\"size\":0},"
                "\"layers\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER_GZIP "\",\"digest\":\"" D2
                "\",\"size\":5},"
                "{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER_ZSTD "\",\"digest\":\"" D3 "\",\"size\":3},"
                "{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER "\",\"digest\":\"" D3 "\",\"size\":3}]}";

        CHECK(parse_m(text, NULL, &m, &err) == 0);
        CHECK(streq(m.media_type, OCI_MEDIA_TYPE_MANIFEST));
        CHECK(streq(m.config.digest, D1) && m.config.size == 0);
        CHECK(m.n_layers == 3 && m.layers[0].size == 5 && streq(m.layers[1].digest, D3));
        CHECK(oci_layer_media_type_compression(m.layers[0].media_type) == OCI_LAYER_GZIP);
        CHECK(oci_layer_media_type_compression(m.layers[1].media_type) == OCI_LAYER_ZSTD);
        CHECK(oci_layer_media_type_compression(m.layers[2].media_type) == OCI_LAYER_UNCOMPRESSED);
        oci_manifest_done(&m);
}

static void test_docker_manifest(void) {
        OciManifest m = {};
        OciError err = {};
        /* no mediaType in the document: taken from the referring descriptor */
        const char *text = "{\"schemaVersion\":2,"
                           "\"config\":{\"mediaType\":\"" DOCKER_MEDIA_TYPE_CONFIG "\",\"digest\":\"" D1
                           "\",\"size\":7},"
                           "\"layers\":[{\"mediaType\":\"" DOCKER_MEDIA_TYPE_LAYER_GZIP "\",\"digest\":\"" D2
                           "\",\"size\":5}]}";

        CHECK(parse_m(text, DOCKER_MEDIA_TYPE_MANIFEST, &m, &err) == 0);
        CHECK(streq(m.media_type, DOCKER_MEDIA_TYPE_MANIFEST));
        CHECK(m.n_layers == 1 && oci_layer_media_type_compression(m.layers[0].media_type) == OCI_LAYER_GZIP);
        oci_manifest_done(&m);
}

static void test_manifest_errors(void) {
        OciManifest m = {};
        OciError err = {};

        CHECK_ERR(parse_m("{\"schemaVersion\":2,\n  \"config\": {,}}", NULL, &m, &err), -EBADMSG,
                  "Invalid JSON in manifest X at line 2, column");
        CHECK(strlen(err.hint) > 0);
        CHECK_ERR(parse_m("[1,2]", NULL, &m, &err), -EBADMSG, "not a JSON object");
        CHECK_ERR(
                parse_m("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.foo+json\"}", NULL, &m, &err),
                -EMEDIUMTYPE, "unknown media type \"application/vnd.foo+json\"");
        CHECK_ERR(parse_m("{\"schemaVersion\":1,\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED "\"}",
                          NULL, &m, &err),
                  -EMEDIUMTYPE, "Docker schema 1");
        CHECK_ERR(
                parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\","
                        "\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
                        NULL, &m, &err),
                -EMEDIUMTYPE, "a config of unknown media type");
        CHECK_ERR(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\","
                          "\"digest\":\"" D1 "\",\"size\":1},\"layers\":[{\"mediaType\":\"text/plain\","
                          "\"digest\":\"" D2 "\",\"size\":1}]}",
                          NULL, &m, &err),
                  -EMEDIUMTYPE, "Layer 1 of manifest X has unknown media type \"text/plain\"");
        CHECK_ERR(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\","
                          "\"digest\":\"sha256:../../etc/passwd\",\"size\":1},\"layers\":[]}",
                          NULL, &m, &err),
                  -EBADMSG, "invalid digest");
        CHECK_ERR(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\","
                          "\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
                          NULL, &m, &err),
                  -EBADMSG, "\"size\"");
        CHECK_ERR(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\","
                          "\"digest\":\"" D1 "\",\"size\":1}}",
                          NULL, &m, &err),
                  -EBADMSG, "lacks the field \"layers\"");
        CHECK_ERR(parse_m("", NULL, &m, &err), -EBADMSG, "Invalid JSON");

        /* An image from outside nesting 1,000 levels deep is refused before jansson recurses into it. */
        {
                char deep[2100] = "{\"schemaVersion\":2,\"annotations\":";
                size_t n = strlen(deep);
                memset(deep + n, '[', 1000);
                memset(deep + n + 1000, ']', 1000);
                strcpy(deep + n + 2000, "}");
                CHECK_ERR(parse_m(deep, NULL, &m, &err), -EBADMSG,
                          "Invalid JSON in manifest X at line 1, column 97: nested deeper than 64 levels.");
        }
}

static void test_index(void) {
        OciIndex x = {};
        OciError err = {};
        const char *list =
                "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST_LIST "\",\"manifests\":["
                "{\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
                "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
                "{\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":11,"
                "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
        const char *arm_only =
                "{\"schemaVersion\":2,\"manifests\":["
                "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
                "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"},"
                "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}";

        CHECK(oci_index_parse(list, strlen(list), NULL, "list", &x, &err) == 0);
        CHECK(streq(x.media_type, DOCKER_MEDIA_TYPE_MANIFEST_LIST) && x.n_manifests == 2);
        CHECK(oci_index_find_platform(&x, "linux", "amd64") == 1);
        CHECK(streq(x.manifests[oci_index_find_platform(&x, "linux", "amd64")].digest, D2));
        oci_index_done(&x);

        CHECK(oci_index_parse(arm_only, strlen(arm_only), NULL, "index.json", &x, &err) == 0);
        CHECK(streq(x.media_type, OCI_MEDIA_TYPE_INDEX));
        CHECK(oci_index_find_platform(&x, "linux", "amd64") == -ENOENT);
        CHECK(streq(x.manifests[0].ref_name, "v1"));
        oci_index_done(&x);

        CHECK_ERR(oci_index_parse("{\"schemaVersion\":2}", 19, NULL, "index.json", &x, &err), -EBADMSG,
                  "index.json lacks the field \"manifests\"");
        CHECK_ERR(oci_index_parse("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST
                                  "\",\"manifests\":[]}",
                                  strlen("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST
                                         "\",\"manifests\":[]}"),
                                  NULL, "index.json", &x, &err),
                  -EMEDIUMTYPE, "unknown media type");
        CHECK_ERR(oci_index_parse("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":1}]}", 49, NULL,
                                  "index.json", &x, &err),
                  -EBADMSG, "Entry 1 of index.json has an invalid \"mediaType\"");
}

static void test_config(void) {
        OciConfig c = {};
        OciError err = {};
        const char *text =
                "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05Z\","
                "\"config\":{\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1
                "\",\"" D2 "\"]}}";

        CHECK(oci_config_parse(text, strlen(text), "config", &c, &err) == 0);
        CHECK(streq(c.platform.architecture, "amd64") && streq(c.platform.os, "linux") &&
              streq(c.created, "2024-01-02T03:04:05Z"));
        CHECK(c.n_diff_ids == 2 && streq(c.diff_ids[1], D2) && !c.diff_ids[2]);
        oci_config_done(&c);

        CHECK_ERR(oci_config_parse("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}}", 52,
                                   "config C", &c, &err),
                  -EBADMSG, "Config C has an invalid digest in rootfs.diff_ids");
        CHECK_ERR(oci_config_parse("{\"os\":\"linux\"}", 14, "config C", &c, &err), -EBADMSG, "\"rootfs\"");
}

int main(void) {
        test_oci_manifest();
        test_docker_manifest();
        test_manifest_errors();
        test_index();
        test_config();
        return 0;
}
