/* OCI runtime bundle generation.  Every container gets the same hardened base (namespaces,
 * capabilities, seccomp, masked paths, read-only /sys); a BundleSpec only adds what differs. */
#include "bundle.h"

#include <fcntl.h>

#include "container-init.h"
#include "container-profile.h"
#include "fs-util.h"
#include "idmap.h"
#include "json-util.h"
#include "macro.h"
#include "nspawn.h"

static json_t *string_array(const char *const *v) {
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; v && v[i]; i++)
                if (json_array_append_new(a, json_string(v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *mount_new(const char *dest, const char *type, const char *source,
                         const char *const *options) {
        json_t *m = json_pack("{s:s,s:s,s:s}", "destination", dest, "type", type, "source", source);

        if (m && options && json_object_set_new(m, "options", string_array(options)) < 0) {
                json_decref(m);
                return NULL;
        }
        return m;
}

static json_t *default_mounts(const char *init) {
        static const char *const proc_opts[] = { "nosuid", "noexec", "nodev", NULL };
        static const char *const dev_opts[] = { "nosuid", "strictatime", "mode=755", "size=65536k", NULL };
        static const char *const pts_opts[] = { "nosuid",        "noexec",    "newinstance",
                                                "ptmxmode=0666", "mode=0620", NULL };
        static const char *const shm_opts[] = {
                "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL
        };
        static const char *const mq_opts[] = { "nosuid", "noexec", "nodev", NULL };
        static const char *const sys_opts[] = { "nosuid", "noexec", "nodev", "ro", NULL };
        json_t *a = json_array();

        if (!a)
                return NULL;
        if (json_array_append_new(a, mount_new("/proc", "proc", "proc", proc_opts)) < 0 ||
            json_array_append_new(a, mount_new("/dev", "tmpfs", "tmpfs", dev_opts)) < 0 ||
            json_array_append_new(a, mount_new("/dev/pts", "devpts", "devpts", pts_opts)) < 0 ||
            json_array_append_new(a, mount_new("/dev/shm", "tmpfs", "shm", shm_opts)) < 0 ||
            json_array_append_new(a, mount_new("/dev/mqueue", "mqueue", "mqueue", mq_opts)) < 0 ||
            json_array_append_new(a, mount_new("/sys", "sysfs", "sysfs", sys_opts)) < 0 ||
            /* The nodes systemd-nspawn masks paths with are looked up inside the container, whose /run is a
             * fresh tmpfs: without them every masked /proc path stays readable.  Read-only through
             * container_readonly_paths. */
            json_array_append_new(
                    a, mount_new(NSPAWN_INACCESSIBLE_DIR, "bind", NSPAWN_INACCESSIBLE_DIR, NULL)) < 0 ||
            /* A file on nspawn's /run tmpfs; read-only through container_readonly_paths (nspawn 252 takes
             * no "ro" on a bind), so not even root in the container can rewrite the host's copy. */
            json_array_append_new(a, mount_new(CONTAINER_INIT_PATH, "bind", init, NULL)) < 0) {
                json_decref(a);
                return NULL;
        }
        return a;
}

static json_t *capabilities(void) {
        json_t *caps = json_object();

        if (!caps)
                return NULL;
        /* Empty inheritable and ambient sets, spelled out: systemd-nspawn gives root the whole retained set
         * as inheritable when "inheritable" is absent, and a non-root program with inheritable file
         * capabilities would then gain them across exec (CVE-2022-27649 in Podman). */
        if (json_object_set_new(caps, "bounding", string_array(container_default_capabilities)) < 0 ||
            json_object_set_new(caps, "effective", string_array(container_default_capabilities)) < 0 ||
            json_object_set_new(caps, "permitted", string_array(container_default_capabilities)) < 0 ||
            json_object_set_new(caps, "inheritable", json_array()) < 0 ||
            json_object_set_new(caps, "ambient", json_array()) < 0) {
                json_decref(caps);
                return NULL;
        }
        return caps;
}

static json_t *namespaces(const char *netns_path, bool netns_inherit, bool userns) {
        json_t *a, *net = NULL;

        if (!netns_inherit) {
                net = netns_path ? json_pack("{s:s,s:s}", "type", "network", "path", netns_path)
                                 : json_pack("{s:s}", "type", "network");
                if (!net)
                        return NULL;
        }
        /* No cgroup namespace: systemd-nspawn refuses one on hybrid hosts, and it adds nothing
         * here since /sys/fs/cgroup is not mounted into the container. */
        a = json_pack("[{s:s},{s:s},{s:s},{s:s}]", "type", "pid", "type", "ipc", "type", "uts", "type",
                      "mount");
        if (!a) {
                json_decref(net);
                return NULL;
        }
        if ((net && json_array_append_new(a, net) < 0) ||
            (userns && json_array_append_new(a, json_pack("{s:s}", "type", "user")) < 0)) {
                json_decref(a);
                return NULL;
        }
        return a;
}

/* process.args: slipway-init first, which runs the payload's own args under the filter (init-pid1.h). */
static json_t *process_args(char *const *args) {
        static const char *const init[] = { CONTAINER_INIT_PATH, NULL };
        json_t *a = string_array(init);

        for (size_t i = 0; a && args[i]; i++)
                if (json_array_append_new(a, json_string(args[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *id_mappings(uid_t shift) {
        return json_pack("[{s:I,s:I,s:I}]", "containerID", (json_int_t) 0, "hostID", (json_int_t) shift,
                         "size", (json_int_t) IDMAP_RANGE_SIZE);
}

static json_t *resources(const BundleSpec *spec) {
        json_t *r = json_object();

        if (!r)
                return NULL;
        if (spec->memory_max > 0 &&
            json_object_set_new(r, "memory", json_pack("{s:I}", "limit", (json_int_t) spec->memory_max)) < 0)
                goto fail;
        if (spec->pids_max > 0 &&
            json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t) spec->pids_max)) < 0)
                goto fail;
        if (spec->cpu_quota_us > 0 &&
            json_object_set_new(r, "cpu",
                                json_pack("{s:I,s:I}", "quota", (json_int_t) spec->cpu_quota_us, "period",
                                          (json_int_t) 100000)) < 0)
                goto fail;
        return r;
fail:
        json_decref(r);
        return NULL;
}

int bundle_config_build(const BundleSpec *spec, json_t **ret) {
        _cleanup_json_ json_t *config = NULL, *process = NULL, *linux_ = NULL, *mounts = NULL;
        _cleanup_free_ char *found_init = NULL;
        const char *init;
        json_t *user, *gids;
        int r;

        if (!spec || !spec->rootfs || !spec->args || !spec->args[0])
                return -EINVAL;
        init = spec->init;
        if (!init) {
                r = container_init_find(&found_init);
                if (r < 0)
                        return r;
                init = found_init;
        }
        if (init[0] != '/')
                return -EINVAL;

        gids = json_array();
        if (!gids)
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_additional_gids; i++)
                if (json_array_append_new(gids, json_integer(spec->additional_gids[i])) < 0) {
                        json_decref(gids);
                        return -ENOMEM;
                }
        user = json_pack("{s:I,s:I,s:o}", "uid", (json_int_t) spec->uid, "gid", (json_int_t) spec->gid,
                         "additionalGids", gids);
        if (!user)
                return -ENOMEM;

        process = json_pack("{s:b,s:o,s:o,s:o,s:s,s:b,s:o}", "terminal", 0, "user", user, "args",
                            process_args(spec->args), "env", string_array((const char *const *) spec->env),
                            "cwd", spec->cwd ? spec->cwd : "/", "noNewPrivileges", 1, "capabilities",
                            capabilities());
        if (!process)
                return -ENOMEM;

        if (spec->uid_shift > 0 && (spec->uid_shift % IDMAP_RANGE_SIZE != 0 ||
                                    (uint64_t) spec->uid_shift + IDMAP_RANGE_SIZE > UINT32_MAX))
                return -EINVAL;
        if (spec->netns_inherit && spec->netns_path)
                return -EINVAL;
        linux_ = json_pack("{s:o,s:o,s:o,s:o}", "namespaces",
                           namespaces(spec->netns_path, spec->netns_inherit, spec->uid_shift > 0),
                           "maskedPaths", string_array(container_masked_paths), "readonlyPaths",
                           string_array(container_readonly_paths), "seccomp", container_seccomp_profile());
        if (!linux_)
                return -ENOMEM;
        if (spec->cgroup_resources && json_object_set_new(linux_, "resources", resources(spec)) < 0)
                return -ENOMEM;
        if (spec->uid_shift > 0 &&
            (json_object_set_new(linux_, "uidMappings", id_mappings(spec->uid_shift)) < 0 ||
             json_object_set_new(linux_, "gidMappings", id_mappings(spec->uid_shift)) < 0))
                return -ENOMEM;

        mounts = default_mounts(init);
        if (!mounts)
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const BundleMount *m = &spec->mounts[i];

                if (!m->destination || m->destination[0] != '/' || !m->type || !m->source)
                        return -EINVAL;
                if (json_array_append_new(mounts,
                                          mount_new(m->destination, m->type, m->source, m->options)) < 0)
                        return -ENOMEM;
                /* nspawn 252 takes no "ro" on a bind: read-only goes through linux.readonlyPaths. */
                if (m->readonly && json_array_append_new(json_object_get(linux_, "readonlyPaths"),
                                                         json_string(m->destination)) < 0)
                        return -ENOMEM;
        }

        config = json_pack("{s:s,s:{s:s,s:b},s:O,s:O,s:O}", "ociVersion", "1.0.0", "root", "path",
                           spec->rootfs, "readonly", spec->rootfs_readonly, "process", process, "mounts",
                           mounts, "linux", linux_);
        if (!config)
                return -ENOMEM;
        if (spec->hostname && json_object_set_new(config, "hostname", json_string(spec->hostname)) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(config);
        return 0;
}

int bundle_write(const char *bundle_dir, const BundleSpec *spec) {
        _cleanup_json_ json_t *config = NULL;
        _cleanup_free_ char *text = NULL, *path = NULL;
        int r;

        r = bundle_config_build(spec, &config);
        if (r < 0)
                return r;
        text = json_dumps(config, JSON_INDENT(1));
        path = path_join(bundle_dir, "config.json");
        if (!text || !path)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0600);
}
