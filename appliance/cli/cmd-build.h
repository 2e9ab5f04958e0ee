/* The build commands (cmd-build.c) and the pure helpers they are made of, for the unit tests. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

/* A build id: a positive decimal number; -EINVAL (said, as a usage error of full) otherwise. */
int build_id_parse(const char *full, const char *arg, int64_t *ret);
/* The body of POST …/builds: {"commit"?, "branch"?, "deploy"?}.  --commit and --branch exclude each other
 * (-EINVAL, said); -ENOMEM. */
int build_request_body(const char *full, const char *commit, const char *branch, bool deploy, json_t **ret);
/* Seconds → "45s", "1m12s", "2h05m"; "-" for a negative value (not started). */
void build_format_duration(int64_t sec, char buf[static 32]);
/* succeeded, failed or cancelled. */
bool build_status_ended(const char *status);

int cmd_build(CliContext *c, int argc, char *argv[]);
int cmd_builds(CliContext *c, int argc, char *argv[]);
int cmd_autobuild(CliContext *c, int argc, char *argv[]);
int cmd_autodeploy(CliContext *c, int argc, char *argv[]);
int cmd_webhook(CliContext *c, int argc, char *argv[]);
