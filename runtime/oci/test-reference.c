/* Image references: the distribution grammar's valid and invalid forms, and normalisation. */
#include "oci-store.h"
#include "test-util.h"

static const char *const valid[] = {
        "busybox",
        "busybox:latest",
        "library/busybox:1.36",
        "my-app_v2",
        "a__b",
        "a---b",
        "a.b.c/d_e/f-g:TAG_1.0-rc",
        "localhost/app",
        "localhost:5000/team/app:v1",
        "registry.example.com/ns/app",
        "registry.example.com:443/ns/app:1",
        "Registry.Example.com/app",
        "[::1]:5000/app:1",
        "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "busybox:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "x:_tag",
        "0:0",
        "a-b-c/d__e/f.g",
        "x:Tag.1-rc_2",
        "host-1.example:5000/a/b/c:1",
        "[::1]/app",
};

static const char *const invalid[] = {
        "",
        "Busybox",
        "busybox:",
        ":latest",
        "busybox:-tag",
        "busybox:.tag",
        "busybox:tag/x",
        "busy box",
        "-busybox",
        "busybox-",
        "a___b",
        "a..b",
        "a._b",
        "/busybox",
        "busybox/",
        "a//b",
        "registry.example.com/",
        "-registry.example.com/app",
        "registry.example.com:port/app",
        "busybox@sha256:abc",
        "busybox@sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "busybox@",
        "busybox:1:2",
        "../etc/passwd",
        "busybox\n",
        "ns/App:1",
        /* the separators of the distribution grammar, one at a time */
        "a_-b",
        "a.-b",
        "a-.b",
        "a__.b",
        /* "@" only ever introduces a full sha256 digest */
        "@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "web@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:1",
        "web@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "web@latest",
        "web@@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "x:tag@",
        /* tags: a word character first, then [A-Za-z0-9_.-] */
        "x:t@g",
        "x:t+g",
        "x:t g",
        "[zz]:5000/app",
        "host:5000:6000/app",
};

/* What normalising (a full name: tag added) and familiarising (Docker Hub's prefix dropped) make of a
 * reference. */
static const struct {
        int (*fn)(const char *ref, char **ret);
        const char *ref, *want;
} rewrites[] = {
        { oci_ref_normalize, "busybox", "busybox:latest" },
        { oci_ref_normalize, "localhost:5000/app", "localhost:5000/app:latest" },
        { oci_ref_normalize, "busybox:1.36", "busybox:1.36" },
        { oci_ref_familiarize, "docker.io/library/busybox:1", "busybox:1" },
        { oci_ref_familiarize, "docker.io/team/app:2", "team/app:2" },
        { oci_ref_familiarize, "quay.io/team/app:2", "quay.io/team/app:2" },
};

int main(void) {
        char longtag[200], longname[300];
        char *n;

        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                if (!oci_ref_is_valid(valid[i])) {
                        fprintf(stderr, "valid reference rejected: \"%s\"\n", valid[i]);
                        return 1;
                }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                if (oci_ref_is_valid(invalid[i])) {
                        fprintf(stderr, "invalid reference accepted: \"%s\"\n", invalid[i]);
                        return 1;
                }
        CHECK(!oci_ref_is_valid(NULL));

        /* tag length limit: 128 characters */
        memset(longtag, 'a', sizeof longtag);
        memcpy(longtag, "x:", 2);
        longtag[2 + 128] = 0;
        CHECK(oci_ref_is_valid(longtag));
        longtag[2 + 128] = 'a';
        longtag[2 + 129] = 0;
        CHECK(!oci_ref_is_valid(longtag));
        /* whole reference limit */
        memset(longname, 'a', sizeof longname);
        longname[OCI_REF_MAX + 1] = 0;
        CHECK(!oci_ref_is_valid(longname));

        for (size_t i = 0; i < ELEMENTSOF(rewrites); i++) {
                CHECK(rewrites[i].fn(rewrites[i].ref, &n) == 0);
                CHECK_STREQ(n, rewrites[i].want);
                free(n);
        }
        CHECK(oci_ref_normalize(
                      "app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &n) ==
              0);
        CHECK(strchr(n, ':') && !strstr(n, "latest"));
        free(n);
        CHECK(oci_ref_normalize("Bad", &n) == -EINVAL);
        longname[OCI_REF_MAX - 2] = 0; /* valid, but ":latest" would make it too long */
        CHECK(oci_ref_is_valid(longname));
        CHECK(oci_ref_normalize(longname, &n) == -EINVAL);
        return 0;
}
