/* Instance preparation: rootfs, hosts file, bundle and network of one instance, from the image config and
 * its release's values (bundle and value files on the instance's tmpfs, instance-values.h).
 * Invariant: nothing here starts a process but instance_setup_start(); every step is idempotent.  An
 * instance keeps the user namespace mode (and uid range) its upper directory was created with. */
#include "instance-setup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bundle.h"
#include "cgroup-limits.h"
#include "container-init.h"
#include "fs-util.h"
#include "idmap.h"
#include "log.h"
#include "macro.h"
#include "netns.h"
#include "nspawn.h"
#include "overlay.h"
#include "string-util.h"
#include "strv.h"
#include "user-db.h"
#include "veth.h"

#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Appends a copy of s to the vector of *n entries; an image's config is outside input, so at most
 * INSTANCE_ARGS_MAX. */
static int args_push(char ***l, size_t *n, const char *s) {
        int r;

        if (*n + 2 > INSTANCE_ARGS_MAX)
                return -E2BIG;
        r = strv_extend(l, s);
        if (r < 0)
                return r;
        (*n)++;
        return 0;
}

static int push_array(char ***l, size_t *n, json_t *a) {
        size_t i;
        json_t *v;
        int r;

        if (!json_is_array(a))
                return 0;
        json_array_foreach(a, i, v) {
                if (!json_is_string(v))
                        return -EBADMSG;
                r = args_push(l, n, json_string_value(v));
                if (r < 0)
                        return r;
        }
        return 0;
}

static char *sub(const char *dir, const char *name);

/* Decided once per process: whether new instances get a user namespace.  The answer and the reason for a
 * "no" are kept for the deploy log. */
static int userns_state = -1; /* -1: not decided yet, 0: no, 1: yes */
static const char *userns_why_not;

static bool kernel_at_least(unsigned want_major, unsigned want_minor) {
        struct utsname u;
        unsigned major = 0, minor = 0;

        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
                return false;
        return major > want_major || (major == want_major && minor >= want_minor);
}

bool instance_setup_userns_enabled(const char *probe_dir, const char **ret_why_not) {
        _cleanup_free_ char *max = NULL;
        const char *e = getenv("SLIPWAY_USERNS");
        int state = __atomic_load_n(&userns_state, __ATOMIC_ACQUIRE);

        if (state >= 0) {
                if (ret_why_not)
                        *ret_why_not = state ? NULL : userns_why_not;
                return state;
        }
        if (e && (streq(e, "0") || streq(e, "no") || streq(e, "off")))
                userns_why_not = "turned off with SLIPWAY_USERNS=0";
        else if (read_full_file("/proc/sys/user/max_user_namespaces", &max, NULL) >= 0 && atoi(max) <= 0)
                userns_why_not = "the kernel allows no user namespaces (user.max_user_namespaces is 0)";
        else if (!kernel_at_least(5, 19))
                userns_why_not = "the kernel is older than 5.19 (overlayfs over idmapped layers)";
        else if (!idmap_supported(probe_dir))
                userns_why_not = "the kernel or the file system of the layer cache has no idmapped mounts";
        state = userns_why_not ? 0 : 1;
        if (state)
                log_info("Instances run in their own user namespace (root inside = an unprivileged host uid "
                         "range of %u from %u up).",
                         IDMAP_RANGE_SIZE, IDMAP_RANGE_BASE);
        else
                log_warning("Instances run without a user namespace: %s.", userns_why_not);
        __atomic_store_n(&userns_state, state, __ATOMIC_RELEASE);
        if (ret_why_not)
                *ret_why_not = userns_why_not;
        return state;
}

/* The range an existing instance's upper directory was set up for: its owner.  0 with *ret_shift = 0:
 * set up without a user namespace; -ENOENT: new (missing, or still an empty directory of root's). */
static int upper_shift(const char *upper, uid_t *ret_shift) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        struct stat st;

        if (lstat(upper, &st) < 0)
                return -errno;
        if (idmap_shift_valid(st.st_uid)) {
                *ret_shift = st.st_uid;
                return 0;
        }
        d = opendir(upper);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        *ret_shift = 0;
                        return 0;
                }
        return -ENOENT;
}

int instance_setup_uid_shift(const char *dir, uid_t *ret_shift) {
        _cleanup_free_ char *upper = sub(dir, "upper");
        uid_t shift = 0;
        int r;

        if (!upper)
                return -ENOMEM;
        r = upper_shift(upper, &shift);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret_shift = shift;
        return 0;
}

static int is_mounted(const char *dir, const char *target) {
        struct stat a, b;

        if (stat(dir, &a) < 0 || stat(target, &b) < 0)
                return -errno;
        return a.st_dev != b.st_dev;
}

static char *sub(const char *dir, const char *name) {
        return path_join(dir, name);
}

/* Makes link a symlink to target, replacing what is there (a bundle directory of an older slipwayd, with
 * its config.json: that may carry values, and goes). */
static int bundle_link(const char *link, const char *target) {
        struct stat st;
        int r;

        if (lstat(link, &st) >= 0) {
                if (S_ISLNK(st.st_mode)) {
                        char buf[PATH_MAX];
                        ssize_t n = readlink(link, buf, sizeof buf - 1);
                        if (n > 0 && (size_t) n < sizeof buf - 1) {
                                buf[n] = 0;
                                if (streq(buf, target))
                                        return 0;
                        }
                        if (unlink(link) < 0)
                                return -errno;
                } else {
                        r = rm_rf(link);
                        if (r < 0)
                                return r;
                }
        } else if (errno != ENOENT)
                return -errno;
        if (symlink(target, link) < 0)
                return -errno;
        return 0;
}

int instance_setup_prepare(const InstancePlan *p, char **ret_error) {
        _cleanup_free_ char *rootfs = sub(p->dir, "rootfs"), *upper = sub(p->dir, "upper"),
                            *work = sub(p->dir, "work"), *bundle = sub(p->dir, "bundle"),
                            *hosts = sub(p->dir, "hosts"), *netns_path = NULL, *init = NULL;
        _cleanup_free_ char *run_dir = NULL, *run_bundle = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        BundleMount *mounts = NULL, *value_mounts = NULL;
        char **value_paths = NULL;
        size_t n_value_mounts = 0;
        char **args = NULL, **env = NULL;
        size_t n_args = 0, n_env = 0;
        const char *cwd = "/", *user = NULL;
        bool userns = false;
        uid_t uid = 0, shift = 0;
        gid_t gid = 0;
        int r;

        if (!rootfs || !upper || !work || !bundle || !hosts)
                return -ENOMEM;
        /* Before anything is made: an instance never runs without slipway-init (see container-init.h). */
        r = container_init_find(&init);
        if (r < 0)
                return error_set_once(ret_error, r, "Cannot start the instance: %s.",
                                      container_init_missing_hint());
        /* A new instance gets a user namespace where the host supports them; an existing one keeps what its
         * upper was made for (its files are stored with that range's uids). */
        r = upper_shift(upper, &shift);
        if (r == -ENOENT)
                userns = instance_setup_userns_enabled(p->n_lowers > 0 ? p->lowers[0] : p->shim_dir, NULL);
        else if (r < 0)
                return error_set_once(ret_error, r, "Cannot inspect %s: %s.", upper, strerror(-r));
        else
                userns = shift > 0;
        if (userns) {
                _cleanup_free_ char *owner = NULL;
                uid_t had = shift;

                r = mkdir_p(p->dir, 0700);
                if (r >= 0) {
                        owner = realpath(p->dir, NULL);
                        r = owner ? idmap_range_claim(IDMAP_CLAIMS_DIR, owner, had, &shift) : -errno;
                }
                /* Its old range went to another instance meanwhile: move the upper's files to the new. */
                if (r >= 0 && had > 0 && shift != had && is_mounted(p->dir, rootfs) <= 0)
                        r = idmap_shift_tree(upper, had, shift);
                if (r < 0)
                        return error_set_once(ret_error, r,
                                              "Cannot claim a host uid range for the instance: %s.",
                                              strerror(-r));
        }
        r = mkdir_p(p->dir, 0700);
        if (r >= 0)
                r = mkdir_p(upper, 0755);
        if (r >= 0)
                r = mkdir_p(work, 0700);
        if (r >= 0)
                r = mkdir_p(rootfs, 0755);
        if (r < 0)
                return error_set_once(ret_error, r, "Cannot create the instance directory %s: %s.", p->dir,
                                      strerror(-r));

        r = is_mounted(p->dir, rootfs);
        if (r < 0)
                return error_set_once(ret_error, r, "Cannot inspect %s: %s.", rootfs, strerror(-r));
        if (r == 0) {
                r = overlay_mount_shifted((const char *const *) p->lowers, p->n_lowers, upper, work, rootfs,
                                          p->shim_dir, shift);
                if (r < 0)
                        return error_set_once(ret_error, r,
                                              "Cannot mount the instance's root file system: %s.",
                                              strerror(-r));
        }

        r = net_hosts_file_write(hosts, p->hostname, p->hosts, p->n_hosts);
        if (r < 0)
                return error_set_once(ret_error, r, "Cannot write the instance's /etc/hosts: %s.",
                                      strerror(-r));

        /* Command, environment, directory and user from the image config. */
        json_t *c = p->image_config;
        r = push_array(&args, &n_args, json_object_get(c, "Entrypoint"));
        if (r >= 0)
                r = push_array(&args, &n_args, json_object_get(c, "Cmd"));
        if (r >= 0)
                r = push_array(&env, &n_env, json_object_get(c, "Env"));
        if (r < 0) {
                error_set_once(ret_error, r, "The image's Entrypoint, Cmd or Env is not a list of strings.");
                goto out;
        }
        if (n_args == 0) {
                r = error_set_once(ret_error, -EINVAL,
                                   "The image has neither an Entrypoint nor a Cmd: nothing to run.");
                goto out;
        }
        /* The release's values after the image's Env: a value of the same name wins. */
        r = instance_values_env(&env, &n_env, p->values, p->n_values, ret_error);
        if (r < 0)
                goto out;
        bool have_path = false;
        for (size_t i = 0; i < n_env; i++)
                have_path = have_path || strncmp(env[i], "PATH=", 5) == 0;
        if (!have_path && (r = args_push(&env, &n_env, DEFAULT_PATH_ENV)) < 0)
                goto out;
        if (json_is_string(json_object_get(c, "WorkingDir")) &&
            json_string_length(json_object_get(c, "WorkingDir")))
                cwd = json_string_value(json_object_get(c, "WorkingDir"));
        if (json_is_string(json_object_get(c, "User")) && json_string_length(json_object_get(c, "User")))
                user = json_string_value(json_object_get(c, "User"));

        root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0) {
                r = error_set_once(ret_error, -errno, "Cannot open the instance's root file system: %m.");
                goto out;
        }
        if (user) {
                const char *missing = NULL;
                r = user_db_resolve(root_fd, user, &uid, &gid, &missing);
                if (r == -ENOENT) {
                        r = error_set_once(
                                ret_error, -EINVAL, "The %s of the image's User %s is not in its /etc/%s.",
                                strempty(missing), user, streq_ptr(missing, "group") ? "group" : "passwd");
                        goto out;
                }
                if (r < 0) {
                        error_set_once(ret_error, r, "Cannot resolve the image's User %s: %s.", user,
                                       strerror(-r));
                        goto out;
                }
        }

        if (asprintf(&netns_path, "%s/%s", NETNS_RUN_DIR, p->netns) < 0) {
                r = -ENOMEM;
                goto out;
        }
        /* The bundle carries the values (process.env), so it goes onto the instance's tmpfs, with the
         * value files; both must be there before the bundle that binds the files is written. */
        r = instance_run_dir_mount(p->netns, &run_dir);
        if (r < 0) {
                error_set_once(ret_error, r,
                               "Cannot mount the instance's tmpfs for its bundle and values: %s.",
                               strerror(-r));
                goto out;
        }
        r = instance_values_write_files(run_dir, p->values, p->n_values, shift + uid, shift + gid,
                                        &value_mounts, &value_paths, &n_value_mounts, ret_error);
        if (r < 0)
                goto out;
        mounts = calloc(1 + n_value_mounts, sizeof *mounts);
        run_bundle = path_join(run_dir, INSTANCE_RUN_BUNDLE);
        if (!mounts || !run_bundle) {
                r = -ENOMEM;
                goto out;
        }
        /* systemd-nspawn 252's OCI parser takes no "ro" for bind mounts (only rbind/norbind): the hosts
         * file is the instance's own, so a container that rewrites it only misleads itself.  The value
         * files are read-only all the same: their tmpfs is sealed read-only below. */
        mounts[0] = (BundleMount) { .destination = "/etc/hosts", .type = "bind", .source = hosts };
        for (size_t i = 0; i < n_value_mounts; i++)
                mounts[1 + i] = value_mounts[i];
        /* systemd-nspawn applies linux.resources only in a scope of its own (systemd as PID 1 and a bus);
         * elsewhere instance_setup_start() puts nspawn into cgroups of our own instead. */
        bool resources =
                (p->memory_max || p->cpu_quota_us || p->pids_max) && nspawn_cgroup_resources_supported();
        BundleSpec spec = {
                .rootfs = rootfs,
                .args = args,
                .init = init,
                .env = env,
                .cwd = cwd,
                .uid = uid,
                .gid = gid,
                .hostname = p->hostname,
                /* With a user namespace the container cannot join a netns of the host's (see bundle.h):
                 * it shares the one systemd-nspawn is started in instead (instance_setup_start). */
                .netns_path = userns ? NULL : netns_path,
                .netns_inherit = userns,
                .uid_shift = shift,
                .mounts = mounts,
                .n_mounts = 1 + n_value_mounts,
                .memory_max = resources ? p->memory_max : 0,
                .cpu_quota_us = resources ? p->cpu_quota_us : 0,
                .pids_max = resources ? p->pids_max : 0,
                .cgroup_resources = resources,
        };
        r = mkdir_p(run_bundle, 0700);
        if (r >= 0)
                r = bundle_write(run_bundle, &spec);
        if (r < 0) {
                error_set_once(ret_error, r, "Cannot write the instance's bundle: %s.", strerror(-r));
                goto out;
        }
        r = instance_run_dir_seal(run_dir);
        if (r < 0) {
                error_set_once(ret_error, r, "Cannot make the instance's tmpfs read-only: %s.",
                               strerror(-r));
                goto out;
        }
        /* dir/bundle names the bundle for systemd-nspawn's command line (and a person): a symlink into
         * the tmpfs.  A bundle directory an older slipwayd wrote there goes. */
        r = bundle_link(bundle, run_bundle);
        if (r < 0) {
                error_set_once(ret_error, r, "Cannot link the instance's bundle at %s: %s.", bundle,
                               strerror(-r));
                goto out;
        }

        r = netns_create(p->netns);
        if (r < 0) {
                error_set_once(ret_error, r, "Cannot create the network namespace %s: %s.", p->netns,
                               strerror(-r));
                goto out;
        }
        NetVethConfig vc = {
                .netns = p->netns,
                .host_ifname = p->host_ifname,
                .bridge = p->bridge,
                .address = p->address,
                .prefixlen = p->prefixlen,
                .gateway = p->gateway,
        };
        r = net_veth_setup(&vc);
        if (r < 0) {
                error_set_once(ret_error, r, "Cannot connect the instance to the bridge %s: %s.", p->bridge,
                               strerror(-r));
                goto out;
        }
        r = 0;
out:
        strv_free(args);
        /* Values were in it: wiped before the memory goes back. */
        for (size_t i = 0; i < n_env; i++)
                explicit_bzero(env[i], strlen(env[i]));
        strv_free(env);
        strv_free_n(value_paths, n_value_mounts);
        free(value_mounts);
        free(mounts);
        return r;
}

/* Where systemd-nspawn cannot apply the limits, our own cgroups named after the netns (unique per instance,
 * and what instance_setup_teardown() knows it by); a restart reuses them.  NULL when none applies. */
static const char *limits_cgroup(const InstancePlan *p) {
        CgroupLimits limits = {
                .memory_max = p->memory_max,
                .cpu_quota_us = p->cpu_quota_us,
                .pids_max = p->pids_max,
        };
        unsigned wanted = cgroup_limits_mask(&limits), applied = 0;
        int r;

        if (wanted == 0 || !p->netns)
                return NULL;
        r = cgroup_limits_create(p->netns, &limits, &applied);
        if (r < 0)
                log_debug_errno(r, "Cannot create the cgroups of instance %s: %m", p->machine);
        if (r < 0 || (wanted & ~applied))
                log_info("Instance %s: %s limit skipped: this host's cgroups do not let systemd-nspawn "
                         "or slipway set it.",
                         p->machine, cgroup_limits_mask_to_string(wanted & ~(r < 0 ? 0 : applied)));
        return r >= 0 && applied ? p->netns : NULL;
}

int instance_setup_start(const InstancePlan *p, Instance **ret) {
        _cleanup_free_ char *bundle = sub(p->dir, "bundle"), *netns_path = NULL;
        const char *sig = json_string_value(json_object_get(p->image_config, "StopSignal"));
        int s = sig ? instance_signal_from_string(sig) : 0;
        bool resources =
                (p->memory_max || p->cpu_quota_us || p->pids_max) && nspawn_cgroup_resources_supported();

        if (!bundle || asprintf(&netns_path, "%s/%s", NETNS_RUN_DIR, p->netns) < 0)
                return -ENOMEM;
        InstanceSpec spec = {
                .dir = p->dir,
                .bundle_dir = bundle,
                .machine_name = p->machine,
                .stop_signal = s > 0 ? s : 0,
                .cgroup_resources = resources,
                .cgroup = resources ? NULL : limits_cgroup(p),
                /* nspawn itself runs in the instance's netns: its eth0 is configured before the payload
                 * starts, whether the bundle joins that netns (no user namespace) or inherits it. */
                .netns_path = netns_path,
        };
        return instance_start(&spec, ret);
}

int instance_setup_kill_leftovers(const char *netns) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        struct stat ns;
        int n = 0;

        /* Its cgroups (named after the netns) find them even when the netns itself was deleted. */
        n = MAX(cgroup_limits_kill(netns), 0);
        if (asprintf(&path, "%s/%s", NETNS_RUN_DIR, netns) < 0)
                return -ENOMEM;
        if (stat(path, &ns) < 0)
                return errno == ENOENT ? n : -errno;
        d = opendir("/proc");
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char p[64];
                struct stat st;
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (*end || pid <= 1)
                        continue;
                snprintf(p, sizeof p, "/proc/%ld/ns/net", pid);
                if (stat(p, &st) < 0 || st.st_ino != ns.st_ino || st.st_dev != ns.st_dev)
                        continue;
                if (kill((pid_t) pid, SIGKILL) >= 0)
                        n++;
        }
        return n;
}

/* Keeps the first failure in *r while the steps after it still run. */
static void gather_error(int *r, int k) {
        if (k < 0 && *r >= 0)
                *r = k;
}

/* The tmpfs dir/bundle links to, when it is one of ours (INSTANCE_RUN_ROOT/NAME/bundle): removed. */
static int remove_linked_run_dir(const char *dir) {
        _cleanup_free_ char *link = sub(dir, "bundle"), *name = NULL;
        char buf[PATH_MAX];
        const char *rest;
        ssize_t n;

        if (!link)
                return -ENOMEM;
        n = readlink(link, buf, sizeof buf - 1);
        if (n <= 0 || (size_t) n >= sizeof buf - 1)
                return 0;
        buf[n] = 0;
        if (!startswith(buf, INSTANCE_RUN_ROOT "/"))
                return 0;
        rest = buf + strlen(INSTANCE_RUN_ROOT "/");
        if (!endswith(rest, "/" INSTANCE_RUN_BUNDLE))
                return 0;
        name = strndup(rest, strlen(rest) - strlen("/" INSTANCE_RUN_BUNDLE));
        if (!name)
                return -ENOMEM;
        /* The name is checked there: one that is no plain file name is refused, and left alone. */
        int r = instance_run_dir_remove(name);
        return r == -EINVAL ? 0 : r;
}

int instance_setup_remove(const char *dir) {
        _cleanup_free_ char *rootfs = sub(dir, "rootfs");
        int r;

        if (!rootfs)
                return -ENOMEM;
        /* An instance torn down lost its tmpfs then; an orphan (no row, no teardown) loses it here. */
        (void) remove_linked_run_dir(dir);
        r = is_mounted(dir, rootfs);
        if (r == -ENOENT && access(dir, F_OK) < 0 && errno == ENOENT)
                return 0; /* gone already */
        if (r > 0) {
                (void) overlay_umount(rootfs);
                r = is_mounted(dir, rootfs);
        }
        /* Never through a mount: that would write whiteouts into whatever is mounted there. */
        if (r > 0)
                return -EBUSY;
        return rm_rf(dir);
}

int instance_setup_teardown(const char *dir, const char *netns, const char *host_ifname) {
        _cleanup_free_ char *rootfs = sub(dir, "rootfs");
        int r = 0;

        if (!rootfs)
                return -ENOMEM;
        if (netns)
                (void) instance_setup_kill_leftovers(netns);
        if (is_mounted(dir, rootfs) > 0)
                gather_error(&r, overlay_umount(rootfs));
        if (host_ifname)
                gather_error(&r, net_veth_delete(host_ifname));
        if (netns)
                gather_error(&r, netns_delete(netns));
        /* Its bundle and values: nothing runs that reads them any more. */
        if (netns)
                gather_error(&r, instance_run_dir_remove(netns));
        /* The upper stays with the logs; a later instance on the same range cannot see it (not mounted). */
        _cleanup_free_ char *owner = realpath(dir, NULL);
        if (owner)
                gather_error(&r, idmap_range_release(IDMAP_CLAIMS_DIR, owner));
        /* Last: the processes killed above have had a moment to leave their cgroups. */
        if (netns)
                gather_error(&r, cgroup_limits_remove(netns));
        return r;
}
